"""airflow-on-k8s: Apache Airflow on Kubernetes with the KubernetesExecutor.

Config is read and validated before any resource exists; a bad value stops the program with
one line naming the key (see airflow_on_k8s/config.py and the README's config table).
"""

import pulumi
import pulumi_kubernetes as kubernetes

from airflow_on_k8s.config import load_stack_config
from components.airflow_release import AirflowRelease, AirflowReleaseArgs

config = load_stack_config()

kubernetes_provider = kubernetes.Provider(
    "kubernetes",
    kubeconfig=(pulumi.Output.secret(config.kubernetes.kubeconfig.value)
                if config.kubernetes.kubeconfig else None),
    context=config.kubernetes.context,
    # Refuse to fall back to the ambient default namespace for anything namespaced.
    namespace=config.airflow.namespace,
)

airflow = AirflowRelease(
    "airflow",
    AirflowReleaseArgs(
        airflow=config.airflow,
        metadata_connection=pulumi.Output.secret(config.metadata_connection.value),
        git_ssh_private_key=config.airflow.git_sync.ssh_private_key,
    ),
    opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes_provider}),
)

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
