"""Vault: where Airflow reads connections and variables, and how its pods log in."""

import re
from dataclasses import dataclass

from airflow_on_k8s.config.reader import KeySpec, Reader, SecretValue, check, https_url, parse_json

KEYS: tuple[KeySpec, ...] = (
    KeySpec("vaultAddress", "string",
            "Vault URL (https://...). Empty: no Vault; connections then live in Airflow's database.", ""),
    KeySpec("vaultNamespace", "string", "Vault Enterprise/HCP namespace. Empty: none.", ""),
    KeySpec("vaultAuthPath", "string", "Path of the Kubernetes auth backend (no leading '/').", "kubernetes"),
    KeySpec("vaultRoleName", "string", "Vault role the Airflow pods log in with.", "airflow"),
    KeySpec("vaultTokenTtl", "string",
            "Lifetime of Airflow's Vault tokens: a duration such as 30m or 1h, or seconds; at most 1h, the "
            "policy pack's vault-role-least-privilege limit.", "1h"),
    KeySpec("vaultKvMount", "string", "KV v2 mount holding Airflow's connections and variables.", "airflow"),
    KeySpec("vaultConnectionsPath", "string", "Folder of connections in the mount.", "connections"),
    KeySpec("vaultVariablesPath", "string", "Folder of variables in the mount.", "variables"),
    KeySpec("vaultCreateKvMount", "boolean", "Create the KV v2 mount (usually it exists).", False),
    KeySpec("vaultBindWebserver", "boolean",
            "Let the webserver's ServiceAccount log in too (to show connections in the UI).", False),
    KeySpec("vaultSeedConnections", "string",
            "JSON object conn_id -> connection URI to write to Vault (set with --secret).", "", secret=True,
            max_length=262_144, multiline=True),
    KeySpec("vaultSeedVariables", "string",
            "JSON object key -> value of Airflow variables to write to Vault (set with --secret).", "",
            secret=True, max_length=262_144, multiline=True),
)
VAULT_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*")
_VAULT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DURATION_PART = re.compile(r"([0-9]+)(h|m|s)")
# The policy pack's vault-role-least-privilege refuses roles whose tokens live longer
# (maxTokenTtlSeconds, 3600 by default): the config says so before any resource is planned.
MAX_VAULT_TOKEN_TTL_SECONDS = 3600
MAX_SEEDS = 500


def duration_seconds(text: str) -> int | None:
    """Seconds in a duration as Vault reads a TTL: whole seconds (3600) or units such as 1h, 30m,
    1h30m; None if it is neither."""
    if re.fullmatch(r"[0-9]{1,9}", text):
        return int(text)
    if not re.fullmatch(r"([0-9]{1,9}(h|m|s)){1,3}", text):
        return None
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(amount) * units[unit] for amount, unit in _DURATION_PART.findall(text))


@dataclass(frozen=True)
class VaultConfig:
    address: str
    namespace: str | None
    auth_path: str
    role_name: str
    token_ttl_seconds: int
    kv_mount: str
    connections_path: str
    variables_path: str
    create_kv_mount: bool
    bind_webserver: bool
    seed_connections: tuple[tuple[str, SecretValue], ...]
    seed_variables: tuple[tuple[str, SecretValue], ...]


def _vault_path(reader: Reader, name: str) -> str:
    value = reader.string(name)
    check(bool(VAULT_PATH.fullmatch(value)), name, value,
           "a Vault path such as airflow or team/airflow: no leading or trailing '/', no empty segments")
    return value


def _seeds(reader: Reader, name: str) -> tuple[tuple[str, SecretValue], ...]:
    secret = reader.secret(name)
    if secret is None:
        return ()
    entries = parse_json(secret.value, max_depth=1)
    check(isinstance(entries, dict) and all(isinstance(value, str) for value in entries.values()), name,
           "[secret]", 'a JSON object of strings, each key once, e.g. {"my_db": "postgresql://..."}', secret=True)
    assert isinstance(entries, dict)
    check(len(entries) <= MAX_SEEDS, name, "[secret]", f"at most {MAX_SEEDS} entries", secret=True)
    for key in entries:
        check(bool(_VAULT_NAME.fullmatch(key)), name, key, "ids of letters, digits, '_', '.' and '-'")
    return tuple((key, SecretValue(value)) for key, value in sorted(entries.items()))


def parse(reader: Reader) -> VaultConfig | None:
    if not reader.string("vaultAddress"):
        for name in ("vaultSeedConnections", "vaultSeedVariables"):
            check(reader.secret(name) is None, name, "[secret]", "empty without vaultAddress", secret=True)
        return None
    address = https_url(reader, "vaultAddress", "Vault's API address")
    ttl_text = reader.string("vaultTokenTtl")
    ttl = duration_seconds(ttl_text)
    check(ttl is not None and 0 < ttl <= MAX_VAULT_TOKEN_TTL_SECONDS, "vaultTokenTtl", ttl_text,
           "a duration such as 1h, 30m, 1h30m or 3600 (seconds), above 0 and at most 1h: the policy pack's "
           "vault-role-least-privilege refuses longer-lived tokens")
    assert ttl is not None
    role = reader.string("vaultRoleName")
    check(bool(_VAULT_NAME.fullmatch(role)), "vaultRoleName", role,
           "a non-empty role name of letters, digits, '_', '.' and '-'")
    namespace = reader.string("vaultNamespace").strip("/")
    check(namespace == "" or bool(VAULT_PATH.fullmatch(namespace)), "vaultNamespace", namespace,
           "a Vault namespace path such as admin or admin/data-platform")
    return VaultConfig(
        address=address,
        namespace=namespace or None,
        auth_path=_vault_path(reader, "vaultAuthPath"),
        role_name=role,
        token_ttl_seconds=ttl,
        kv_mount=_vault_path(reader, "vaultKvMount"),
        connections_path=_vault_path(reader, "vaultConnectionsPath"),
        variables_path=_vault_path(reader, "vaultVariablesPath"),
        create_kv_mount=reader.boolean("vaultCreateKvMount"),
        bind_webserver=reader.boolean("vaultBindWebserver"),
        seed_connections=_seeds(reader, "vaultSeedConnections"),
        seed_variables=_seeds(reader, "vaultSeedVariables"),
    )
