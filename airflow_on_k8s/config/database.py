"""The metadata database: a managed Flexible Server, or an existing server and its connection."""

import ipaddress
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs

from airflow_on_k8s.config.airflow import Environment
from airflow_on_k8s.config.reader import (
    AZURE_SUBNET_ID,
    HOSTNAME,
    KeySpec,
    Reader,
    SecretValue,
    check,
    cidr_problem,
    split_url,
)

# One FirewallRule per CIDR, created one after the other (the server takes one write at a time);
# a longer list belongs on a private network (postgresNetwork private) or in wider CIDRs.
MAX_FIREWALL_RULES = 64

KEYS: tuple[KeySpec, ...] = (
    KeySpec("postgresMode", "string",
            "managed (create a Flexible Server) or existing (postgresExistingFqdn + metadataConnection).",
            "managed"),
    KeySpec("postgresVersion", "string", "PostgreSQL major version.", "16"),
    KeySpec("postgresSkuName", "string", "Flexible Server SKU (prod: Standard_D2ds_v5).", "Standard_B1ms"),
    KeySpec("postgresSkuTier", "string",
            "Burstable, GeneralPurpose or MemoryOptimized (prod: GeneralPurpose).", "Burstable"),
    KeySpec("postgresStorageSizeGb", "integer", "Storage in GiB; grows automatically (prod: 128).", 32),
    KeySpec("postgresBackupRetentionDays", "integer", "Backup retention, 7-35 days (prod: 14).", 7),
    KeySpec("postgresGeoRedundantBackup", "string",
            "Enabled or Disabled; fixed at creation (prod: Enabled).", "Disabled"),
    KeySpec("postgresHighAvailability", "string",
            "Disabled, SameZone or ZoneRedundant (prod: ZoneRedundant).", "Disabled"),
    KeySpec("postgresNetwork", "string",
            "private (delegated subnet + private DNS zone) or public (firewall CIDRs) (prod: private).", "public"),
    KeySpec("postgresDelegatedSubnetId", "string",
            "Resource id of the subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers.", ""),
    KeySpec("postgresPrivateDnsZoneId", "string",
            "Resource id of the private DNS zone (*.postgres.database.azure.com).", ""),
    KeySpec("postgresAllowedCidrs", "array", "IPv4 CIDRs allowed through the firewall (public only).", [],
            max_items=MAX_FIREWALL_RULES),
    KeySpec("postgresAdminLogin", "string", "Administrator login of the server.", "airflowadmin"),
    KeySpec("postgresExistingFqdn", "string", "FQDN of an existing server (postgresMode existing).", ""),
    KeySpec("metadataConnection", "string",
            "SQLAlchemy URI of an existing metadata database (postgresMode existing; set with --secret).",
            "", secret=True, max_length=4096),
)
POSTGRES_VERSIONS = ("13", "14", "15", "16", "17")
POSTGRES_SKU_TIERS = ("Burstable", "GeneralPurpose", "MemoryOptimized")
POSTGRES_HA_MODES = ("Disabled", "SameZone", "ZoneRedundant")
# Flexible Server storage sizes in GiB (the service rejects anything else).
POSTGRES_STORAGE_SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
_RESERVED_POSTGRES_LOGINS = frozenset({"azure_superuser", "azure_pg_admin", "admin", "administrator",
                                       "root", "guest", "public", "postgres"})

_AZURE_PRIVATE_DNS_ZONE_ID = re.compile(
    r"\A/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/"
    r"privateDnsZones/[^/]+\.postgres\.database\.azure\.com\Z", re.IGNORECASE)
