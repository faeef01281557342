"""The Helm values: valid for the pinned chart's schema, and the settings the mandate needs."""

import json
import posixpath
from typing import Any

import jsonschema
import pytest
import yaml

from airflow_on_k8s.config import StackConfig, parse_stack_config
from airflow_on_k8s.helm_values import ChartInputs, ImageSettings, chart_values
from airflow_on_k8s.naming import secret_names, service_account_names
from tests.harness import (
    METADATA_CONNECTION,
    MINIMAL_SECRET_KEYS,
    airflow_release,
    chart_file,
    helm_values,
    minimal_config,
    ui_section,
)
from tools.offline import ProgramRun

PLAIN_IMAGE = ImageSettings(repository="apache/airflow", tag="2.10.3-python3.11")


def _chart_data(version: str, name: str) -> Any:
    path = chart_file(version, name)
    if not path.is_file():
        pytest.skip(f"{path} is absent: the chart's data files live in ../shared/airflow-chart, "
                    "which this checkout does not have")
    text = path.read_text()
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


def test_values_validate_against_the_pinned_chart_schema(stack_run: ProgramRun) -> None:
    values = helm_values(stack_run)
    version = airflow_release(stack_run).inputs["version"]
    schema = _chart_data(version, "values.schema.json")
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(values), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_catches_a_bad_value(prod_run: ProgramRun) -> None:
    """Guards the test above against a schema that accepts anything."""
    schema = _chart_data("1.16.0", "values.schema.json")
    values = helm_values(prod_run)
    values["webserver"]["defaultUsr"] = {"enabled": False}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(values))


def test_executor_is_kubernetes_executor(stack_run: ProgramRun) -> None:
    assert helm_values(stack_run)["executor"] == "KubernetesExecutor"
    assert "executor" not in helm_values(stack_run)["config"].get("core", {})


def test_bundled_postgres_and_redis_are_off(stack_run: ProgramRun) -> None:
    values = helm_values(stack_run)
    assert values["postgresql"]["enabled"] is False
    assert values["redis"]["enabled"] is False


def test_airflow_version_matches_the_image(stack_run: ProgramRun) -> None:
    values = helm_values(stack_run)
    tag = values["images"]["airflow"]["tag"]
    assert tag.split("-")[0] == values["airflowVersion"]
    assert tag != "latest"


def test_dags_folder_is_where_git_sync_puts_the_dags(stack_run: ProgramRun) -> None:
    values = helm_values(stack_run)
    chart_defaults = _chart_data("1.16.0", "values.yaml")
    mount = values["dags"].get("mountPath") or posixpath.join(chart_defaults["airflowHome"], "dags")
    git_sync = values["dags"]["gitSync"]
    # The chart's `airflow_dags` helper: <mount>/repo/<subPath> when git-sync is on.
    expected = posixpath.join(mount, "repo", git_sync["subPath"]) if git_sync["subPath"] else \
        posixpath.join(mount, "repo")
    assert git_sync["enabled"] is True
    assert values["config"]["core"]["dags_folder"] == expected
    assert values["dags"]["persistence"]["enabled"] is False


def test_git_sync_follows_the_configured_branch(prod_run: ProgramRun) -> None:
    git_sync = helm_values(prod_run)["dags"]["gitSync"]
    # git-sync v4 reads `ref`; leaving the chart default would sync apache/airflow's v2-2-stable.
    assert git_sync["ref"] == git_sync["branch"] == "main"
    assert (git_sync["period"], git_sync["depth"]) == ("30s", 1)
    assert git_sync["sshKeySecret"] and "sshKey" not in git_sync
    assert git_sync["knownHosts"].startswith("github.com ")


def test_airflow_cfg_values_are_strings(stack_run: ProgramRun) -> None:
    config = helm_values(stack_run)["config"]
    assert config["core"]["load_examples"] == "False"
    for section in config.values():
        for key, value in section.items():
            assert isinstance(value, str), key
    executor = config["kubernetes_executor"]
    assert executor["delete_worker_pods"] == "True"
    assert executor["delete_worker_pods_on_failure"] == "False"
    assert executor["worker_pods_creation_batch_size"] == "16"


def test_jobs_run_without_helm_hooks(stack_run: ProgramRun) -> None:
    values = helm_values(stack_run)
    for job in ("migrateDatabaseJob", "createUserJob"):
        assert values[job]["useHelmHooks"] is False and values[job]["applyCustomEnv"] is False


def test_no_default_admin_user(stack_run: ProgramRun) -> None:
    values = helm_values(stack_run)
    if ui_section(values) == "webserver":
        assert values["webserver"]["defaultUser"]["enabled"] is False
    else:
        # Chart 1.19 ignores webserver.defaultUser; only this turns the create-user Job off.
        assert values["createUserJob"]["enabled"] is False


@pytest.mark.parametrize(("stack", "replicas"), [("prod", (2, 2, 1)), ("dev", (1, 1, 1))])
def test_replicas_and_worker_resources(stack: str, replicas: tuple[int, int, int],
                                       prod_run: ProgramRun, dev_run: ProgramRun) -> None:
    values = helm_values(prod_run if stack == "prod" else dev_run)
    assert (values["scheduler"]["replicas"], values[ui_section(values)]["replicas"],
            values["triggerer"]["replicas"]) == replicas
    resources = values["workers"]["resources"]
    assert set(resources) == {"requests", "limits"}
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def _values(config: StackConfig, image: ImageSettings) -> dict[str, Any]:
    """The values of a release with nothing but the config's Airflow and Git settings."""
    release = config.airflow.release_name
    return chart_values(ChartInputs(airflow=config.airflow, git=config.git, secret_names=secret_names(release),
                                    service_accounts=service_account_names(release, config.airflow.airflow_major),
                                    image=image))


def test_values_hold_only_secret_names() -> None:
    config = parse_stack_config(minimal_config(), stack="prod", secret_keys=MINIMAL_SECRET_KEYS)
    names = secret_names(config.airflow.release_name)
    values = _values(config, PLAIN_IMAGE)
    assert values["data"] == {"metadataSecretName": names.metadata_connection}
    assert values["fernetKeySecretName"] == names.fernet_key
    assert values["webserverSecretKeySecretName"] == names.webserver_secret_key
    assert METADATA_CONNECTION not in json.dumps(values)


def test_public_https_repo_needs_no_ssh_settings() -> None:
    config = parse_stack_config(
        minimal_config(gitAuth="none", gitRepo="https://github.com/example/dags.git", gitSubPath=""),
        stack="dev", secret_keys=MINIMAL_SECRET_KEYS)
    values = _values(config, PLAIN_IMAGE)
    assert "sshKeySecret" not in values["dags"]["gitSync"]
    assert values["config"]["core"]["dags_folder"] == "/opt/airflow/dags/repo"


def test_registry_secret_only_for_a_registry_outside_azure() -> None:
    config = parse_stack_config(minimal_config(), stack="dev", secret_keys=MINIMAL_SECRET_KEYS)
    assert "registry" not in _values(config, PLAIN_IMAGE)
    byo = ImageSettings(repository="registry.example.com/airflow", tag="2.10.3-1", pull_secret_name="regcred")
    assert _values(config, byo)["registry"] == {"secretName": "regcred"}


def test_release_pulls_the_built_image(stack_run: ProgramRun) -> None:
    image = helm_values(stack_run)["images"]["airflow"]
    assert image["repository"] == stack_run.outputs["imageRepository"]
    assert image["repository"].endswith(".azurecr.io/airflow")
    assert image["tag"] == stack_run.outputs["imageTag"]
    assert "registry" not in helm_values(stack_run)
