"""Checks for how the Airflow UI is exposed and how the namespace is closed."""

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .azure import StackResource
from .client_secret import SECRET_NAME, literal_client_secrets
from .resources import airflow_helm, dig, helm_resource

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PUBLIC_SERVICE_TYPES = frozenset({"LoadBalancer", "NodePort"})
# The chart renders these values with `tpl` into the Python file the webserver (or API server) imports.
PYTHON_CONFIG_VALUES = ("webserver.webserverConfig", "apiServer.apiServerConfig")
# A `tpl` action that only prints a quoted string ({{ "}}" }}, {{- `x` -}}) or is a comment: the program
# escapes Python's braces this way. Any other action is left in place, so the text fails to parse.
_TPL_TEXT_ACTION = re.compile(
    r"""\{\{(?P<left>-\s)?\s*(?:(?P<quoted>"(?:[^"\\\n]|\\.)*")|`(?P<raw>[^`]*)`|/\*.*?\*/)\s*(?P<right>\s-)?\}\}""",
    re.DOTALL)
_GO_SPACE = " \t\r\n"


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


def _action_text(action: re.Match[str]) -> str:
    if action.group("quoted") is not None:
        try:
            # Go's escapes for the characters that matter here (\\ \" \n \t \uXXXX) are JSON's.
            return str(json.loads(action.group("quoted")))
        except ValueError:
            return action.group(0)
    return action.group("raw") or ""


def render_tpl_text(template: str) -> str:
    """`template` as Helm's `tpl` prints it, where its only actions print quoted strings or are comments."""
    rendered: list[str] = []
    position, trim_next = 0, False
    for action in _TPL_TEXT_ACTION.finditer(template):
        before = template[position:action.start()]
        before = before.lstrip(_GO_SPACE) if trim_next else before
        rendered += [before.rstrip(_GO_SPACE) if action.group("left") else before, _action_text(action)]
        position, trim_next = action.end(), action.group("right") is not None
    rest = template[position:]
    rendered.append(rest.lstrip(_GO_SPACE) if trim_next else rest)
    return "".join(rendered)


def _python_configs(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    helm = helm_resource(resource_type, props)
    if helm is not None:
        for path in PYTHON_CONFIG_VALUES:
            text = dig(helm.values, path)
            if isinstance(text, str):
                yield f"values.{path}", render_tpl_text(text)
    if resource_type == CONFIG_MAP:
        for key, value in (props.get("data") or {}).items():
            # webserver_config.py is mounted from the key of that name; another key is held to the same
            # standard as soon as it mentions the client secret.
            if isinstance(value, str) and (str(key).endswith(".py") or SECRET_NAME in value.lower()):
                yield f"data.{key}", value


def inline_secret_findings(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    for where, text in _python_configs(resource_type, props):
        try:
            found = literal_client_secrets(text)
        except SyntaxError as error:
            # Only the message and line: the text itself might hold the secret.
            yield (f"{where} is not Python ({error.msg}, line {error.lineno}), so it cannot be checked for an "
                   "inline OIDC client secret. Fix it; Helm template actions other than quoted strings "
                   "cannot be checked either.")
            continue
        except (ValueError, RecursionError) as error:
            yield f"{where} cannot be checked for an inline OIDC client secret ({type(error).__name__})."
            continue
        for secret in found:
            yield (f"{where} line {secret.line}: {secret.sink} gets a string literal (or an f-string, or a name "
                   "bound to one). Read the client secret from the environment (os.environ[...]) and fill "
                   "that from a Kubernetes Secret.")


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
