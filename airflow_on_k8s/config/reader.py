"""Typed access to raw config strings, and the checks several sections share.

Every failure is a `ConfigError` naming the key, the value and what is allowed.
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

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
EXACT_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
AZURE_SUBNET_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/"
    r"virtualNetworks/[^/]+/subnets/[^/]+$", re.IGNORECASE)
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$")


@dataclass(frozen=True)
class KeySpec:
    """One configuration key: its Pulumi.yaml type, default and whether it holds a secret."""

    name: str
    type: ConfigType
    description: str
    default: str | int | bool | list[str] | None = None  # None: the key is required
    secret: bool = False


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
        return value

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
        if not re.fullmatch(r"[+-]?\d{1,9}", value.strip()):
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
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ConfigError(full_key(name), value, "a list of strings (YAML list in the stack file)")
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


def dns_label(reader: Reader, name: str, max_length: int = 63) -> str:
    value = reader.string(name)
    check(bool(DNS1123_LABEL.match(value)) and len(value) <= max_length, name, value,
          f"a DNS-1123 label: lowercase letters, digits and '-', starting and ending with an "
          f"alphanumeric, at most {max_length} characters")
    return value


def exact_version(reader: Reader, name: str, what: str) -> str:
    value = reader.string(name)
    check(bool(EXACT_VERSION.match(value)), name, value,
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


def https_url(reader: Reader, name: str, required_because: str) -> str:
    value = reader.string(name).rstrip("/")
    parts = split_url(value)
    check(parts.scheme == "https" and bool(parts.hostname) and parts.username is None, name, value,
          f"an https:// URL without credentials ({required_because})")
    return value


def cidrs(reader: Reader, name: str) -> tuple[str, ...]:
    values = reader.array(name)
    for cidr in values:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise ConfigError(full_key(name), cidr, "CIDRs such as 10.20.0.0/24 or 203.0.113.7/32") from None
    return values


def subnet_id(reader: Reader, name: str, what: str) -> str | None:
    value = reader.string(name)
    check(value == "" or bool(AZURE_SUBNET_ID.match(value)), name, value, f"a subnet resource id ({what})")
    return value or None
