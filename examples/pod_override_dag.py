"""One heavy task gets bigger limits and lands on the spot pool; the rest keep the defaults.

Every task pod starts from the chart's pod template (workers.resources: 500m/1Gi requests,
2 CPU/4Gi limits by default). A task that needs more says so with `executor_config`: its pod
alone gets the larger limits, so an out-of-memory error can no longer take down other tasks,
and it tolerates and prefers the spot nodes that the cluster autoscaler adds on demand.

Spot nodes can be evicted at any time. `retries` is the answer to preemption: the task pod dies
with its node and the scheduler starts it again on another one. A task whose pod waits too long
for a node fails through `[scheduler] task_queued_timeout` (taskQueuedTimeoutSeconds) and is
retried the same way, instead of hanging in "queued".
"""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.python import PythonOperator
from kubernetes.client import models as k8s

SPOT_TOLERATION = k8s.V1Toleration(key="kubernetes.azure.com/scalesetpriority", operator="Equal",
                                   value="spot", effect="NoSchedule")
PREFER_SPOT = k8s.V1Affinity(node_affinity=k8s.V1NodeAffinity(
    preferred_during_scheduling_ignored_during_execution=[k8s.V1PreferredSchedulingTerm(
        weight=100,
        preference=k8s.V1NodeSelectorTerm(match_expressions=[k8s.V1NodeSelectorRequirement(
            key="kubernetes.azure.com/scalesetpriority", operator="In", values=["spot"])]),
    )]))

# The container must be called "base": that is the container the pod template runs the task in.
HEAVY_TASK_POD = k8s.V1Pod(spec=k8s.V1PodSpec(
    containers=[k8s.V1Container(
        name="base",
        # Memory request equals the limit: the node reserves all of it, so the kernel never
        # OOM-kills this task to make room for a neighbour.
        resources=k8s.V1ResourceRequirements(requests={"cpu": "2", "memory": "12Gi"},
                                             limits={"cpu": "4", "memory": "12Gi"}),
    )],
    tolerations=[SPOT_TOLERATION],
    affinity=PREFER_SPOT,
))


def build_features() -> None:
    """Stands in for the memory-hungry step (a large pandas join, a model fit)."""


def publish() -> None:
    """Stands in for a light step that keeps the default pod size."""


with DAG(
    dag_id="example_pod_override_heavy_task",
    start_date=datetime(2026, 1, 1),
    schedule="0 2 * * *",
    catchup=False,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=2), "retry_exponential_backoff": True},
    tags=["example", "kubernetes-executor"],
) as dag:
    heavy = PythonOperator(task_id="build_features", python_callable=build_features,
                           executor_config={"pod_override": HEAVY_TASK_POD})
    light = PythonOperator(task_id="publish", python_callable=publish)
    heavy >> light
