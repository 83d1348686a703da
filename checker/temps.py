"""Temp provenance: whether a path is a freshly written temp file, and its name per writer."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .names import _PATH_CLASSES, NameIndex
from .nodes import last_identifier, statements, unparsed, words

_TEMP_WORDS = frozenset({"tmp", "temp", "temporary", "partial", "incomplete", "part", "tempfile"})
# ".new" and ".bak" are left out on purpose: they name backups and renamed-away originals at
# least as often as temp files, and every stdlib hit with them was a false positive.
_TEMP_LITERAL = re.compile(r"(?:^|[._~-])(?:tmp|temp|part|partial|incomplete)(?:$|[._~-])|~$")
_UNIQUE_CALL_PREFIXES = (
    "uuid.",
    "secrets.",
    "random.",
    "tempfile.mkstemp",
    "tempfile.mkdtemp",
    "tempfile.mktemp",
    "tempfile.NamedTemporaryFile",
    "tempfile.TemporaryDirectory",
    "os.getpid",
    "os.getppid",
    "os.urandom",
    "threading.get_ident",
    "threading.get_native_id",
    "_thread.get_ident",
    "time.time_ns",
    "time.perf_counter_ns",
    "builtins.id",
)
#: Functions whose result is built from their arguments' text.
_NAME_BUILDERS = frozenset(
    {
        "os.path.join",
        "os.path.abspath",
        "os.path.realpath",
        "os.path.normpath",
        "os.fspath",
        "builtins.str",
    }
)
_NAME_BUILDING_METHODS = frozenset(
    {
        "format",
        "join",
        "joinpath",
        "with_name",
        "with_suffix",
        "with_stem",
        "replace",
        "__truediv__",
    }
)
#: Calls that give back the same path in another type.
_CONVERSIONS = frozenset(
    {"builtins.str", "builtins.bytes", "os.fspath", "os.fsdecode", "os.fsencode"}
)
#: Hops followed from a ``f.name`` to the temp its file object was opened at.
_FILE_OBJECT_BUDGET = 6
_UNIQUE_WORDS = re.compile(r"uuid|(?:^|_)pid|nonce|unique|token|rand|ident|thread_id", re.I)
_WRITE_WORDS = re.compile(r"open|write|save|dump|copy|retrieve|download|export|to_|touch", re.I)
#: Calls handed a directory that write no file into it.
_NOT_WRITING = frozenset(
    {
        "makedirs",
        "mkdir",
        "listdir",
        "scandir",
        "walk",
        "exists",
        "isdir",
        "isfile",
        "rmtree",
        "chdir",
        "chmod",
        "stat",
        "glob",
        "iterdir",
        "rglob",
        "print",
        "debug",
        "info",
        "warning",
        "error",
    }
)


@dataclass
class TempInfo:
    """Why an expression is considered a temp file, and what kind of temp it is."""

    #: "mkstemp", "named" (NamedTemporaryFile), "mktemp", "tempdir" (inside a private temp
    #: directory), "derived" (built from another path plus a suffix) or "name" (the variable
    #: name says so).
    kind: str
    #: The name is unique per writer (uuid, pid, mkstemp...): writers never share it.
    unique: bool
    #: Creating it already wrote the file (mkstemp and NamedTemporaryFile).
    created: bool
    #: The expression that built the name (for ORC002), when known.
    origin: ast.expr | None = None
    #: Where a parameter's temp came from (``the caller at pkg/x.py:12 passes ...``), shown
    #: by ``--explain`` and the JSON ``why`` so a reviewer can check it.
    via: str | None = None


class Temps(NameIndex):
    """Where a renamed path came from."""

    _functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] | None = None
    #: What each (class, attribute) holds, as :meth:`_bound_by_own_methods` judged it;
    #: reset with the answers that depend on the project index (``_derive``).
    _held: dict[tuple[ast.ClassDef, str], TempInfo | None] | None = None
    #: Per class, its methods' bindings of each ``self`` attribute (statement, receiver).
    _bindings: dict[ast.ClassDef, dict[str, list[tuple[ast.stmt, str]]]] | None = None

    def temp_info(self, node: ast.expr, depth: int = 0, bindings: bool = True) -> TempInfo | None:
        """Why ``node`` names a temp file, or ``None`` when nothing says it does.

        ``bindings=False`` leaves out an attribute that the class binds to a temp on some
        path (:meth:`_bound_by_own_methods`): the rules ask that way of a publish's
        *target*, which excuses the publish ("renaming into another private name") and so
        needs the target to be private on every path. gunicorn's pidfile binds
        ``self.fname`` to the user's path, or to an ``mkstemp`` name when none was given,
        and renames its temp onto ``self.fname``: the shared pidfile on the first path.
        """
        if depth > 4:
            return None
        if isinstance(node, ast.Call):
            name = self.qualified_name(node.func)
            if name == "tempfile.mktemp":
                return TempInfo("mktemp", unique=True, created=False, origin=node)
            if name in ("tempfile.mkdtemp", "tempfile.TemporaryDirectory"):
                return TempInfo("tempdir", unique=True, created=True, origin=node)
            if name in ("builtins.str", "os.fspath", "os.path.abspath", "os.path.realpath") or (
                name in _PATH_CLASSES and len(node.args) == 1
            ):
                if node.args:
                    return self.temp_info(node.args[0], depth + 1)
                return None
            if name == "os.path.join" and node.args:
                first = self.temp_info(node.args[0], depth + 1)
                if first is not None and first.kind in ("tempdir", "mkstemp"):
                    # os.path.join(tmpdir, item) for item in os.listdir(tmpdir): an entry
                    # that is there, and only this writer's code can have put it there.
                    listed = self._listed_from(node.args[-1], node.args[0])
                    return TempInfo("tempdir", unique=True, created=listed, origin=node)
            if name is None and node.args and self._passes_through(node):
                # _path_to_unicode(src): a helper of the module that hands back its argument
                # (decoded, converted) names the same file.
                return self.temp_info(node.args[0], depth + 1)
            helper = self.helper_temp(node, depth)
            if helper is not None:
                return helper
            if (name is None or self.is_project_function(name)) and self._given_a_temp_dir(
                node, depth
            ):
                # download(url, tmpdir): what a call handed a private temp directory returns
                # is what it wrote there - a per-writer file in that directory.
                return TempInfo("tempdir", unique=True, created=True, origin=node)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            # info = self._extract_package(source, tempdir); info["path"]: a record of what
            # a call handed a private temp directory made there names a file it wrote there.
            record = node.value
            if isinstance(record, ast.Name):
                bound = self.assignment_before(record.id, record)
                record = bound if isinstance(bound, ast.Call) else record
            if isinstance(record, ast.Call):
                made = self.temp_info(record, depth + 1)
                if made is not None and made.kind == "tempdir" and made.created:
                    return TempInfo("tempdir", unique=True, created=True, origin=node)
        if isinstance(node, ast.Attribute) and self._record_of_temp_dir_call(node.value, depth):
            # scheme = get_scheme("", home=tempdir); scheme.purelib: an entry of the record a
            # call handed a private temp directory returns names what it made there.
            return TempInfo("tempdir", unique=True, created=True, origin=node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            first = self.temp_info(node.left, depth + 1)
            if first is not None and first.kind == "tempdir":
                return TempInfo("tempdir", unique=True, created=False, origin=node)
        if isinstance(node, ast.Attribute) and self._temp_attribute_of_own_class(node):
            # hatchling's `with WheelArchive(...) as archive:` ... `archive.path`, where
            # WheelArchive.__init__ does `raw_fd, self.path = tempfile.mkstemp()`.
            return TempInfo("mkstemp", unique=True, created=True, origin=node)
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("path", "name")
            and self._is_temp_directory_object(node.value)
        ):
            # pip's `with TempDirectory(kind="wheel") as temp_dir:` ... `temp_dir.path`
            return TempInfo("tempdir", unique=True, created=True, origin=node)
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("name", "path")
            and self._is_named_temporary(node.value)
        ):
            # tmp.name of a NamedTemporaryFile; sib.path of `sib = self.temporarySibling()`
            # (a factory whose name says temporary, as for .name)
            return TempInfo("named", unique=True, created=True, origin=node)
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "name"
            and isinstance(node.value, ast.Name)
            and node.value.id in self.scope(node).params
            and depth <= 3
        ):
            # commit(self, f): replace(f.name, path), where a caller of the module passes a
            # file object opened at a temp (atomicwrites' AtomicWriter).
            opened_temp = self._temp_file_object(node.value, _FILE_OBJECT_BUDGET)
            if opened_temp is not None:
                return opened_temp
        if isinstance(node, ast.Attribute) and node.attr == "name":
            opened = self._opened_path(node.value)
            if opened is not None:
                info = self.temp_info(opened, depth + 1)
                if info is not None:
                    # fp.name of open(tmp, "w"): the file is the temp, written through fp.
                    return TempInfo(info.kind, info.unique, True, info.origin)
                if self.contains_unique_part(opened):
                    # open(f"{dst}.{uuid4().hex}", "w"): a per-writer name written through fp.
                    return TempInfo("derived", unique=True, created=True, origin=opened)
        if bindings and isinstance(node, ast.Attribute):
            held = self._bound_by_own_methods(node, depth)
            if held is not None:
                return held
        if isinstance(node, ast.Name):
            value = self.assignment_before(node.id, node)
            binding = self.binding_node(node.id, node)
            if isinstance(value, ast.Constant) and value.value is None:
                other = self._temp_of_other_bindings(node, depth)
                if other is not None:
                    return other
            if value is not None:
                info = self._temp_from_value(node.id, value, binding, depth)
                if info is not None:
                    return info
            elif node.id in self.scope(node).params:
                passed = self.passed_temp(node, depth)
                if passed is not None:
                    return passed
            elif isinstance(binding, (ast.For, ast.AsyncFor)):
                element = self._loop_element_temp(node.id, binding, depth)
                if element is not None:
                    return element
            if words(node.id) & _TEMP_WORDS:
                return TempInfo("name", unique=False, created=False, origin=value)
            return self._handed_to_temp_writer(node, value)
        if self.is_derived_name(node):
            return TempInfo("derived", self.contains_unique_part(node), False, origin=node)
        identifier = last_identifier(node)
        if identifier is not None and words(identifier) & _TEMP_WORDS:
            return TempInfo("name", unique=False, created=False, origin=None)
        return None

    def helper_temp(self, call: ast.Call, depth: int) -> TempInfo | None:
        """A temp returned by a helper function of this module (``fd, tmp = _mkstemp()``).

        The helper is found by name among the module's functions and methods; what it
        returns (a temp, or a tuple holding one) is judged like any other expression, inside
        the helper. An unknown or ambiguous callee is not a temp.
        """
        if depth > 3 or self.qualified_name(call.func) is not None:
            return None  # an imported function: the project index's business
        name = last_identifier(call.func)
        candidates = self.functions_named(name) if name else []
        if len(candidates) != 1:
            return None
        info = self.returned_temp(candidates[0], depth)
        if info is None:
            return None
        return TempInfo(info.kind, info.unique, info.created, origin=call)

    def returned_temp(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
    ) -> TempInfo | None:
        """A temp ``function`` returns (alone or in a tuple), judged inside the function.

        Also what the project index records for other modules (:mod:`.project_index`).
        """
        for statement in statements(function):
            if not isinstance(statement, ast.Return) or statement.value is None:
                continue
            if self.function_of(statement) is not function:
                continue
            value = statement.value
            values = value.elts if isinstance(value, ast.Tuple) else [value]
            for element in values:
                if (
                    isinstance(element, ast.Call)
                    and self.qualified_name(element.func) == "tempfile.mkstemp"
                ):
                    return TempInfo("mkstemp", unique=True, created=True, origin=None)
                info = self.temp_info(element, depth + 1)
                if info is not None and info.kind != "name":
                    return TempInfo("helper", info.unique, info.created, origin=None)
        return None

    def is_project_function(self, name: str) -> bool:
        """Whether ``name`` is a function of a checked module (the project index knows)."""
        return False

    def _temp_attribute_of_own_class(self, node: ast.Attribute) -> bool:
        """Whether ``obj.attr`` is an ``mkstemp`` name its class's methods bound to it.

        ``obj = Cls(...)`` (or ``with Cls(...) as obj``) with ``Cls`` a class of this module
        doing ``fd, self.attr = tempfile.mkstemp()``.
        """
        if not isinstance(node.value, ast.Name):
            return False
        value = self.assignment_before(node.value.id, node)
        if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Name):
            return False
        owner = self.module_class(node, value.func.id)
        if owner is None:
            return False
        for statement in ast.walk(owner):
            if not isinstance(statement, ast.Assign) or not isinstance(statement.value, ast.Call):
                continue
            if self.qualified_name(statement.value.func) != "tempfile.mkstemp":
                continue
            for target in statement.targets:
                if (
                    isinstance(target, ast.Tuple)
                    and len(target.elts) == 2
                    and _is_self_attribute(target.elts[1], node.attr)
                ):
                    return True
        return False

    def _bound_by_own_methods(self, node: ast.Attribute, depth: int) -> TempInfo | None:
        """``self.attr`` in a method, when some method of the class binds a temp to it.

        What an attribute holds is whatever the class's methods store in it, wherever they
        run: gallery-dl's ``PathFormat.build_path`` does ``self.temppath = self.realpath``,
        then ``self.temppath += ".part"``, and ``finalize`` publishes ``self.temppath``.
        Each binding (``=``, ``+=``, or the name of ``fd, self.attr = tempfile.mkstemp()``)
        is judged in its own method by what it is built from there: a value that comes from
        a parameter (what callers pass: ``self.path = path``), from a helper, or a
        temp-looking *word* does not make the attribute a temp (``_NOT_BY_CONSTRUCTION``).
        The first binding that makes a temp decides; the answer is kept per class and
        attribute.
        """
        if depth > 3 or not isinstance(node.value, ast.Name):
            return None
        function = self.function_of(node)
        owner = None if function is None else self.parents.get(function)
        if not isinstance(owner, ast.ClassDef) or _receiver(function) != node.value.id:
            return None
        if self._held is None:
            self._held = {}
        key = (owner, node.attr)
        if key in self._held:
            return self._held[key]
        self._held[key] = None  # a binding that reads the attribute itself is no temp
        found = None
        for statement, receiver in self._bindings_of(owner).get(node.attr, ()):
            found = self._temp_bound_by(statement, receiver, node.attr)
            if found is not None:
                break
        self._held[key] = found
        return found

    def _bindings_of(self, owner: ast.ClassDef) -> dict[str, list[tuple[ast.stmt, str]]]:
        """The statements of ``owner``'s methods that bind an attribute of their receiver."""
        if self._bindings is None:
            self._bindings = {}
        known = self._bindings.get(owner)
        if known is not None:
            return known
        known = self._bindings[owner] = {}
        for method in owner.body:
            receiver = _receiver(method)
            if receiver is None:
                continue
            for statement in statements(method):
                targets: list[ast.expr]
                if isinstance(statement, ast.AugAssign):
                    targets = [statement.target]
                elif isinstance(statement, ast.Assign):
                    targets = [
                        part
                        for target in statement.targets
                        for part in (target.elts if isinstance(target, ast.Tuple) else [target])
                    ]
                else:
                    continue
                for target in targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == receiver
                    ):
                        known.setdefault(target.attr, []).append((statement, receiver))
        return known

    def _temp_bound_by(self, statement: ast.stmt, receiver: str, attr: str) -> TempInfo | None:
        """The temp ``statement`` binds to ``receiver.attr``, if it binds one there."""
        if isinstance(statement, ast.AugAssign):
            if not (
                isinstance(statement.op, ast.Add)
                and _is_attribute_of(statement.target, receiver, attr)
            ):
                return None
            grown = ast.BinOp(left=statement.target, op=ast.Add(), right=statement.value)
            if self.is_derived_name(grown):
                unique = self.contains_unique_part(statement.value)
                return TempInfo("derived", unique, False, origin=statement.value)
            return None
        if not isinstance(statement, ast.Assign):
            return None
        for target in statement.targets:
            if _is_attribute_of(target, receiver, attr):
                # Judged at the depth where callers are no longer asked (``passed_temp``):
                # what the value is built from in its own method, not what a caller passes.
                info = self.temp_info(statement.value, _BINDING_DEPTH)
                if info is not None and info.kind not in _NOT_BY_CONSTRUCTION and not info.via:
                    return info
                constructed = self._passed_to_constructor(statement)
                if constructed is not None:
                    return constructed
            elif (
                isinstance(target, ast.Tuple)
                and len(target.elts) == 2
                and _is_attribute_of(target.elts[1], receiver, attr)
                and isinstance(statement.value, ast.Call)
                and self.qualified_name(statement.value.func) == "tempfile.mkstemp"
            ):
                return TempInfo("mkstemp", unique=True, created=True, origin=statement.value)
        return None

    def _passed_to_constructor(self, statement: ast.Assign) -> TempInfo | None:
        """``self.attr = param`` in ``__init__``, when a ``Cls(...)`` of the module passes a temp.

        click's ``open_stream`` creates a random ``.__atomic-write`` file and hands it to
        ``_AtomicFile(f, tmp_filename, real)``, whose ``close`` replaces the target with
        ``self._tmp_filename``. The constructor is the function the caller calls, so its
        parameter is a temp by the rule for parameters (one caller passing a fresh temp is
        enough); a plain copy into an attribute keeps it. Only ``__init__`` and only the
        parameter itself: any other method's parameter, or a value built from one, is what
        later callers make of the object.
        """
        value = statement.value
        method = self.function_of(statement)
        if (
            method is None
            or method.name != "__init__"
            or not isinstance(value, ast.Name)
            or value.id not in self.scope(value).params
        ):
            return None
        owner = self.parents.get(method)
        if not isinstance(owner, ast.ClassDef):
            return None
        positional = self.positional_parameters(method)
        for scope in self.scopes.values():
            for call in scope.calls:
                if not (isinstance(call.func, ast.Name) and call.func.id == owner.name):
                    continue
                if self.module_class(call, owner.name) is not owner:
                    continue
                found = self.temp_passed_by(call, value.id, positional, _CONSTRUCTOR_DEPTH)
                if found is not None:
                    given = ast.unparse(found.origin) if found.origin is not None else "a temp"
                    found.via = f"the constructor call at line {call.lineno} passes {given}"
                    return found
        return None

    def module_class(self, node: ast.AST, name: str) -> ast.ClassDef | None:
        """The class ``name`` defined at the top of ``node``'s module, if any."""
        current = self.parents.get(node)
        while current is not None and not isinstance(current, ast.Module):
            current = self.parents.get(current)
        for item in getattr(current, "body", []):
            if isinstance(item, ast.ClassDef) and item.name == name:
                return item
        return None

    def _is_temp_directory_object(self, node: ast.expr) -> bool:
        """A name bound to a temp-directory object, whose ``.path``/``.name`` is private.

        ``TemporaryDirectory()``, or pip's ``TempDirectory(...)``: a class whose name says
        it makes a fresh private directory.
        """
        if not isinstance(node, ast.Name):
            return False
        value = self.assignment_before(node.id, node)
        if value is None:
            # def _handle_target_dir(self, target_temp_dir: TempDirectory): the parameter's
            # declared type says it is a fresh private directory, whoever passes it.
            parameter = self.scope(node).params.get(node.id)
            annotation = parameter.annotation if parameter is not None else None
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                text = annotation.value.rpartition(".")[2]
            else:
                text = (last_identifier(annotation) or "") if annotation is not None else ""
            return text in ("TemporaryDirectory", "TempDirectory")
        if not isinstance(value, ast.Call):
            return False
        callee = last_identifier(value.func) or ""
        return callee in ("TemporaryDirectory", "TempDirectory") or (
            self.qualified_name(value.func) == "tempfile.TemporaryDirectory"
        )

    def _handed_to_temp_writer(self, node: ast.Name, value: ast.expr | None) -> TempInfo | None:
        """A path handed earlier in the scope to a call whose name says it writes a temp.

        ``self._saveTemp(filename, dump)`` (Twisted's ``Persistent.save``): the callee's
        name says both that it writes and that what it writes is a temp file.
        """
        line = getattr(node, "lineno", 0)
        for call in self.scope(node).calls:
            if getattr(call, "lineno", 0) >= line or not call.args:
                continue
            first = call.args[0]
            if not (isinstance(first, ast.Name) and first.id == node.id):
                continue
            callee = last_identifier(call.func) or ""
            if words(callee) & _TEMP_WORDS and _WRITE_WORDS.search(callee):
                unique = value is not None and self.contains_unique_part(value)
                return TempInfo("derived", unique=unique, created=True, origin=value)
        return None

    def _passes_through(self, call: ast.Call) -> bool:
        """Whether ``call`` calls a helper of the module that returns its first argument.

        Every ``return`` of the helper gives back the parameter itself, a method's result on
        it (``x.decode(...)``) or a conversion of it (``str(x)``, ``os.fsdecode(x)``).
        """
        name = last_identifier(call.func)
        candidates = self.functions_named(name) if name else []
        if len(candidates) != 1:
            return False
        function = candidates[0]
        positional = self.positional_parameters(function)
        if not positional:
            return False
        parameter = positional[0]
        returns = [
            r
            for r in ast.walk(function)
            if isinstance(r, ast.Return) and self.function_of(r) is function
        ]
        return bool(returns) and all(
            r.value is not None and self._is_parameter_itself(r.value, parameter) for r in returns
        )

    def _is_parameter_itself(self, value: ast.expr, parameter: str) -> bool:
        if isinstance(value, ast.Name):
            return value.id == parameter
        if not isinstance(value, ast.Call):
            return False
        func = value.func
        if isinstance(func, ast.Attribute):
            return isinstance(func.value, ast.Name) and func.value.id == parameter
        return (
            self.qualified_name(func) in _CONVERSIONS
            and len(value.args) == 1
            and isinstance(value.args[0], ast.Name)
            and value.args[0].id == parameter
        )

    def _temp_file_object(self, node: ast.expr, budget: int) -> TempInfo | None:
        """Why ``node`` is a file object opened at a fresh temp, if it is one.

        Followed: a name bound by ``with E as f`` or ``f = E``; a parameter, through the
        values the module's own callers pass for it; ``NamedTemporaryFile(...)``; an
        ``open()`` (also ``open(**kwargs)`` with ``kwargs["file"]``) of a temp; and a call
        of a callable parameter or of a function of the module, through what the function
        returns. The budget bounds the hops; other modules' callers are not asked.
        """
        if budget <= 0:
            return None
        if isinstance(node, ast.Name):
            value = self.assignment_before(node.id, node)
            if value is not None:
                return self._temp_file_object(value, budget - 1)
            if node.id not in self.scope(node).params:
                return None
            for given in self._local_arguments_for(node):
                found = self._temp_file_object(given, budget - 1)
                if found is not None:
                    return found
            return None
        if not isinstance(node, ast.Call):
            return None
        if self._is_named_temporary(node):
            return TempInfo("named", unique=True, created=True, origin=node)
        opened = self._opened_path(node) or self._opened_keyword_file(node)
        if opened is not None:
            info = self.temp_info(opened, 2)
            if info is not None and info.kind != "name":
                return TempInfo(info.kind, info.unique, True, origin=opened)
            return None
        for function in self._functions_called(node):
            for returned in ast.walk(function):
                if (
                    isinstance(returned, ast.Return)
                    and returned.value is not None
                    and self.function_of(returned) is function
                ):
                    found = self._temp_file_object(returned.value, budget - 1)
                    if found is not None:
                        return found
        return None

    def _opened_keyword_file(self, call: ast.Call) -> ast.expr | None:
        """``x`` for ``open(**kwargs)`` after ``kwargs["file"] = x`` in the same function."""
        if self.qualified_name(call.func) not in ("builtins.open", "io.open"):
            return None
        spread = [k.value for k in call.keywords if k.arg is None]
        if len(spread) != 1 or not isinstance(spread[0], ast.Name):
            return None
        function = self.function_of(call)
        if function is None:
            return None
        found: ast.expr | None = None
        for statement in ast.walk(function):
            if not isinstance(statement, ast.Assign) or statement.lineno > call.lineno:
                continue
            for target in statement.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == spread[0].id
                    and isinstance(target.slice, ast.Constant)
                    and target.slice.value == "file"
                ):
                    found = statement.value
        return found

    def _functions_called(self, call: ast.Call) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """The module's functions a call runs: its own name's, or a callable parameter's.

        ``get_fileobject(**kw)`` with ``get_fileobject`` a parameter: the functions that the
        module's callers pass for it (``self._open(self.get_fileobject)``).
        """
        if self.qualified_name(call.func) is not None:
            return []
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.scope(call).params:
            passed = []
            for given in self._local_arguments_for(func):
                name = last_identifier(given)  # `self.get_fileobject` or `get_fileobject`
                candidates = self.functions_named(name) if name else []
                if len(candidates) == 1:
                    passed.append(candidates[0])
            return passed
        name = last_identifier(func)
        candidates = self.functions_named(name) if name else []
        return candidates if len(candidates) == 1 else []

    def _local_arguments_for(self, parameter: ast.Name) -> list[ast.expr]:
        """What the module's callers of ``parameter``'s function pass for it."""
        function = self.function_of(parameter)
        if function is None:
            return []
        positional = self.positional_parameters(function)
        given: list[ast.expr] = []
        for scope in self.scopes.values():
            for call in scope.calls:
                if (
                    last_identifier(call.func) != function.name
                    or call.lineno == function.lineno
                    or self.qualified_name(call.func) is not None
                    or self._in_rollback(call)
                ):
                    continue
                value: ast.expr | None = None
                if parameter.id in positional and positional.index(parameter.id) < len(call.args):
                    value = call.args[positional.index(parameter.id)]
                for keyword in call.keywords:
                    if keyword.arg == parameter.id:
                        value = keyword.value
                if value is not None and not isinstance(value, ast.Starred):
                    given.append(value)
        return given

    def _record_of_temp_dir_call(self, node: ast.expr, depth: int) -> bool:
        """Whether ``node`` is (a name bound to) what a call handed a private temp dir made."""
        record = node
        if isinstance(record, ast.Name):
            bound = self.assignment_before(record.id, record)
            if not isinstance(bound, ast.Call):
                return False
            record = bound
        if not isinstance(record, ast.Call):
            return False
        made = self.temp_info(record, depth)  # the call's own arguments go one deeper
        return made is not None and made.kind == "tempdir" and made.created

    def _loop_element_temp(
        self, name: str, loop: ast.For | ast.AsyncFor, depth: int
    ) -> TempInfo | None:
        """A loop variable over temps: every element of the iterated list is a temp.

        ``for lib_dir in lib_dir_list`` where the function builds ``lib_dir_list`` from a
        literal and ``.append()`` calls, each of them a temp: the variable is one of them.
        One element that is not known to be a temp makes the variable unknown, and so does
        a list the function does not build itself (a parameter, a call's result).
        """
        if not (isinstance(loop.target, ast.Name) and loop.target.id == name) or depth > 3:
            return None
        elements = self._list_elements(loop.iter)
        if not elements:
            return None
        found: TempInfo | None = None
        for element in elements:
            info = self.temp_info(element, depth + 1)
            if info is None or info.kind == "name":
                return None
            if found is None or (found.created and not info.created):
                found = info
        assert found is not None
        return TempInfo(found.kind, found.unique, found.created, origin=loop.iter)

    def _list_elements(self, iterable: ast.expr) -> list[ast.expr] | None:
        """The elements of a literal list or tuple, or of a local list built by appends."""
        if isinstance(iterable, (ast.List, ast.Tuple)):
            return list(iterable.elts) or None
        if not isinstance(iterable, ast.Name):
            return None
        scope = self.scope(iterable)
        entries = scope.assignments.get(iterable.id, [])
        if len(entries) != 1 or not isinstance(entries[0][1], (ast.List, ast.Tuple)):
            return None  # a parameter, a call's result or a list bound twice: not known
        elements = list(entries[0][1].elts)
        for call in scope.calls:
            func = call.func
            if not (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == iterable.id
            ):
                continue
            if func.attr != "append" or len(call.args) != 1:
                return None  # extend, insert, a slice assignment...: not followed
            elements.append(call.args[0])
        return elements or None

    def _listed_from(self, entry: ast.expr, directory: ast.expr) -> bool:
        """Whether ``entry`` is a loop variable over ``os.listdir(directory)`` (or scandir)."""
        if not isinstance(entry, ast.Name):
            return False
        loop = self.binding_node(entry.id, entry)
        if not isinstance(loop, (ast.For, ast.AsyncFor)) or not isinstance(loop.iter, ast.Call):
            return False
        listing = loop.iter
        return (
            self.qualified_name(listing.func) == "os.listdir"
            and len(listing.args) == 1
            and unparsed(listing.args[0]) == unparsed(directory)
        )

    def _given_a_temp_dir(self, call: ast.Call, depth: int) -> bool:
        """Whether a call is handed a private temp directory (by name or attribute)."""
        for given in (*call.args, *(k.value for k in call.keywords)):
            if isinstance(given, (ast.Name, ast.Attribute)):
                info = self.temp_info(given, depth + 1)
                if info is not None and info.kind == "tempdir":
                    return True
        return False

    def passed_temp(self, parameter: ast.Name, depth: int) -> TempInfo | None:
        """A parameter that a caller passes a fresh temp file to.

        One caller is enough: on that caller's path the function publishes a temp, and a
        guard must hold on every path anyway (the guard search asks every caller). Callers
        that pass something else are other paths, not a reason to drop this one. The callers
        in this module are found by the function's name; callers in other checked modules
        through the project index (:meth:`passed_temp_elsewhere`). An argument that cannot
        be matched to the parameter (``*args``) is unknown for that caller, never a temp.
        """
        function = self.function_of(parameter)
        if function is None or depth > 2:
            return None
        positional = self.positional_parameters(function)
        sites = [
            call
            for call in self.calls_named(function.name)
            if call.lineno != function.lineno
            # `os.rename(src, dst)` inside a function named `rename` calls the import
            and self.qualified_name(call.func) is None
        ]
        for call in sites:
            found = self.temp_passed_by(call, parameter.id, positional, depth)
            if found is not None:
                given = ast.unparse(found.origin) if found.origin is not None else "a temp"
                found.via = f"the caller at line {call.lineno} passes {given}"
                return found
        return self.passed_temp_elsewhere(function, parameter.id, positional, depth)

    @staticmethod
    def positional_parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
        """The parameters a call fills by position (``self``/``cls`` left out)."""
        arguments = function.args
        positional = [a.arg for a in (*arguments.posonlyargs, *arguments.args)]
        if positional and positional[0] in ("self", "cls"):
            positional = positional[1:]
        return positional

    def temp_passed_by(
        self, call: ast.Call, parameter: str, positional: list[str], depth: int
    ) -> TempInfo | None:
        """The fresh temp ``call`` passes for ``parameter`` (by position or keyword), if any.

        A call in an exception handler that re-raises is the rollback of a failed write
        (jupyter_server's ``atomic_writing`` restoring its backup), not a publish: nothing.
        """
        if self._in_rollback(call):
            return None
        given: ast.expr | None = None
        if parameter in positional and positional.index(parameter) < len(call.args):
            given = call.args[positional.index(parameter)]
        for keyword in call.keywords:
            if keyword.arg == parameter:
                given = keyword.value
        if given is None or isinstance(given, ast.Starred):
            return None
        info = self.temp_info(given, depth + 1)
        if info is None or (info.kind == "name" and not info.unique):
            return None  # a temp-looking word alone; with a per-writer part it is a temp
        if not self.is_fresh(given, info, call):
            return None
        return TempInfo(info.kind, info.unique, True, given)

    def _in_rollback(self, node: ast.AST) -> bool:
        """Whether ``node`` runs in an ``except`` block that ends by re-raising."""
        current = self.parents.get(node)
        while current is not None and not isinstance(
            current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
        ):
            if isinstance(current, ast.ExceptHandler):
                return bool(current.body) and isinstance(current.body[-1], ast.Raise)
            current = self.parents.get(current)
        return False

    def passed_temp_elsewhere(
        self,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        parameter: str,
        positional: list[str],
        depth: int,
    ) -> TempInfo | None:
        """A fresh temp that a caller in another module passes; the project index's business."""
        return None

    def functions_named(self, name: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """The module's functions and methods called ``name``."""
        if self._functions is None:
            self._functions = {}
            for node in self.scopes:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self._functions.setdefault(node.name, []).append(node)
        return self._functions.get(name, [])

    def _opened_path(self, node: ast.expr) -> ast.expr | None:
        """``x`` when ``node`` is (a variable bound to) ``open(x, ...)``."""
        value: ast.expr | None = node
        if isinstance(node, ast.Name):
            value = self.assignment_before(node.id, node)
        if not isinstance(value, ast.Call) or not value.args:
            return None
        if self.qualified_name(value.func) in ("builtins.open", "io.open"):
            return value.args[0]
        mode = value.args[1] if len(value.args) > 1 else None
        if (
            isinstance(mode, ast.Constant)
            and isinstance(mode.value, str)
            and mode.value.rstrip("bt+") in ("w", "x")
        ):
            # opener(path, "wb") - gzip.open, GzipFile, a variable bound to one of them:
            # whatever opens a path for writing by that convention writes the file at path.
            return value.args[0]
        return None

    def _temp_from_value(
        self, name: str, value: ast.expr, binding: ast.AST | None, depth: int
    ) -> TempInfo | None:
        if isinstance(value, ast.Call):
            called = self.qualified_name(value.func)
            if called in ("tempfile.mkstemp",):
                return TempInfo("mkstemp", unique=True, created=True, origin=value)
            helper = self.helper_temp(value, depth)
            if helper is not None:
                return helper  # tmp = make_temp(...), or fd, tmp = _mkstemp(...)
            if called in ("tempfile.mkdtemp",) or called == "tempfile.TemporaryDirectory":
                return TempInfo("tempdir", unique=True, created=True, origin=value)
        if isinstance(binding, ast.withitem) and self._is_named_temporary(value):
            return None  # the file object itself; its .name is the temp
        if (
            isinstance(value, ast.Subscript)
            and isinstance(value.value, ast.Call)
            and self.qualified_name(value.value.func) == "tempfile.mkstemp"
        ):
            return TempInfo("mkstemp", unique=True, created=True, origin=value)
        info = self.temp_info(value, depth + 1)
        if info is not None:
            return info
        if words(name) & _TEMP_WORDS:
            unique = self.contains_unique_part(value)
            return TempInfo("name", unique=unique, created=False, origin=value)
        return None

    def _is_named_temporary(self, node: ast.expr, depth: int = 0) -> bool:
        if depth > 8:
            return False  # `with tmpfile as tmpfile:` binds a name to itself: not a cycle
        if isinstance(node, ast.Call):
            if self.qualified_name(node.func) in (
                "tempfile.NamedTemporaryFile",
                "tempfile.TemporaryFile",
                "tempfile.SpooledTemporaryFile",
            ):
                return True
            # A project's own factory: mailbox._create_temporary(path), self._create_tmp().
            identifier = last_identifier(node.func) or ""
            return bool(words(identifier) & _TEMP_WORDS)
        if isinstance(node, ast.Name):
            value = self.assignment_before(node.id, node)
            if isinstance(value, ast.Name) and value.id == node.id:
                value = self._value_before_rebinding(node)  # `with tmpfile as tmpfile:`
            if value is None:
                return False
            returned = self._unpacked_from_helper(node, value, depth)
            if returned is not None:
                return returned
            if isinstance(value, ast.Constant) and value.value is None:
                return self._none_or_temporary(node, depth)
            return self._is_named_temporary(value, depth + 1)
        return False

    def _value_before_rebinding(self, node: ast.Name) -> ast.expr | None:
        """The value ``node``'s name had before the statement that rebinds it to itself."""
        line = _line_of(self.binding_node(node.id, node))
        for scope in self.visible_scopes(self.scope(node)):
            entries = scope.assignments.get(node.id)
            if entries:
                before = [e for e in entries if _line_of(e[0]) < line]
                return before[-1][1] if before else None
        return None

    def _none_or_temporary(self, node: ast.Name, depth: int) -> bool:
        """A name bound to ``None`` in one branch and to a temporary file in the others.

        ``tmp = None`` / ``if ...: tmp = NamedTemporaryFile(...)``: where the name is used
        as a file it is the temporary (the ``None`` case has no file). Every other value
        bound in the scope must be a temporary file too.
        """
        if depth > 3:
            return False
        for scope in self.visible_scopes(self.scope(node)):
            entries = scope.assignments.get(node.id)
            if not entries:
                if node.id in scope.bound:
                    return False
                continue
            found = False
            for _, value in entries:
                if value is None:
                    return False  # a loop or with target: not known
                if isinstance(value, ast.Constant) and value.value is None:
                    continue
                if not self._is_named_temporary(value, depth + 1):
                    return False
                found = True
            return found
        return False

    def _temp_of_other_bindings(self, node: ast.Name, depth: int) -> TempInfo | None:
        """The temp a name holds where it is used as a path, when its last binding is ``None``.

        ``if "r" not in mode: fd, tmp = mkstemp() else: tmp = None``, then ``if tmp is not
        None: os.replace(tmp, dst)``: the text's last binding is the ``None`` of the other
        branch, but a rename of ``None`` would raise, so at the rename the name holds what
        the other bindings gave it. Every other binding of the scope must be a temp (one that
        is not - a loop target, a parameter's value - makes the name unknown).
        """
        if depth > 3:
            return None
        for scope in self.visible_scopes(self.scope(node)):
            entries = scope.assignments.get(node.id)
            if not entries:
                if node.id in scope.bound:
                    return None
                continue
            found: TempInfo | None = None
            for binding, value in entries:
                if value is None:
                    return None  # a loop or with target: not known
                if isinstance(value, ast.Constant) and value.value is None:
                    continue
                info = self._temp_from_value(node.id, value, binding, depth + 1)
                if info is None or info.kind == "name":
                    return None  # a value that is no temp, or only a temp-looking word
                found = found or info
            return found
        return None

    def _unpacked_from_helper(self, node: ast.Name, value: ast.expr, depth: int) -> bool | None:
        """``a, b, tmp = make()`` with ``make`` a function of this module: what it returns there.

        The element at ``tmp``'s position of every tuple ``make`` returns is judged inside
        ``make``; a ``None`` there is no file (the caller tests ``tmp is not None`` before
        using it: a temp rebound after ``None``), anything else must be a temporary file.
        None when the binding is not such an unpacking (then the value is judged as it is).
        """
        binding = self.binding_node(node.id, node)
        if not isinstance(binding, ast.Assign) or not isinstance(value, ast.Call):
            return None
        position = None
        for target in binding.targets:
            if isinstance(target, ast.Tuple):
                for index, element in enumerate(target.elts):
                    if isinstance(element, ast.Name) and element.id == node.id:
                        position = index
        if position is None:
            return None
        return self._returns_temporary_at(value, position, depth)

    def _returns_temporary_at(self, call: ast.Call, position: int, depth: int) -> bool | None:
        """Whether the module function ``call`` calls returns a temporary at ``position``.

        A ``return other_helper(...)`` (a retrying wrapper such as meson's
        ``get_data_with_backoff``) is followed into that helper, same position.
        """
        name = last_identifier(call.func)
        candidates = self.functions_named(name) if name else []
        if len(candidates) != 1 or depth > 3:
            return None
        function = candidates[0]
        found = False
        for statement in ast.walk(function):
            if not isinstance(statement, ast.Return) or self.function_of(statement) is not function:
                continue
            returned = statement.value
            if isinstance(returned, ast.Call):
                inner = self._returns_temporary_at(returned, position, depth + 1)
                if not inner:
                    return False
                found = True
                continue
            if not isinstance(returned, ast.Tuple) or len(returned.elts) <= position:
                return False
            element = returned.elts[position]
            if isinstance(element, ast.Constant) and element.value is None:
                continue
            if not self._is_named_temporary(element, depth + 1):
                return False
            found = True
        return found

    def is_derived_name(self, node: ast.expr) -> bool:
        """A name built from another path plus a temp-looking suffix or prefix."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
            return any(self._temp_literal(part) for part in ast.walk(node))
        if isinstance(node, ast.JoinedStr):
            return any(self._temp_literal(part) for part in node.values)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("with_suffix", "with_name", "with_stem", "format"):
                return any(self._temp_literal(part) for part in ast.walk(node))
            if self.qualified_name(node.func) == "os.path.join" and node.args:
                return self.is_derived_name(node.args[-1])
        return False

    def _temp_literal(self, node: ast.AST) -> bool:
        """A temp-looking literal part of a name, or ``tempfile.gettempprefix()`` (``"tmp"``)."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return _TEMP_LITERAL.search(node.value.lower()) is not None
        if isinstance(node, ast.Call):
            return self.qualified_name(node.func) in (
                "tempfile.gettempprefix",
                "tempfile.gettempprefixb",
            )
        return False

    def contains_unique_part(self, node: ast.expr, depth: int = 0) -> bool:
        """Whether the name has a per-writer part: uuid, pid, thread id, an mkstemp name.

        Only the parts that build the name are followed (formatting, joins, ``os.path.join``,
        ``Path`` operations, variables holding such parts). A value some other call computes
        from its arguments is not per-writer even when an argument is: a content hash
        computed over an mkstemp file descriptor names the content, which two writers share.
        ``tempfile.gettempdir()`` is shared by every writer too.
        """
        if depth > 6:
            return False
        if isinstance(node, ast.Call):
            name = self.qualified_name(node.func) or ""
            if name.startswith(_UNIQUE_CALL_PREFIXES):
                return True
            if _UNIQUE_WORDS.search(last_identifier(node.func) or ""):
                return True
            if not self._builds_a_name(node, name):
                return False
            parts = [*node.args, *(k.value for k in node.keywords)]
            if isinstance(node.func, ast.Attribute) and not name:
                parts.append(node.func.value)
            return any(self.contains_unique_part(part, depth + 1) for part in parts)
        if isinstance(node, ast.BinOp):
            return self.contains_unique_part(node.left, depth + 1) or self.contains_unique_part(
                node.right, depth + 1
            )
        if isinstance(node, ast.JoinedStr):
            return any(
                self.contains_unique_part(part.value, depth + 1)
                for part in node.values
                if isinstance(part, ast.FormattedValue)
            )
        if isinstance(node, (ast.Tuple, ast.List)):
            return any(self.contains_unique_part(e, depth + 1) for e in node.elts)
        if isinstance(node, ast.Subscript):
            return self.contains_unique_part(node.value, depth + 1)
        if isinstance(node, ast.Attribute):
            if _UNIQUE_WORDS.search(node.attr):
                return True
            if node.attr == "name" and self._is_named_temporary(node.value):
                return True
            return self.contains_unique_part(node.value, depth + 1)
        if isinstance(node, ast.Name):
            if _UNIQUE_WORDS.search(node.id):
                return True
            value = self.assignment_before(node.id, node)
            return (
                value is not None
                and value is not node
                and self.contains_unique_part(value, depth + 1)
            )
        return False

    @staticmethod
    def _builds_a_name(call: ast.Call, name: str) -> bool:
        """A call whose result is made of its arguments' text (a path, a format, a join)."""
        if name in _NAME_BUILDERS or name in _PATH_CLASSES:
            return True
        func = call.func
        return isinstance(func, ast.Attribute) and func.attr in _NAME_BUILDING_METHODS

    def is_fresh(self, src: ast.expr, info: TempInfo, before: ast.AST) -> bool:
        """The temp was created or written in the same function, before ``before``.

        Written means handed to a writing call (``open(tmp, "wb")``, ``tmp.write_bytes``),
        also through a conversion (``open(str(tmp), "wb")``). A file inside a private temp
        directory is written by whatever was handed that directory before the publish
        (``subprocess.run(["latex", f"--output-directory={tmpdir}"])``, ``unpack(a, tmpdir)``):
        nothing else can have put a file there.
        """
        if info.created:
            return True
        key = unparsed(src)
        keys = {key}
        if isinstance(src, ast.Call) and src.args:
            keys.add(unparsed(src.args[0]))  # str(tmp), Path(tmp)
        line = getattr(before, "lineno", 0)
        directories = self._temp_directory_names(src) if info.kind == "tempdir" else set()
        for call in self.scope(before).calls:
            if call is before or getattr(call, "lineno", 0) > line:
                continue
            func = call.func
            if (
                isinstance(func, ast.Attribute)
                and unparsed(func.value) in keys
                and func.attr in ("write_bytes", "write_text", "open", "touch", "save")
            ):
                return True
            if directories and self._hands_over(call, directories):
                return True
            callee = last_identifier(func) or ""
            if not _WRITE_WORDS.search(callee):
                continue
            if any(unparsed(self._unconverted(arg)) in keys for arg in call.args):
                return True
        return isinstance(src, ast.Attribute) and self._written_by_own_methods(src)

    def _written_by_own_methods(self, src: ast.Attribute) -> bool:
        """``self.attr`` that a method of the class writes (``open(self.temppath, mode)``).

        The counterpart of :meth:`_bound_by_own_methods`: a temp kept in an attribute is
        written where the class writes it (gallery-dl's ``PathFormat.open``), not
        necessarily in the method that publishes it.
        """
        function = self.function_of(src)
        owner = None if function is None else self.parents.get(function)
        if not isinstance(owner, ast.ClassDef) or not isinstance(src.value, ast.Name):
            return False
        if _receiver(function) != src.value.id:
            return False
        for method in owner.body:
            receiver = _receiver(method)
            scope = self.scopes.get(method) if receiver is not None else None
            if receiver is None or scope is None:
                continue
            for call in scope.calls:
                func = call.func
                if (
                    isinstance(func, ast.Attribute)
                    and _is_attribute_of(func.value, receiver, src.attr)
                    and func.attr in ("write_bytes", "write_text", "open", "touch", "save")
                ):
                    return True
                if _WRITE_WORDS.search(last_identifier(func) or "") and any(
                    _is_attribute_of(self._unconverted(arg), receiver, src.attr)
                    for arg in call.args
                ):
                    return True
        return False

    def _unconverted(self, node: ast.expr) -> ast.expr:
        """``tmp`` for ``str(tmp)``, ``os.fspath(tmp)`` or ``Path(tmp)``: the same file."""
        while isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
            name = self.qualified_name(node.func)
            if name not in ("builtins.str", "os.fspath") and name not in _PATH_CLASSES:
                break
            node = node.args[0]
        return node

    def _temp_directory_names(self, src: ast.expr) -> set[str]:
        """The variables naming the private temp directory that ``src`` lies in.

        ``tmppath / name`` with ``tmppath = Path(tmpdir)`` and ``tmpdir`` a
        ``TemporaryDirectory``: both ``tmppath`` and ``tmpdir``.
        """
        found: set[str] = set()
        pending = [n for n in ast.walk(src) if isinstance(n, ast.Name)]
        while pending and len(found) < 8:
            name = pending.pop()
            if name.id in found:
                continue
            info = self.temp_info(name, 1)
            if info is None or info.kind != "tempdir":
                continue
            found.add(name.id)
            value = self.assignment_before(name.id, name)
            if value is not None:
                pending.extend(n for n in ast.walk(value) if isinstance(n, ast.Name))
        return found

    def _hands_over(self, call: ast.Call, directories: set[str]) -> bool:
        """Whether ``call`` is handed one of ``directories`` to work in (not a name builder).

        Building a name from the directory (``os.path.join``, ``Path(...)``, ``/``), asking
        about it (``os.path.*``, ``listdir``) or making it (``makedirs``) writes no file.
        """
        name = self.qualified_name(call.func) or ""
        leaf = last_identifier(call.func) or ""
        if (
            self._builds_a_name(call, name)
            or name.startswith(("os.path.", "tempfile."))
            or leaf in _NOT_WRITING
        ):
            return False
        given = [*call.args, *(k.value for k in call.keywords)]
        return any(
            isinstance(part, ast.Name) and part.id in directories
            for argument in given
            for part in ast.walk(argument)
        )


def _line_of(binding: ast.AST | None) -> int:
    """The line of a binding; a ``withitem`` has none of its own, its expression has."""
    if isinstance(binding, ast.withitem):
        binding = binding.context_expr
    return int(getattr(binding, "lineno", 0))


#: The depth at which an attribute's binding is judged (see :meth:`Temps._temp_bound_by`).
_BINDING_DEPTH = 3
#: The depth a constructor call's argument is judged at: its own bindings are read, no
#: caller of the constructing function is asked.
_CONSTRUCTOR_DEPTH = 2
#: Temps an attribute binding does not make by itself: a temp-looking word, and what a
#: helper returns on some of its paths (pip's ``self.source_dir = self.ensure_build_location
#: (...)`` is a private build dir on one path and the user's checkout on others).
_NOT_BY_CONSTRUCTION = frozenset({"name", "helper"})


def _receiver(function: ast.AST | None) -> str | None:
    """The first parameter of a method (``self``), or None for anything else."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    positional = function.args.posonlyargs + function.args.args
    if not positional or any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in function.decorator_list
    ):
        return None
    return positional[0].arg


def _is_attribute_of(node: ast.AST, receiver: str, attr: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == attr
        and isinstance(node.value, ast.Name)
        and node.value.id == receiver
    )


def _is_self_attribute(node: ast.AST, attr: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == attr
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )
