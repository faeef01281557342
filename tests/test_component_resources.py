"""The per-component requests/limits keys: `cpu=<request>/<limit> memory=<request>/<limit>`,
validated with one-line errors, and what the values make of them."""

import pytest

from airflow_on_k8s.config import ContainerResources, ResourceQuantities, parse_stack_config
from tests.harness import MINIMAL_SECRET_KEYS, assert_one_line_config_error, minimal_config

KEYS = ("schedulerResources", "webserverResources", "triggererResources", "dagProcessorResources",
        "statsdResources", "gitSyncResources", "migrateJobResources", "logGroomerResources")


def test_a_key_gives_its_component_requests_and_limits() -> None:
    config = parse_stack_config(minimal_config(statsdResources="cpu=50m/0.5 memory=128Mi/256M"), stack="dev",
                                secret_keys=MINIMAL_SECRET_KEYS)
    assert config.airflow.component_resources.statsd == ContainerResources(
        requests=ResourceQuantities(cpu="50m", memory="128Mi"), limits=ResourceQuantities(cpu="0.5", memory="256M"))


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(("value", "allowed"), [
    ("cpu=1 memory=1Gi/2Gi", "cpu=<request>/<limit> memory=<request>/<limit>"),
    ("memory=1Gi/2Gi cpu=1/2", "cpu=<request>/<limit> memory=<request>/<limit>"),
    ("cpu=1/2 memory=1Gi/2Gi extra=1", "cpu=<request>/<limit> memory=<request>/<limit>"),
    ("", "cpu=<request>/<limit> memory=<request>/<limit>"),
    ("cpu=0/1 memory=1Gi/1Gi", "0 is not a positive CPU quantity"),
    ("cpu=1/two memory=1Gi/1Gi", "two is not a positive CPU quantity"),
    ("cpu=1/2 memory=512m/1Gi", "512m is not a Kubernetes quantity such as 512Mi"),
    ("cpu=2/1 memory=1Gi/1Gi", "the cpu limit at least its request"),
    ("cpu=1/1 memory=2Gi/1Gi", "the memory limit at least its request"),
])
def test_a_bad_value_is_one_line_naming_the_key(key: str, value: str, allowed: str) -> None:
    assert_one_line_config_error(minimal_config(**{key: value}), key, allowed)


def test_every_component_key_is_read() -> None:
    config = parse_stack_config(minimal_config(**{key: f"cpu={index + 1}m/1 memory=64Mi/1Gi"
                                                  for index, key in enumerate(KEYS)}),
                                stack="dev", secret_keys=MINIMAL_SECRET_KEYS)
    sizes = config.airflow.component_resources
    requested = [getattr(sizes, field).requests.cpu for field in (
        "scheduler", "webserver", "triggerer", "dag_processor", "statsd", "git_sync", "migrate_job", "log_groomer")]
    assert requested == [f"{index + 1}m" for index in range(len(KEYS))]
