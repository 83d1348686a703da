"""The real-disk backend (the process mode): the rules and the race model across processes.

The fake filesystem lives in one process's memory; this backend carries the same decision table
(``pytest_ocirace.winrules``) and race model (``pytest_ocirace.racemodel``) past the process
boundary, on the real disk. Its pytest glue is ``pytest_ocirace.plugins.processes``. See
docs/processes.md.
"""
