"""NetworkPolicies for the Airflow namespace: deny everything, then allow what each part needs.

Which component needs what differs per Airflow line (`line_components`): Airflow 3 moves the UI to
the api-server, DAG parsing and git-sync to the dag-processor, and task pods talk to the
api-server's execution API instead of the metadata database.

Pods are selected by the labels the chart puts on every pod it renders, task pods included:
`tier: airflow`, `component: <scheduler|webserver|triggerer|worker|statsd|...>`,
`release: <release name>` (task pods are `component: worker`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi

from airflow_on_k8s.config import IngressConfig, NetworkConfig, VaultConfig

# Chart 1.16 defaults (values.yaml `ports`), which this program does not change.
AIRFLOW_UI_PORT = 8080
WORKER_LOGS_PORT = 8793
TRIGGERER_LOGS_PORT = 8794
STATSD_INGEST_PORT = 9125
POSTGRES_PORT = 5432
DNS_PORT = 53
KUBE_API_PORT = 443
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
ACME_SOLVER_PORT = 8089


def _pods(release: str, *components: str) -> dict[str, Any]:
    selector: dict[str, Any] = {"matchLabels": {"tier": "airflow", "release": release}}
    if len(components) == 1:
        selector["matchLabels"]["component"] = components[0]
    elif components:
        selector["matchExpressions"] = [{"key": "component", "operator": "In", "values": list(components)}]
    return selector


def _ports(*ports: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": port} for port in ports]


# CIDRs typed in config, or read from Azure while the program runs (a subnet's address prefixes).
Cidrs = Sequence[str] | pulumi.Output[list[str]]


def _peers(cidrs: Sequence[str]) -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]


def _to_cidrs(cidrs: Cidrs) -> list[dict[str, Any]] | pulumi.Output[list[dict[str, Any]]]:
    return cidrs.apply(_peers) if isinstance(cidrs, pulumi.Output) else _peers(cidrs)


def _egress(name: str, selector: dict[str, Any], to: list[dict[str, Any]] | pulumi.Output[list[dict[str, Any]]],
            ports: list[dict[str, Any]] | None) -> tuple[str, dict[str, Any]]:
    rule: dict[str, Any] = {"to": to}
    if ports:
        rule["ports"] = ports
    return name, {"podSelector": selector, "policyTypes": ["Egress"], "egress": [rule]}


def vault_port(vault: VaultConfig) -> int:
    return urlsplit(vault.address).port or 443


@dataclass(frozen=True)
class LineComponents:
    """The chart's `component` labels that need each destination, for one Airflow line."""

    ui: str  # serves the UI behind the ingress controller and reads task logs
    database: tuple[str, ...] | None  # None: every Airflow pod
    git: tuple[str, ...]  # runs git-sync
    kube_api: tuple[str, ...]  # calls the Kubernetes API
    identity: tuple[str, ...]  # logs in to Vault and Entra ID, reads or writes Blob Storage
    execution_api_clients: tuple[str, ...]  # call the api-server's execution API (Airflow 3)


def line_components(airflow_major: int) -> LineComponents:
    if airflow_major >= 3:
        return LineComponents(
            ui="api-server",
            # Task pods reach the database only through the execution API; every long-lived pod and
            # the migration Job still open it (their wait-for-migrations init containers too).
            database=("scheduler", "api-server", "triggerer", "dag-processor", "run-airflow-migrations"),
            git=("dag-processor", "triggerer", "worker"),
            # The scheduler creates, watches and deletes task pods; the api-server reads their logs.
            kube_api=("scheduler", "api-server"),
            identity=("worker", "scheduler", "triggerer", "api-server", "dag-processor"),
            execution_api_clients=("worker",))
    return LineComponents(ui="webserver", database=None, git=("scheduler", "triggerer", "worker"),
                          kube_api=("scheduler", "webserver"),
                          identity=("worker", "scheduler", "triggerer", "webserver"), execution_api_clients=())


