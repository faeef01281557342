"""airflow-on-k8s: Apache Airflow on Kubernetes with the KubernetesExecutor.

Config is read and validated before any resource exists; a bad value stops the program with
one line naming the key (see airflow_on_k8s/config.py and the README's config table).
"""

import pulumi
import pulumi_azure_native.resources as azure_resources
import pulumi_kubernetes as kubernetes
import pulumi_vault as vault

from airflow_on_k8s.config import ExistingImageConfig, ExistingPostgresConfig, load_stack_config
from airflow_on_k8s.helm_values import ImageSettings
from airflow_on_k8s.vault import secrets_config_section
from components.airflow_image import AirflowImage, AirflowImageArgs
from components.airflow_release import AirflowRelease, AirflowReleaseArgs
from components.managed_postgres import ManagedPostgres, ManagedPostgresArgs
from components.vault_integration import VaultIntegration, VaultIntegrationArgs

config = load_stack_config()
waits_for: list[pulumi.Resource] = []

needs_azure = not (isinstance(config.database, ExistingPostgresConfig)
                   and isinstance(config.image, ExistingImageConfig))
resource_group_name: pulumi.Input[str] = config.azure.resource_group_name or ""
if needs_azure and config.azure.resource_group_name is None:
    keep = config.environment == "prod"
    resource_group = azure_resources.ResourceGroup(
        "airflow", location=config.azure.location,
        opts=pulumi.ResourceOptions(protect=keep, retain_on_delete=keep))
    resource_group_name = resource_group.name

metadata_connection: pulumi.Output[str]
if isinstance(config.database, ExistingPostgresConfig):
    metadata_connection = pulumi.Output.secret(config.database.connection.value)
    pulumi.export("databaseFqdn", config.database.fqdn)
else:
    database = ManagedPostgres("metadata-db", ManagedPostgresArgs(
        settings=config.database, resource_group_name=resource_group_name, location=config.azure.location))
    metadata_connection = database.connection_uri
    waits_for.append(database)
    pulumi.export("databaseFqdn", database.fqdn)
    pulumi.export("databaseName", database.database_name)
    pulumi.export("databaseServerId", database.server_id)
pulumi.export("metadataConnection", metadata_connection)

if isinstance(config.image, ExistingImageConfig):
    image = ImageSettings(repository=config.image.image.repository, tag=config.image.image.tag,
                          pull_secret_name=config.image.pull_secret_name)
else:
    airflow_image = AirflowImage("airflow-image", AirflowImageArgs(
        settings=config.image, airflow_version=config.airflow.airflow_version,
        resource_group_name=resource_group_name, location=config.azure.location))
    image = ImageSettings(repository=airflow_image.repository, tag=airflow_image.tag)
    waits_for.append(airflow_image)
    pulumi.export("registryLoginServer", airflow_image.login_server)
pulumi.export("imageRepository", image.repository)
pulumi.export("imageTag", image.tag)

kubernetes_provider = kubernetes.Provider(
    "kubernetes",
    kubeconfig=(pulumi.Output.secret(config.kubernetes.kubeconfig.value)
                if config.kubernetes.kubeconfig else None),
    context=config.kubernetes.context,
    # Namespaced objects without an explicit namespace land in Airflow's, never in `default`.
    namespace=config.airflow.namespace,
)

airflow = AirflowRelease(
    "airflow",
    AirflowReleaseArgs(
        airflow=config.airflow,
        metadata_connection=metadata_connection,
        image=image,
        git_ssh_private_key=config.airflow.git_sync.ssh_private_key,
        depends_on=waits_for,
        extra_config={"secrets": secrets_config_section(config.vault)} if config.vault else {},
    ),
    opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider}),
)

if config.vault is not None:
    # The token comes from VAULT_TOKEN in the environment, never from a committed file.
    vault_provider = vault.Provider("vault", address=config.vault.address, namespace=config.vault.namespace)
    vault_integration = VaultIntegration(
        "vault",
        VaultIntegrationArgs(settings=config.vault, namespace=airflow.namespace,
                             service_accounts=airflow.service_accounts,
                             release_name=config.airflow.release_name),
        opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider, "vault": vault_provider}),
    )
    pulumi.export("vaultRole", vault_integration.role_name)
    pulumi.export("vaultPolicy", vault_integration.policy_name)

pulumi.export("environment", config.environment)
pulumi.export("namespace", airflow.namespace)
pulumi.export("releaseName", airflow.release_name)
pulumi.export("serviceAccounts", airflow.service_accounts)
pulumi.export("secretNames", {
    "metadataConnection": airflow.secret_names.metadata_connection,
    "fernetKey": airflow.secret_names.fernet_key,
    "webserverSecretKey": airflow.secret_names.webserver_secret_key,
    "gitSshKey": airflow.secret_names.git_ssh_key,
    "adminBootstrap": airflow.secret_names.admin_bootstrap,
})
if airflow.deploy_public_key is not None:
    pulumi.export("gitDeployPublicKey", airflow.deploy_public_key)
