"""What the rest of the program needs to know of the cluster, whether it created it or not."""

from dataclasses import dataclass

import pulumi

from airflow_on_k8s.config import ExistingClusterConfig
from airflow_on_k8s.network import Cidrs


@dataclass(frozen=True)
class ClusterFacts:
    kubeconfig: pulumi.Output[str] | None  # secret; None: the ambient kubeconfig
    context: str | None
    oidc_issuer_url: pulumi.Input[str]  # workload identity federation (task logs)
    api_server_url: pulumi.Input[str]  # where Vault reviews pod tokens
    kubelet_object_id: pulumi.Input[str]  # pulls images from ACR
    api_server_cidrs: Cidrs  # the pods' egress rule to the API server


def existing_cluster_facts(cluster: ExistingClusterConfig) -> ClusterFacts:
    """Facts the stack file states; validation made each one present where a part needs it, so an
    empty one is never used."""
    return ClusterFacts(
        kubeconfig=pulumi.Output.secret(cluster.kubeconfig.value) if cluster.kubeconfig else None,
        context=cluster.context,
        oidc_issuer_url=cluster.oidc_issuer_url or "",
        api_server_url=cluster.api_server_url or "",
        kubelet_object_id=cluster.kubelet_object_id or "",
        api_server_cidrs=cluster.api_server_cidrs,
    )
