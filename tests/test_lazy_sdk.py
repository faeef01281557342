"""The plan CLI's lazy loading of generated SDK packages keeps each package's namespace.

(That the whole plan is unchanged by it is held by tests/test_plan.py, which compares the CLI
process's JSON with the in-process one, where SDKs load normally.)
"""

import sys
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
    finder = lazy_sdk.install(frozenset({PACKAGE}))
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


def test_a_module_without_literal_all_loads_the_package_normally(lazy_import_root: Path) -> None:
    write_package(lazy_import_root, {
        "listed": "__all__ = ['Listed']\nListed = 1\n",
        "unlisted": "Unlisted = 2\n",
    })
    package = __import__(PACKAGE)
    assert f"{PACKAGE}.listed" in sys.modules and (package.Listed, package.Unlisted) == (1, 2)


def test_lazy_source_keeps_line_numbers_and_indexes_exports(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("__all__ = ['A', 'B']\n")
    (tmp_path / "b.py").write_text('__all__ = ["B"]\n')
    source = "import typing\nfrom .a import *\nfrom .b import *\nX = 1\n"
    lazy = lazy_sdk.lazy_package_source(source, tmp_path)
    assert lazy is not None
    rewritten, index = lazy
    assert rewritten.splitlines() == ["import typing", "", "", "X = 1"]
    assert index == {"A": "a", "B": "b"}
    assert lazy_sdk.lazy_package_source(source, tmp_path / "elsewhere") is None
