"""The race model: happens-before clocks, the instrumentation feeding them, conflicts, reports.

It judges operations described as ``events.FsOp``, whichever backend (the fake filesystem or
the real disk of the process mode) produced them.
"""

__all__ = ["RULES"]

#: The names of the race model's conflict rules, as reports and ``expect_races=[...]`` spell
#: them. Kept here, in the package's cheap ``__init__``, because the pytest glue validates
#: markers with it in every session without importing the model.
RULES: tuple[str, ...] = (
    "concurrent-publish",
    "publish-onto-open",
    "publish-onto-deleted",
    "remove-while-publishing",
    "remove-open-file",
    "shared-temp-name",
    "open-while-renaming",
    "shared-writers",
    "check-then-act",
)
