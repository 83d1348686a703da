"""What every rule needs to know about a module: names, publish calls, temps, guards, digests.

The rules ask the same questions - "is this call really ``os.replace``?", "was this path a
freshly written temp file?", "is a lock held here?" - so the answers are computed once per
file, on the standard library's ``ast`` only (libcst is imported to build fixes, never to
analyse). Each question has its own module; :class:`ModuleAnalysis` puts them together:

- :mod:`.names`: scopes, bindings, qualified names through imports and aliases;
- :mod:`.publish`: the publish calls;
- :mod:`.temps`: temp provenance and per-writer uniqueness;
- :mod:`.guards`: locks, retries, accepting handlers, POSIX-only branches;
- :mod:`.removals`: removal of the target before the rename;
- :mod:`.choices`: a rename that is the no-replace branch of a caller's choice;
- :mod:`.unpacked`: entries of a directory the function just unpacked an archive into;
- :mod:`.digests`: ``<algorithm>:<hex>`` in file names;
- :mod:`.crossmodule`: the same questions across modules, through :mod:`.project_index`.

The analysis is deliberately conservative: a name it cannot resolve, or a receiver it cannot
show to be a path, is not a finding.
"""

from __future__ import annotations

import ast

from .choices import Choices
from .crossmodule import CrossModule
from .digests import Digests, DigestSite
from .model import LintSettings
from .positions import Source
from .publish import PUBLISH_FUNCTIONS, PublishCall, PublishCalls
from .removals import Removals
from .temps import TempInfo
from .unpacked import Unpacked

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .project_index import ProjectIndex

__all__ = ["DigestSite", "ModuleAnalysis", "PublishCall", "Source", "TempInfo"]


class ModuleAnalysis(PublishCalls, CrossModule, Removals, Unpacked, Digests, Choices):
    """Everything the rules share about one parsed module."""

    def __init__(
        self,
        tree: ast.Module,
        source: Source,
        settings: LintSettings,
        index: ProjectIndex | None = None,
        module_name: str = "",
        is_package: bool = False,
        path: str = "",
    ) -> None:
        #: The project index (:mod:`.project_index`): other modules' names, temps, callers.
        self.index = index
        self.path = path
        super().__init__(tree, source, settings, module_name, is_package)
        self._derive()

    def _derive(self) -> None:
        """The answers that depend on the settings and the project index, from the one walk."""
        self.forget_call_names()
        self.why = {}
        self._elsewhere = {}
        self._held = None  # what attributes hold may rest on the index's answers
        #: The publish functions, plus ``publish`` of a vendored writer (fix-writer-module),
        #: so a file fixed to import it is still understood after the fix.
        self.publish_functions = {
            **PUBLISH_FUNCTIONS,
            f"{self.settings.fix_writer_module}.publish": "publish",
        }
        self.publish_calls: list[PublishCall] = list(self._find_publish_calls())
        self.digest_sites: list[DigestSite] = list(self._find_digest_sites())

    def attach(self, settings: LintSettings, index: ProjectIndex | None) -> None:
        """Re-judge this module with the run's settings and project index, without re-parsing.

        The index is built from analyses made before it existed (each module's summary comes
        from its own parse); the lint then reuses that parse and walk - the costly part -
        and only the answers that may depend on other modules or settings are computed again.
        """
        if index is not self.index:
            self._resolved = {}  # another view records its own answers
            self._star = {}
            self.forget_call_names()
        unchanged = repr(settings) == repr(self.settings) and not self._resolved_by(index)
        self.settings = settings
        self.index = index
        if unchanged:
            # The publish calls and digest sites rest on names only; no import of this
            # module means something else through the index: they stand as computed.
            self.why = {}
            self._elsewhere = {}
            return
        self._derive()

    def _resolved_by(self, index: ProjectIndex | None) -> bool:
        """Whether the index makes any import of this module mean something else."""
        if index is None:
            return False
        if self.scopes[self.tree].star_imports:
            return True  # what ``from M import *`` binds is known only from the index
        return any(
            index.resolve(imported) != imported
            for scope in self.scopes.values()
            for imported in scope.imports.values()
        )
