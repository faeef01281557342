"""cert-manager for a created cluster (pinned Helm release with its CRDs) and, when asked, the
ACME ClusterIssuer that the UI's certificate comes from."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from airflow_on_k8s.cluster_addons import (
    ADDON_RELEASE_TIMEOUT_SECONDS,
    CERT_MANAGER_CHART,
    CERT_MANAGER_CHART_VERSION,
    CERT_MANAGER_NAMESPACE,
    CERT_MANAGER_REPOSITORY,
    acme_cluster_issuer_spec,
    cert_manager_values,
)


@dataclass(frozen=True)
class CertManagerArgs:
    # The ClusterIssuer to create and its ACME account e-mail; None: only cert-manager.
    cluster_issuer: str | None
    acme_email: str | None
    ingress_class: str


class CertManager(pulumi.ComponentResource):
    # What an Ingress that asks for a certificate must wait for.
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:ingress:CertManager", name, None, opts)
        namespace = kubernetes.core.v1.Namespace(
            f"{name}-namespace", metadata=kubernetes.meta.v1.ObjectMetaArgs(name=CERT_MANAGER_NAMESPACE),
            opts=pulumi.ResourceOptions(parent=self))
        release = kubernetes.helm.v3.Release(
            f"{name}-release",
            kubernetes.helm.v3.ReleaseArgs(
                name="cert-manager", chart=CERT_MANAGER_CHART, version=CERT_MANAGER_CHART_VERSION,
                repository_opts=kubernetes.helm.v3.RepositoryOptsArgs(repo=CERT_MANAGER_REPOSITORY),
                namespace=namespace.metadata.name, values=cert_manager_values(),
                atomic=True, timeout=ADDON_RELEASE_TIMEOUT_SECONDS),
            opts=pulumi.ResourceOptions(parent=self))
        self.ready = [release]
        if args.cluster_issuer and args.acme_email:
            self.ready.append(kubernetes.apiextensions.CustomResource(
                f"{name}-cluster-issuer",
                api_version="cert-manager.io/v1", kind="ClusterIssuer",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=args.cluster_issuer),
                spec=acme_cluster_issuer_spec(args.acme_email, args.ingress_class),
                # The ClusterIssuer kind exists once the release has installed cert-manager's CRDs.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[release])))
        self.register_outputs({"releaseStatus": release.status})
