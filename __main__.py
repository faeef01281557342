"""airflow-on-k8s: Apache Airflow on Kubernetes with the KubernetesExecutor.

Config is read and validated before any resource exists; a bad value stops the program with
one line naming the key (airflow_on_k8s/config/). The components follow in deployment order:
Azure groundwork, the cluster, the database and the image, task-log storage, then what runs in
the cluster (the Airflow release, Vault, the UI, the NetworkPolicies).
"""

import pulumi
import pulumi_azure_native.resources as azure_resources
import pulumi_kubernetes as kubernetes
import pulumi_vault as vault

from airflow_on_k8s.cluster_facts import ClusterFacts, existing_cluster_facts
from airflow_on_k8s.config import (
    CreatedClusterConfig,
    ExistingImageConfig,
    ExistingPostgresConfig,
    ManagedPostgresConfig,
    load_stack_config,
)
from airflow_on_k8s.helm_values import ChartInputs, ImageSettings, TaskLogIdentity
from airflow_on_k8s.naming import secret_names, service_account_names, ui_service_name
from airflow_on_k8s.network import network_policy_specs
from airflow_on_k8s.sso import redirect_uri
from components.airflow_image import AirflowImage, AirflowImageArgs
from components.airflow_ingress import AirflowIngress, AirflowIngressArgs
from components.airflow_network import AirflowNetwork, AirflowNetworkArgs
from components.airflow_release import AirflowRelease, AirflowReleaseArgs
from components.aks_cluster import AksCluster, AksClusterArgs
from components.cert_manager import CertManager, CertManagerArgs
from components.entra_sso_app import EntraSsoApp, EntraSsoAppArgs
from components.ingress_controller import IngressController, IngressControllerArgs
from components.managed_postgres import ManagedPostgres, ManagedPostgresArgs
from components.task_logs import TaskLogStorage, TaskLogStorageArgs
from components.vault_integration import VaultIntegration, VaultIntegrationArgs

config = load_stack_config()
release = config.airflow.release_name
# The names the values give the chart's ServiceAccounts; Vault and the federated credentials bind them.
service_accounts = service_account_names(release, config.airflow.airflow_major)
waits_for: list[pulumi.Resource] = []

# Azure groundwork: a resource group for whatever Azure resources this stack has.
needs_azure = not (isinstance(config.database, ExistingPostgresConfig)
                   and isinstance(config.image, ExistingImageConfig)
                   and not isinstance(config.cluster, CreatedClusterConfig) and config.task_logs is None)
resource_group_name: pulumi.Input[str] = config.azure.resource_group_name or ""
if needs_azure and config.azure.resource_group_name is None:
    keep = config.environment == "prod"
    resource_group = azure_resources.ResourceGroup(
        "airflow", location=config.azure.location,
        opts=pulumi.ResourceOptions(protect=keep, retain_on_delete=keep))
    resource_group_name = resource_group.name

# The cluster: created here, or an existing one described by the stack file.
cluster: ClusterFacts
if isinstance(config.cluster, CreatedClusterConfig):
    private_zones = ((config.database.private_dns_zone_id,)
                     if isinstance(config.database, ManagedPostgresConfig) and config.database.private_dns_zone_id
                     else ())
    aks = AksCluster("aks", AksClusterArgs(settings=config.cluster, resource_group_name=resource_group_name,
                                           location=config.azure.location, linked_dns_zone_ids=private_zones))
    cluster = aks.facts
    pulumi.export("clusterName", aks.cluster_name)
else:
    cluster = existing_cluster_facts(config.cluster)

# The metadata database.
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

# The image every Airflow pod and task pod runs.
if isinstance(config.image, ExistingImageConfig):
    image = ImageSettings(repository=config.image.image.repository, tag=config.image.image.tag,
                          pull_secret_name=config.image.pull_secret_name)
else:
    airflow_image = AirflowImage("airflow-image", AirflowImageArgs(
        settings=config.image, airflow_version=config.airflow.airflow_version,
        resource_group_name=resource_group_name, location=config.azure.location,
        kubelet_object_id=cluster.kubelet_object_id))
    # By digest: the tag names the build context, the digest the exact image that was pushed.
    image = ImageSettings(repository=airflow_image.repository, tag=airflow_image.tag, digest=airflow_image.digest)
    pulumi.export("imageDigest", airflow_image.digest)
    waits_for.append(airflow_image)
    pulumi.export("registryLoginServer", airflow_image.login_server)
pulumi.export("imageRepository", image.repository)
pulumi.export("imageTag", image.tag)

# Task logs in Blob Storage, written as a workload identity federated with the release's ServiceAccounts.
task_log_identity: TaskLogIdentity | None = None
if config.task_logs is not None:
    task_logs = TaskLogStorage("task-logs", TaskLogStorageArgs(
        settings=config.task_logs, resource_group_name=resource_group_name, location=config.azure.location,
        oidc_issuer_url=cluster.oidc_issuer_url, namespace=config.airflow.namespace,
        service_accounts=service_accounts.as_dict()))
    task_log_identity = TaskLogIdentity(client_id=task_logs.client_id, account_url=task_logs.account_url,
                                        container=task_logs.container)
    waits_for.append(task_logs)
    pulumi.export("taskLogsUrl", pulumi.Output.concat(task_logs.account_url, "/", task_logs.container))

