"""Blob storage for task logs, written by Airflow through workload identity (no storage key)."""

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.storage as storage
import pulumi_random as random

from airflow_on_k8s.azure_ids import built_in_role_definition_id
from airflow_on_k8s.config import TaskLogsConfig

# Built-in role "Storage Blob Data Contributor".
BLOB_DATA_CONTRIBUTOR_ROLE_ID = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


def service_account_subject(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


@dataclass(frozen=True)
class TaskLogStorageArgs:
    settings: TaskLogsConfig
    resource_group_name: pulumi.Input[str]
    location: str
    oidc_issuer_url: pulumi.Input[str]
    namespace: str
    # role -> ServiceAccount name, as the release sets them (airflow_on_k8s.naming)
    service_accounts: Mapping[str, str]


class TaskLogStorage(pulumi.ComponentResource):
    client_id: pulumi.Output[str]
    account_url: pulumi.Output[str]
    container: str

    def __init__(self, name: str, args: TaskLogStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:logs:TaskLogStorage", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        account_name: pulumi.Input[str]
        if settings.storage_account_name:
            account_name = settings.storage_account_name
        else:
            suffix = random.RandomString(f"{name}-account-suffix", length=12, special=False, upper=False, opts=child)
            account_name = pulumi.Output.concat("airflowlogs", suffix.result)
        account = storage.StorageAccount(
            f"{name}-account", account_name=account_name, resource_group_name=args.resource_group_name,
            location=args.location, kind="StorageV2", sku=storage.SkuArgs(name="Standard_ZRS"),
            allow_blob_public_access=False, allow_shared_key_access=False, minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True, opts=child)
        storage.BlobContainer(
            f"{name}-container", account_name=account.name, resource_group_name=args.resource_group_name,
            container_name=settings.container, public_access=storage.PublicAccess.NONE, opts=child)
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity", resource_group_name=args.resource_group_name, location=args.location, opts=child)
        authorization.RoleAssignment(
            f"{name}-blob-writer", principal_id=identity.principal_id, principal_type="ServicePrincipal",
            role_definition_id=account.id.apply(
                lambda scope: built_in_role_definition_id(scope, BLOB_DATA_CONTRIBUTOR_ROLE_ID)),
            scope=account.id, description="Airflow writes and reads task logs.", opts=child)
        previous: list[pulumi.Resource] = []
        for role, service_account in args.service_accounts.items():
            # Azure refuses concurrent writes of credentials on one identity: one after another.
            credential = managedidentity.FederatedIdentityCredential(
                f"{name}-federation-{role}", resource_group_name=args.resource_group_name,
                resource_name_=identity.name, federated_identity_credential_resource_name=f"airflow-{role}",
                issuer=args.oidc_issuer_url, subject=service_account_subject(args.namespace, service_account),
                audiences=[TOKEN_EXCHANGE_AUDIENCE], opts=pulumi.ResourceOptions(parent=self, depends_on=previous))
            previous = [credential]
        self.client_id = identity.client_id
        self.account_url = account.name.apply(lambda account_name_: f"https://{account_name_}.blob.core.windows.net")
        self.container = settings.container
        self.register_outputs({"clientId": self.client_id, "accountUrl": self.account_url,
                               "container": self.container})
