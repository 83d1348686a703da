"""The race model: happens-before clocks, the instrumentation feeding them, conflicts, reports.

It judges operations described as ``events.FsOp``, whichever backend (the fake filesystem or
the real disk of the process mode) produced them.
"""
