"""Code the standard library compiles from text on every run, compiled once and kept.

Three places compile the same texts in every plan:
- `@dataclass` writes each class's `__init__`, `__repr__`, `__eq__`, ... as text and runs it
  with `exec` (dataclasses._create_fn): ~370 classes a plan (the project's config, values and
  tool classes, parver's, OpenTelemetry's), ~25 ms;
- `typing.ForwardRef` compiles each quoted annotation (`Optional['outputs.X']` in the SDKs):
  ~1,000 a plan, ~10 ms;
- `runpy.run_path` compiles the program's `__main__.py`, which has no bytecode cache.
`install()` gives each of those modules its own `exec`/`compile` (a module global, which its
code finds before the builtin) that takes the code object from a cache in build/startup-code,
and `save()` keeps what a run compiled that the cache lacked. What `compile` makes of a text is
a function of the text, its file name, the mode and the interpreter's bytecode: the cache is
keyed by the first three and its file by the bytecode magic. Code objects are immutable, so
sharing one between calls changes nothing. A call with other arguments (flags, a code object)
goes to the builtin as it is.

Only the plan's CLI installs it. A test holds the classes and forward references made with it
equal to those made without.
"""

import builtins
import importlib.util
import marshal
import sys
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from tools import PROJECT_DIR, write_whole

DEFAULT_CACHE_FILE = PROJECT_DIR / "build" / "startup-code" / f"code-{importlib.util.MAGIC_NUMBER.hex()}.marshal"
# Kept entries beyond those a run used, as a multiple of those: the dev and prod plans use
# slightly different texts, and an edited dataclass leaves its old text behind.
_KEPT_FACTOR = 3
CacheKey = tuple[str, str, str | bytes]  # mode, file name, source
# The modules whose calls are served, and the builtin each calls by name.
SERVED_CALLS: dict[str, str] = {"dataclasses": "exec", "typing": "compile", "runpy": "compile"}


class CompiledTexts:
    """Code objects by (mode, file name, source); counts what was used and what was new."""

    def __init__(self, known: dict[CacheKey, CodeType] | None = None) -> None:
        self.codes: dict[CacheKey, CodeType] = dict(known or {})
        self.used: set[CacheKey] = set()
        self.added = 0

    def code_for(self, source: str | bytes, filename: str, mode: str) -> CodeType:
        key = (mode, filename, source)
        code = self.codes.get(key)
        if code is None:
            # dont_inherit: none of the served modules has a __future__ import to pass on.
            code = self.codes[key] = builtins.compile(source, filename, mode, dont_inherit=True)
            self.added += 1
        self.used.add(key)
        return code

    def compile(self, source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
        """builtins.compile, from the cache for text, a file name and a mode alone."""
        if args or kwargs or not isinstance(source, str | bytes) or not isinstance(filename, str):
            return builtins.compile(source, filename, mode, *args, **kwargs)
        return self.code_for(source, filename, mode)

    def exec(self, source: Any, globals: Any = None, locals: Any = None, /, **kwargs: Any) -> None:
        """builtins.exec, with text compiled from the cache as exec compiles it ('<string>')."""
        if isinstance(source, str) and not kwargs:
            source = self.code_for(source, "<string>", "exec")
        if globals is None:  # as the builtin: the caller's namespaces, not this frame's
            caller = sys._getframe(1)
            globals = caller.f_globals
            locals = caller.f_locals if locals is None else locals
        builtins.exec(source, globals, locals, **kwargs)

    def kept(self) -> dict[CacheKey, CodeType]:
        """What to keep: every entry this run used, then others up to _KEPT_FACTOR times that many."""
        used = {key: self.codes[key] for key in self.used}
        others = [key for key in self.codes if key not in self.used]
        room = max(0, _KEPT_FACTOR * len(used) - len(used))
        return {**used, **{key: self.codes[key] for key in others[:room]}}


def _read(cache_file: Path) -> dict[CacheKey, CodeType]:
    try:
        codes = marshal.loads(cache_file.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return codes if isinstance(codes, dict) else {}


_installed: tuple[CompiledTexts, Path] | None = None


def install(cache_file: Path = DEFAULT_CACHE_FILE) -> CompiledTexts:
    """Serve the calls of SERVED_CALLS from the cache from now on (imports the three modules)."""
    global _installed
    if _installed is not None:
        return _installed[0]
    texts = CompiledTexts(_read(cache_file))
    for module_name, builtin_name in SERVED_CALLS.items():
        module: ModuleType = __import__(module_name)
        setattr(module, builtin_name, getattr(texts, builtin_name))
    _installed = texts, cache_file
    return texts


def save() -> None:
    """Keep the cache for the next run when this one compiled something it lacked."""
    if _installed is not None and _installed[0].added:
        texts, cache_file = _installed
        write_whole(cache_file, marshal.dumps(texts.kept()))
        texts.added = 0


def uninstall() -> None:
    """Give the modules back their builtins."""
    global _installed
    for module_name, builtin_name in SERVED_CALLS.items():
        module = sys.modules.get(module_name)
        if module is not None and builtin_name in vars(module):
            delattr(module, builtin_name)
    _installed = None
