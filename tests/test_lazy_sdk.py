"""The plan CLI's lazy loading of generated SDK packages keeps what a program can see.

(That the whole plan is unchanged by it is held by tests/test_plan.py, which compares the CLI
process's JSON with the in-process one, where SDKs load normally.)
"""

import ast
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import lazy_sdk

PACKAGE = "fake_generated_sdk"


def write_package(root: Path, modules: dict[str, str], init_tail: str = "") -> None:
    package = root / PACKAGE
    package.mkdir()
    star_imports = "".join(f"from .{name} import *\n" for name in modules)
    (package / "__init__.py").write_text(f"import typing\n{star_imports}{init_tail}")
    for name, body in modules.items():
        (package / f"{name}.py").write_text(body)


@pytest.fixture
def lazy_import_root(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    finder = lazy_sdk.install(frozenset({PACKAGE}), cache_dir=tmp_path / "cache")
    try:
        yield tmp_path
    finally:
        sys.meta_path.remove(finder)
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_names_load_from_their_module_on_first_use(lazy_import_root: Path) -> None:
    write_package(lazy_import_root, {
        "server": "__all__ = ['ServerArgs', 'Server']\nclass ServerArgs: pass\nclass Server: pass\n",
        "database": "__all__ = [\n    'Database',\n]\nclass Database: pass\n",
        "unused": "__all__ = ['Unused']\nraise RuntimeError('never imported')\n",
    }, init_tail="REGISTERED = True\n")
    package = __import__(PACKAGE)
    assert package.REGISTERED is True and f"{PACKAGE}.server" not in sys.modules
    assert package.Server.__module__ == f"{PACKAGE}.server"
    assert package.Database.__name__ == "Database"
    assert f"{PACKAGE}.unused" not in sys.modules
    with pytest.raises(AttributeError, match="has no attribute 'Missing'"):
        _ = package.Missing


def test_a_later_star_import_wins_as_in_the_original(lazy_import_root: Path) -> None:
    write_package(lazy_import_root, {
        "first": "__all__ = ['Shared', 'OnlyFirst']\nShared = 'first'\nOnlyFirst = 1\n",
        "second": "__all__ = ['Shared']\nShared = 'second'\n",
    })
    package = __import__(PACKAGE)
    assert (package.Shared, package.OnlyFirst) == ("second", 1)


def test_a_module_without_all_exports_its_public_top_level_names(lazy_import_root: Path) -> None:
    write_package(lazy_import_root, {
        "listed": "__all__ = ['Listed']\nListed = 1\n",
        "unlisted": "import json\nfrom typing import Any as _Any\nclass Unlisted: pass\n_private = 2\n"
                    "if json:\n    Conditional = 3\n",
    })
    package = __import__(PACKAGE)
    assert f"{PACKAGE}.unlisted" not in sys.modules
    assert (package.Listed, package.Unlisted.__name__, package.Conditional) == (1, "Unlisted", 3)
    assert package.json.__name__ == "json"  # a star import without __all__ re-exports imports too
    for hidden in ("_private", "_Any"):
        with pytest.raises(AttributeError):
            getattr(package, hidden)


def test_a_module_whose_bindings_cannot_be_read_loads_the_package_normally(lazy_import_root: Path) -> None:
    write_package(lazy_import_root, {
        "listed": "__all__ = ['Listed']\nListed = 1\n",
        "looped": "for name in ['Looped']:\n    globals()[name] = 2\n",
    })
    package = __import__(PACKAGE)
    assert f"{PACKAGE}.listed" in sys.modules and (package.Listed, package.Looped) == (1, 2)


def test_lazy_source_keeps_line_numbers_and_indexes_exports(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("__all__ = ['A', 'B']\n")
    (tmp_path / "b.py").write_text('__all__ = ["B"]\n')
    source = "import typing\nfrom .a import *\nfrom .b import *\nX = 1\n"
    lazy = lazy_sdk.lazy_package_source(source, tmp_path)
    assert lazy is not None
    assert lazy.source.splitlines() == ["import typing", "", "", "X = 1"]
    assert lazy.exports == {"A": "a", "B": "b"} and lazy.submodules == {}
    assert lazy_sdk.lazy_package_source(source, tmp_path / "elsewhere") is None


def test_subpackages_load_when_first_used(lazy_import_root: Path) -> None:
    write_package(lazy_import_root, {"server": "__all__ = ['Server']\nclass Server: pass\n"}, init_tail=(
        "from . import _utilities\n"
        "if typing.TYPE_CHECKING:\n"
        f"    import {PACKAGE}.storage as __storage\n"
        "    storage = __storage\n"
        "else:\n"
        f"    storage = _utilities.lazy_import('{PACKAGE}.storage')\n"))
    root = lazy_import_root / PACKAGE
    (root / "_utilities.py").write_text("import importlib\ndef lazy_import(name):\n"
                                        "    return importlib.import_module(name)\n")
    (root / "storage").mkdir()
    (root / "storage" / "__init__.py").write_text("LOADED = True\n")
    package = __import__(PACKAGE)
    assert f"{PACKAGE}.storage" not in sys.modules
    assert package.storage.LOADED is True
    # A line that binds another name than the subpackage's stays as written.
    other = f"    other = _utilities.lazy_import('{PACKAGE}.storage')\n"
    lazy = lazy_sdk.lazy_package_source((root / "__init__.py").read_text() + other, root)
    assert lazy is not None and lazy.submodules == {"storage": f"{PACKAGE}.storage"}
    assert lazy.source.endswith(other) and "    pass\n" in lazy.source


ENUMS = """from enum import Enum
__all__ = ['Mode', 'UnusedMode']


class Mode(str, Enum):
    FAST = 'fast'


class UnusedMode(str, Enum):
    SLOW = 'slow'
    raise RuntimeError('UnusedMode defined')
"""
INPUTS = """import typing
from ._enums import *
__all__ = ['DiskArgs', 'ServerArgs', 'ServerArgsDict', 'UnusedArgs']


class DiskArgs:
    def mode(self) -> typing.Optional['Mode']:
        ...


@typing.final
class ServerArgs:
    def __init__(self, *, spec: typing.Optional['ServerArgsDict'] = None) -> None:
        self.spec = spec

    def disk(self) -> typing.Optional['DiskArgs']:
        ...


class ServerArgsDict(typing.TypedDict):
    disk: 'DiskArgs'


class UnusedArgs:
    raise RuntimeError('UnusedArgs defined')
"""
SERVER = """from ._inputs import *
__all__ = ['Server']


class Server:
    def args(self) -> 'ServerArgs':
        ...
"""


def test_types_are_defined_when_first_used_with_the_names_they_mention(lazy_import_root: Path) -> None:
    write_package(lazy_import_root, {"server": SERVER, "_inputs": INPUTS, "_enums": ENUMS})
    package = __import__(PACKAGE)
    server = package.Server
    inputs = sys.modules[f"{PACKAGE}._inputs"]
    # The server module imported only the names its text mentions; ServerArgs brought DiskArgs
    # (its text names it) and DiskArgs brought Mode from _enums.
    assert server.__module__ == f"{PACKAGE}.server"
    assert {"ServerArgs", "DiskArgs", "Mode"} <= set(vars(inputs)) and "UnusedArgs" not in vars(inputs)
    assert "UnusedMode" not in vars(sys.modules[f"{PACKAGE}._enums"])
    # What Pulumi does with a type: resolve its annotations in its module's namespace.
    assert typing.get_type_hints(server.args, vars(sys.modules[f"{PACKAGE}.server"]))["return"] is inputs.ServerArgs
    assert typing.get_type_hints(inputs.DiskArgs.mode, dict(vars(inputs)))["return"] == (package.Mode | None)
    assert package.ServerArgsDict.__name__ == "ServerArgsDict"
    with pytest.raises(RuntimeError, match="UnusedArgs defined"):
        _ = package.UnusedArgs
    with pytest.raises(AttributeError, match="has no attribute 'Missing'"):
        _ = inputs.Missing


def test_a_type_module_that_does_not_split_loads_normally(lazy_import_root: Path) -> None:
    # A statement after the classes (it might rebind one): the module loads as it is.
    odd_inputs = INPUTS + "DiskArgs = ServerArgs\n"
    write_package(lazy_import_root, {"server": SERVER, "_inputs": odd_inputs, "_enums": ENUMS})
    package = __import__(PACKAGE)
    # Loaded as written, it defines every class, and its star import every enum.
    with pytest.raises(RuntimeError, match=r"Unused(Args|Mode) defined"):
        _ = package.Server


def test_split_keeps_line_numbers_and_refuses_other_shapes() -> None:
    split = lazy_sdk.split_type_module(INPUTS, {"_enums": ["Mode", "UnusedMode"]})
    assert split is not None
    header = ast.unparse(ast.Module(split.header, type_ignores=[]))
    assert "from ._enums import *" not in header and "__all__" in header
    assert list(split.classes) == ["DiskArgs", "ServerArgs", "ServerArgsDict", "UnusedArgs"]
    server = split.classes["ServerArgs"]
    assert INPUTS.splitlines()[server.node.decorator_list[0].lineno - 1] == "@typing.final"
    assert server.mentions == ("DiskArgs",)  # ServerArgsDict only in a parameter annotation
    assert split.classes["DiskArgs"].sibling_names == (("_enums", ("Mode",)),)
    assert lazy_sdk.split_type_module(INPUTS, {}) is None  # the star-imported sibling's names are unknown
    assert lazy_sdk.split_type_module(INPUTS + "Late = 1\n", {"_enums": []}) is None
    assert lazy_sdk.split_type_module(INPUTS + "class DiskArgs:\n    pass\n", {"_enums": []}) is None
    # A "class" line inside a string is no class.
    quoted = INPUTS.replace("class DiskArgs:\n", 'class DiskArgs:\n    """Docs.\nclass Fake:\n"""\n', 1)
    quoted_split = lazy_sdk.split_type_module(quoted, {"_enums": []})
    assert quoted_split is not None and "Fake" not in quoted_split.classes


def test_the_split_by_lines_finds_the_classes_the_syntax_tree_finds() -> None:
    exports = {"_enums": ["Mode", "UnusedMode"]}
    by_lines, by_tree = lazy_sdk.split_type_module_text(INPUTS, exports), lazy_sdk.split_type_module(INPUTS, exports)
    assert by_lines is not None and by_tree is not None
    assert list(by_lines.spans) == list(by_tree.classes) and by_lines.sibling_exports == by_tree.sibling_exports
    assert ast.dump(ast.Module(by_lines.header, [])) == ast.dump(ast.Module(by_tree.header, []))
    lines = INPUTS.encode().splitlines(keepends=True)
    for name, span in by_lines.spans.items():
        chunk = lazy_sdk.class_chunk_at(lines, name, span, frozenset(by_lines.spans), by_lines.sibling_exports)
        assert chunk is not None and (chunk.mentions, chunk.sibling_names) == (
            by_tree.classes[name].mentions, by_tree.classes[name].sibling_names)
        assert ast.dump(chunk.node, include_attributes=True) == ast.dump(by_tree.classes[name].node,
                                                                         include_attributes=True)
    assert lazy_sdk.split_type_module_text(INPUTS + "Late = 1\n", {"_enums": []}) is None
    assert lazy_sdk.split_type_module_text(INPUTS + "class DiskArgs:\n    pass\n", {"_enums": []}) is None
    assert lazy_sdk.split_type_module_text(INPUTS, {}) is None
    # A span that holds anything but its one class is refused, so the caller parses the whole module.
    assert lazy_sdk.class_chunk_at(lines, "DiskArgs", (0, len(lines)), frozenset(), {}) is None


def test_the_generated_classes_of_a_pinned_sdk_split_by_lines_as_by_syntax_tree() -> None:
    """The pinned SDKs' shape, which the split by lines relies on: one real module, every class."""
    module = __import__("pulumi_azure_native.storage.outputs", fromlist=["_"])
    path = Path(module.__file__ or "")
    source = path.read_text(encoding="utf-8")
    exports = lazy_sdk._sibling_exports(path, source)
    by_lines, by_tree = lazy_sdk.split_type_module_text(source, exports), lazy_sdk.split_type_module(source, exports)
    assert by_lines is not None and by_tree is not None and list(by_lines.spans) == list(by_tree.classes)
    lines = source.encode().splitlines(keepends=True)
    for name, span in by_lines.spans.items():
        chunk = lazy_sdk.class_chunk_at(lines, name, span, frozenset(by_lines.spans), by_lines.sibling_exports)
        tree_chunk = by_tree.classes[name]
        assert chunk is not None and (chunk.mentions, chunk.sibling_names) == (tree_chunk.mentions,
                                                                              tree_chunk.sibling_names), name
        assert lazy_sdk._compile(lazy_sdk._module_of([chunk.node]), str(path)) == lazy_sdk._compile(
            lazy_sdk._module_of([tree_chunk.node]), str(path)), name


def test_classes_are_parsed_when_first_defined_and_kept_for_the_next_load(
        lazy_import_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_package(lazy_import_root, {"server": SERVER, "_inputs": INPUTS, "_enums": ENUMS})
    parsed: list[str] = []
    class_chunk_at = lazy_sdk.class_chunk_at

    def counted(lines: typing.Any, name: str, *args: typing.Any) -> typing.Any:
        parsed.append(name)
        return class_chunk_at(lines, name, *args)

    monkeypatch.setattr(lazy_sdk, "class_chunk_at", counted)
    assert __import__(PACKAGE).Server.__name__ == "Server"
    assert sorted(parsed) == ["DiskArgs", "Mode", "ServerArgs"]
    lazy_sdk.save()
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]
    parsed.clear()
    package = __import__(PACKAGE)
    assert package.Server.__name__ == "Server" and parsed == []  # read from the entry
    assert package.ServerArgsDict.__name__ == "ServerArgsDict" and parsed == ["ServerArgsDict"]


def test_a_class_line_inside_a_string_falls_back_to_the_syntax_tree(lazy_import_root: Path) -> None:
    # The line split cuts DiskArgs at "class Fake:"; parsing DiskArgs then fails, and the whole module is parsed.
    quoted = INPUTS.replace("class DiskArgs:\n", 'class DiskArgs:\n    """Docs.\nclass Fake:\n    """\n', 1)
    write_package(lazy_import_root, {"server": SERVER, "_inputs": quoted, "_enums": ENUMS})
    assert lazy_sdk.split_type_module_text(quoted, {"_enums": ["Mode", "UnusedMode"]}) is not None
    assert __import__(PACKAGE).Server.__name__ == "Server"
    inputs = sys.modules[f"{PACKAGE}._inputs"]
    assert inputs.DiskArgs.__doc__ == "Docs.\nclass Fake:\n    "
    with pytest.raises(AttributeError, match="has no attribute 'Fake'"):
        _ = inputs.Fake


def test_names_only_in_parameter_annotations_or_docstrings_are_not_references() -> None:
    source = (
        "class Server:\n"
        "    def __init__(self, disk: typing.Optional[\n"
        "            typing.Union['DiskArgs', 'DiskArgsDict']] = DEFAULT) -> None:\n"
        "        \"\"\"\n"
        "        :param typing.Union['DiskArgs', 'InDocstring'] disk: the disk\n"
        "        \"\"\"\n"
        "    def disk(self) -> 'DiskArgs':  # NotedInComment\n"
        "        return pulumi.get(self, 'disk')\n"
    )
    names = lazy_sdk.referenced_names(source)
    assert {"DiskArgs", "DEFAULT", "pulumi", "NotedInComment"} <= names
    assert not {"DiskArgsDict", "InDocstring", "typing"} & names


def test_star_imports_are_narrowed_on_their_own_line() -> None:
    source = "import typing\nfrom ._enums import *\nfrom ._inputs import *\nX: 'ServerArgs'\n"
    narrowed = lazy_sdk.narrowed_star_imports(source, {"_inputs": ["ServerArgs", "DiskArgs"], "_enums": ["Mode"]})
    assert narrowed is not None
    assert ast.unparse(narrowed).splitlines() == ["import typing", "from ._inputs import ServerArgs",
                                                  "X: 'ServerArgs'"]
    assert [node.lineno for node in narrowed.body] == [1, 3, 4]
    assert lazy_sdk.narrowed_star_imports("import typing\n", {}) is None
    assert lazy_sdk.narrowed_star_imports(source, {"_inputs": []}) is None


def test_the_cache_is_used_until_its_source_changes(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("one")
    cache = lazy_sdk.CodeCache(tmp_path / "cache")
    builds: list[str] = []

    def build() -> str:
        builds.append(source.read_text())
        return source.read_text().upper()

    assert cache.get_or_build([source], "kind", build) == "ONE"
    assert cache.get_or_build([source], "kind", build) == "ONE"
    assert builds == ["one"]
    source.write_text("three")  # another size (and mtime): the entry is stale
    assert cache.get_or_build([source], "kind", build) == "THREE"
    assert builds == ["one", "three"]


def test_an_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("one")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    cache = lazy_sdk.CodeCache(blocked / "cache")
    builds: list[int] = []

    def build() -> int:
        builds.append(1)
        return len(builds)

    assert [cache.get_or_build([source], "kind", build) for _ in range(2)] == [1, 2]  # built each time


def test_a_chunked_entry_reads_each_chunk_only_when_asked_for(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("one")
    cache = lazy_sdk.CodeCache(tmp_path / "cache")
    builds: list[str] = []

    def build() -> tuple[str, dict[str, tuple[bytes, tuple[str, ...]]]]:
        text = source.read_text()
        builds.append(text)
        return text.upper(), {"First": (b"first " + text.encode(), ("meta",)), "Second": (b"second", ())}

    value, metas, read = cache.get_or_build_chunked([source], "kind", build) or (None, {}, None)
    assert (value, metas) == ("ONE", {"First": ("meta",), "Second": ()}) and read is not None
    assert read("First") == b"first one"
    value, metas, read = cache.get_or_build_chunked([source], "kind", build) or (None, {}, None)
    assert builds == ["one"] and value == "ONE" and read is not None
    # Spoil the second chunk on disk: the first still reads, so it was not read with the index.
    entry = next((tmp_path / "cache").iterdir())
    entry.write_bytes(entry.read_bytes()[:-len(b"second")] + b"SPOILT")
    fresh = cache.get_or_build_chunked([source], "kind", build)
    assert fresh is not None and fresh[2]("First") == b"first one" and fresh[2]("Second") == b"SPOILT"
    source.write_text("three")  # stale: built again
    rebuilt = cache.get_or_build_chunked([source], "kind", build)
    assert rebuilt is not None and rebuilt[0] == "THREE" and builds == ["one", "three"]


def test_a_chunked_entry_in_another_format_is_rebuilt(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("one")
    cache = lazy_sdk.CodeCache(tmp_path / "cache")
    assert cache.get_or_build([source], "kind", lambda: ("a whole entry", 1)) == ("a whole entry", 1)
    built = cache.get_or_build_chunked([source], "kind", lambda: ("chunked", {"Only": (b"code", None)}))
    assert built is not None and built[0] == "chunked" and built[2]("Only") == b"code"
    assert cache.get_or_build_chunked([source], "kind", lambda: None) is not None  # now cached
    # "Does not split" is cached too, as None.
    other = tmp_path / "other.py"
    other.write_text("x")
    assert cache.get_or_build_chunked([other], "kind", lambda: None) is None
    assert cache.get_or_build_chunked([other], "kind", lambda: ("built", {})) is None




def _installed_utilities(sdk: str) -> str:
    module = __import__(f"{sdk}._utilities", fromlist=["_version"])
    return Path(module.__file__ or "").read_text(encoding="utf-8")


def _install_dist(root: Path, version: str) -> None:
    for old in root.glob(f"{PACKAGE}-*.dist-info"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    dist_info = root / f"{PACKAGE}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\n")


def _fresh_utilities() -> typing.Any:
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]
    return __import__(f"{PACKAGE}._utilities", fromlist=["_version"])


def _looked_up(source: str, version_file: Path) -> typing.Any:
    """What the unchanged module binds to `_version`, run as its package's `_utilities`."""
    namespace: dict[str, typing.Any] = {"__name__": f"{PACKAGE}._utilities"}
    exec(compile(source, str(version_file), "exec"), namespace)
    return namespace["_version"]


@pytest.mark.parametrize("sdk", ["pulumi_azure_native", "pulumi_random"], ids=["parver", "packaging"])
def test_an_sdks_utilities_read_its_version_once_per_installed_version(lazy_import_root: Path, sdk: str) -> None:
    source = _installed_utilities(sdk)
    write_package(lazy_import_root, {})
    (lazy_import_root / PACKAGE / "_utilities.py").write_text(source)
    for version in ("1.2.3", "1.3.0b2"):
        _install_dist(lazy_import_root, version)
        utilities = _fresh_utilities()
        assert isinstance(utilities.__loader__, lazy_sdk._UtilitiesLoader)
        expected = _looked_up(source, lazy_import_root / PACKAGE / "_utilities.py")
        assert utilities._version == expected and utilities.get_version() == str(expected)
        assert str(expected).startswith(version[:5]) and "PEP440Version" not in vars(utilities)
        assert utilities._get_semver_version() == expected  # still callable: it imports what it needs


def test_utilities_of_another_shape_keep_their_lookup() -> None:
    source = _installed_utilities("pulumi_random")
    assert lazy_sdk.utilities_without_version_lookup(source) is not None
    elsewhere = source + "\n\ndef parse(text):\n    return PEP440Version(text)\n"
    twice = source + "\n_version = _get_semver_version()\n"
    for changed in (elsewhere, twice, source.replace("import importlib.metadata\n", "")):
        assert lazy_sdk.utilities_without_version_lookup(changed) is None
