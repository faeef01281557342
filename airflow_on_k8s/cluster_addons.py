"""What a created cluster needs before the UI's Ingress can get an address and a certificate:
an ingress controller and cert-manager, each a pinned Helm release, and an ACME ClusterIssuer.

Controller: Traefik Proxy (chart traefik/traefik). The community ingress-nginx controller was
retired in March 2026 (no more releases or security fixes), and the AKS application routing
add-on's NGINX is supported only through November 2026 while AKS moves to Gateway API. Traefik is
maintained by Traefik Labs, serves the Ingress API this program uses today and Gateway API for
the move after it, and its chart runs as non-root with a read-only root filesystem by default.
Versions: traefik-helm-chart v41.3.0 (appVersion v3.7.11, 2026-08); cert-manager v1.21.1, the
newest release line (cert-manager supports its two latest minor releases).
"""

from typing import Any

from airflow_on_k8s.scheduling import SYSTEM_POOL_SELECTOR

TRAEFIK_CHART = "traefik"
TRAEFIK_REPOSITORY = "https://traefik.github.io/charts"
TRAEFIK_CHART_VERSION = "41.3.0"
TRAEFIK_IMAGE_TAG = "v3.7.11"
CERT_MANAGER_CHART = "cert-manager"
CERT_MANAGER_REPOSITORY = "https://charts.jetstack.io"
CERT_MANAGER_CHART_VERSION = "v1.21.1"
CERT_MANAGER_NAMESPACE = "cert-manager"
LETS_ENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
ADDON_RELEASE_TIMEOUT_SECONDS = 600


def traefik_values(ingress_class: str) -> dict[str, Any]:
    return {
        "image": {"tag": TRAEFIK_IMAGE_TAG},
        # Two replicas on the always-on system pool: the UI survives a node drain.
        "deployment": {"replicas": 2},
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "nodeSelector": SYSTEM_POOL_SELECTOR,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        # The class the Airflow Ingress names; not the cluster default, so nothing else lands on it by accident.
        "ingressClass": {"enabled": True, "isDefaultClass": False, "name": ingress_class},
        "providers": {"kubernetesIngress": {"enabled": True, "publishedService": {"enabled": True}}},
    }


def cert_manager_values() -> dict[str, Any]:
    return {
        "crds": {"enabled": True, "keep": True},
        # AKS manages kube-system; cert-manager keeps its leader-election leases in its own namespace.
        "global": {"leaderElection": {"namespace": CERT_MANAGER_NAMESPACE}},
        "nodeSelector": SYSTEM_POOL_SELECTOR,
        "webhook": {"nodeSelector": SYSTEM_POOL_SELECTOR},
        "cainjector": {"nodeSelector": SYSTEM_POOL_SELECTOR},
        "startupapicheck": {"nodeSelector": SYSTEM_POOL_SELECTOR},
    }


def acme_cluster_issuer_spec(email: str, ingress_class: str, server: str = LETS_ENCRYPT_PRODUCTION
                             ) -> dict[str, Any]:
    """An ACME issuer answering HTTP-01 challenges through the given IngressClass."""
    return {"acme": {
        "server": server,
        "email": email,
        # cert-manager creates and keeps the ACME account key in this Secret.
        "privateKeySecretRef": {"name": "acme-account-key"},
        "solvers": [{"http01": {"ingress": {"ingressClassName": ingress_class}}}],
    }}
