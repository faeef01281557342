"""airflow-on-k8s: Apache Airflow on Kubernetes with the KubernetesExecutor.

Config is read and validated before any resource exists; a bad value stops the program with
one line naming the key (see airflow_on_k8s/config.py and the README's config table).
"""

from typing import Any

import pulumi
import pulumi_azure_native.resources as azure_resources
import pulumi_kubernetes as kubernetes
import pulumi_vault as vault

from airflow_on_k8s.config import (
    ExistingImageConfig,
    ExistingPostgresConfig,
    ManagedPostgresConfig,
    load_stack_config,
)
from airflow_on_k8s.helm_values import ImageSettings, deep_merge
from airflow_on_k8s.naming import service_account_names
from airflow_on_k8s.network import network_policy_specs
from airflow_on_k8s.scheduling import scheduling_values, task_log_values
from airflow_on_k8s.vault import secrets_config_section
from components.airflow_image import AirflowImage, AirflowImageArgs
from components.airflow_ingress import AirflowIngress, AirflowIngressArgs
from components.airflow_network import AirflowNetwork, AirflowNetworkArgs
from components.airflow_release import AirflowRelease, AirflowReleaseArgs, SsoLogin
from components.aks_cluster import AksCluster, AksClusterArgs
from components.cert_manager import CertManager, CertManagerArgs
from components.ingress_controller import IngressController, IngressControllerArgs
from components.managed_postgres import ManagedPostgres, ManagedPostgresArgs
from components.task_logs import TaskLogStorage, TaskLogStorageArgs
from components.vault_integration import VaultIntegration, VaultIntegrationArgs

config = load_stack_config()


def _cluster_output(created: "AksCluster | None") -> "AksCluster":
    """The created cluster, which config validation guarantees when a value must come from it."""
    assert created is not None, "config validation requires this value when no cluster is created"
    return created


waits_for: list[pulumi.Resource] = []

needs_azure = not (isinstance(config.database, ExistingPostgresConfig)
                   and isinstance(config.image, ExistingImageConfig)
                   and config.cluster is None and config.task_logs is None)
resource_group_name: pulumi.Input[str] = config.azure.resource_group_name or ""
if needs_azure and config.azure.resource_group_name is None:
    keep = config.environment == "prod"
    resource_group = azure_resources.ResourceGroup(
        "airflow", location=config.azure.location,
        opts=pulumi.ResourceOptions(protect=keep, retain_on_delete=keep))
    resource_group_name = resource_group.name

cluster: AksCluster | None = None
if config.cluster is not None:
    private_zones = ((config.database.private_dns_zone_id,)
                     if isinstance(config.database, ManagedPostgresConfig) and config.database.private_dns_zone_id
                     else ())
    cluster = AksCluster("aks", AksClusterArgs(
        settings=config.cluster, resource_group_name=resource_group_name, location=config.azure.location,
        dns_prefix=f"airflow-{config.stack}", linked_dns_zone_ids=private_zones))
    pulumi.export("clusterName", cluster.cluster_name)

metadata_connection: pulumi.Output[str]
database_cidrs: pulumi.Output[list[str]] | None = None
if isinstance(config.database, ExistingPostgresConfig):
    metadata_connection = pulumi.Output.secret(config.database.connection.value)
    pulumi.export("databaseFqdn", config.database.fqdn)
else:
    database = ManagedPostgres("metadata-db", ManagedPostgresArgs(
        settings=config.database, resource_group_name=resource_group_name, location=config.azure.location))
    metadata_connection = database.connection_uri
    database_cidrs = database.network_cidrs
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
        resource_group_name=resource_group_name, location=config.azure.location,
        kubelet_object_id=(config.image.kubelet_object_id if config.image.kubelet_object_id is not None
                           else _cluster_output(cluster).kubelet_object_id)))
    image = ImageSettings(repository=airflow_image.repository, tag=airflow_image.tag)
    waits_for.append(airflow_image)
    pulumi.export("registryLoginServer", airflow_image.login_server)
pulumi.export("imageRepository", image.repository)
pulumi.export("imageTag", image.tag)

kubeconfig: pulumi.Output[str] | None = None
if cluster is not None:
    kubeconfig = cluster.kubeconfig
elif config.kubernetes.kubeconfig is not None:
    kubeconfig = pulumi.Output.secret(config.kubernetes.kubeconfig.value)
kubernetes_provider = kubernetes.Provider(
    "kubernetes",
    kubeconfig=kubeconfig,
    context=None if cluster is not None else config.kubernetes.context,
    # Namespaced objects without an explicit namespace land in Airflow's, never in `default`.
    namespace=config.airflow.namespace,
)
# The token comes from VAULT_TOKEN in the environment, never from a committed file.
vault_provider = (vault.Provider("vault", address=config.vault.address, namespace=config.vault.namespace)
                  if config.vault else None)

overrides: dict[str, Any] = deep_merge({"webserver": {"service": {"type": "ClusterIP"}}},
                                       scheduling_values(config.scheduling))
