"""The methods `@dataclass` writes, compiled once and kept for later plans.

`@dataclass` writes each class's `__init__`, `__repr__`, `__eq__`, ... as Python text and
compiles it (`dataclasses._create_fn`) every time a process defines the class: a plan defines
~370 (the project's config, values and tool classes, parver's, OpenTelemetry's) and spent ~25 ms
compiling the same texts on every run. `install()` makes `_create_fn` take the code compiled
from a text out of a cache in build/startup-code (a tool cache, like build/lazy-sdk), and
`save()` writes what a run compiled that the cache lacked. What `compile` makes of a text
depends on the text and the interpreter's bytecode only, so the cache is keyed by the text and
its file by the bytecode magic; everything else `_create_fn` does, as it did.

Only the plan's CLI installs it, and only on the Python line whose `_create_fn` it reproduces
(3.11, checked by its signature): elsewhere dataclasses compile as always. A test holds the
classes it makes equal to those of the standard `_create_fn`.
"""

import dataclasses
import importlib.util
import marshal
import sys
from pathlib import Path
from types import CodeType
from typing import Any

from tools import PROJECT_DIR, write_whole

DEFAULT_CACHE_FILE = PROJECT_DIR / "build" / "startup-code" / f"dataclass-{importlib.util.MAGIC_NUMBER.hex()}.marshal"
_STANDARD_CREATE_FN = dataclasses._create_fn  # type: ignore[attr-defined]
_STANDARD_PARAMETERS = ("name", "args", "body", "globals", "locals", "return_type")
_MISSING = dataclasses.MISSING


def reproducible() -> bool:
    """Whether this interpreter's `_create_fn` is the one `create_fn` reproduces."""
    code: CodeType = _STANDARD_CREATE_FN.__code__
    return (sys.version_info[:2] == (3, 11) and code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
            == _STANDARD_PARAMETERS)


class CompiledTexts:
    """Code objects by the text they were compiled from; `added` says whether any are new."""

    def __init__(self, known: dict[str, CodeType] | None = None) -> None:
        self.codes: dict[str, CodeType] = dict(known or {})
        self.added = False

    def code_for(self, text: str) -> CodeType:
        code = self.codes.get(text)
        if code is None:
            code = self.codes[text] = compile(text, "<string>", "exec")  # what exec(text) compiles
            self.added = True
        return code

    def create_fn(self, name: str, args: list[str], body: list[str], *, globals: dict[str, Any] | None = None,
                  locals: dict[str, Any] | None = None, return_type: Any = _MISSING) -> Any:
        """dataclasses._create_fn of Python 3.11, with its `exec(txt, ...)` run from `code_for(txt)`."""
        if locals is None:
            locals = {}
        return_annotation = ""
        if return_type is not _MISSING:
            locals["_return_type"] = return_type
            return_annotation = "->_return_type"
        joined_args = ",".join(args)
        joined_body = "\n".join(f"  {line}" for line in body)
        txt = f" def {name}({joined_args}){return_annotation}:\n{joined_body}"
        local_vars = ", ".join(locals.keys())
        txt = f"def __create_fn__({local_vars}):\n{txt}\n return {name}"
        ns: dict[str, Any] = {}
        exec(self.code_for(txt), globals, ns)
        return ns["__create_fn__"](**locals)


def _read(cache_file: Path) -> dict[str, CodeType]:
    try:
        codes = marshal.loads(cache_file.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return codes if isinstance(codes, dict) else {}


_installed: tuple[CompiledTexts, Path] | None = None


def install(cache_file: Path = DEFAULT_CACHE_FILE) -> bool:
    """Serve dataclass methods from the cache from now on; False (and nothing changed) where
    this Python's `_create_fn` is not the one reproduced here."""
    global _installed
    if _installed is not None or not reproducible():
        return _installed is not None
    texts = CompiledTexts(_read(cache_file))
    dataclasses._create_fn = texts.create_fn  # type: ignore[attr-defined]
    _installed = texts, cache_file
    return True


def save() -> None:
    """Keep what this run compiled for the next one (nothing to do when it compiled nothing new)."""
    if _installed is not None and _installed[0].added:
        texts, cache_file = _installed
        write_whole(cache_file, marshal.dumps(texts.codes))
        texts.added = False


def uninstall() -> None:
    global _installed
    dataclasses._create_fn = _STANDARD_CREATE_FN  # type: ignore[attr-defined]
    _installed = None