def network_policy_specs(release: str, network: NetworkConfig, ingress: IngressConfig | None,
                         vault: VaultConfig | None, *, kube_api_cidrs: Cidrs, git_port: int = 22,
                         postgres_cidrs: Cidrs | None = None, airflow_major: int = 2
                         ) -> list[tuple[str, dict[str, Any]]]:
    """(name, NetworkPolicy spec) pairs, default-deny first. `postgres_cidrs` replaces the typed list
    where the program reads the database's subnet from Azure."""
    line = line_components(airflow_major)
    everything: dict[str, Any] = {}
    airflow = _pods(release)
    ui = _pods(release, line.ui)
    specs: list[tuple[str, dict[str, Any]]] = [
        ("default-deny", {"podSelector": everything, "policyTypes": ["Ingress", "Egress"]}),
        _egress("allow-dns", everything,
                [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}}}],
                _ports(DNS_PORT, protocol="UDP") + _ports(DNS_PORT)),
        _egress("allow-metadata-db", airflow if line.database is None else _pods(release, *line.database),
                _to_cidrs(network.postgres_cidrs if postgres_cidrs is None else postgres_cidrs),
                _ports(POSTGRES_PORT)),
        _egress("allow-kube-api", _pods(release, *line.kube_api), _to_cidrs(kube_api_cidrs), _ports(KUBE_API_PORT)),
        # git-sync: a sidecar of the long-lived parsers and the task pods' init container.
        _egress("allow-git", _pods(release, *line.git),
                _to_cidrs(network.git_cidrs or ("0.0.0.0/0",)), _ports(git_port)),
        _egress("allow-statsd-egress", airflow, [{"podSelector": _pods(release, "statsd")}],
                _ports(STATSD_INGEST_PORT, protocol="UDP")),
        ("allow-statsd-ingress", {
            "podSelector": _pods(release, "statsd"), "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": airflow}], "ports": _ports(STATSD_INGEST_PORT, protocol="UDP")}],
        }),
        # The UI reads running tasks' logs from the worker and triggerer log servers.
        _egress("allow-task-logs-egress", ui, [{"podSelector": _pods(release, "worker", "triggerer")}],
                _ports(WORKER_LOGS_PORT, TRIGGERER_LOGS_PORT)),
        ("allow-task-logs-ingress", {
            "podSelector": _pods(release, "worker", "triggerer"), "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": ui}], "ports": _ports(WORKER_LOGS_PORT, TRIGGERER_LOGS_PORT)}],
        }),
    ]
    if line.execution_api_clients:
        # Airflow 3 task pods start, heartbeat and finish through the api-server: without this every task fails.
        clients = _pods(release, *line.execution_api_clients)
        specs += [
            _egress("allow-execution-api-egress", clients, [{"podSelector": ui}], _ports(AIRFLOW_UI_PORT)),
            ("allow-execution-api-ingress", {
                "podSelector": ui, "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": clients}], "ports": _ports(AIRFLOW_UI_PORT)}],
            }),
        ]
    if vault is not None:
        specs.append(_egress("allow-vault", _pods(release, *line.identity),
                             _to_cidrs(network.vault_cidrs), _ports(vault_port(vault))))
    if ingress is not None:
        specs.append(("allow-ingress-controller", {
            "podSelector": ui, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                NAMESPACE_NAME_LABEL: ingress.controller_namespace}}}], "ports": _ports(AIRFLOW_UI_PORT)}],
        }))
    if network.https_egress_cidrs:
        # Entra ID token exchange (workload identity, SSO), Blob Storage (task logs), the IdP.
        specs.append(_egress("allow-https-services", _pods(release, *line.identity),
                             _to_cidrs(network.https_egress_cidrs), _ports(443)))
    if ingress is not None and ingress.cluster_issuer:
        # cert-manager's HTTP-01 solver pods answer the ACME challenge in this namespace.
        specs.append(("allow-acme-solver", {
            "podSelector": {"matchLabels": {ACME_SOLVER_LABEL: "true"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                NAMESPACE_NAME_LABEL: ingress.controller_namespace}}}], "ports": _ports(ACME_SOLVER_PORT)}],
        }))
    if network.task_egress_cidrs:
        specs.append(_egress("allow-task-egress", _pods(release, "worker"), _to_cidrs(network.task_egress_cidrs),
                             None))
    return [(f"{release}-{name}", spec) for name, spec in specs]
