"""``ocirace check --explain CODE PATH:LINE``: why a publish call was, or was not, reported.

A reviewer who doubts a finding (or a silence) needs the checker's reasoning, not its
verdict: which function the call resolves to, where the temp came from, whether the target
is per writer, and which guards were considered and why each did or did not count.
"""

from __future__ import annotations

import ast
import os

from .decoding import SourceProblem, decode_source
from .model import LintSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .analysis import ModuleAnalysis
    from .project_index import ProjectIndex

__all__ = ["explain"]


def explain(
    code: str, path: str, line: int, settings: LintSettings, index: ProjectIndex | None = None
) -> list[str]:
    """Lines of text explaining ``code`` at ``path:line``; a ValueError names bad input.

    With the project ``index`` the reasoning crosses modules, as in a run over the project.
    """
    from .analysis import ModuleAnalysis, Source
    from .lint import lint_source

    try:
        with open(path, "rb") as handle:
            text = decode_source(handle.read()).text
    except OSError as exc:
        raise ValueError(f"--explain: cannot read {path}: {exc.strerror}") from None
    except SourceProblem as problem:
        return [f"{path}: {problem.finding.message}"]
    summary = None
    if index is not None:
        for known, candidate in index.by_path.items():
            if os.path.exists(known) and os.path.samefile(known, path):
                path, summary = known, candidate
                break
    view = None if index is None else index.view_for(path)
    findings = lint_source(text, path, settings, view)
    findings = [f for f in findings if f.line <= line <= f.end_line]
    out = [f"{path}:{line}: {code}"]
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        return [*out, f"  not checked: the file does not parse ({exc})"]
    module, is_package = ("", False) if summary is None else (summary.module, summary.is_package)
    analysis = ModuleAnalysis(tree, Source(text), settings, view, module, is_package, path)
    calls = [
        p
        for p in analysis.publish_calls
        if p.call.lineno <= line <= (p.call.end_lineno or p.call.lineno)
    ]
    if not calls:
        out.append(_no_publish(analysis, line))
    for publish in calls:
        out.append(f"  publish call: {publish.qualified_name} ({publish.kind})")
        temp = analysis.temp_info(publish.src)
        if temp is None:
            out.append(f"  source {ast.unparse(publish.src)}: not known to be a temp file")
        else:
            fresh = analysis.is_fresh(publish.src, temp, publish.call)
            out.append(
                f"  source {ast.unparse(publish.src)}: temp ({temp.kind}), "
                f"{'unique per writer' if temp.unique else 'shared name'}, "
                f"{'freshly written' if fresh else 'not seen being written'}"
                + (f" ({temp.via})" if temp.via else "")
            )
        unique = analysis.contains_unique_part(publish.dst)
        out.append(
            f"  target {ast.unparse(publish.dst)}: "
            f"{'unique per writer' if unique else 'shared by writers of the same name'}"
        )
        guard = analysis.guard(publish.call)
        out.append(f"  guarded by {guard}" if guard else "  no guard found")
        out.extend(f"  considered: {reason}" for reason in analysis.reasons(publish.call))
        if analysis.windows_excluded(publish.call):
            out.append("  runs only where Windows cannot (a POSIX-only branch)")
        if publish.kind == "rename" and analysis.chosen_no_replace(
            publish.call, publish.src, publish.dst
        ):
            out.append(
                "  the no-replace branch of a parameter's choice (the other branch replaces): "
                "publish-if-absent, as the caller asked"
            )
    matching = [f for f in findings if f.code == code]
    if matching:
        for finding in matching:
            out.append(f"  reported: {finding.message}")
            out.extend(f"  related: line {r.line}: {r.message}" for r in finding.related)
    else:
        others = ", ".join(sorted({f.code for f in findings})) or "none"
        out.append(f"  {code} is not reported here (findings on this line: {others})")
    return out


def _no_publish(analysis: ModuleAnalysis, line: int) -> str:
    """Why a line holds no publish call; a kernel32 move without the replace flag says so."""
    from .winmove import is_kernel32_move

    for scope in analysis.scopes.values():
        for call in scope.calls:
            if call.lineno <= line <= (call.end_lineno or call.lineno) and is_kernel32_move(
                analysis, call
            ):
                return (
                    "  no publish call: MoveFileEx without MOVEFILE_REPLACE_EXISTING fails on an "
                    "existing target - a deliberate publish-if-absent, not a replace"
                )
    return "  no publish call on this line (nothing resolves to a rename function)"
