"""The ingress controller of a created cluster: Traefik, a pinned Helm release in its own namespace."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from airflow_on_k8s.cluster_addons import (
    ADDON_RELEASE_TIMEOUT_SECONDS,
    TRAEFIK_CHART,
    TRAEFIK_CHART_VERSION,
    TRAEFIK_REPOSITORY,
    traefik_values,
)


@dataclass(frozen=True)
class IngressControllerArgs:
    namespace: str
    ingress_class: str


class IngressController(pulumi.ComponentResource):
    release: kubernetes.helm.v3.Release

    def __init__(self, name: str, args: IngressControllerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:ingress:IngressController", name, None, opts)
        namespace = kubernetes.core.v1.Namespace(
            f"{name}-namespace", metadata=kubernetes.meta.v1.ObjectMetaArgs(name=args.namespace),
            opts=pulumi.ResourceOptions(parent=self))
        self.release = kubernetes.helm.v3.Release(
            f"{name}-release",
            kubernetes.helm.v3.ReleaseArgs(
                name="traefik", chart=TRAEFIK_CHART, version=TRAEFIK_CHART_VERSION,
                repository_opts=kubernetes.helm.v3.RepositoryOptsArgs(repo=TRAEFIK_REPOSITORY),
                namespace=namespace.metadata.name, values=traefik_values(args.ingress_class),
                # Waits until the LoadBalancer Service has its address, so Ingresses get one too.
                atomic=True, timeout=ADDON_RELEASE_TIMEOUT_SECONDS),
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"releaseStatus": self.release.status})
