"""The fake-filesystem backend: a pyfakefs filesystem that behaves like Windows, in this process.

It keeps full fidelity for names, drives, streams and case-insensitivity, which the real disk
(``pytest_ocirace.realdisk``) cannot show. Everything here can be driven without a pytest
session: ``pytest_ocirace.plugins.fakefs`` only wires it into tests, and the conformance script
runs it against a real Windows machine.
"""
