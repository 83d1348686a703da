"""The Windows rules, independent of where files are stored.

Errors as CPython on Windows builds them, name rules, the decision table, and the options for
the rows not verified on a real machine. Both backends consult them.
"""
