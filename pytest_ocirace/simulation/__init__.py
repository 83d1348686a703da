"""The Windows filesystem model, independent of pytest.

Everything under this package can be driven without a pytest session: the plugin only wires
it into tests, and the conformance script runs it against a real Windows machine.
"""
