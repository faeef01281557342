"""mypy reads only the parts of the Pulumi SDKs the program uses (pyproject.toml, [tool.mypy]).

Skipping a module turns it into `Any`, which would silently stop argument checking. These tests
hold the skip list to the code: every SDK module the code reaches is followed, and a wrong
argument name in a copy of a real component is reported by mypy with the project's config.
"""

import ast
import importlib
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from mypy.config_parser import parse_config_file
from mypy.options import Options

from tools.offline import PROJECT_DIR

SDK_PREFIXES = ("pulumi_azure_native", "pulumi_kubernetes", "pulumi_vault", "pulumi_random", "pulumi_tls",
                "pulumi_docker_build")
PROGRAM_FILES = sorted([PROJECT_DIR / "__main__.py", *(PROJECT_DIR / "components").glob("*.py"),
                        *(PROJECT_DIR / "airflow_on_k8s").glob("*.py")])


def project_mypy_options() -> Options:
    options = Options()
    errors = io.StringIO()
    parse_config_file(options, lambda: None, str(PROJECT_DIR / "pyproject.toml"), io.StringIO(), errors)
    assert errors.getvalue() == "", errors.getvalue()
    return options


def _is_sdk(module: str) -> bool:
    return module.split(".")[0] in SDK_PREFIXES


def _attribute_chain(node: ast.Attribute) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None when the chain does not start at a name."""
    parts: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        parts.insert(0, current.attr)
        current = current.value
    return [current.id, *parts] if isinstance(current, ast.Name) else None


def _modules_reached(module: ModuleType, attributes: list[str]) -> Iterator[str]:
    """The modules mypy must read to type `module.attr1.attr2...`: each package on the way and
    the module that defines the final class or function."""
    current: object = module
    for attribute in attributes:
        current = getattr(current, attribute)
        if isinstance(current, ModuleType):
            yield current.__name__
        else:
            defined_in = getattr(current, "__module__", None)
            if isinstance(defined_in, str):
                yield defined_in
            return


def sdk_modules_used(path: Path) -> set[str]:
    """Every SDK module a source file imports or reaches through attributes of an imported one."""
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases: dict[str, str] = {}
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                if _is_sdk(name.name):
                    used.add(name.name)
                    if name.asname:
                        aliases[name.asname] = name.name
        elif isinstance(node, ast.ImportFrom) and node.module and _is_sdk(node.module):
            used.add(node.module)
            for name in node.names:
                used.update(_modules_reached(importlib.import_module(node.module), [name.name]))
    outermost = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                 for inner in [node.value] if isinstance(inner, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in outermost:
            chain = _attribute_chain(node)
            if chain and chain[0] in aliases:
                used.update(_modules_reached(importlib.import_module(aliases[chain[0]]), chain[1:]))
    return used


def test_every_sdk_module_the_program_uses_is_type_checked() -> None:
    options = project_mypy_options()
    used = {module: path.relative_to(PROJECT_DIR) for path in PROGRAM_FILES for module in sdk_modules_used(path)}
    assert "pulumi_azure_native.dbforpostgresql" in used and "pulumi_kubernetes.helm.v3" in used
    skipped = {module: str(where) for module, where in used.items()
               if options.clone_for_module(module).follow_imports != "normal"}
    assert skipped == {}, ("mypy skips SDK modules the program uses, so their arguments are unchecked; add them "
                           "to the follow_imports = \"normal\" override in pyproject.toml")


# Packages whose __init__ imports hundreds of modules for type checkers: mypy skips them, so
# the program must import the modules it uses, never the package itself.
SKIPPED_PACKAGES = ("pulumi_azure_native", "pulumi_azure_native.network")


@pytest.mark.parametrize("package", SKIPPED_PACKAGES)
def test_a_skipped_package_is_never_imported_whole(package: str) -> None:
    assert project_mypy_options().clone_for_module(package).follow_imports == "skip"
    for path in PROGRAM_FILES:
        tree = ast.parse(path.read_text())
        imports = [node.lineno for node in ast.walk(tree)
                   if (isinstance(node, ast.Import) and any(n.name == package for n in node.names))
                   or (isinstance(node, ast.ImportFrom) and node.module == package)]
        assert imports == [], f"{path.name}:{imports}: import a module of {package}, not the package"


# (component file, call whose first keyword argument gets misspelled)
MISSPELLINGS = [
    ("managed_postgres.py", "dbforpostgresql.Server"),
    ("managed_postgres.py", "dbforpostgresql.StorageArgs"),
    ("aks_cluster.py", "containerservice.ManagedCluster"),
    ("airflow_release.py", "kubernetes.helm.v3.ReleaseArgs"),
    ("vault_integration.py", "vault.Policy"),
    ("azure_subnets.py", "get_subnet_output"),
]


def misspell_first_keyword(source: str, callee: str) -> tuple[str, str, range]:
    """The source with the first keyword (other than `opts`) of the first `callee(...)` call
    renamed; returns the new source, the wrong name and the call's lines."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = (node.func.id if isinstance(node.func, ast.Name)
                  else ".".join(_attribute_chain(node.func) or []) if isinstance(node.func, ast.Attribute) else "")
        if called == callee:
            keyword = next(k for k in node.keywords if k.arg not in (None, "opts"))
            assert keyword.arg is not None
            wrong = f"{keyword.arg}_misspelled"
            lines = source.splitlines(keepends=True)
            line = lines[keyword.lineno - 1]
            assert line[keyword.col_offset:].startswith(keyword.arg)
            lines[keyword.lineno - 1] = line[:keyword.col_offset] + wrong + line[keyword.col_offset + len(keyword.arg):]
            return "".join(lines), wrong, range(node.lineno, (node.end_lineno or node.lineno) + 1)
    raise LookupError(f"no call to {callee}")


ERROR_LINE = re.compile(r"^(?P<file>[^:]+\.py):(?P<line>\d+): error: (?P<message>.*)$")


@pytest.mark.typecheck
def test_a_misspelled_argument_in_a_component_is_reported_by_mypy(tmp_path: Path) -> None:
    """Real mypy, the project's config, copies of real components with one wrong name each.

    The copies share the project's .mypy_cache, which `make typecheck` has just warmed.
    """
    expected: dict[str, tuple[str, range]] = {}
    for number, (component, callee) in enumerate(MISSPELLINGS):
        source, wrong, lines = misspell_first_keyword((PROJECT_DIR / "components" / component).read_text(), callee)
        copy = tmp_path / f"misspelled_{number}_{component}"
        copy.write_text(source)
        expected[copy.name] = (wrong, lines)
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "pyproject.toml",
                             *(str(tmp_path / name) for name in expected)],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [match for line in result.stdout.splitlines() if (match := ERROR_LINE.match(line))]
    for name, (wrong, lines) in expected.items():
        in_copy = [error for error in errors if Path(error["file"]).name == name]
        assert any(f'Unexpected keyword argument "{wrong}"' in error["message"] for error in in_copy), \
            f"{name}: mypy did not report {wrong}:\n{result.stdout}"
        # Nothing else is wrong with the copy: every error sits on the misspelled call.
        assert all(int(error["line"]) in lines for error in in_copy), result.stdout
    assert {Path(error["file"]).name for error in errors} == set(expected), result.stdout
