"""Checks for Vault's Kubernetes auth roles and policies."""

import re
from collections.abc import Iterator, Mapping
from typing import Any

VAULT_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
VAULT_POLICY = "vault:index/policy:Policy"
# "deny" takes rights away, so it is as safe as read.
READ_CAPABILITIES = frozenset({"read", "list", "deny"})
_PATH_BLOCK = re.compile(r'path\s+"(?P<path>[^"]+)"\s*\{(?P<body>[^}]*)\}', re.MULTILINE)
_CAPABILITIES = re.compile(r"capabilities\s*=\s*\[(?P<list>[^\]]*)\]")


def _wildcards(values: Any) -> list[str]:
    return [str(value) for value in values or [] if any(mark in str(value) for mark in "*?[")]


def role_findings(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if resource_type != VAULT_ROLE:
        return
    for field, what in (("boundServiceAccountNames", "ServiceAccount names"),
                        ("boundServiceAccountNamespaces", "namespaces")):
        values = props.get(field) or []
        if not values or _wildcards(values):
            yield (f"{field} is {list(values)!r}: the role must name exact {what}. Bind the chart's "
                   "ServiceAccounts (the release's serviceAccounts output) in the Airflow namespace.")
    if props.get("boundServiceAccountNamespaceSelector"):
        yield "boundServiceAccountNamespaceSelector matches namespaces by label. Remove it; list the namespace."
    max_ttl = int(config.get("maxTokenTtlSeconds", 3600))
    for field in ("tokenTtl", "tokenMaxTtl"):
        ttl = props.get(field)
        # 0 or unset means Vault's system default (32 days), not "no token".
        if not isinstance(ttl, (int, float)) or ttl <= 0 or ttl > max_ttl:
            yield f"{field} is {ttl!r}. Set vaultTokenTtl to {max_ttl} s or less (e.g. 1h)."


def policy_blocks(hcl: str) -> list[tuple[str, set[str]]]:
    blocks = []
    for match in _PATH_BLOCK.finditer(hcl):
        capabilities = _CAPABILITIES.search(match.group("body"))
        names = set(re.findall(r'"([^"]+)"', capabilities.group("list"))) if capabilities else set()
        blocks.append((match.group("path"), names))
    return blocks


def policy_findings(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if resource_type != VAULT_POLICY:
        return
    markers = [str(marker).lower() for marker in config.get("airflowMarkers") or ["airflow"]]
    hcl = str(props.get("policy") or "")
    name = str(props.get("name") or "")
    if not any(marker in name.lower() or marker in hcl.lower() for marker in markers):
        return
    for path, capabilities in policy_blocks(hcl):
        extra = sorted(capabilities - READ_CAPABILITIES)
        if extra:
            yield (f"path {path!r} grants {extra}. Airflow only reads: set capabilities = [\"read\"] "
                   "(or read and list).")
        segments = path.split("/")
        if "+" in segments or "*" in path[:-1] or (path.endswith("*") and len(segments) < 4):
            yield (f"path {path!r} reaches above the connections and variables folders. Grant only "
                   "<mount>/data/<connections path>/* and <mount>/data/<variables path>/*.")
