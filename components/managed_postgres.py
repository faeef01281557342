"""Azure Database for PostgreSQL Flexible Server holding Airflow's metadata database."""

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.dbforpostgresql as dbforpostgresql
import pulumi_random as random

from airflow_on_k8s.config import ManagedPostgresConfig
from airflow_on_k8s.database import (
    AIRFLOW_DATABASE,
    firewall_range,
    firewall_rule_name,
    metadata_connection_uri,
)
from components.azure_subnets import subnet_cidrs


@dataclass(frozen=True)
class ManagedPostgresArgs:
    settings: ManagedPostgresConfig
    resource_group_name: pulumi.Input[str]
    location: str


class ManagedPostgres(pulumi.ComponentResource):
    """Flexible Server, the `airflow` database, TLS enforced, and the connection URI as a secret."""

    fqdn: pulumi.Output[str]
    database_name: pulumi.Output[str]
    server_id: pulumi.Output[str]
    connection_uri: pulumi.Output[str]
    # The delegated subnet's ranges, read from Azure (private network only): the pods' egress target.
    network_cidrs: pulumi.Output[list[str]] | None
    resources: list[pulumi.Resource]

    def __init__(self, name: str, args: ManagedPostgresArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:database:ManagedPostgres", name, None, opts)
        settings = args.settings
        # Stable across updates: the password lives in the state and changes only on replacement.
        admin_password = random.RandomPassword(
            f"{name}-admin-password", length=32, special=True, override_special="-_.~!*",
            min_lower=2, min_upper=2, min_numeric=2, min_special=2,
            opts=pulumi.ResourceOptions(parent=self))
        # Prod keeps its data when the stack is destroyed or the resource is dropped from code.
        keep = pulumi.ResourceOptions(parent=self, protect=settings.protect,
                                      retain_on_delete=settings.protect)
        server = dbforpostgresql.Server(
            f"{name}-server",
            resource_group_name=args.resource_group_name,
            location=args.location,
            version=settings.version,
            administrator_login=settings.admin_login,
            administrator_login_password=admin_password.result,
            sku=dbforpostgresql.SkuArgs(name=settings.sku_name, tier=settings.sku_tier),
            storage=dbforpostgresql.StorageArgs(storage_size_gb=settings.storage_size_gb, auto_grow="Enabled"),
            backup=dbforpostgresql.BackupArgs(
                backup_retention_days=settings.backup_retention_days,
                geo_redundant_backup=settings.geo_redundant_backup),
            high_availability=dbforpostgresql.HighAvailabilityArgs(mode=settings.high_availability),
            network=dbforpostgresql.NetworkArgs(
                delegated_subnet_resource_id=settings.delegated_subnet_id,
                private_dns_zone_arm_resource_id=settings.private_dns_zone_id,
                public_network_access="Enabled" if settings.network == "public" else "Disabled"),
            create_mode="Create",
            opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(
                additional_secret_outputs=["administratorLoginPassword"])),
        )
        database = dbforpostgresql.Database(
            f"{name}-database",
            resource_group_name=args.resource_group_name,
            server_name=server.name,
            database_name=AIRFLOW_DATABASE,
            charset="UTF8",
            collation="en_US.utf8",
            opts=keep,
        )
        require_tls = dbforpostgresql.Configuration(
            f"{name}-require-secure-transport",
            resource_group_name=args.resource_group_name,
            server_name=server.name,
            configuration_name="require_secure_transport",
            value="on",
            source="user-override",
            # Flexible Server accepts one write at a time: settings after the database, rules after both.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[database]),
        )
        self.resources = [server, database, require_tls]
        for cidr in settings.allowed_cidrs:
            start, end = firewall_range(cidr)
            self.resources.append(dbforpostgresql.FirewallRule(
                f"{name}-{firewall_rule_name(cidr)}",
                resource_group_name=args.resource_group_name,
                server_name=server.name,
                firewall_rule_name=firewall_rule_name(cidr),
                start_ip_address=start,
                end_ip_address=end,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.resources[-1]]),
            ))

        self.fqdn = server.fully_qualified_domain_name.apply(lambda fqdn: fqdn or "")
        self.database_name = database.name
        self.server_id = server.id
        self.network_cidrs = (subnet_cidrs(settings.delegated_subnet_id, self)
                              if settings.delegated_subnet_id else None)
        self.connection_uri = pulumi.Output.secret(pulumi.Output.all(
            admin_password.result, self.fqdn, database.name,
        ).apply(lambda parts: metadata_connection_uri(settings.admin_login, parts[0], parts[1], parts[2])))
        self.register_outputs({
            "fqdn": self.fqdn,
            "databaseName": self.database_name,
            "serverId": self.server_id,
            "connectionUri": self.connection_uri,
        })
