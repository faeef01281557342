"""The Airflow release: where it runs, which chart and Airflow, replicas, task pods, scheduling."""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from airflow_on_k8s.config.reader import KeySpec, Reader, check, dns_label, exact_version
from airflow_on_k8s.errors import ConfigError
from airflow_on_k8s.quantities import parse_quantity

Environment = Literal["dev", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("dev", "prod")
MAX_HELM_RELEASE_NAME = 53  # Helm's own limit; chart object names append suffixes to it
# The (chart, Airflow) pairs this program renders values for, one per chart line. Chart 1.16.0
# cannot run Airflow 3 (no JWT or API secret, no webserver_config for the api-server); charts
# from 1.20.0 refuse Airflow older than 2.11. The policy pack restates this table
# (airflow-chart-compatible); a test keeps the two equal.
SUPPORTED_PAIRS: dict[str, str] = {"1.16.0": "2.10.3", "1.19.0": "3.3.2"}

KEYS: tuple[KeySpec, ...] = (
    KeySpec("environment", "string",
            "dev or prod: prod protects the database and tightens policy levels. Empty: the stack name, if it "
            "is dev or prod.", ""),
    KeySpec("namespace", "string", "Namespace for Airflow (DNS-1123 label).", "airflow"),
    KeySpec("releaseName", "string", "Helm release name; the chart derives every object name from it.", "airflow"),
    KeySpec("chartVersion", "string",
            "Exact apache-airflow/airflow chart version: 1.16.0 (Airflow 2.10.3) or 1.19.0 (Airflow 3.3.2).",
            "1.16.0"),
    KeySpec("airflowVersion", "string", "Airflow version inside the image; the one chartVersion supports.",
            "2.10.3"),
    KeySpec("schedulerReplicas", "integer", "Scheduler replicas (prod: 2).", 1),
    KeySpec("webserverReplicas", "integer", "Webserver (Airflow 2) or api-server (Airflow 3) replicas (prod: 2).", 1),
    KeySpec("triggererReplicas", "integer", "Triggerer replicas.", 1),
    KeySpec("workerCpuRequest", "string", "CPU request of every task pod.", "500m"),
    KeySpec("workerMemoryRequest", "string", "Memory request of every task pod.", "1Gi"),
    KeySpec("workerCpuLimit", "string", "CPU limit of every task pod.", "2"),
    KeySpec("workerMemoryLimit", "string", "Memory limit of every task pod.", "4Gi"),
    KeySpec("deleteWorkerPods", "boolean", "Delete task pods when they finish.", True),
    KeySpec("deleteWorkerPodsOnFailure", "boolean", "Delete failed task pods too (keep them to debug).", False),
    KeySpec("workerPodsCreationBatchSize", "integer", "Task pods the scheduler creates per loop.", 16),
    KeySpec("spotTaskPods", "boolean",
            "Task pods tolerate and prefer AKS spot nodes; the control plane stays on the system pool.", True),
    KeySpec("taskQueuedTimeoutSeconds", "integer",
            "Fail a task whose pod waited this long for a node ([scheduler] task_queued_timeout).", 1800),
    # Requests and limits of every container that is not a task pod, one key per component, in the
    # form `cpu=<request>/<limit> memory=<request>/<limit>`.
    KeySpec("schedulerResources", "string",
            "Scheduler requests/limits (its wait-for-migrations init container too), "
            "as cpu=<request>/<limit> memory=<request>/<limit>.", "cpu=500m/1 memory=1Gi/2Gi"),
    KeySpec("webserverResources", "string",
            "Webserver (Airflow 2) or api-server (Airflow 3) requests/limits, same form.",
            "cpu=250m/1 memory=1Gi/2Gi"),
    KeySpec("triggererResources", "string", "Triggerer requests/limits, same form.", "cpu=100m/500m memory=512Mi/1Gi"),
    KeySpec("dagProcessorResources", "string", "Dag-processor (Airflow 3) requests/limits, same form.",
            "cpu=250m/1 memory=1Gi/2Gi"),
    KeySpec("statsdResources", "string", "StatsD exporter requests/limits, same form.",
            "cpu=20m/200m memory=64Mi/128Mi"),
    KeySpec("gitSyncResources", "string",
            "Every git-sync container (sidecars and the task pods' init clone) requests/limits, same form.",
            "cpu=20m/250m memory=64Mi/256Mi"),
    KeySpec("migrateJobResources", "string", "The `airflow db migrate` Job's requests/limits, same form.",
            "cpu=250m/1 memory=512Mi/1Gi"),
    KeySpec("logGroomerResources", "string",
            "Log-groomer sidecars (scheduler, triggerer, dag-processor) requests/limits, same form.",
            "cpu=10m/100m memory=32Mi/128Mi"),
)
_MEMORY_EXPLANATION = "a Kubernetes quantity such as 512Mi or 4Gi ('m' means milli-bytes for memory)"


@dataclass(frozen=True)
class ResourceQuantities:
    cpu: str
    memory: str


@dataclass(frozen=True)
class WorkerResources:
    requests: ResourceQuantities
    limits: ResourceQuantities


# Requests and limits of one container; task pods use it as WorkerResources.
ContainerResources = WorkerResources


@dataclass(frozen=True)
class ComponentResources:
    """Requests and limits of every container that is not a task pod."""

    scheduler: ContainerResources
    webserver: ContainerResources  # the api-server on Airflow 3
    triggerer: ContainerResources
    dag_processor: ContainerResources  # Airflow 3 only
    statsd: ContainerResources
    git_sync: ContainerResources  # sidecars and the task pods' init clone
    migrate_job: ContainerResources
    log_groomer: ContainerResources


@dataclass(frozen=True)
class Replicas:
    scheduler: int
    webserver: int
    triggerer: int


@dataclass(frozen=True)
class KubernetesExecutorSettings:
    delete_worker_pods: bool
    delete_worker_pods_on_failure: bool
    worker_pods_creation_batch_size: int


@dataclass(frozen=True)
class SchedulingConfig:
    spot_task_pods: bool
    task_queued_timeout_seconds: int


@dataclass(frozen=True)
class AirflowConfig:
    """The release. `airflow_major` picks the chart line (2: webserver; 3: api-server, dag-processor)."""

    namespace: str
    release_name: str
    chart_version: str
    airflow_version: str
    replicas: Replicas  # `webserver` is the api-server's count on Airflow 3
    worker_resources: WorkerResources
    component_resources: ComponentResources
    executor: KubernetesExecutorSettings
    scheduling: SchedulingConfig

    @property
    def airflow_major(self) -> int:
        return int(self.airflow_version.split(".")[0])


def environment(reader: Reader, stack: str) -> Environment:
    value = reader.string("environment") or stack
    for known in ENVIRONMENTS:
        if value == known:
            return known
    raise ConfigError("airflow-on-k8s:environment", value,
                      "dev or prod (defaults to the stack name only when it is dev or prod)")


def _quantity(reader: Reader, name: str, kind: Literal["cpu", "memory"]) -> tuple[str, Decimal]:
    value = reader.string(name)
    amount = parse_quantity(value)
    if kind == "memory":
        check(amount is not None and amount > 0 and not value.endswith("m"), name, value, _MEMORY_EXPLANATION)
    else:
        check(amount is not None and amount > 0, name, value, "a positive Kubernetes CPU quantity such as 500m or 2")
    assert amount is not None
    return value, amount


def _worker_resources(reader: Reader) -> WorkerResources:
    cpu_request, cpu_request_amount = _quantity(reader, "workerCpuRequest", "cpu")
    cpu_limit, cpu_limit_amount = _quantity(reader, "workerCpuLimit", "cpu")
    memory_request, memory_request_amount = _quantity(reader, "workerMemoryRequest", "memory")
    memory_limit, memory_limit_amount = _quantity(reader, "workerMemoryLimit", "memory")
    check(cpu_limit_amount >= cpu_request_amount, "workerCpuLimit", cpu_limit,
          f"at least workerCpuRequest ({cpu_request})")
    check(memory_limit_amount >= memory_request_amount, "workerMemoryLimit", memory_limit,
          f"at least workerMemoryRequest ({memory_request})")
    return WorkerResources(requests=ResourceQuantities(cpu=cpu_request, memory=memory_request),
                           limits=ResourceQuantities(cpu=cpu_limit, memory=memory_limit))


_COMPONENT_RESOURCE_KEYS = {"scheduler": "schedulerResources", "webserver": "webserverResources",
                            "triggerer": "triggererResources", "dag_processor": "dagProcessorResources",
                            "statsd": "statsdResources", "git_sync": "gitSyncResources",
                            "migrate_job": "migrateJobResources", "log_groomer": "logGroomerResources"}
_RESOURCES_FORM = re.compile(r"cpu=(?P<cpu>\S+)/(?P<cpu_limit>\S+)\s+memory=(?P<memory>\S+)/(?P<memory_limit>\S+)")
_RESOURCES_EXPLANATION = "cpu=<request>/<limit> memory=<request>/<limit>, e.g. cpu=500m/1 memory=1Gi/2Gi"


def _component_resources(reader: Reader) -> ComponentResources:
    """Each `<component>Resources` key: `cpu=<request>/<limit> memory=<request>/<limit>` in Kubernetes
    quantities, every limit at least its request."""
    parsed: dict[str, ContainerResources] = {}
    for field_name, key in _COMPONENT_RESOURCE_KEYS.items():
        value = reader.string(key)
        match = _RESOURCES_FORM.fullmatch(value)
        check(match is not None, key, value, _RESOURCES_EXPLANATION)
        assert match is not None
        amounts: dict[str, Decimal] = {}
        for part, text in match.groupdict().items():
            amount = parse_quantity(text)
            if part.startswith("memory"):
                check(amount is not None and amount > 0 and not text.endswith("m"), key, value,
                      f"{_RESOURCES_EXPLANATION}; {text} is not {_MEMORY_EXPLANATION}")
            else:
                check(amount is not None and amount > 0, key, value,
                      f"{_RESOURCES_EXPLANATION}; {text} is not a positive CPU quantity such as 500m or 2")
            assert amount is not None
            amounts[part] = amount
        for kind in ("cpu", "memory"):
            check(amounts[f"{kind}_limit"] >= amounts[kind], key, value,
                  f"{_RESOURCES_EXPLANATION}, with the {kind} limit at least its request")
        parsed[field_name] = ContainerResources(
            requests=ResourceQuantities(cpu=match["cpu"], memory=match["memory"]),
            limits=ResourceQuantities(cpu=match["cpu_limit"], memory=match["memory_limit"]))
    return ComponentResources(**parsed)


def _pair(reader: Reader) -> tuple[str, str]:
    chart = exact_version(reader, "chartVersion", "chart")
    pairs = ", ".join(f"chart {c} with Airflow {a}" for c, a in SUPPORTED_PAIRS.items())
    check(chart in SUPPORTED_PAIRS, "chartVersion", chart, f"a supported chart line: {pairs}")
    version = exact_version(reader, "airflowVersion", "Airflow")
    check(SUPPORTED_PAIRS[chart] == version, "airflowVersion", version,
          f"{SUPPORTED_PAIRS[chart]} with chartVersion {chart} (supported pairs: {pairs})")
    return chart, version


def parse(reader: Reader) -> AirflowConfig:
    chart_version, airflow_version = _pair(reader)
    return AirflowConfig(
        namespace=dns_label(reader, "namespace"),
        release_name=dns_label(reader, "releaseName", MAX_HELM_RELEASE_NAME),
        chart_version=chart_version,
        airflow_version=airflow_version,
        replicas=Replicas(scheduler=reader.integer("schedulerReplicas", 1, 10),
                          webserver=reader.integer("webserverReplicas", 1, 10),
                          triggerer=reader.integer("triggererReplicas", 1, 10)),
        worker_resources=_worker_resources(reader),
        component_resources=_component_resources(reader),
        executor=KubernetesExecutorSettings(
            delete_worker_pods=reader.boolean("deleteWorkerPods"),
            delete_worker_pods_on_failure=reader.boolean("deleteWorkerPodsOnFailure"),
            worker_pods_creation_batch_size=reader.integer("workerPodsCreationBatchSize", 1, 1000)),
        scheduling=SchedulingConfig(spot_task_pods=reader.boolean("spotTaskPods"),
                                    task_queued_timeout_seconds=reader.integer("taskQueuedTimeoutSeconds", 60,
                                                                               86_400)),
    )
