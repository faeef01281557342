"""Typed access to raw config strings, and the checks several sections share.

Every failure is a `ConfigError` naming the key, the value (at most ~200 characters of it, masked
for secrets) and what is allowed. Every check runs in time linear in the value: lengths are
checked before any pattern, patterns use ASCII classes only (`\\d` would accept a fullwidth digit), and JSON
is measured for depth before it is parsed.
"""

import ipaddress
import json
import re
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from airflow_on_k8s.errors import ConfigError

PROJECT = "airflow-on-k8s"
ConfigType = Literal["string", "integer", "boolean", "array"]

# Limits on what one key may hold. A value longer than this is a mistake (a pasted file, a
# runaway template), and refusing it first keeps every later check cheap.
DEFAULT_MAX_LENGTH = 1024
DEFAULT_MAX_ITEMS = 256
_JSON_CHARACTERS_PER_ITEM = 100

DNS1123_LABEL = re.compile(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
DNS1123_SUBDOMAIN = re.compile(r"\A(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
EXACT_VERSION = re.compile(r"\A(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\Z")
AZURE_SUBNET_ID = re.compile(
    r"\A/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/"
    r"virtualNetworks/[^/]+/subnets/[^/]+\Z", re.IGNORECASE)
GUID = re.compile(r"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
# A fully qualified DNS name with a top-level domain (what a user types for a server or a UI).
HOSTNAME = re.compile(r"\A(?=.{1,253}\Z)([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}\Z")
# Any DNS name, single-label ones included (an internal Vault host), in any case.
_DNS_NAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*\.?")
# CIDR notation only: an address, '/', a prefix length. Netmasks (10.0.0.0/255.0.0.0), bare
# addresses and IPv6 zone ids are other notations that ipaddress also reads.
_CIDR_SYNTAX = re.compile(r"(?:[0-9.]{7,15}|[0-9A-Fa-f:.]{2,45})/(?:0|[1-9][0-9]{0,2})")
# C0 and C1 controls other than tab, newline and carriage return, and lone surrogates.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class KeySpec:
    """One configuration key: its Pulumi.yaml type, default and whether it holds a secret.

    `max_length` bounds a value's characters (0: DEFAULT_MAX_LENGTH; for arrays, their JSON);
    `max_items` bounds an array; `multiline` keys (files, JSON documents) may hold newlines and
    any printable text, other keys only printable characters on one line.
    """

    name: str
    type: ConfigType
    description: str
    default: str | int | bool | list[str] | None = None  # None: the key is required
    secret: bool = False
    max_length: int = 0
    max_items: int = DEFAULT_MAX_ITEMS
    multiline: bool = False

    @property
    def length_limit(self) -> int:
        if self.max_length:
            return self.max_length
        return self.max_items * _JSON_CHARACTERS_PER_ITEM if self.type == "array" else DEFAULT_MAX_LENGTH


@dataclass(frozen=True)
class SecretValue:
    """A secret config value; its repr never shows the value."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "SecretValue([secret])"


def full_key(name: str) -> str:
    return f"{PROJECT}:{name}"


def check(ok: bool, name: str, value: object, allowed: str, *, secret: bool = False) -> None:
    if not ok:
        raise ConfigError(full_key(name), value, allowed, secret=secret)


def _character_problem(value: str, multiline: bool) -> str | None:
    """Why `value` holds a character no key of its kind may hold, or None."""
    if multiline:
        found = _CONTROL.search(value)
        if found is None:
            return None
        position, character = found.start(), found.group()
    else:
        if value.isprintable():
            return None
        position, character = next((i, ch) for i, ch in enumerate(value) if not ch.isprintable())
    return (f"no control or invisible characters: U+{ord(character):04X} at position {position}"
            + ("" if multiline else " (this key holds one line of printable text)"))


class Reader:
    """Typed access to raw config strings of the keys in `keys`."""

    def __init__(self, raw: Mapping[str, str], secret_keys: Set[str], keys: Mapping[str, KeySpec]) -> None:
        self._raw = raw
        self._secret_keys = secret_keys
        self._keys = keys

    def _text(self, name: str) -> str | None:
        spec = self._keys[name]
        value = self._raw.get(name)
        if value is None:
            if spec.default is None:
                raise ConfigError(full_key(name), None, f"required; {spec.description}")
            return None
        if not isinstance(value, str):
            raise ConfigError(full_key(name), value, f"a {spec.type} given as Pulumi config text",
                              secret=spec.secret)
        limit = spec.length_limit
        if len(value) > limit:
            raise ConfigError(full_key(name), value, f"at most {limit:,} characters ({len(value):,} given)",
                              secret=spec.secret)
        problem = _character_problem(value, spec.multiline)
        if problem is not None:
            raise ConfigError(full_key(name), value, problem, secret=spec.secret)
        return value

    def check_present(self) -> None:
        """Length and character limits for every key the stack sets, also those the chosen modes
        never read (a managed database's keys next to an existing one)."""
        for name in sorted(self._raw):
            if name in self._keys:
                self._text(name)

    def _default(self, name: str) -> str | int | bool | list[str]:
        default = self._keys[name].default
        assert default is not None
        return default

    def string(self, name: str) -> str:
        value = self._text(name)
        if value is None:
            default = self._default(name)
            assert isinstance(default, str)
            return default
        return value.strip()

    def integer(self, name: str, minimum: int, maximum: int) -> int:
        value = self._text(name)
        if value is None:
            default = self._default(name)
            assert isinstance(default, int)
            return default
        allowed = f"an integer from {minimum} to {maximum}"
        if not re.fullmatch(r"[+-]?[0-9]{1,9}", value.strip()):
            raise ConfigError(full_key(name), value, allowed)
        number = int(value)
        if not minimum <= number <= maximum:
            raise ConfigError(full_key(name), value, allowed)
        return number

    def boolean(self, name: str) -> bool:
        value = self._text(name)
        if value is None:
            default = self._default(name)
            assert isinstance(default, bool)
            return default
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise ConfigError(full_key(name), value, "true or false")
        return lowered == "true"

    def array(self, name: str) -> tuple[str, ...]:
        value = self._text(name)
        if value is None:
            default = self._default(name)
            assert isinstance(default, list)
            return tuple(default)
        items = parse_json(value, max_depth=1)
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ConfigError(full_key(name), value, "a list of strings (YAML list in the stack file)")
        limit = self._keys[name].max_items
        if len(items) > limit:
            raise ConfigError(full_key(name), value, f"at most {limit} entries ({len(items)} given)")
        return tuple(item.strip() for item in items)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.string(name)
        if value not in allowed:
            raise ConfigError(full_key(name), value, f"one of {', '.join(allowed)}")
        return value

    def secret(self, name: str) -> SecretValue | None:
        """A secret key's value, refusing one that was stored in plaintext."""
        value = self._text(name)
        if value is None or value == "":
            if self._keys[name].default is None:
                raise ConfigError(full_key(name), None, f"required; {self._keys[name].description}")
            return None
        if name not in self._secret_keys:
            raise ConfigError(full_key(name), value,
                              f"a secret: set it with `pulumi config set --secret {name}`",
                              secret=True)
        return SecretValue(value)


def json_depth(text: str) -> int:
    """How deeply brackets nest in JSON text, outside strings; linear, never recursive."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"?', "", text, flags=re.DOTALL)
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", without_strings):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


class _DuplicateKeyError(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKeyError("a key appears twice")
    return result


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str, max_depth: int) -> object | None:
    """The JSON document in `text`, or None when it is not JSON (including NaN, duplicate object
    keys and huge numbers) or nests deeper than `max_depth` (which json.loads would recurse into)."""
    if json_depth(text) > max_depth:
        return None
    try:
        parsed: object = json.loads(text, object_pairs_hook=_object_without_duplicates,
                                    parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return None
    return parsed


def dns_label(reader: Reader, name: str, max_length: int = 63) -> str:
    value = reader.string(name)
    check(bool(DNS1123_LABEL.fullmatch(value)) and len(value) <= max_length, name, value,
          f"a DNS-1123 label: lowercase letters, digits and '-', starting and ending with an "
          f"alphanumeric, at most {max_length} characters")
    return value


def exact_version(reader: Reader, name: str, what: str) -> str:
    value = reader.string(name)
    check(bool(EXACT_VERSION.fullmatch(value)), name, value,
          f"an exact {what} version X.Y.Z (no ranges, 'latest' or prefixes)")
    return value


def split_url(text: str) -> SplitResult:
    """urlsplit that never raises: a malformed URL (bad IPv6 brackets, bad port) comes back empty,
    so the caller's check reports it as a config error."""
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on a port outside 0-65535
    except ValueError:
        return urlsplit("")
    return parts


def is_host(host: str | None) -> bool:
    """An IP address or a DNS name (ASCII; an IDN in its xn-- form), as a URL's host."""
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # All-numeric names such as 999.1.1.1 are malformed addresses, not names.
        return bool(_DNS_NAME.fullmatch(host)) and not re.fullmatch(r"[0-9.]+", host)
    return True


def url_problem(text: str, scheme: str) -> str | None:
    """Why `text` is not a `scheme`:// URL with a valid host and without credentials, or None."""
    if any(ch.isspace() for ch in text) or not text.isascii():
        return "ASCII without spaces (percent-encode other characters)"
    parts = split_url(text)
    if parts.scheme != scheme or not parts.netloc:
        return f"a {scheme}:// URL"
    if parts.username is not None or parts.password is not None:
        return "without credentials"
    if not is_host(parts.hostname):
        return "with a host name or IP address"
    return None


def https_url(reader: Reader, name: str, required_because: str) -> str:
    value = reader.string(name).rstrip("/")
    check(url_problem(value, "https") is None, name, value,
          f"an https:// URL with a host and without credentials ({required_because})")
    return value


def cidr_problem(cidr: str) -> str | None:
    """Why `cidr` is not a network in CIDR notation (e.g. 10.20.0.0/24), or None."""
    if not _CIDR_SYNTAX.fullmatch(cidr):
        return "CIDR notation (address/prefix length, e.g. 10.20.0.0/24 or 203.0.113.7/32)"
    try:
        ipaddress.ip_network(cidr, strict=True)
    except ValueError as error:
        return f"a network address with its prefix length ({error})"
    return None


def cidrs(reader: Reader, name: str) -> tuple[str, ...]:
    values = reader.array(name)
    for cidr in values:
        problem = cidr_problem(cidr)
        if problem is not None:
            raise ConfigError(full_key(name), cidr, f"CIDRs such as 10.20.0.0/24 or 203.0.113.7/32: {problem}")
    return values


def subnet_id(reader: Reader, name: str, what: str) -> str | None:
    value = reader.string(name)
    check(value == "" or bool(AZURE_SUBNET_ID.fullmatch(value)), name, value, f"a subnet resource id ({what})")
    return value or None