# Providers for what runs in the cluster. The Vault token comes from VAULT_TOKEN, never from a file.
kubernetes_provider = kubernetes.Provider(
    "kubernetes", kubeconfig=cluster.kubeconfig, context=cluster.context,
    # Namespaced objects without an explicit namespace land in Airflow's, never in `default`.
    namespace=config.airflow.namespace)
in_cluster = pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider})
vault_provider = (vault.Provider("vault", address=config.vault.address, namespace=config.vault.namespace)
                  if config.vault else None)

# Single sign-on: the Entra ID application (when the program manages it) or the configured one.
sso_client_id: pulumi.Input[str] | None = None
sso_client_secret: pulumi.Output[str] | None = None
if config.sso is not None:
    assert config.ingress is not None
    sso_redirect_uri = redirect_uri(config.sso.provider, config.ingress.host, config.airflow.airflow_major)
    sso_client_id = config.sso.client_id
    if config.sso.managed_app is not None:
        sso_app = EntraSsoApp("sso", EntraSsoAppArgs(settings=config.sso, display_name=f"Airflow ({config.stack})",
                                                   redirect_uri=sso_redirect_uri))
        sso_client_id, sso_client_secret = sso_app.client_id, sso_app.client_secret
    elif config.sso.client_secret is not None:
        sso_client_secret = pulumi.Output.secret(config.sso.client_secret.value)
    else:
        assert config.vault is not None and config.sso.client_secret_vault_path is not None
        stored = vault.kv.get_secret_v2_output(mount=config.vault.kv_mount, name=config.sso.client_secret_vault_path,
                                               opts=pulumi.InvokeOutputOptions(provider=vault_provider))
        sso_client_secret = pulumi.Output.secret(stored.data.apply(lambda data: str(data["client_secret"])))
    pulumi.export("ssoClientId", sso_client_id)
    pulumi.export("ssoRedirectUri", sso_redirect_uri)

# The Airflow release.
airflow = AirflowRelease("airflow", AirflowReleaseArgs(
    chart=ChartInputs(airflow=config.airflow, git=config.git, secret_names=secret_names(release),
                      service_accounts=service_accounts, image=image, task_logs=task_log_identity,
                      vault=config.vault, ingress_host=config.ingress.host if config.ingress else None,
                      sso=config.sso, sso_client_id=sso_client_id),
    metadata_connection=metadata_connection, sso_client_secret=sso_client_secret, depends_on=waits_for),
    opts=in_cluster)

# Vault: pods log in with their own ServiceAccount token and read two folders.
if config.vault is not None and vault_provider is not None:
    vault_integration = VaultIntegration("vault", VaultIntegrationArgs(
        settings=config.vault, namespace=airflow.namespace, kubernetes_host=cluster.api_server_url,
        bound_service_accounts=service_accounts.vault_readers(config.vault.bind_webserver), release_name=release),
        opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider, "vault": vault_provider}))
    pulumi.export("vaultRole", vault_integration.role_name)
    pulumi.export("vaultPolicy", vault_integration.policy_name)

# The UI. A created cluster has neither an ingress controller nor cert-manager: the Ingress would
# wait for an address and a certificate that never come.
if config.ingress is not None:
    ingress_needs: list[pulumi.Resource] = []
    if isinstance(config.cluster, CreatedClusterConfig):
        controller = IngressController("ingress-controller", IngressControllerArgs(
            namespace=config.ingress.controller_namespace, ingress_class=config.ingress.class_name), opts=in_cluster)
        ingress_needs.append(controller.release)
        if config.ingress.cluster_issuer:
            cert_manager = CertManager("cert-manager", CertManagerArgs(
                cluster_issuer=config.ingress.cluster_issuer, acme_email=config.ingress.acme_email,
                ingress_class=config.ingress.class_name), opts=in_cluster)
            ingress_needs.extend(cert_manager.ready)
    ingress = AirflowIngress("ui", AirflowIngressArgs(
        settings=config.ingress, namespace=airflow.namespace, release_name=release,
        service_name=ui_service_name(release, config.airflow.airflow_major), depends_on=ingress_needs),
                             opts=in_cluster)
    pulumi.export("uiUrl", ingress.url)

# The namespace's NetworkPolicies.
if config.network is not None:
    AirflowNetwork("network", AirflowNetworkArgs(
        namespace=airflow.namespace,
        policies=network_policy_specs(release, config.network, config.ingress, config.vault,
                                      kube_api_cidrs=cluster.api_server_cidrs, git_port=config.git.port,
                                      postgres_cidrs=database_cidrs, airflow_major=config.airflow.airflow_major)),
        opts=in_cluster)

pulumi.export("environment", config.environment)
pulumi.export("namespace", airflow.namespace)
pulumi.export("releaseName", airflow.release_name)
pulumi.export("serviceAccounts", service_accounts.as_dict())
pulumi.export("secretNames", airflow.created_secrets)
if airflow.deploy_public_key is not None:
    pulumi.export("gitDeployPublicKey", airflow.deploy_public_key)
