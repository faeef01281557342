"""Load the generated Pulumi SDK packages name by name in the offline plan's CLI process.

A generated SDK does almost all of its import-time work for names a program never touches:
- each package's `__init__.py` star-imports all of its modules (`from .server import *`: ~50
  modules per azure-native service, ~60 per Kubernetes API version) and looks up every
  subpackage (`_utilities.lazy_import`: ~260 in azure-native's root);
- each `_inputs.py`, `outputs.py` and `_enums.py` defines every type of its package (~3,000
  classes in Kubernetes core/v1, 4.5 MB of source), and each resource module star-imports them.
Touching one resource class paid for all of it: most of a plan's run time.

`install()` puts a finder first on `sys.meta_path` that changes three kinds of SDK module:
- a package loads without its star imports and subpackage lookups, and resolves each name on
  first access: from the module that exports it (`__all__`, else its public top-level names;
  the last star import wins, as in the original) or as the subpackage;
- `_inputs`/`outputs`/`_enums` run their imports, then define each class on first access,
  after the classes of the same module (and the `_enums`/`_inputs` names) that it references,
  so Pulumi's `get_type_hints` on it finds them as it found every class before;
- a module's `from ._inputs import *` / `from ._enums import *` imports the names it
  references, and only those.
"References" (`referenced_names`) leaves out function parameter annotations and docstrings,
which nothing looks up. A module that does not have the generated shape (exports that cannot
be read without running it, a statement between classes, a class that does not parse on its
own) loads normally.

The split modules' code objects are cached in build/lazy-sdk (a tool cache like .mypy_cache,
written whatever PYTHONDONTWRITEBYTECODE says, since it is not Python's bytecode cache): the first
plan builds what it uses, later ones unmarshal it. An entry is used only while its sources are
unchanged (path, mtime and size), for the same Python bytecode magic and cache format. A type
module is split by its lines (each class starts at a decorator or `class` line), and a class is
parsed and compiled when it is first defined; `save()` adds what a run parsed to the module's
entry, an index followed by each class's code, read from the file when the class is defined. A
plan defines ~700 of the ~3,800 classes of the 42 type modules it loads (11.6 MB of source):
parsing them all had made the first plan ~1.5 s slower, and reading their entries whole (~18 MB)
had cost later plans ~20 ms.

Only the plan's CLI installs it. The tests import the SDKs normally, and one of them holds the
CLI's JSON plan byte-identical to the plan built in the test process.
"""

import ast
import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tools import PROJECT_DIR, write_whole

SDK_DISTRIBUTIONS = frozenset({"pulumi_azure_native", "pulumi_kubernetes", "pulumi_azuread", "pulumi_vault",
                               "pulumi_random", "pulumi_tls", "pulumi_docker_build"})
DEFAULT_CACHE_DIR = PROJECT_DIR / "build" / "lazy-sdk"
# Bump when what is cached changes shape or meaning.
CACHE_FORMAT = 9
TYPE_MODULES = frozenset({"_inputs", "outputs", "_enums"})
# Siblings whose star imports are narrowed to the names a module references.
NARROWED_SIBLINGS = ("_enums", "_inputs")
_STAR_IMPORT = re.compile(r"^from \.(\w+) import \*$", re.MULTILINE)
_SIBLING_STAR_IMPORT = re.compile(r"^from \.(_enums|_inputs) import \*$", re.MULTILINE)
_ALL = re.compile(r"^__all__ = \[(.*?)\]", re.MULTILINE | re.DOTALL)
_LAZY_IMPORT_LINE = re.compile(r"^( *)(\w+) = _utilities\.lazy_import\('([\w.]+)'\)$", re.MULTILINE)
_QUOTED_NAME = re.compile(r"""['"](\w+)['"]""")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _literal_all(source: str) -> list[str] | None:
    found = _ALL.search(source)
    return _QUOTED_NAME.findall(found.group(1)) if found else None


def exported_names(module_file: Path) -> list[str] | None:
    """The names of a generated module's literal `__all__`; None when it has none."""
    return _literal_all(module_file.read_text(encoding="utf-8"))


class _UnreadableBindingsError(Exception):
    pass


