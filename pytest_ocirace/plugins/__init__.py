"""The pytest glue, one plugin module per part: ``fakefs``, ``races`` and ``processes``.

``fakefs`` is the entry point (options, marker and fixture of the fake filesystem) and registers
the other two; ``leftover_threads`` keeps a session from hanging at exit.
"""
