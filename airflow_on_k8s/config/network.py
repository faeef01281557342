"""The namespace's NetworkPolicies: default-deny, then the destinations Airflow may reach."""

import json
from dataclasses import dataclass

from airflow_on_k8s.config.reader import KeySpec, Reader, check, cidrs

KEYS: tuple[KeySpec, ...] = (
    KeySpec("networkPoliciesEnabled", "boolean", "Default-deny NetworkPolicies with allow-lists.", True),
    KeySpec("networkPostgresCidrs", "array",
            "CIDRs of the metadata database (egress on 5432). Empty (and required empty) with a private "
            "managed database: read from postgresDelegatedSubnetId.", []),
    KeySpec("networkVaultCidrs", "array", "CIDRs of Vault (egress on Vault's port; required with Vault).", []),
    KeySpec("networkGitCidrs", "array", "CIDRs of the Git host (on the repository's port). Empty: any address.", []),
    KeySpec("networkTaskEgressCidrs", "array", "Extra CIDRs task pods may reach (their data sources).", []),
    KeySpec("networkHttpsEgressCidrs", "array",
            "CIDRs Airflow reaches on 443: Entra ID (token exchange, SSO), Blob Storage (task logs), the "
            "Okta org. Required with taskLogs or SSO.", []),
)


@dataclass(frozen=True)
class NetworkConfig:
    postgres_cidrs: tuple[str, ...]  # empty when the program reads the database's subnet
    vault_cidrs: tuple[str, ...]
    git_cidrs: tuple[str, ...]
    task_egress_cidrs: tuple[str, ...]
    https_egress_cidrs: tuple[str, ...]


def required_cidrs(reader: Reader, name: str, required_because: str | None) -> tuple[str, ...]:
    values = cidrs(reader, name)
    if required_because:
        check(bool(values), name, json.dumps(list(values))[:200], f"at least one CIDR ({required_because})")
    return values


def derived_cidrs(reader: Reader, name: str, derived_from: str | None, required_because: str) -> tuple[str, ...]:
    """A CIDR list the program reads from Azure when `derived_from` names the subnet, else typed."""
    if derived_from is None:
        return required_cidrs(reader, name, required_because)
    typed = reader.array(name)
    check(not typed, name, json.dumps(list(typed))[:200], f"empty: the program reads it from {derived_from}")
    return ()


def parse(reader: Reader, *, https_needed_by: str | None, vault: bool,
          database_subnet_key: str | None) -> NetworkConfig | None:
    """`database_subnet_key` names the key whose subnet gives the database's range, if any."""
    if not reader.boolean("networkPoliciesEnabled"):
        return None
    return NetworkConfig(
        https_egress_cidrs=required_cidrs(reader, "networkHttpsEgressCidrs", https_needed_by),
        postgres_cidrs=derived_cidrs(reader, "networkPostgresCidrs", database_subnet_key, "the metadata database"),
        vault_cidrs=required_cidrs(reader, "networkVaultCidrs", "Airflow reads Vault" if vault else None),
        git_cidrs=cidrs(reader, "networkGitCidrs"),
        task_egress_cidrs=cidrs(reader, "networkTaskEgressCidrs"),
    )
