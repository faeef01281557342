"""The plan's dataclass method cache makes the classes the standard library makes."""

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FunctionType
from typing import Any, ClassVar

import pytest

from tools import dataclass_code

pytestmark = pytest.mark.skipif(not dataclass_code.reproducible(),
                                reason="dataclass_code reproduces Python 3.11's _create_fn; the plan does "
                                       "not install it on this interpreter")

CreateFn = Callable[..., Any]


def _classes() -> list[type]:
    """Every method `@dataclass` writes: init with defaults, factories, InitVar, ClassVar and
    keyword-only fields, repr, eq, order, frozen setattr/delattr, hash, slots."""

    @dataclasses.dataclass
    class Plain:
        name: str
        size: int = 3
        tags: list[str] = dataclasses.field(default_factory=list)
        seen: ClassVar[int] = 0

    @dataclasses.dataclass(frozen=True, order=True)
    class Frozen:
        key: str
        weight: float = dataclasses.field(default=1.5, compare=False)

    @dataclasses.dataclass(kw_only=True, unsafe_hash=True, slots=True)
    class KeywordOnly:
        first: int
        second: str = "two"

    @dataclasses.dataclass(eq=False, repr=False)
    class WithInitVar:
        total: int = 0
        start: dataclasses.InitVar[int] = 1

        def __post_init__(self, start: int) -> None:
            self.total += start

    return [Plain, Frozen, KeywordOnly, WithInitVar]


def _defined_with(create_fn: CreateFn) -> list[type]:
    standard = dataclasses._create_fn  # type: ignore[attr-defined]
    dataclasses._create_fn = create_fn  # type: ignore[attr-defined]
    try:
        return _classes()
    finally:
        dataclasses._create_fn = standard  # type: ignore[attr-defined]


def _methods(cls: type) -> Iterator[tuple[str, FunctionType]]:
    for name, value in sorted(vars(cls).items()):
        if isinstance(value, FunctionType) and name != "__post_init__":
            yield name, value


def test_the_cached_create_fn_writes_the_standard_methods() -> None:
    texts = dataclass_code.CompiledTexts()
    ours, standard = _defined_with(texts.create_fn), _defined_with(dataclasses._create_fn)  # type: ignore[attr-defined]
    for cached_cls, standard_cls in zip(ours, standard, strict=True):
        cached_methods, standard_methods = dict(_methods(cached_cls)), dict(_methods(standard_cls))
        assert cached_methods.keys() == standard_methods.keys()
        assert {"__init__", "__setattr__", "__lt__", "__hash__"} & cached_methods.keys()
        for name, method in cached_methods.items():
            other = standard_methods[name]
            assert method.__code__ == other.__code__, f"{cached_cls.__name__}.{name}"
            assert (method.__qualname__, method.__defaults__, method.__kwdefaults__) == (
                other.__qualname__, other.__defaults__, other.__kwdefaults__)
            assert method.__annotations__.keys() == other.__annotations__.keys()
    plain, frozen, keyword_only, with_init_var = ours
    assert repr(plain("a")).endswith("Plain(name='a', size=3, tags=[])")
    assert frozen("a", 9.0) == frozen("a", 1.0) < frozen("b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen("a").key = "b"
    assert hash(keyword_only(first=1)) == hash(keyword_only(first=1, second="two"))
    assert with_init_var(total=1, start=4).total == 5
    assert texts.added and len(texts.codes) >= 10


def test_a_saved_cache_compiles_nothing_the_next_time(tmp_path: Path) -> None:
    cache_file = tmp_path / "dataclass.marshal"
    try:
        assert dataclass_code.install(cache_file)
        _classes()
        dataclass_code.save()
        assert cache_file.is_file()
        dataclass_code.uninstall()
        assert dataclass_code.install(cache_file)
        installed = dataclass_code._installed
        assert installed is not None
        texts, _ = installed
        known = len(texts.codes)
        _classes()
        assert not texts.added and len(texts.codes) == known > 0
    finally:
        dataclass_code.uninstall()
    assert dataclasses._create_fn is dataclass_code._STANDARD_CREATE_FN  # type: ignore[attr-defined]


def test_an_unreadable_cache_is_an_empty_one(tmp_path: Path) -> None:
    cache_file = tmp_path / "dataclass.marshal"
    cache_file.write_bytes(b"not marshal data")
    try:
        assert dataclass_code.install(cache_file)
        installed = dataclass_code._installed
        assert installed is not None and installed[0].codes == {}
        _classes()
        dataclass_code.save()
    finally:
        dataclass_code.uninstall()
    assert len(dataclass_code._read(cache_file)) >= 10
