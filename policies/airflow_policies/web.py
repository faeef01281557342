"""Checks for how the Airflow UI is exposed and how the namespace is closed."""

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .azure import StackResource
from .resources import airflow_helm, dig, helm_resource

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PUBLIC_SERVICE_TYPES = frozenset({"LoadBalancer", "NodePort"})
_INLINE_CLIENT_SECRET = re.compile(
    r"""(["']client_secret["']\s*:\s*[rbuf]?["'])"""
    r"""|(\bclient_secret\s*=\s*[rbuf]?["'])|(CLIENT_SECRET\s*=\s*[rbuf]?["'])""")


def ingress_tls_findings(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    if resource_type == INGRESS:
        spec = props.get("spec") or {}
        covered = {host for tls in spec.get("tls") or [] for host in tls.get("hosts") or []}
        hosts = [rule.get("host") for rule in spec.get("rules") or []]
        if not spec.get("tls"):
            yield "the Ingress has no spec.tls. Add a TLS entry (cert-manager issuer or an existing TLS Secret)."
        for host in hosts:
            if spec.get("tls") and host not in covered:
                yield f"host {host!r} is not in any spec.tls[].hosts. Add it to the TLS entry."
    helm = airflow_helm(resource_type, props)
    if helm:
        for section in ("web", "apiServer"):
            enabled = dig(helm.values, f"ingress.{section}.enabled")
            if enabled and not dig(helm.values, f"ingress.{section}.tls.enabled"):
                yield f"values.ingress.{section} is enabled without TLS. Set ingress.{section}.tls.enabled: true."


def webserver_public_findings(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm:
        for section in ("webserver", "apiServer"):
            service_type = dig(helm.values, f"{section}.service.type", "ClusterIP")
            if service_type in PUBLIC_SERVICE_TYPES:
                yield (f"values.{section}.service.type is {service_type!r}: the UI would listen on every node "
                       f"or a public IP. Set values.{section}.service.type: ClusterIP and publish it through "
                       "the TLS Ingress.")
    if resource_type == SERVICE:
        spec = props.get("spec") or {}
        name = str(dig(props, "metadata.name", ""))
        selector = spec.get("selector") or {}
        is_webserver = "webserver" in name or selector.get("component") == "webserver"
        if spec.get("type") in PUBLIC_SERVICE_TYPES and is_webserver:
            yield f"Service {name!r} is of type {spec.get('type')!r}. Make it ClusterIP behind the TLS Ingress."


def inline_secret_findings(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    texts: list[tuple[str, str]] = []
    helm = helm_resource(resource_type, props)
    if helm is not None:
        for path in ("webserver.webserverConfig", "apiServer.apiServerConfig"):
            text = dig(helm.values, path)
            if isinstance(text, str):
                texts.append((f"values.{path}", text))
    if resource_type == CONFIG_MAP:
        texts += [(f"data.{key}", value) for key, value in (props.get("data") or {}).items() if isinstance(value, str)]
    for where, text in texts:
        if _INLINE_CLIENT_SECRET.search(text):
            yield (f"{where} assigns the OIDC client secret a literal. Read it from the environment "
                   "(os.environ[...]) and fill that from a Kubernetes Secret.")


def _airflow_namespaces(resources: Sequence[StackResource]) -> dict[str, str]:
    namespaces: dict[str, str] = {}
    for resource in resources:
        helm = airflow_helm(resource.type, resource.props)
        if helm and helm.is_release:
            namespace = str(resource.props.get("namespace") or "default")
            namespaces[namespace] = resource.urn
    return namespaces


def _is_default_deny(props: Mapping[str, Any]) -> bool:
    spec = props.get("spec") or {}
    selector = spec.get("podSelector") or {}
    return (not selector.get("matchLabels") and not selector.get("matchExpressions")
            and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
            and not spec.get("ingress") and not spec.get("egress"))


def default_deny_findings(resources: Sequence[StackResource], _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    denied = {str(dig(r.props, "metadata.namespace", "")) for r in resources
              if r.type == NETWORK_POLICY and _is_default_deny(r.props)}
    for namespace, urn in _airflow_namespaces(resources).items():
        if namespace not in denied:
            yield urn, (f"namespace {namespace!r} has no default-deny NetworkPolicy (empty podSelector, "
                        "policyTypes Ingress and Egress, no rules). Enable networkPoliciesEnabled.")