_SECURE_SSLMODES = ("require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class ManagedPostgresConfig:
    version: str
    sku_name: str
    sku_tier: str
    storage_size_gb: int
    backup_retention_days: int
    geo_redundant_backup: Literal["Enabled", "Disabled"]
    high_availability: str
    network: Literal["private", "public"]
    delegated_subnet_id: str | None
    private_dns_zone_id: str | None
    allowed_cidrs: tuple[str, ...]
    admin_login: str
    protect: bool  # prod: the server and database survive `pulumi destroy` and refuse deletion


@dataclass(frozen=True)
class ExistingPostgresConfig:
    fqdn: str
    connection: SecretValue


def _network(reader: Reader) -> tuple[Literal["private", "public"], str | None, str | None, tuple[str, ...]]:
    network = reader.choice("postgresNetwork", ("private", "public"))
    subnet = reader.string("postgresDelegatedSubnetId")
    dns_zone = reader.string("postgresPrivateDnsZoneId")
    cidrs = reader.array("postgresAllowedCidrs")
    if network == "private":
        check(bool(AZURE_SUBNET_ID.fullmatch(subnet)), "postgresDelegatedSubnetId", subnet,
               "the resource id of a subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers "
               "(required with postgresNetwork private)")
        check(bool(_AZURE_PRIVATE_DNS_ZONE_ID.fullmatch(dns_zone)), "postgresPrivateDnsZoneId", dns_zone,
               "the resource id of a private DNS zone ending in .postgres.database.azure.com "
               "(required with postgresNetwork private)")
        check(not cidrs, "postgresAllowedCidrs", json.dumps(list(cidrs)),
               "empty: firewall rules apply only with postgresNetwork public")
        return "private", subnet, dns_zone, ()
    check(bool(cidrs), "postgresAllowedCidrs", json.dumps(list(cidrs)),
           "at least one IPv4 CIDR (e.g. the cluster's egress IP/32) with postgresNetwork public")
    for cidr in cidrs:
        problem = cidr_problem(cidr)
        parsed = ipaddress.ip_network(cidr) if problem is None else None
        check(isinstance(parsed, ipaddress.IPv4Network) and parsed.prefixlen >= 8,
               "postgresAllowedCidrs", cidr, "IPv4 networks in CIDR notation such as 203.0.113.7/32 "
               f"(prefix /8 or longer){': ' + problem if problem else ''}")
    duplicates = sorted(cidr for cidr, count in Counter(cidrs).items() if count > 1)
    check(not duplicates, "postgresAllowedCidrs", ", ".join(duplicates),
           "each CIDR once: every entry becomes a firewall rule named after it")
    check(not subnet and not dns_zone, "postgresDelegatedSubnetId", subnet or dns_zone,
           "empty with postgresNetwork public")
    return "public", None, None, cidrs


def _managed(reader: Reader, environment: Environment) -> ManagedPostgresConfig:
    version = reader.choice("postgresVersion", POSTGRES_VERSIONS)
    tier = reader.choice("postgresSkuTier", POSTGRES_SKU_TIERS)
    sku = reader.string("postgresSkuName")
    check(bool(re.fullmatch(r"Standard_[A-Z][A-Za-z0-9_]*", sku)), "postgresSkuName", sku,
           "a Flexible Server SKU such as Standard_B1ms or Standard_D2ds_v5")
    check((tier == "Burstable") == sku.startswith("Standard_B"), "postgresSkuName", sku,
           f"a SKU of the {tier} tier (Standard_B* is Burstable, and Burstable is Standard_B* only)")
    storage = reader.integer("postgresStorageSizeGb", 32, 32767)
    check(storage in POSTGRES_STORAGE_SIZES, "postgresStorageSizeGb", str(storage),
           f"one of {', '.join(map(str, POSTGRES_STORAGE_SIZES))}")
    retention = reader.integer("postgresBackupRetentionDays", 0, 10_000)
    check(7 <= retention <= 35, "postgresBackupRetentionDays", str(retention), "7 to 35 days")
    geo: Literal["Enabled", "Disabled"] = "Enabled" if reader.choice(
        "postgresGeoRedundantBackup", ("Enabled", "Disabled")) == "Enabled" else "Disabled"
    high_availability = reader.choice("postgresHighAvailability", POSTGRES_HA_MODES)
    check(high_availability == "Disabled" or tier != "Burstable", "postgresHighAvailability",
           high_availability, "Disabled on the Burstable tier (high availability needs GeneralPurpose "
           "or MemoryOptimized)")
    network, subnet, dns_zone, cidrs = _network(reader)
    login = reader.string("postgresAdminLogin")
    check(bool(re.fullmatch(r"[a-z][a-z0-9_]{0,62}", login)) and login not in _RESERVED_POSTGRES_LOGINS
           and not login.startswith("pg_"), "postgresAdminLogin", login,
           "a lowercase login (letters, digits, '_'), not a reserved name (admin, root, postgres, pg_*)")
    return ManagedPostgresConfig(
        version=version, sku_name=sku, sku_tier=tier, storage_size_gb=storage,
        backup_retention_days=retention, geo_redundant_backup=geo,
        high_availability=high_availability, network=network, delegated_subnet_id=subnet,
        private_dns_zone_id=dns_zone, allowed_cidrs=cidrs, admin_login=login,
        protect=environment == "prod")


def _existing(reader: Reader) -> ExistingPostgresConfig:
    typed = reader.string("postgresExistingFqdn")
    fqdn = typed.lower()
    check(typed.isascii() and bool(HOSTNAME.fullmatch(fqdn)), "postgresExistingFqdn", typed,
           "the server's DNS name (required with postgresMode existing)")
    connection = reader.secret("metadataConnection")
    check(connection is not None, "metadataConnection", None,
           "required with postgresMode existing: `pulumi config set --secret metadataConnection ...`")
    assert connection is not None
    parts = split_url(connection.value)
    sslmodes = parse_qs(parts.query).get("sslmode", [])
    check(parts.scheme in ("postgresql", "postgresql+psycopg2") and parts.hostname == fqdn
           and bool(sslmodes) and sslmodes[-1] in _SECURE_SSLMODES, "metadataConnection", connection.value,
           f"a postgresql:// URI for host {fqdn} with sslmode=require, verify-ca or verify-full",
           secret=True)
    return ExistingPostgresConfig(fqdn=fqdn, connection=connection)


def parse(reader: Reader, environment: Environment) -> ManagedPostgresConfig | ExistingPostgresConfig:
    mode = reader.choice("postgresMode", ("managed", "existing"))
    if mode == "existing":
        return _existing(reader)
    check(reader.secret("metadataConnection") is None, "metadataConnection", "[secret]",
           "empty with postgresMode managed: the program builds the connection", secret=True)
    return _managed(reader, environment)