def _bound_names(statements: Sequence[ast.stmt]) -> Iterator[str]:
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, ast.Import):
            yield from (alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                raise _UnreadableBindingsError
            yield from (alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            yield from (name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name))
        elif isinstance(node, ast.If):
            yield from _bound_names(node.body)
            yield from _bound_names(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(handler.body for handler in node.handlers)):
                yield from _bound_names(block)
        elif not isinstance(node, (ast.Expr, ast.Pass)):
            raise _UnreadableBindingsError  # loops, `global`, `del`, ...: bindings this does not follow


def star_exports(source: str) -> list[str] | None:
    """What `from module import *` binds: the literal `__all__`, else the public names bound at
    the top level (read from the syntax tree); None when neither can be read without running it."""
    listed = _literal_all(source)
    if listed is not None:
        return listed
    try:
        names = _bound_names(ast.parse(source).body)
        return list(dict.fromkeys(name for name in names if not name.startswith("_")))
    except (SyntaxError, _UnreadableBindingsError):
        return None


@dataclass(frozen=True)
class LazyPackage:
    source: str  # __init__.py without its star imports and submodule imports
    exports: dict[str, str]  # name -> module of the package whose star import bound it
    submodules: dict[str, str]  # name -> the subpackage `_utilities.lazy_import` bound to it


def lazy_package_source(init_source: str, package_dir: Path) -> LazyPackage | None:
    """`__init__.py` without its star imports, and what they would have bound; None when a
    star-imported module's exports cannot be read without running it. The generated
    `name = _utilities.lazy_import('package.name')` lines (one per subpackage: ~260 in
    azure-native's root, each a spec lookup) become names resolved on first access too."""
    exports: dict[str, str] = {}
    for module in _STAR_IMPORT.findall(init_source):
        module_file = package_dir / f"{module}.py"
        names = star_exports(module_file.read_text(encoding="utf-8")) if module_file.is_file() else None
        if names is None:
            return None
        exports.update(dict.fromkeys(names, module))
    package = package_dir.name
    submodules: dict[str, str] = {}

    def lazy_submodule(match: re.Match[str]) -> str:
        indent, name, full_name = match.groups()
        if full_name.rpartition(".")[2] != name or full_name.split(".")[-2] != package:
            return match.group(0)
        submodules[name] = full_name
        return f"{indent}pass"  # keeps the `else:` block it sits in, and the line numbers

    # Blank lines instead of the imports keep line numbers in tracebacks right.
    source = _LAZY_IMPORT_LINE.sub(lazy_submodule, _STAR_IMPORT.sub("", init_source))
    return LazyPackage(source, exports, submodules)


def _unlooked_up(statements: Sequence[ast.stmt]) -> Iterator[ast.expr]:
    """Parameter annotations and string statements (docstrings) in `statements`, found by
    walking statements only: expressions cannot hold either."""
    for node in statements:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            yield node.value
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                             arguments.vararg, arguments.kwarg):
                if argument is not None and argument.annotation is not None:
                    yield argument.annotation
        for block in ("body", "orelse", "finalbody", "handlers"):
            yield from _unlooked_up(getattr(node, block, []))


def _names_in(lines: Sequence[bytes], first: int, statements: Sequence[ast.stmt], end: int | None = None
              ) -> set[str]:
    """Identifiers of source lines[first:end] (1-based line `first + 1` onwards) outside what
    `_unlooked_up` finds in `statements`, which sit in those lines."""
    text = list(lines[first:end])
    for span in _unlooked_up(statements):
        if span.end_lineno is None or span.end_col_offset is None:
            continue
        start_line, end_line = span.lineno - 1 - first, span.end_lineno - 1 - first
        for number in range(start_line, end_line + 1):
            line = text[number]
            start = span.col_offset if number == start_line else 0  # ast counts UTF-8 bytes
            end = span.end_col_offset if number == end_line else len(line.rstrip(b"\r\n"))
            text[number] = line[:start] + b" " * (end - start) + line[end:]
    return set(_IDENTIFIER.findall(b"".join(text).decode("utf-8", errors="replace")))


def referenced_names(source: str) -> set[str]:
    """The identifiers in `source` (code, strings, comments) outside function parameter
    annotations and docstrings. Those are never looked up by name: generated code quotes the
    types it writes in parameters, and Pulumi resolves only property getters' return annotations.
    They are where a resource names every `...ArgsDict` TypedDict, which nothing else needs."""
    return _names_in(source.encode().splitlines(keepends=True), 0, ast.parse(source).body)


@dataclass(frozen=True)
class ClassChunk:
    node: ast.ClassDef  # with its decorators, at its lines in the module
    mentions: tuple[str, ...]  # other classes of the module that it references
    sibling_names: tuple[tuple[str, tuple[str, ...]], ...]  # (sibling, names it exports that it references)


