"""Checks for Vault's Kubernetes auth roles and policies."""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import hcl2
from hcl2.rules.base import AttributeRule, BodyRule
from hcl2.walk import find_all

VAULT_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
VAULT_POLICY = "vault:index/policy:Policy"
# "deny" takes rights away, so it is as safe as read.
READ_CAPABILITIES = frozenset({"read", "list", "deny"})
# What Vault reads, from ParseACLPolicy in hashicorp/vault vault/policy.go: the keys of a policy and of a
# path block, and the pre-capabilities `policy = "..."` shorthand it still expands.
POLICY_KEYS = frozenset({"name", "path"})
PATH_KEYS = frozenset({"comment", "policy", "capabilities", "allowed_parameters", "denied_parameters",
                       "required_parameters", "min_wrapping_ttl", "max_wrapping_ttl", "mfa_methods", "control_group"})
LEGACY_POLICY_CAPABILITIES: Mapping[str, frozenset[str]] = {
    "deny": frozenset({"deny"}),
    "read": frozenset({"read", "list"}),
    "write": frozenset({"create", "read", "update", "delete", "list"}),
    "sudo": frozenset({"create", "read", "update", "delete", "list", "sudo"}),
}
# python-hcl2 8.x keeps the quotes of every string unless asked; heredocs become plain strings.
_HCL_VALUES = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=False,
                                        preserve_heredocs=False)


class UncheckablePolicyError(ValueError):
    """Policy text this rule cannot read the way Vault does. The rule reports it; it never passes it."""


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


def _reject_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        # Vault's parser keeps every copy and merges them; a dict would keep only the last.
        raise UncheckablePolicyError(f"key {repeated[0]!r} appears twice in one object")
    return dict(pairs)


def _first_line(error: Exception) -> str:
    # lark appends every token it expected; the first line says where the text went wrong.
    text = str(error).strip()
    return text.splitlines()[0].rstrip(".") if text else type(error).__name__


def _load_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_reject_repeated_keys)
    except json.JSONDecodeError as error:
        raise UncheckablePolicyError(f"it starts like Vault's JSON form but is not JSON ({error})") from error


def _load_hcl(text: str) -> Any:
    try:
        tree = hcl2.parses(text, discard_comments=True)
        for body in find_all(tree, BodyRule):
            names = [child.identifier.serialize(_HCL_VALUES) for child in body.children
                     if isinstance(child, AttributeRule)]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                # Vault merges repeated attributes; python-hcl2 keeps only the last one.
                raise UncheckablePolicyError(f"attribute {repeated[0]!r} appears twice in one block")
        return tree.serialize(_HCL_VALUES)
    except UncheckablePolicyError:
        raise
    except Exception as error:  # any parser failure (lark's or python-hcl2's own) means: not readable
        raise UncheckablePolicyError(f"it is not HCL that python-hcl2 reads ({_first_line(error)})") from error


def _path_entries(value: Any) -> Iterator[tuple[str, Any]]:
    """(path, body) pairs. HCL blocks arrive as a list of {path: body}; the JSON form as one object of
    them, or a list of such objects (HCL1, which Vault uses, reads a JSON array as repeated blocks)."""
    for entry in value if isinstance(value, list) else [value]:
        if not isinstance(entry, dict):
            raise UncheckablePolicyError(f"`path` holds {type(entry).__name__}, not path blocks")
        yield from entry.items()


def _capabilities(path: str, rules: Any) -> set[str]:
    if not isinstance(rules, dict):
        raise UncheckablePolicyError(f"path {path!r} holds {type(rules).__name__}, not a block")
    unknown = sorted(set(rules) - PATH_KEYS)
    if unknown:
        # Vault refuses such a block, and a second label (`path "a" "b" {}`) shows up here as a key.
        raise UncheckablePolicyError(f"path {path!r} holds {unknown[0]!r}, which is no key of a Vault path block")
    listed = rules.get("capabilities", [])
    if not isinstance(listed, list) or not all(isinstance(capability, str) for capability in listed):
        raise UncheckablePolicyError(f"path {path!r} has capabilities that are not a list of strings")
    granted = set(listed)
    legacy = rules.get("policy")
    if legacy is not None:
        if legacy not in LEGACY_POLICY_CAPABILITIES:
            raise UncheckablePolicyError(f"path {path!r} has policy {legacy!r}, none of deny, read, write, sudo")
        granted |= LEGACY_POLICY_CAPABILITIES[legacy]
    return granted


def policy_blocks(text: str) -> list[tuple[str, set[str]]]:
    """Every path block of a Vault ACL policy, HCL or JSON, with all the capabilities it grants,
    whatever else the block holds. Raises UncheckablePolicyError for text Vault might read differently."""
    document = _load_json(text) if text.lstrip().startswith("{") else _load_hcl(text)
    if not isinstance(document, dict):
        raise UncheckablePolicyError("it is no object of path blocks")
    unknown = sorted(set(document) - POLICY_KEYS)
    if unknown:
        raise UncheckablePolicyError(f"it has the top-level key {unknown[0]!r}; Vault reads only name and path")
    blocks: list[tuple[str, set[str]]] = []
    for path, body in _path_entries(document.get("path", [])):
        granted: set[str] = set()
        for rules in body if isinstance(body, list) else [body]:
            granted |= _capabilities(path, rules)
        blocks.append((path, granted))
    return blocks


def policy_findings(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if resource_type != VAULT_POLICY:
        return
    markers = [str(marker).lower() for marker in config.get("airflowMarkers") or ["airflow"]]
    text = str(props.get("policy") or "")
    name = str(props.get("name") or "")
    if not any(marker in name.lower() or marker in text.lower() for marker in markers):
        return
    try:
        blocks = policy_blocks(text)
    except UncheckablePolicyError as problem:
        yield (f"the policy cannot be checked: {problem}. Write it as HCL path blocks "
               "(path \"<mount>/data/<folder>/*\" { capabilities = [\"read\"] }) or in Vault's JSON form.")
        return
    for path, capabilities in blocks:
        extra = sorted(capabilities - READ_CAPABILITIES)
        if extra:
            yield (f"path {path!r} grants {extra}. Airflow only reads: set capabilities = [\"read\"] "
                   "(or read and list).")
        # Vault drops one leading slash before it matches paths.
        segments = path.removeprefix("/").split("/")
        if "+" in segments or "*" in path[:-1] or (path.endswith("*") and len(segments) < 4):
            yield (f"path {path!r} reaches above the connections and variables folders. Grant only "
                   "<mount>/data/<connections path>/* and <mount>/data/<variables path>/*.")
