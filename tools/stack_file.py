"""Stack files read the way the Pulumi CLI reads them, so the offline plan sees what `pulumi
preview` would hand the program.

What the CLI does (pulumi/pulumi, sdk/go/common/...), and how this module follows it:

- `workspace.LoadProjectStackBytes` (workspace/loaders.go) decodes Pulumi.<stack>.yaml with
  gopkg.in/yaml.v3 (encoding/marshal.go) into plain values; `SimplifyMarshalledValue` refuses
  mapping keys that are not strings ("expected only string keys"). A key without a namespace
  (`namespace: team-a`) is this project's (`stackConfigNamespacedWithProject`); a key with two
  colons is read as `<namespace>:config:<name>` (resource/config/key.go `ParseKey`).
- yaml.v3 resolves plain scalars by its own table (resolve.go): only true/True/TRUE and
  false/False/FALSE are booleans (`yes`, `on`, `y` stay strings); "", ~, null/Null/NULL are
  null; integers go through Go's strconv.ParseInt with base 0 after dropping '_', so 0x1F, 0o17,
  0b101 and also the YAML 1.1 octal 016 (= 14) are numbers, 019 is the float 19; floats match
  `[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?` or .inf/.nan; unquoted dates and times
  (2006-1-2[T15:4:5[.9]Z07:00]) are timestamps. Quoted and block scalars are always strings.
  It refuses a mapping key defined twice, an alias to an undefined anchor, an anchor whose value
  contains its own alias, and documents that expand through aliases (decode.go).
- Each config value becomes the text a program receives (resource/config/object.go
  `MarshalString`): strings as they are, booleans and numbers as Go's JSON encoder writes them
  (1.0 -> "1", 1e21 -> "1e+21"), timestamps as Go's time.String(), lists and mappings as compact
  JSON; `{secure: <ciphertext>}` is an encrypted value. A YAML null becomes "" with a warning
  (loaders.go `checkForEmptyConfig`): this module reports it as an error instead, which the
  warning says Pulumi will do one day.
- `validateStackConfigValue` (pkg/workspace/config.go, `ValidateConfigValue` in
  sdk/go/common/workspace/project.go) refuses a value that does not fit the type Pulumi.yaml
  declares: `pulumi_type_problem` applies the same rules.

Everything that cannot be read becomes a `StackFileError` whose message is one line starting
with `file:line:column`.
"""

import base64
import binascii
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from airflow_on_k8s.errors import printable

MAX_STACK_FILE_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 100_000  # values after aliases are expanded (yaml.v3 refuses "excessive aliasing")
STACK_FILE_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment")

_IMPLICIT = "?implicit"  # a scalar without an explicit tag, resolved below as yaml.v3 does
_STR_TAG = "tag:yaml.org,2002:str"
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_RESOLVE_MAP: dict[str, object] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{1,2}):(?P<second>[0-9]{1,2})"
    r"(?:[.,](?P<fraction>[0-9]+))?(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?)?")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


class StackFileError(Exception):
    """A stack file Pulumi would not read, or would read into something else than it says."""


@dataclass(frozen=True)
class Position:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Encrypted:
    """A `{secure: <ciphertext>}` value: only the CLI, with the stack's key, can read it."""

    ciphertext: str


class GoTime(str):
    """A YAML timestamp, as the text Pulumi makes of it (Go's time.String())."""


@dataclass(frozen=True)
class ConfigEntry:
    key: str  # <namespace>:<name>, as the CLI normalises it
    value: object  # str, bool, int, float, None, list, dict or Encrypted
    position: Position  # of the key
    value_position: Position
    written: str | None = None  # a plain scalar's own text when YAML read it as a number or a date

    def reading_surprise(self) -> str | None:
        """How YAML changed what a plain scalar says: octal 016 is 14, 0x1F is 31, 2024-01-05 is a
        date; None when it did not (1.0 as 1 or True as true say the same)."""
        if self.written is None:
            return None
        if isinstance(self.value, GoTime):
            return "a date"
        digits = self.written.lstrip("+-").replace("_", "").lower()
        if digits[:2] in ("0x", "0o", "0b"):
            return {"0x": "a hexadecimal", "0o": "an octal", "0b": "a binary"}[digits[:2]] + " number"
        if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
            return "an octal number (a leading 0)" if isinstance(self.value, int) else "a number without its 0"
        return None