@dataclass(frozen=True)
class SplitTypeModule:
    header: list[ast.stmt]  # imports and __all__: what precedes the first class, less sibling star imports
    classes: dict[str, ClassChunk]
    sibling_exports: dict[str, list[str]]  # of the siblings the header star-imports


def _sibling_star_import(node: ast.stmt) -> str | None:
    if (isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in NARROWED_SIBLINGS
            and [alias.name for alias in node.names] == ["*"]):
        return node.module
    return None


def _header_without_sibling_imports(header: list[ast.stmt], sibling_exports: Mapping[str, Sequence[str]]
                                    ) -> tuple[list[ast.stmt], dict[str, list[str]]] | None:
    """A type module's header less its star imports of siblings, and those siblings' exports, in
    the header's order; None when a star-imported sibling's exports are not in `sibling_exports`."""
    siblings = [sibling for node in header if (sibling := _sibling_star_import(node)) is not None]
    if any(sibling not in sibling_exports for sibling in siblings):
        return None
    return ([node for node in header if _sibling_star_import(node) is None],
            {sibling: list(sibling_exports[sibling]) for sibling in siblings})


def split_type_module(source: str, sibling_exports: Mapping[str, Sequence[str]]) -> SplitTypeModule | None:
    """A generated `_inputs`/`outputs`/`_enums` module as its header and one chunk per class;
    None when anything but classes follows the first class, a class is defined twice, the
    header star-imports a sibling whose exports are not in `sibling_exports`, or the source is
    not Python.

    The header's star imports of `_enums`/`_inputs` become per-class bindings of the names the
    class references, so that defining a class does not define every class of the sibling."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    first_class = next((index for index, node in enumerate(body) if isinstance(node, ast.ClassDef)), None)
    if first_class is None:
        return None
    header, class_nodes = body[:first_class], body[first_class:]
    if not all(isinstance(node, ast.ClassDef) for node in class_nodes):
        return None
    names = [node.name for node in class_nodes if isinstance(node, ast.ClassDef)]
    if len(set(names)) != len(names):
        return None
    header_and_siblings = _header_without_sibling_imports(header, sibling_exports)
    if header_and_siblings is None:
        return None
    kept_header, used = header_and_siblings
    known = frozenset(names)
    lines = source.encode().splitlines(keepends=True)
    classes: dict[str, ClassChunk] = {}
    for node in class_nodes:
        assert isinstance(node, ast.ClassDef)
        classes[node.name] = _class_chunk(node, lines, known, used)
    return SplitTypeModule(kept_header, classes, used)


def _first_line(node: ast.ClassDef) -> int:
    """The 1-based line a class starts at: its first decorator's, else its own."""
    return min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])


def _class_chunk(node: ast.ClassDef, lines: Sequence[bytes], known: frozenset[str],
                 sibling_exports: Mapping[str, Sequence[str]]) -> ClassChunk:
    """A class's chunk; `lines` are the module's, at least up to the class's end."""
    words = _names_in(lines, _first_line(node) - 1, [node], node.end_lineno)
    taken = tuple((sibling, tuple(sorted(words & set(exports)))) for sibling, exports in sibling_exports.items())
    return ClassChunk(node, tuple(sorted(words & known - {node.name})), taken)


@dataclass(frozen=True)
class TextSplitTypeModule:
    header: list[ast.stmt]  # as SplitTypeModule's
    spans: dict[str, tuple[int, int]]  # class -> its 0-based first line and the line after its last
    sibling_exports: dict[str, list[str]]  # of the siblings the header star-imports


_CLASS_LINE = re.compile(rb"class (\w+)\b")


