"""Checks for the managed PostgreSQL server and the container registry."""

import base64
import binascii
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .resources import dig, helm_resource

POSTGRES_SERVER = "azure-native:dbforpostgresql:Server"
POSTGRES_CONFIGURATION = "azure-native:dbforpostgresql:Configuration"
CONTAINER_REGISTRY = "azure-native:containerregistry:Registry"
KUBERNETES_SECRET = "kubernetes:core/v1:Secret"
SECURE_SSLMODES = frozenset({"require", "verify-ca", "verify-full"})
_POSTGRES_URI = re.compile(r"^postgres(ql)?(\+\w+)?://", re.IGNORECASE)


@dataclass(frozen=True)
class StackResource:
    """What a stack-level check sees of one resource."""

    type: str
    urn: str
    props: Mapping[str, Any]
    dependencies: frozenset[str]


def _secret_strings(props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key, value in (props.get("stringData") or {}).items():
        if isinstance(value, str):
            yield f"stringData.{key}", value
    for key, value in (props.get("data") or {}).items():
        if isinstance(value, str):
            try:
                yield f"data.{key}", base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                continue


def _insecure_connection(uri: str) -> bool:
    modes = parse_qs(urlsplit(uri).query).get("sslmode", [])
    return not modes or modes[-1] not in SECURE_SSLMODES


def tls_findings(resources: Sequence[StackResource]) -> Iterator[tuple[str, str]]:
    """(urn, message) for every way the stack lets Airflow talk to Postgres without TLS."""
    configurations = [r for r in resources if r.type == POSTGRES_CONFIGURATION
                      and r.props.get("configurationName", r.props.get("name")) == "require_secure_transport"]
    for configuration in configurations:
        if str(configuration.props.get("value", "")).lower() != "on":
            yield configuration.urn, (f"require_secure_transport is {configuration.props.get('value')!r}. "
                                      "Set the Configuration's value to \"on\".")
    for server in (r for r in resources if r.type == POSTGRES_SERVER):
        names = {server.props.get("name"), server.props.get("serverName")} - {None}
        enforced = [c for c in configurations if server.urn in c.dependencies or c.props.get("serverName") in names]
        if not enforced:
            yield server.urn, ("the server has no require_secure_transport Configuration. Add a "
                               "dbforpostgresql.Configuration require_secure_transport = \"on\" for it.")
    for secret in (r for r in resources if r.type == KUBERNETES_SECRET):
        for where, text in _secret_strings(secret.props):
            if _POSTGRES_URI.match(text) and _insecure_connection(text):
                yield secret.urn, (f"{where} is a PostgreSQL URI without sslmode=require, verify-ca or "
                                   "verify-full. Append ?sslmode=require to the connection.")
    for resource in resources:
        helm = helm_resource(resource.type, resource.props)
        connection = dig(helm.values, "data.metadataConnection") if helm else None
        if isinstance(connection, Mapping) and connection.get("sslmode", "disable") not in SECURE_SSLMODES:
            yield resource.urn, ("values.data.metadataConnection.sslmode is "
                                 f"{connection.get('sslmode', 'disable (chart default)')!r}. "
                                 "Set it to \"require\", or better use data.metadataSecretName.")


def resilience_findings(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if resource_type != POSTGRES_SERVER:
        return
    minimum = int(config.get("minBackupRetentionDays", 7))
    retention = dig(props, "backup.backupRetentionDays")
    if not isinstance(retention, (int, float)) or retention < minimum:
        yield (f"backup.backupRetentionDays is {retention!r}. Set postgresBackupRetentionDays to "
               f"{minimum} or more.")
    mode = dig(props, "highAvailability.mode", "Disabled")
    if mode != "ZoneRedundant":
        yield f"highAvailability.mode is {mode!r}. Set postgresHighAvailability to ZoneRedundant."
    if dig(props, "network.publicNetworkAccess") != "Disabled" or not dig(props, "network.delegatedSubnetResourceId"):
        yield ("the server accepts public network access. Set postgresNetwork to private with "
               "postgresDelegatedSubnetId and postgresPrivateDnsZoneId.")


def registry_flag_findings(resource_type: str, props: Mapping[str, Any], flag: str, fix: str) -> Iterator[str]:
    if resource_type == CONTAINER_REGISTRY and props.get(flag) is True:
        yield f"{flag} is true. {fix}"
