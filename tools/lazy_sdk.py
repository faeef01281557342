"""Load the generated Pulumi SDK packages name by name in the offline plan's CLI process.

Each package of a generated SDK star-imports all of its modules in `__init__.py`
(`from .server import *`: ~50 modules per azure-native service, ~60 per Kubernetes API
version), so touching one class executes all of them; that is most of a plan's run time.
`install()` puts a finder first on `sys.meta_path` that loads such a package without those
star imports and resolves each name on first access from the module that lists it in its
`__all__` (the last star import wins, as in the original). Everything else in `__init__.py`
runs unchanged. A package with any star-imported module lacking a literal `__all__` loads
normally, so the package's namespace is the same either way.

Only the plan's CLI installs it. The tests import the SDKs normally, and one of them holds the
CLI's JSON plan byte-identical to the plan built in the test process.
"""

import importlib
import importlib.abc
import importlib.machinery
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

SDK_DISTRIBUTIONS = frozenset({"pulumi_azure_native", "pulumi_kubernetes", "pulumi_vault", "pulumi_random",
                               "pulumi_tls", "pulumi_docker_build"})
_STAR_IMPORT = re.compile(r"^from \.(\w+) import \*$", re.MULTILINE)
_ALL = re.compile(r"^__all__ = \[(.*?)\]", re.MULTILINE | re.DOTALL)
_QUOTED_NAME = re.compile(r"""['"](\w+)['"]""")


def exported_names(module_file: Path) -> list[str] | None:
    """The names of a generated module's literal `__all__`; None when it has none."""
    found = _ALL.search(module_file.read_text(encoding="utf-8"))
    return _QUOTED_NAME.findall(found.group(1)) if found else None


def lazy_package_source(init_source: str, package_dir: Path) -> tuple[str, dict[str, str]] | None:
    """`__init__.py` without its star imports, and name -> module for the names they bound;
    None when a star-imported module's exports cannot be read without running it."""
    index: dict[str, str] = {}
    for module in _STAR_IMPORT.findall(init_source):
        module_file = package_dir / f"{module}.py"
        names = exported_names(module_file) if module_file.is_file() else None
        if names is None:
            return None
        index.update(dict.fromkeys(names, module))
    # Blank lines instead of the imports keep line numbers in tracebacks right.
    return _STAR_IMPORT.sub("", init_source), index


class _LazyPackageLoader(importlib.abc.Loader):
    def __init__(self, original: importlib.abc.Loader, init_file: Path) -> None:
        self._original = original
        self._init_file = init_file

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        # Read here, not in find_spec: azure-native's root looks up all ~260 services.
        lazy = lazy_package_source(self._init_file.read_text(encoding="utf-8"), self._init_file.parent)
        if lazy is None or len(set(lazy[1].values())) < 2:
            # Compiling __init__.py from source would cost more than it saves.
            self._original.exec_module(module)
            return
        source, index = lazy
        package = module.__name__

        def __getattr__(name: str) -> Any:  # noqa: N807 (PEP 562 module hook)
            source_module = index.get(name)
            if source_module is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(f"{package}.{source_module}"), name)
            setattr(module, name, value)  # importing the module bound its name; the export wins
            return value

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        exec(compile(source, str(self._init_file), "exec"), module.__dict__)


class LazySdkFinder(importlib.abc.MetaPathFinder):
    def __init__(self, distributions: frozenset[str] = SDK_DISTRIBUTIONS) -> None:
        self.distributions = distributions

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] not in self.distributions:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (spec is None or spec.origin is None or not spec.origin.endswith("__init__.py")
                or not isinstance(spec.loader, importlib.abc.Loader)):
            return None
        spec.loader = _LazyPackageLoader(spec.loader, Path(spec.origin))
        return spec


def install(distributions: frozenset[str] = SDK_DISTRIBUTIONS) -> LazySdkFinder:
    """Put the finder first on sys.meta_path; packages imported before keep their eager form."""
    finder = LazySdkFinder(distributions)
    sys.meta_path.insert(0, finder)
    return finder
