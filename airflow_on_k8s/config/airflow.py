"""The Airflow release: where it runs, which chart and Airflow, replicas, task pods, scheduling."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from airflow_on_k8s.config.reader import KeySpec, Reader, check, dns_label, exact_version
from airflow_on_k8s.errors import ConfigError
from airflow_on_k8s.quantities import parse_quantity

Environment = Literal["dev", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("dev", "prod")
MAX_HELM_RELEASE_NAME = 53  # Helm's own limit; chart object names append suffixes to it

KEYS: tuple[KeySpec, ...] = (
    KeySpec("environment", "string",
            "dev or prod: prod protects the database and tightens policy levels. Empty: the stack name, if it "
            "is dev or prod.", ""),
    KeySpec("namespace", "string", "Namespace for Airflow (DNS-1123 label).", "airflow"),
    KeySpec("releaseName", "string", "Helm release name; the chart derives every object name from it.", "airflow"),
    KeySpec("chartVersion", "string", "Exact apache-airflow/airflow chart version X.Y.Z.", "1.16.0"),
    KeySpec("airflowVersion", "string", "Airflow version inside the image (X.Y.Z).", "2.10.3"),
    KeySpec("schedulerReplicas", "integer", "Scheduler replicas (prod: 2).", 1),
    KeySpec("webserverReplicas", "integer", "Webserver replicas (prod: 2).", 1),
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
    namespace: str
    release_name: str
    chart_version: str
    airflow_version: str
    replicas: Replicas
    worker_resources: WorkerResources
    executor: KubernetesExecutorSettings
    scheduling: SchedulingConfig


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


def parse(reader: Reader) -> AirflowConfig:
    return AirflowConfig(
        namespace=dns_label(reader, "namespace"),
        release_name=dns_label(reader, "releaseName", MAX_HELM_RELEASE_NAME),
        chart_version=exact_version(reader, "chartVersion", "chart"),
        airflow_version=exact_version(reader, "airflowVersion", "Airflow"),
        replicas=Replicas(scheduler=reader.integer("schedulerReplicas", 1, 10),
                          webserver=reader.integer("webserverReplicas", 1, 10),
                          triggerer=reader.integer("triggererReplicas", 1, 10)),
        worker_resources=_worker_resources(reader),
        executor=KubernetesExecutorSettings(
            delete_worker_pods=reader.boolean("deleteWorkerPods"),
            delete_worker_pods_on_failure=reader.boolean("deleteWorkerPodsOnFailure"),
            worker_pods_creation_batch_size=reader.integer("workerPodsCreationBatchSize", 1, 1000)),
        scheduling=SchedulingConfig(spot_task_pods=reader.boolean("spotTaskPods"),
                                    task_queued_timeout_seconds=reader.integer("taskQueuedTimeoutSeconds", 60,
                                                                               86_400)),
    )
