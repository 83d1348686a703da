"""The process mode: Windows' rules and the race model across every Python process of a test.

The fake filesystem lives in one process's memory; this package carries the same decision
table and race model past the process boundary, on the real disk. See docs/processes.md.
"""