def split_type_module_text(source: str, sibling_exports: Mapping[str, Sequence[str]]) -> TextSplitTypeModule | None:
    """`split_type_module` without parsing the classes: a generated type module's classes start
    at lines that begin with a decorator or `class`, and every other line after the first class
    is indented, blank or a comment. None where that does not hold, and as split_type_module
    says. A class is parsed, and its references found, when it is first defined
    (`class_chunk_at`), so that a plan parses ~700 of the ~3,800 classes of the modules it loads
    (the three largest are ~7 MB of source).

    A line inside a string that begins with `class` or `@` would cut a class in two; the parse
    of either half then fails or finds another class than the line named, and the caller falls
    back to split_type_module."""
    # Lines as the tokenizer counts them (class_chunk_at cuts the same lines).
    lines = source.encode().splitlines(keepends=True)
    first = next((index for index, line in enumerate(lines) if line.startswith((b"@", b"class "))), None)
    if first is None:
        return None
    try:
        header_and_siblings = _header_without_sibling_imports(ast.parse(b"".join(lines[:first])).body,
                                                              sibling_exports)
    except SyntaxError:
        return None
    if header_and_siblings is None:
        return None
    starts: list[tuple[int, str]] = []
    chunk_start: int | None = None  # of the decorators above the class line not yet seen
    for index in range(first, len(lines)):
        line = lines[index]
        if not line.strip() or line[:1] in (b" ", b"\t", b"#"):
            continue
        if line.startswith(b"@"):
            chunk_start = index if chunk_start is None else chunk_start
        elif (found := _CLASS_LINE.match(line)) is not None:
            starts.append((index if chunk_start is None else chunk_start, found.group(1).decode()))
            chunk_start = None
        else:
            return None  # a statement between or after the classes
    names = [name for _, name in starts]
    if chunk_start is not None or len(set(names)) != len(names):
        return None
    ends = [start for start, _ in starts[1:]] + [len(lines)]
    spans = {name: (start, end) for (start, name), end in zip(starts, ends, strict=True)}
    return TextSplitTypeModule(header_and_siblings[0], spans, header_and_siblings[1])


def class_chunk_at(source_lines: Sequence[bytes], name: str, span: tuple[int, int], known: frozenset[str],
                   sibling_exports: Mapping[str, Sequence[str]]) -> ClassChunk | None:
    """The chunk of class `name`, parsed from its span of the module's lines (as bytes, with their
    ends) at its own line numbers; None when the span holds anything but that one class."""
    start, end = span
    try:  # blank lines before the span keep the class at its own line numbers
        body = ast.parse(b"\n" * start + b"".join(source_lines[start:end])).body
    except SyntaxError:
        return None
    if len(body) != 1 or not isinstance(body[0], ast.ClassDef) or body[0].name != name \
            or _first_line(body[0]) != start + 1:
        return None
    return _class_chunk(body[0], source_lines, known, sibling_exports)