class _Composer(Reader, Scanner, Parser, Composer, BaseResolver):
    """PyYAML's pure-Python reader, scanner, parser and composer, without its YAML 1.1 resolver:
    scalars keep their text and are resolved the yaml.v3 way afterwards."""

    def __init__(self, text: str, file: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        BaseResolver.__init__(self)
        self.name = file
        self._depth = 0

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        # A scalar tagged with the non-specific '!' is a string; untagged ones are resolved later.
        return _STR_TAG if implicit == (False, False) and kind is ScalarNode else _IMPLICIT

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if not isinstance(event, yaml.AliasEvent) and event.anchor is not None:
            self.anchors.pop(event.anchor, None)  # yaml.v3 lets a later anchor replace an earlier one
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise StackFileError(f"{_position(self.name, event.start_mark)}: values nest deeper than "
                                     f"{MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _position(file: str, mark: Any) -> Position:
    return Position(file, mark.line + 1, mark.column + 1)


def _text_of(data: bytes, file: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # the CLI strips a UTF-8 byte order mark (loaders.go readFileStripUTF8BOM)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise StackFileError(f"{file}: not valid UTF-16 text") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[:error.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise StackFileError(f"{file}:{line}:{column}: not UTF-8 text (byte 0x{data[error.start]:02x})") from None


def _compose(text: str, file: str) -> Node | None:
    loader: _Composer | None = None
    try:
        loader = _Composer(text, file)  # checks every character first
        # The first document only, as yaml.v3's Unmarshal reads it.
        return loader.get_node() if loader.check_node() else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "malformed YAML"
        where = _position(file, mark) if mark is not None else file
        context = ""
        if error.context and error.problem and error.context_mark is not None and error.context_mark is not mark:
            started = error.context_mark
            context = f" ({error.context} at line {started.line + 1}, column {started.column + 1})"
        raise StackFileError(f"{where}: {problem}{context}") from None
    except yaml.reader.ReaderError as error:
        before = text[:error.position]
        line = before.count("\n") + 1
        column = error.position - (before.rfind("\n") + 1) + 1
        raise StackFileError(f"{file}:{line}:{column}: {error.reason} (character U+{error.character:04X})"
                             if isinstance(error.character, int) else f"{file}:{line}:{column}: {error.reason}"
                             ) from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{file}: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise StackFileError(f"{file}: values nest too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _go_parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) and then ParseUint: the integer, or None."""
    body, sign = text, 1
    if body[:1] in ("+", "-"):
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    base, digits = 10, body
    if len(body) > 1 and body[0] == "0":
        prefix = body[1].lower()
        base, digits = {"x": (16, body[2:]), "o": (8, body[2:]), "b": (2, body[2:])}.get(prefix, (8, body[1:]))
    if not digits or len(digits) > 70 or any(ch not in _DIGITS[base] for ch in digits):
        return None
    value = sign * int(digits, base)
    if _INT64[0] <= value <= _INT64[1] or (text[:1] not in ("+", "-") and 0 <= value <= _UINT64_MAX):
        return value
    return None


def _go_parse_float(text: str) -> float | None:
    value = float(text)
    return None if math.isinf(value) else value  # Go reports overflow as an error


def _days_in(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _go_timestamp(text: str) -> GoTime | None:
    """yaml.v3's parseTimestamp, rendered as Go's time.String() (the text Pulumi keeps)."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    sep, zone = match.group("sep"), match.group("zone")
    if (sep in ("T", "t")) != (zone is not None):  # the T forms need a zone, the space form has none
        return None
    year, month, day = (int(match.group(name)) for name in ("year", "month", "day"))
    hour, minute, second = (int(match.group(name) or 0) for name in ("hour", "minute", "second"))
    if not (1 <= month <= 12 and 1 <= day <= _days_in(year, month) and hour < 24 and minute < 60 and second < 60):
        return None
    fraction = (match.group("fraction") or "")[:9].rstrip("0")
    offset = "+0000 UTC"
    if zone and zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 24 or minutes > 60:
            return None
        if hours or minutes:
            offset = f"{zone[0]}{zone[1:3]}{zone[4:6]}"
            offset = f"{offset} {offset}"  # a zone without a name prints its offset as the name
    return GoTime(f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
                  f"{'.' + fraction if fraction else ''} {offset}")


def _resolve(text: str, tag: str) -> tuple[str, object]:
    """yaml.v3's resolve(): the tag a scalar resolves to and its value."""
    if text in _RESOLVE_MAP:
        value = _RESOLVE_MAP[text]
        kind = "null" if value is None else "bool" if isinstance(value, bool) else "float"
        return kind, value
    first = text[0]
    if first == "." and _DOT_FLOAT.fullmatch(text):
        number = _go_parse_float(text)
        if number is not None:
            return "float", number
    elif first in "+-0123456789":
        if tag in ("", "timestamp"):
            timestamp = _go_timestamp(text)
            if timestamp is not None:
                return "timestamp", timestamp
        plain = text.replace("_", "")
        integer = _go_parse_int(plain) if plain else None
        if integer is not None:
            return "int", integer
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            number = _go_parse_float(plain)
            if number is not None:
                return "float", number
    return "str", text


def _scalar(node: ScalarNode, file: str) -> object:
    if node.tag == _IMPLICIT:
        if node.style is not None:  # quoted, literal or folded: always a string
            return node.value
        kind, value = _resolve(node.value, "")
        return value
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    if tag == "!!binary":
        try:
            return base64.b64decode("".join(node.value.split()), validate=True).decode("utf-8", "replace")
        except binascii.Error:
            raise StackFileError(f"{_position(file, node.start_mark)}: !!binary value contains invalid base64 "
                                 "data") from None
    wanted = {"!!int": "int", "!!float": "float", "!!bool": "bool", "!!null": "null", "!!timestamp": "timestamp"}
    if tag not in wanted:
        return node.value  # !!str, local tags and the rest keep their text
    kind, value = _resolve(node.value, wanted[tag])
    if kind == wanted[tag]:
        return value
    if wanted[tag] == "float" and kind == "int":
        assert isinstance(value, int)
        return float(value)
    raise StackFileError(f"{_position(file, node.start_mark)}: cannot decode !!{kind} "
                         f"`{printable(node.value, 80)}` as a {tag}")


class _Converter:
    """Nodes to values with yaml.v3's rules, bounded in depth and in total size."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.count = 0
        self.active: set[int] = set()

    def fail(self, node: Node, message: str) -> StackFileError:
        return StackFileError(f"{_position(self.file, node.start_mark)}: {message}")

    def value(self, node: Node, depth: int = 0) -> object:
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.fail(node, f"the document expands to more than {MAX_VALUES:,} values (excessive aliasing)")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"values nest deeper than {MAX_DEPTH} levels")
        if isinstance(node, ScalarNode):
            return _scalar(node, self.file)
        if id(node) in self.active:
            raise self.fail(node, "an anchor's value contains an alias of itself")
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.value(item, depth + 1) for item in node.value]
            assert isinstance(node, MappingNode)
            return {key: value for key, value, _, _ in self.entries(node, depth)}
        finally:
            self.active.discard(id(node))

    def entries(self, node: MappingNode, depth: int) -> Iterator[tuple[str, object, Node, Node]]:
        """A mapping's entries with their nodes; explicit keys first, then those merged in with '<<'."""
        seen: dict[str, int] = {}
        explicit: set[str] = set()
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                if key_node.value in seen:
                    raise self.fail(key_node, f"mapping key {json.dumps(key_node.value[:80])} already defined at "
                                              f"line {seen[key_node.value]}")
                seen[key_node.value] = key_node.start_mark.line + 1
                if key_node.tag == _IMPLICIT and key_node.style is None and key_node.value == "<<":
                    merges.append(value_node)
                    continue
            key = self.value(key_node, depth + 1)
            if not isinstance(key, str) or isinstance(key, GoTime):
                raise self.fail(key_node, f"mapping keys must be strings, and {_describe(key)} is not "
                                          "(Pulumi: expected only string keys)")
            explicit.add(key)
            yield key, self.value(value_node, depth + 1), key_node, value_node
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise self.fail(merge, "map merge requires map or sequence of maps as the value")
                for key, value, key_node, value_node in self.entries(source, depth + 1):
                    if key not in explicit:
                        explicit.add(key)
                        yield key, value, key_node, value_node


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    return f"{type(value).__name__} {printable(str(value), 80)}"


def _config_key(key: str, project: str) -> str | None:
    """The key as the CLI reads it, or None when `config.ParseKey` refuses it."""
    if ":" not in key:
        return f"{project}:{key}"
    parts = key.split(":")
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    return None


def read_stack_config(data: bytes, file: str, project: str) -> list[ConfigEntry]:
    """The `config:` entries of a stack file, as the CLI reads them."""
    if len(data) > MAX_STACK_FILE_BYTES:
        raise StackFileError(f"{file}: {len(data):,} bytes is more than a stack file may hold here "
                             f"({MAX_STACK_FILE_BYTES:,}); is a file pasted into a value?")
    text = _text_of(data, file)
    root = _compose(text, file)
    if root is None or (isinstance(root, ScalarNode) and _scalar(root, file) is None):
        return []
    converter = _Converter(file)
    if not isinstance(root, MappingNode):
        raise converter.fail(root, "a stack file is a mapping (secretsprovider, config, ...)")
    config_node: Node | None = None
    for key, _, key_node, value_node in converter.entries(root, 0):
        if key == "config":
            config_node = value_node
        elif key not in STACK_FILE_KEYS:
            close = [known for known in STACK_FILE_KEYS if _near(key, known)]
            if close:
                raise converter.fail(key_node, f"unknown stack file key {json.dumps(key[:80])}; did you mean "
                                               f"{close[0]}?")
    if config_node is None or (isinstance(config_node, ScalarNode) and _scalar(config_node, file) is None):
        return []
    if not isinstance(config_node, MappingNode):
        raise converter.fail(config_node, "config is a mapping of keys to values")
    entries: list[ConfigEntry] = []
    first_seen: dict[str, Position] = {}
    for raw_key, value, key_node, value_node in converter.entries(config_node, 1):
        parsed_key = _config_key(raw_key, project)
        position = _position(file, key_node.start_mark)
        if parsed_key is None:
            raise StackFileError(f"{position}: could not parse {json.dumps(raw_key[:120])} as a configuration key "
                                 "(configuration keys should be of the form `<namespace>:<name>`)")
        key = parsed_key
        if key in first_seen:
            raise StackFileError(f"{position}: {printable(key, 120)} is set twice (also at line "
                                 f"{first_seen[key].line}; a key without namespace is this project's)")
        first_seen[key] = position
        if isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str):
            value = Encrypted(value["secure"])
        elif not holds_encrypted(value):
            try:
                config_text(value)
            except ValueError:
                # The CLI's JSON encoder refuses them, so it cannot load the stack file.
                raise StackFileError(f"{_position(file, value_node.start_mark)}: {printable(key, 120)} holds NaN "
                                     "or infinity, which Pulumi cannot store (json: unsupported value)") from None
        written = (value_node.value if isinstance(value_node, ScalarNode) and value_node.tag == _IMPLICIT
                   and value_node.style is None and (isinstance(value, GoTime) or not isinstance(value, str))
                   else None)
        entries.append(ConfigEntry(key=key, value=value, position=position,
                                   value_position=_position(file, value_node.start_mark), written=written))
    return entries


def _near(text: str, known: str) -> bool:
    if text == known or abs(len(text) - len(known)) > 2:
        return False
    lowered = text.lower()
    if lowered == known:
        return True
    # Two edits at most: enough for a dropped, doubled or swapped letter.
    mismatches = sum(a != b for a, b in zip(lowered, known, strict=False)) + abs(len(lowered) - len(known))
    return mismatches <= 2 or sorted(lowered) == sorted(known)


def holds_encrypted(value: object) -> bool:
    if isinstance(value, Encrypted) or (isinstance(value, dict) and set(value) == {"secure"}):
        return True
    if isinstance(value, list):
        return any(holds_encrypted(item) for item in value)
    if isinstance(value, dict):
        return any(holds_encrypted(item) for item in value.values())
    return False


def _go_float(value: float) -> str:
    """A float64 as Go's encoding/json writes it: shortest digits, exponent form below 1e-6 or
    from 1e21 on, e-07 shortened to e-7."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError("json: unsupported value")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    number = Decimal(repr(value)).normalize()
    if 1e-6 <= abs(value) < 1e21:
        return format(number, "f")
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    power = exponent + len(digits) - 1
    return f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):0{1 if power < 0 else 2}d}"


def _go_json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        encoded = encoded.replace(raw, escaped)
    return encoded


def _go_json(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_json_string(value)
    if isinstance(value, Encrypted):
        return '{"secure":' + _go_json_string(value.ciphertext) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_go_json(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ",".join(f"{_go_json_string(key)}:{_go_json(value[key])}" for key in sorted(value)) + "}"


def config_text(value: object) -> str:
    """The text a program receives for a decoded (not encrypted) config value; ValueError for
    NaN and infinities, which Pulumi cannot store."""
    if isinstance(value, str):
        return str(value)
    if value is None:
        return ""
    return _go_json(value)


def pulumi_type_problem(config_type: str, value: object) -> str | None:
    """Why Pulumi refuses `value` for a key Pulumi.yaml declares with `config_type`, or None."""
    if isinstance(value, Encrypted):
        return None  # checked by the CLI once decrypted
    structured = isinstance(value, (list, dict))
    if config_type == "array":
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return None
        return "must be of type 'array<string>' (a YAML list of strings)"
    if structured:
        return f"must be of type '{config_type}', not {_describe(value)}"
    text = config_text(value)
    if config_type == "integer" and not (re.fullmatch(r"[+-]?[0-9]{1,19}", text)
                                         and _INT64[0] <= int(text) <= _INT64[1]):
        return "must be of type 'integer'"
    if config_type == "boolean" and text not in ("true", "false"):
        return "must be of type 'boolean' (true or false)"
    return None


def read_stack_file(path: Path, project: str) -> list[ConfigEntry]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StackFileError(f"{path.name}: cannot be read ({error.strerror})") from None
    return read_stack_config(data, path.name, project)
