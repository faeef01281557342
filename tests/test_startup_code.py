"""The plan's cache of code the standard library compiles from text changes nothing it makes."""

import dataclasses
import runpy
import typing
from collections.abc import Iterator
from pathlib import Path
from types import FunctionType
from typing import Any, ClassVar

import pytest

from tools import startup_code


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


class Annotated:
    """Quoted annotations, as the generated SDKs write them."""

    size: "int | None"
    parts: "list['Annotated']"


@pytest.fixture
def cache_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "code.marshal"
    startup_code.uninstall()
    assert [name in vars(__import__(module)) for module, name in startup_code.SERVED_CALLS.items()] == [False] * 3


def _methods(cls: type) -> dict[str, FunctionType]:
    return {name: value for name, value in sorted(vars(cls).items())
            if isinstance(value, FunctionType) and name != "__post_init__"}


def _made(cache_file: Path | None) -> tuple[list[type], list[Any], dict[str, Any]]:
    if cache_file is not None:
        startup_code.install(cache_file)
    try:
        forward = [typing.ForwardRef(text).__forward_code__ for text in ("outputs.ClusterResponse", "*Ts")]
        return _classes(), forward, typing.get_type_hints(Annotated)
    finally:
        startup_code.uninstall()


def test_classes_forward_references_and_hints_are_the_standard_ones(cache_file: Path) -> None:
    (ours, our_forward, our_hints), (standard, forward, hints) = _made(cache_file), _made(None)
    assert our_forward == forward and our_hints == hints == {"size": int | None, "parts": list[Annotated]}
    for cached_cls, standard_cls in zip(ours, standard, strict=True):
        cached_methods, standard_methods = _methods(cached_cls), _methods(standard_cls)
        assert cached_methods.keys() == standard_methods.keys()
        for name, method in cached_methods.items():
            other = standard_methods[name]
            assert method.__code__ == other.__code__, f"{cached_cls.__name__}.{name}"
            assert (method.__qualname__, method.__defaults__, method.__kwdefaults__, method.__annotations__.keys()) \
                == (other.__qualname__, other.__defaults__, other.__kwdefaults__, other.__annotations__.keys())
    plain, frozen, keyword_only, with_init_var = ours
    assert repr(plain("a")).endswith("Plain(name='a', size=3, tags=[])")
    assert frozen("a", 9.0) == frozen("a", 1.0) < frozen("b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen("a").key = "b"
    assert hash(keyword_only(first=1)) == hash(keyword_only(first=1, second="two"))
    assert with_init_var(total=1, start=4).total == 5


def test_a_saved_cache_compiles_nothing_the_next_time(cache_file: Path, tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text("import dataclasses\n\n@dataclasses.dataclass\nclass Ran:\n    value: int = 7\n\n"
                       "RESULT = Ran()\n")
    texts = startup_code.install(cache_file)
    _classes()
    assert runpy.run_path(str(program))["RESULT"].value == 7
    assert texts.added >= 10
    startup_code.save()
    startup_code.uninstall()
    again = startup_code.install(cache_file)
    _classes()
    assert runpy.run_path(str(program))["RESULT"].value == 7
    assert again.added == 0 and again.used and ("exec", str(program), program.read_bytes()) in again.used


def test_a_bad_forward_reference_and_other_calls_behave_as_before(cache_file: Path) -> None:
    startup_code.install(cache_file)
    with pytest.raises(SyntaxError, match="Forward reference must be an expression"):
        typing.ForwardRef("not an expression")
    assert typing.compile("1 + 1", "<string>", "eval", 0, True).co_consts  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {}
    dataclasses.exec("answer = 42", namespace)  # type: ignore[attr-defined]
    assert namespace["answer"] == 42


def test_an_unreadable_cache_is_an_empty_one_and_the_cache_stays_bounded(cache_file: Path) -> None:
    cache_file.write_bytes(b"not marshal data")
    texts = startup_code.install(cache_file)
    assert texts.codes == {}
    for number in range(10):
        texts.code_for(f"stale = {number}", "<string>", "exec")
    texts.used.clear()
    texts.code_for("fresh = 1", "<string>", "exec")
    assert len(texts.kept()) == startup_code._KEPT_FACTOR and ("exec", "<string>", "fresh = 1") in texts.kept()