if config.task_logs is not None:
    task_logs = TaskLogStorage("task-logs", TaskLogStorageArgs(
        settings=config.task_logs, resource_group_name=resource_group_name, location=config.azure.location,
        oidc_issuer_url=(config.task_logs.oidc_issuer_url if config.task_logs.oidc_issuer_url is not None
                         else _cluster_output(cluster).oidc_issuer_url),
        namespace=config.airflow.namespace,
        # The names the chart gives the release's ServiceAccounts (the same rule AirflowRelease exports).
        service_accounts=service_account_names(config.airflow.release_name).as_dict()))
    overrides = deep_merge(overrides, task_log_values(task_logs.client_id, task_logs.account_url,
                                                      task_logs.container))
    waits_for.append(task_logs)
    pulumi.export("taskLogsUrl", pulumi.Output.concat(task_logs.account_url, "/", task_logs.container))
if config.vault is not None:
    overrides = deep_merge(overrides, {"config": {"secrets": secrets_config_section(config.vault)}})
    if not config.vault.bind_webserver:
        # The Vault role does not admit the webserver: keep it on Airflow's own backends instead of
        # failing a Vault login on every connection lookup.
        overrides = deep_merge(overrides, {"webserver": {"env": [{"name": "AIRFLOW__SECRETS__BACKEND", "value": ""}]}})
if config.ingress is not None:
    overrides = deep_merge(overrides, {"config": {"webserver": {
        "base_url": f"https://{config.ingress.host}",
        # Behind the ingress controller: trust X-Forwarded-* so OAuth redirects use https.
        "enable_proxy_fix": "True",
    }}})

sso: SsoLogin | None = None
if config.sso is not None:
    sso_client_secret: pulumi.Output[str]
    if config.sso.client_secret is not None:
        sso_client_secret = pulumi.Output.secret(config.sso.client_secret.value)
    else:
        assert config.vault is not None and config.sso.client_secret_vault_path is not None
        stored = vault.kv.get_secret_v2_output(mount=config.vault.kv_mount, name=config.sso.client_secret_vault_path,
                                               opts=pulumi.InvokeOutputOptions(provider=vault_provider))
        sso_client_secret = pulumi.Output.secret(stored.data.apply(lambda data: str(data["client_secret"])))
    sso = SsoLogin(settings=config.sso, client_secret=sso_client_secret)

airflow = AirflowRelease(
    "airflow",
    AirflowReleaseArgs(
        airflow=config.airflow,
        metadata_connection=metadata_connection,
        image=image,
        git_ssh_private_key=config.airflow.git_sync.ssh_private_key,
        depends_on=waits_for,
        value_overrides=overrides,
        sso=sso,
    ),
    opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider}),
)

if config.vault is not None and vault_provider is not None:
    vault_integration = VaultIntegration(
        "vault",
        VaultIntegrationArgs(settings=config.vault, namespace=airflow.namespace,
                             kubernetes_host=(config.vault.kubernetes_host if config.vault.kubernetes_host is not None
                                              else _cluster_output(cluster).api_server_url),
                             service_accounts=airflow.service_accounts,
                             release_name=config.airflow.release_name),
        opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider, "vault": vault_provider}),
    )
    pulumi.export("vaultRole", vault_integration.role_name)
    pulumi.export("vaultPolicy", vault_integration.policy_name)

if config.ingress is not None:
    # A created cluster has neither an ingress controller nor cert-manager: the Ingress would wait
    # for an address and a certificate that never come.
    ingress_needs: list[pulumi.Resource] = []
    if cluster is not None:
        controller = IngressController("ingress-controller", IngressControllerArgs(
            namespace=config.ingress.controller_namespace, ingress_class=config.ingress.class_name),
            opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider}))
        ingress_needs.append(controller.release)
        if config.ingress.cluster_issuer:
            cert_manager = CertManager("cert-manager", CertManagerArgs(
                cluster_issuer=config.ingress.cluster_issuer, acme_email=config.ingress.acme_email,
                ingress_class=config.ingress.class_name),
                opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider}))
            ingress_needs.extend(cert_manager.ready)
    ingress = AirflowIngress("ui", AirflowIngressArgs(settings=config.ingress, namespace=airflow.namespace,
                                                      release_name=config.airflow.release_name,
                                                      depends_on=ingress_needs),
                             opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider}))
    pulumi.export("uiUrl", ingress.url)

if config.network is not None:
    AirflowNetwork("network", AirflowNetworkArgs(
        namespace=airflow.namespace,
        policies=network_policy_specs(config.airflow.release_name, config.network, config.ingress, config.vault,
                                      git_port=config.airflow.git_sync.port, postgres_cidrs=database_cidrs,
                                      kube_api_cidrs=cluster.api_server_cidrs if cluster else None)),
        opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider}))

pulumi.export("environment", config.environment)
pulumi.export("namespace", airflow.namespace)
pulumi.export("releaseName", airflow.release_name)
pulumi.export("serviceAccounts", airflow.service_accounts)
pulumi.export("secretNames", airflow.created_secrets)
if airflow.deploy_public_key is not None:
    pulumi.export("gitDeployPublicKey", airflow.deploy_public_key)
