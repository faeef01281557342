"""The TLS Ingress in front of the Airflow UI (the webserver or api-server, a ClusterIP Service)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as kubernetes

from airflow_on_k8s.config import IngressConfig
from airflow_on_k8s.network import AIRFLOW_UI_PORT


def ingress_spec(settings: IngressConfig, release_name: str, service_name: str) -> dict[str, Any]:
    return {
        "ingressClassName": settings.class_name,
        "tls": [{"hosts": [settings.host], "secretName": settings.tls_secret_name or f"{release_name}-ui-tls"}],
        "rules": [{"host": settings.host, "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": service_name, "port": {"number": AIRFLOW_UI_PORT}}},
        }]}}],
    }


@dataclass(frozen=True)
class AirflowIngressArgs:
    settings: IngressConfig
    namespace: pulumi.Input[str]
    release_name: str
    # The chart's UI Service: the webserver's (Airflow 2) or the api-server's (Airflow 3).
    service_name: str
    # The controller and certificate issuer it needs (a created cluster has neither).
    depends_on: Sequence[pulumi.Resource] = ()


class AirflowIngress(pulumi.ComponentResource):
    url: str

    def __init__(self, name: str, args: AirflowIngressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:ingress:AirflowIngress", name, None, opts)
        settings = args.settings
        annotations = {"cert-manager.io/cluster-issuer": settings.cluster_issuer} if settings.cluster_issuer else {}
        kubernetes.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=f"{args.release_name}-ui", namespace=args.namespace,
                                                       annotations=annotations),
            # Kubernetes' own camelCase field names; the SDK passes them through unchanged.
            spec=cast(kubernetes.networking.v1.IngressSpecArgsDict,
                      ingress_spec(settings, args.release_name, args.service_name)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)))
        self.url = f"https://{settings.host}"
        self.register_outputs({"url": self.url})