def narrowed_star_imports(source: str, sibling_exports: Mapping[str, Sequence[str]]) -> ast.Module | None:
    """`source` parsed, with each top-level `from ._enums import *` / `from ._inputs import *`
    importing only the names the module references (`referenced_names`); None when it has no
    such import, one whose sibling's exports are not in `sibling_exports`, or is not Python."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    siblings = {sibling for node in tree.body if (sibling := _sibling_star_import(node)) is not None}
    if not siblings or not siblings <= set(sibling_exports):
        return None
    words = _names_in(source.encode().splitlines(keepends=True), 0, tree.body)
    body: list[ast.stmt] = []
    for node in tree.body:
        sibling = _sibling_star_import(node)
        if sibling is None:
            body.append(node)
            continue
        names = sorted(words & set(sibling_exports[sibling]))
        if names:
            narrowed = ast.ImportFrom(module=sibling, names=[ast.alias(name) for name in names], level=1)
            body.append(ast.copy_location(narrowed, node))
    tree.body = body
    return ast.fix_missing_locations(tree)


VERSION_FUNCTION = "_get_semver_version"
_VERSION_PARSER = "PEP440Version"


def _version_call_target(node: ast.stmt) -> bool:
    """Whether `node` is the generated `_version = _get_semver_version()`."""
    return (isinstance(node, ast.Assign) and [ast.dump(target) for target in node.targets]
            == [ast.dump(ast.Name("_version", ast.Store()))] and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == VERSION_FUNCTION
            and not node.value.args and not node.value.keywords)


def _is_metadata_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.Import) and [alias.name for alias in node.names] == ["importlib.metadata"]


def _is_parser_import(node: ast.stmt) -> bool:
    return (isinstance(node, ast.ImportFrom) and len(node.names) == 1
            and node.names[0].asname == _VERSION_PARSER)


def utilities_without_version_lookup(source: str) -> tuple[ast.Module, ast.Module] | None:
    """A generated `_utilities.py` whose `_version` is given rather than looked up, and the code
    that looks it up; None when the module does not have the generated shape.

    Each SDK's `_utilities` reads its own version at import (`importlib.metadata.version`, then
    parver or packaging to turn PEP 440 into semver): the first of them imports
    importlib.metadata (with zipfile, csv and email's parser) and parver, ~15 ms of a plan. The
    first module returned binds `_version` to a `SemverVersion(...)` call whose keywords the
    caller fills in (`given_version`), and imports the lookup's two modules inside
    `_get_semver_version`, which stays callable. The second is the module's imports and that
    function, to run once to learn the values."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    body = tree.body
    metadata_imports = [node for node in body if _is_metadata_import(node)]
    parser_imports = [node for node in body if _is_parser_import(node)]
    functions = [node for node in body if isinstance(node, ast.FunctionDef) and node.name == VERSION_FUNCTION]
    calls = [node for node in body if _version_call_target(node)]
    if not (len(metadata_imports) == len(parser_imports) == len(functions) == len(calls) == 1):
        return None
    [function] = functions
    outside = [node for node in body if node is not function]
    for node in ast.walk(ast.Module(body=[n for n in outside if n not in metadata_imports + parser_imports],
                                    type_ignores=[])):
        if ((isinstance(node, ast.Name) and node.id == _VERSION_PARSER)
                or (isinstance(node, ast.Attribute) and node.attr == "metadata")):
            return None  # the lookup's modules are used elsewhere: keep them where they are
    lookup = ast.Module(body=[node for node in body if isinstance(node, (ast.Import, ast.ImportFrom))] + [function],
                        type_ignores=[])
    given_body: list[ast.stmt] = []
    for node in body:
        if node in metadata_imports:
            given_body.append(ast.copy_location(ast.Import(names=[ast.alias("importlib")]), node))
        elif node in parser_imports:
            continue
        elif node is function:
            moved = function.__class__(**{**vars(function), "body": [*metadata_imports, *parser_imports,
                                                                     *function.body]})
            given_body.append(ast.copy_location(moved, function))
        elif node in calls and isinstance(node, ast.Assign):
            given = ast.Call(func=ast.Name("SemverVersion", ast.Load()), args=[], keywords=[])
            given_body.append(ast.copy_location(ast.Assign(targets=node.targets, value=given), node))
        else:
            given_body.append(node)
    return (ast.fix_missing_locations(ast.Module(body=given_body, type_ignores=[])),
            ast.fix_missing_locations(lookup))


def given_version(module: ast.Module, version: Any) -> ast.Module:
    """`module` (from utilities_without_version_lookup) with its `SemverVersion(...)` call given
    the keywords the SDK's own lookup builds it with."""
    for node in module.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and not node.value.keywords \
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "SemverVersion":
            node.value.keywords = [ast.keyword(field, ast.Constant(getattr(version, field)))
                                   for field in ("major", "minor", "patch", "prerelease", "build")]
    return ast.fix_missing_locations(module)


def _sibling_exports(module_file: Path, source: str) -> dict[str, list[str]]:
    """Exports of the siblings `source` star-imports, for those that list them."""
    exports: dict[str, list[str]] = {}
    for sibling in set(_SIBLING_STAR_IMPORT.findall(source)):
        names = exported_names(module_file.with_name(f"{sibling}.py"))
        if names is not None:
            exports[sibling] = names
    return exports


def _sibling_files(module_file: Path) -> list[Path]:
    return [module_file.with_name(f"{sibling}.py") for sibling in NARROWED_SIBLINGS
            if module_file.with_name(f"{sibling}.py").is_file()]


class CodeCache:
    """Marshalled data per source file under one folder, valid while its sources are unchanged."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _entry(self, source_file: Path, kind: str) -> Path:
        digest = hashlib.sha256(f"{source_file}\0{kind}".encode()).hexdigest()[:32]
        return self.folder / f"{digest}.marshal"

    @staticmethod
    def _stamp(sources: Sequence[Path]) -> tuple[Any, ...]:
        stats = [source.stat() for source in sources]
        return (importlib.util.MAGIC_NUMBER, CACHE_FORMAT,
                *((stat.st_mtime_ns, stat.st_size) for stat in stats))

    def get_or_build(self, sources: Sequence[Path], kind: str, build: Callable[[], Any]) -> Any:
        """The cached value for `sources[0]`, else `build()` stored; `sources` are what it depends on."""
        entry = self._entry(sources[0], kind)
        stamp = self._stamp(sources)
        try:
            cached_stamp, payload = marshal.loads(entry.read_bytes())
            if cached_stamp == stamp:
                return payload
        except (OSError, EOFError, ValueError, TypeError):
            pass
        payload = build()
        self._store(entry, marshal.dumps((stamp, payload)))
        return payload

    def _store(self, entry: Path, data: bytes) -> None:
        write_whole(entry, data)  # a read-only checkout: every run compiles, which is only slower

    def get_or_build_chunked(self, sources: Sequence[Path], kind: str,
                             build: Callable[[], tuple[Any, dict[str, tuple[bytes, Any]]] | None]
                             ) -> tuple[Any, dict[str, Any], Callable[[str], bytes]] | None:
        """As get_or_build, for a value with named chunks of bytes that are read one by one:
        `build()` gives (value, {name: (chunk, chunk's metadata)}) or None; the answer is the
        value, each chunk's metadata, and a function that reads a chunk by name."""
        entry = self._entry(sources[0], kind)
        stamp = self._stamp(sources)
        try:
            stream = entry.open("rb")
        except OSError:
            pass
        else:
            cached_stamp = payload = None
            if stream.read(len(_CHUNKED_MAGIC)) == _CHUNKED_MAGIC:
                index_size = int.from_bytes(stream.read(_INDEX_SIZE_BYTES), "little")
                with contextlib.suppress(EOFError, ValueError, TypeError):
                    cached_stamp, payload = marshal.loads(stream.read(index_size))
            if cached_stamp == stamp:
                if payload is None:
                    stream.close()
                    return None
                value, spans = payload
                base = len(_CHUNKED_MAGIC) + _INDEX_SIZE_BYTES + index_size

                def read_cached(name: str) -> bytes:
                    offset, size, _ = spans[name]
                    return os.pread(stream.fileno(), size, base + offset)

                return value, {name: meta for name, (_, _, meta) in spans.items()}, read_cached
            stream.close()
        built = build()
        self._store_chunks(entry, stamp, built)
        if built is None:
            return None
        chunks = built[1]
        return built[0], {name: meta for name, (_, meta) in chunks.items()}, lambda name: chunks[name][0]

    def store_chunked(self, sources: Sequence[Path], kind: str, value: Any, chunks: dict[str, tuple[bytes, Any]]
                      ) -> None:
        """Replace the chunked entry of `sources[0]` (one get_or_build_chunked gave) with `value`
        and `chunks`: the entry grows as a run finds more it needs."""
        self._store_chunks(self._entry(sources[0], kind), self._stamp(sources), (value, chunks))

    def _store_chunks(self, entry: Path, stamp: tuple[Any, ...],
                      built: tuple[Any, dict[str, tuple[bytes, Any]]] | None) -> None:
        index: tuple[Any, dict[str, tuple[int, int, Any]]] | None = None
        blob = bytearray()
        if built is not None:
            spans_built: dict[str, tuple[int, int, Any]] = {}
            for name, (chunk, meta) in built[1].items():
                spans_built[name] = (len(blob), len(chunk), meta)
                blob += chunk
            index = (built[0], spans_built)
        head = marshal.dumps((stamp, index))
        self._store(entry, _CHUNKED_MAGIC + len(head).to_bytes(_INDEX_SIZE_BYTES, "little") + head + bytes(blob))


_CHUNKED_MAGIC = b"lazy-sdk chunks\n"  # not how a marshalled entry starts
_INDEX_SIZE_BYTES = 8


def _compile(code: str | ast.Module, filename: str) -> bytes:
    return marshal.dumps(compile(code, filename, "exec", dont_inherit=True))


def _module_of(statements: list[ast.stmt]) -> ast.Module:
    return ast.Module(body=statements, type_ignores=[])


class _CachedLoader(importlib.abc.Loader):
    def __init__(self, original: importlib.abc.Loader, module_file: Path, cache: CodeCache) -> None:
        self._original = original
        self._file = module_file
        self._cache = cache

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object


class _LazyPackageLoader(_CachedLoader):
    def _build(self) -> tuple[bytes, dict[str, str], dict[str, str]] | None:
        # Read here, not in find_spec: azure-native's root looks up all ~260 services.
        lazy = lazy_package_source(self._file.read_text(encoding="utf-8"), self._file.parent)
        if lazy is None or (len(set(lazy.exports.values())) < 2 and not lazy.submodules):
            return None  # nothing to gain: the package loads as it is
        return _compile(lazy.source, str(self._file)), lazy.exports, lazy.submodules

    def exec_module(self, module: ModuleType) -> None:
        # The folder's stamp changes when a module is added or removed.
        built = self._cache.get_or_build([self._file, self._file.parent], "package", self._build)
        if built is None:
            self._original.exec_module(module)
            return
        code, exports, submodules = built
        package = module.__name__

        def __getattr__(name: str) -> Any:  # noqa: N807 (PEP 562 module hook)
            # The submodule assignments came after the star imports: they win.
            if name in submodules:
                value = importlib.import_module(submodules[name])
            elif name in exports:
                value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            else:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            setattr(module, name, value)  # importing the module bound its name; the export wins
            return value

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        exec(marshal.loads(code), module.__dict__)


# A class's mentions and the names it takes from each sibling (ClassChunk).
ChunkReferences = tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]
# A type module's entry: its header's code, each class's span of lines, its siblings' exports.
TypeModuleIndex = tuple[bytes, dict[str, tuple[int, int]], dict[str, list[str]]]


def _references(chunk: ClassChunk) -> ChunkReferences:
    return chunk.mentions, chunk.sibling_names


def _spans(split: SplitTypeModule) -> dict[str, tuple[int, int]]:
    return {name: (_first_line(chunk.node) - 1, chunk.node.end_lineno or 0) for name, chunk in split.classes.items()}


class _TypeModuleClasses:
    """The classes of one type module as its entry holds them, and those first parsed in this run
    (`new`), which save() adds to the entry for the next run."""

    def __init__(self, file: Path, sources: list[Path], cache: CodeCache, index: TypeModuleIndex,
                 references: dict[str, ChunkReferences], read_code: Callable[[str], bytes]) -> None:
        self.file, self.sources, self.cache, self.index = file, sources, cache, index
        self.references = dict(references)
        self._read_code = read_code
        self.new: dict[str, bytes] = {}
        self._lines: list[bytes] | None = None

    def code(self, name: str) -> tuple[bytes, ChunkReferences]:
        if name in self.new:
            return self.new[name], self.references[name]
        if name in self.references:
            return self._read_code(name), self.references[name]
        if self._lines is None:
            self._lines = self.file.read_bytes().splitlines(keepends=True)
        _, spans, sibling_exports = self.index
        chunk = class_chunk_at(self._lines, name, spans[name], frozenset(spans), sibling_exports)
        if chunk is None:  # the lines did not split where the text said: parse the whole module
            self._split_whole()
            return self.code(name)
        self._add(name, chunk)
        return self.new[name], self.references[name]

    def _add(self, name: str, chunk: ClassChunk) -> None:
        if not self.new:
            _UNSAVED.append(self)
        self.new[name] = _compile(_module_of([chunk.node]), str(self.file))
        self.references[name] = _references(chunk)

    def _split_whole(self) -> None:
        source = self.file.read_text(encoding="utf-8")
        split = split_type_module(source, self.index[2])
        if split is None:
            raise ImportError(f"{self.file} does not parse as the generated classes its lines showed")
        for name, chunk in split.classes.items():
            if name not in self.new:
                self._add(name, chunk)
        self.index = (self.index[0], _spans(split), self.index[2])

    def save(self) -> None:
        chunks = {name: self.code(name) for name in self.references}
        self.cache.store_chunked(self.sources, "type-chunks", self.index, chunks)
        self.new.clear()


_UNSAVED: list[_TypeModuleClasses] = []


def save() -> None:
    """Add the classes this process parsed to their modules' entries, for the next plan."""
    while _UNSAVED:
        _UNSAVED.pop().save()


class _LazyTypeModuleLoader(_CachedLoader):
    """`_inputs`/`outputs`/`_enums`: the header now, each class when first asked for."""

    def _build(self) -> tuple[TypeModuleIndex, dict[str, tuple[bytes, ChunkReferences]]] | None:
        source = self._file.read_text(encoding="utf-8")
        sibling_exports = _sibling_exports(self._file, source)
        filename = str(self._file)
        by_lines = split_type_module_text(source, sibling_exports)
        if by_lines is not None:  # each class is parsed and compiled when first defined
            return (_compile(_module_of(by_lines.header), filename), by_lines.spans, by_lines.sibling_exports), {}
        split = split_type_module(source, sibling_exports)
        if split is None:
            return None
        # Compiled from the syntax tree: each class keeps its lines in the file, for tracebacks.
        classes = {name: (_compile(_module_of([chunk.node]), filename), _references(chunk))
                   for name, chunk in split.classes.items()}
        return (_compile(_module_of(split.header), filename), _spans(split), split.sibling_exports), classes

    def exec_module(self, module: ModuleType) -> None:
        sources = [self._file, *_sibling_files(self._file)]
        built = self._cache.get_or_build_chunked(sources, "type-chunks", self._build)
        if built is None:
            self._original.exec_module(module)
            return
        index, references, read_code = built
        classes = _TypeModuleClasses(self._file, sources, self._cache, index, references, read_code)
        namespace = module.__dict__
        package = module.__name__.rpartition(".")[0]
        defining: set[str] = set()

        def define(name: str) -> None:
            if name in namespace or name in defining:
                return
            defining.add(name)
            code, (mentions, sibling_names) = classes.code(name)
            for mentioned in mentions:
                define(mentioned)
            for sibling, names in sibling_names:
                sibling_module = importlib.import_module(f"{package}.{sibling}")
                for sibling_name in names:
                    # As the header's star import did: a class of this module wins.
                    namespace.setdefault(sibling_name, getattr(sibling_module, sibling_name))
            exec(marshal.loads(code), namespace)

        def __getattr__(name: str) -> Any:  # noqa: N807 (PEP 562 module hook)
            if name not in classes.index[1]:  # the index, as parsing the whole module may correct it
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            define(name)
            return namespace[name]

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        exec(marshal.loads(index[0]), namespace)


class _NarrowedImportLoader(_CachedLoader):
    """A module that star-imports its package's `_enums`/`_inputs`: only the names it mentions."""

    def _build(self) -> bytes | None:
        source = self._file.read_text(encoding="utf-8")
        narrowed = narrowed_star_imports(source, _sibling_exports(self._file, source))
        return None if narrowed is None else _compile(narrowed, str(self._file))

    def exec_module(self, module: ModuleType) -> None:
        code = self._cache.get_or_build([self._file, *_sibling_files(self._file)], "narrowed", self._build)
        if code is None:
            self._original.exec_module(module)
            return
        exec(marshal.loads(code), module.__dict__)


def _dist_info_metadata(package_dir: Path) -> Path | None:
    """The METADATA file of the one distribution installed as `package_dir`, beside it."""
    found = [entry for entry in package_dir.parent.glob(f"{package_dir.name}-*.dist-info")
             if (entry / "METADATA").is_file()]
    return found[0] / "METADATA" if len(found) == 1 else None


class _UtilitiesLoader(_CachedLoader):
    """An SDK's `_utilities`, with its version read once per installed version, not on every import."""

    def __init__(self, original: importlib.abc.Loader, module_file: Path, cache: CodeCache,
                 module_name: str, metadata: Path) -> None:
        super().__init__(original, module_file, cache)
        self._module_name = module_name
        self._metadata = metadata

    def _build(self) -> bytes | None:
        split = utilities_without_version_lookup(self._file.read_text(encoding="utf-8"))
        if split is None:
            return None
        given, lookup = split
        namespace: dict[str, Any] = {"__name__": self._module_name}
        exec(compile(lookup, str(self._file), "exec", dont_inherit=True), namespace)  # the SDK's own lookup
        return _compile(given_version(given, namespace[VERSION_FUNCTION]()), str(self._file))

    def exec_module(self, module: ModuleType) -> None:
        # The stamp of METADATA: a reinstalled or upgraded SDK reads its version again.
        code = self._cache.get_or_build([self._file, self._metadata], "utilities", self._build)
        if code is None:
            self._original.exec_module(module)
            return
        exec(marshal.loads(code), module.__dict__)


class LazySdkFinder(importlib.abc.MetaPathFinder):
    def __init__(self, distributions: frozenset[str] = SDK_DISTRIBUTIONS,
                 cache_dir: Path = DEFAULT_CACHE_DIR) -> None:
        self.distributions = distributions
        self.cache = CodeCache(cache_dir)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] not in self.distributions:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (spec is None or spec.origin is None or not spec.origin.endswith(".py")
                or not isinstance(spec.loader, importlib.abc.Loader)):
            return None
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            spec.loader = _LazyPackageLoader(spec.loader, origin, self.cache)
        elif origin.stem in TYPE_MODULES:
            spec.loader = _LazyTypeModuleLoader(spec.loader, origin, self.cache)
        elif origin.stem == "_utilities" and (metadata := _dist_info_metadata(origin.parent)) is not None:
            spec.loader = _UtilitiesLoader(spec.loader, origin, self.cache, fullname, metadata)
        elif not origin.stem.startswith("_") and _sibling_files(origin):
            spec.loader = _NarrowedImportLoader(spec.loader, origin, self.cache)
        return spec


def install(distributions: frozenset[str] = SDK_DISTRIBUTIONS, cache_dir: Path = DEFAULT_CACHE_DIR) -> LazySdkFinder:
    """Put the finder first on sys.meta_path; packages imported before keep their eager form."""
    finder = LazySdkFinder(distributions, cache_dir)
    sys.meta_path.insert(0, finder)
    return finder
