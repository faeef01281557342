"""The AirflowRelease component and the program under the mock runtime."""

import json
from typing import Any

import pulumi
import pytest
from cryptography.fernet import Fernet
from pulumi.runtime import rpc

from airflow_on_k8s.config import SUPPORTED_PAIRS, parse_stack_config
from airflow_on_k8s.helm_values import ChartInputs, ImageSettings
from airflow_on_k8s.naming import (
    API_SECRET_KEY_KEY,
    FERNET_KEY_KEY,
    GIT_SSH_KEY_KEY,
    JWT_SECRET_KEY,
    METADATA_CONNECTION_KEY,
    WEBSERVER_SECRET_KEY_KEY,
    secret_names,
    service_account_names,
)
from components.airflow_release import AirflowRelease, AirflowReleaseArgs
from tests.harness import (
    MINIMAL_SECRET_KEYS,
    SECRET_TYPE,
    airflow_release,
    helm_values,
    minimal_config,
    plain,
    run_component,
    run_config,
    run_once,
    secret_data,
    secrets_in,
    string_leaves,
    without_secrets,
)
from tools.offline import ProgramRun, UnknownInvokeError, run_program
from tools.plan import load_stack_inputs, plan_document

OPENSSH_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n"
               "-----END OPENSSH PRIVATE KEY-----\n")


def test_release_installs_the_pinned_official_chart(stack_run: ProgramRun) -> None:
    release = airflow_release(stack_run)
    inputs = release.inputs
    assert inputs["chart"] == "airflow"
    assert inputs["repositoryOpts"] == {"repo": "https://airflow.apache.org"}
    assert SUPPORTED_PAIRS[inputs["version"]] == inputs["values"]["airflowVersion"]
    assert inputs["name"] == "airflow" and inputs["namespace"] == "airflow"
    # The release outwaits the pods, which wait for the migration Job.
    assert inputs["atomic"] is True and inputs["timeout"] > inputs["values"]["images"]["migrationsWaitTimeout"] >= 600
    assert inputs.get("createNamespace") is False


def test_every_secret_name_in_values_has_a_secret_with_the_chart_key(stack_run: ProgramRun) -> None:
    values = helm_values(stack_run)
    data = secret_data(stack_run)
    wanted = {
        values["data"]["metadataSecretName"]: METADATA_CONNECTION_KEY,
        values["fernetKeySecretName"]: FERNET_KEY_KEY,
        values["dags"]["gitSync"]["sshKeySecret"]: GIT_SSH_KEY_KEY,
    }
    if values["airflowVersion"].startswith("2."):
        wanted[values["webserverSecretKeySecretName"]] = WEBSERVER_SECRET_KEY_KEY
        assert "apiSecretKeySecretName" not in values and "jwtSecretName" not in values
    else:
        # No webserver key on Airflow 3: the API key and the JWT secret instead.
        wanted[values["apiSecretKeySecretName"]] = API_SECRET_KEY_KEY
        wanted[values["jwtSecretName"]] = JWT_SECRET_KEY
        assert "webserverSecretKeySecretName" not in values
    for name, key in wanted.items():
        assert name in data, f"values name Secret {name} but the program creates none"
        assert data[name].get(key), f"Secret {name} lacks key {key}"
    namespaces = {plain(resource.inputs["metadata"]["namespace"])
                  for resource in stack_run.of_type(SECRET_TYPE)}
    assert namespaces == {airflow_release(stack_run).inputs["namespace"]}


def test_release_depends_on_every_secret_and_the_namespace(stack_run: ProgramRun) -> None:
    release = airflow_release(stack_run)
    secret_urns = {resource.urn for resource in stack_run.of_type(SECRET_TYPE) if resource.parent == release.parent}
    assert secret_urns <= set(release.dependencies)
    namespace = stack_run.one("kubernetes:core/v1:Namespace", "airflow-namespace")
    assert namespace.urn in release.dependencies


def test_fernet_key_is_accepted_by_fernet(stack_run: ProgramRun) -> None:
    name = helm_values(stack_run)["fernetKeySecretName"]
    key = secret_data(stack_run)[name][FERNET_KEY_KEY]
    token = Fernet(key.encode()).encrypt(b"connection password")
    assert Fernet(key.encode()).decrypt(token) == b"connection password"


def test_every_resource_sits_under_the_explicit_kubernetes_provider(stack_run: ProgramRun) -> None:
    provider = stack_run.one("pulumi:providers:kubernetes")
    if stack_run.stack == "dev":  # an existing cluster, reached through the operator's kube context
        assert provider.inputs.get("context") == "aks-airflow-dev"
    else:  # the created AKS cluster's kubeconfig, kept secret
        assert "context" not in provider.inputs
        assert "clusters:" in plain(provider.inputs["kubeconfig"])
        assert list(secrets_in(provider.inputs["kubeconfig"]))
    for resource in stack_run.resources:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider.startswith(provider.urn), resource.name


TOP_LEVEL_CUSTOM_TYPES = {"pulumi:providers:kubernetes", "pulumi:providers:vault",
                          "azure-native:resources:ResourceGroup"}


def test_components_parent_their_children(stack_run: ProgramRun) -> None:
    components = {resource.urn: resource for resource in stack_run.resources if not resource.custom}
    expected = {"airflow-on-k8s:airflow:AirflowRelease", "airflow-on-k8s:database:ManagedPostgres",
                "airflow-on-k8s:image:AirflowImage", "airflow-on-k8s:vault:VaultIntegration",
                "airflow-on-k8s:ingress:AirflowIngress", "airflow-on-k8s:network:AirflowNetwork",
                "airflow-on-k8s:logs:TaskLogStorage"}
    if stack_run.stack == "prod":
        expected |= {"airflow-on-k8s:cluster:AksCluster", "airflow-on-k8s:ingress:IngressController",
                     "airflow-on-k8s:ingress:CertManager", "airflow-on-k8s:sso:EntraSsoApp"}
    assert {resource.type for resource in components.values()} == expected
    for resource in stack_run.resources:
        if resource.custom and resource.type not in TOP_LEVEL_CUSTOM_TYPES:
            assert resource.parent in components, resource.name
            assert resource.name.startswith(components[resource.parent].name + "-"), resource.name


def _secret_strings(run: ProgramRun) -> set[str]:
    found: set[str] = set()
    for resource in run.resources:
        for secret in [*secrets_in(resource.inputs), *secrets_in(resource.outputs)]:
            found.update(leaf for leaf in string_leaves(secret) if len(leaf) >= 8)
    return found


def test_no_secret_value_appears_outside_the_secret_marker(stack_run: ProgramRun) -> None:
    secrets = _secret_strings(stack_run)
    data = secret_data(stack_run)
    # The values that must be secret really were found as secrets.
    for secret_name, entries in data.items():
        for key, value in entries.items():
            if key != "username":
                assert value in secrets, f"{secret_name}/{key} is not marked secret"
    for resource in stack_run.resources:
        visible = json.dumps([without_secrets(resource.inputs), without_secrets(resource.outputs)])
        for secret in secrets:
            assert secret not in visible, f"a secret value is in clear in {resource.type} {resource.name}"
    document = json.dumps(plan_document(stack_run, []))
    for secret in secrets:
        assert secret not in document


def test_every_secret_the_release_writes_is_marked_secret(prod_run: ProgramRun) -> None:
    release = airflow_release(prod_run)
    secrets = [s for s in prod_run.of_type(SECRET_TYPE) if s.parent == release.parent]
    assert len(secrets) == 5
    for secret in secrets:
        data = secret.inputs["stringData"]
        assert plain(data) and (rpc.is_rpc_secret(data) or all(rpc.is_rpc_secret(v) for v in data.values())), \
            secret.name


KEY_MAKERS = ("random:index/randomBytes:RandomBytes", "random:index/randomPassword:RandomPassword",
              "tls:index/privateKey:PrivateKey")


def _key_makers(run: ProgramRun) -> dict[str, Any]:
    return {r.urn: plain(r.inputs) for r in run.resources if r.type in KEY_MAKERS}


def test_keys_do_not_depend_on_what_an_update_changes() -> None:
    """A key resource is replaced (and its key regenerated) only when its own inputs change: an
    update of the image, the replicas, the branch or the worker size must leave all of them as
    they are, so the Fernet key, the webserver key and the deploy key survive every `pulumi up`."""
    inputs = load_stack_inputs("prod")
    before = run_once("prod", inputs.config, inputs.secret_keys)
    changed = {**inputs.config, "schedulerReplicas": "3", "gitBranch": "release", "workerMemoryLimit": "8Gi",
               "postgresStorageSizeGb": "256", "taskQueuedTimeoutSeconds": "900"}
    after = run_once("prod", changed, inputs.secret_keys)
    assert helm_values(after) != helm_values(before)
    assert _key_makers(after) == _key_makers(before) and len(_key_makers(before)) == 4


def test_outputs_name_the_chart_service_accounts_and_deploy_key(prod_run: ProgramRun) -> None:
    outputs = prod_run.outputs
    assert outputs["namespace"] == "airflow" and outputs["releaseName"] == "airflow"
    assert outputs["serviceAccounts"] == {"worker": "airflow-worker", "scheduler": "airflow-scheduler",
                                          "triggerer": "airflow-triggerer",
                                          "webserver": "airflow-webserver"}
    assert outputs["gitDeployPublicKey"].startswith("ssh-ed25519 ")
    key = prod_run.one("tls:index/privateKey:PrivateKey")
    assert key.inputs["algorithm"] == "ED25519"


def test_given_deploy_key_is_used_instead_of_a_generated_one() -> None:
    run = run_config(minimal_config(gitSshPrivateKey=OPENSSH_KEY),
                     secret_keys=MINIMAL_SECRET_KEYS | {"gitSshPrivateKey"})
    assert run.of_type("tls:index/privateKey:PrivateKey") == []
    assert [token for token, _ in run.invokes] == ["tls:index/getPublicKey:getPublicKey"]
    ssh_secret = secret_data(run)[helm_values(run)["dags"]["gitSync"]["sshKeySecret"]]
    assert ssh_secret[GIT_SSH_KEY_KEY] == OPENSSH_KEY
    assert run.outputs["gitDeployPublicKey"].startswith("ssh-ed25519 ")


def test_public_repo_has_no_deploy_key() -> None:
    run = run_config(minimal_config(gitAuth="none", gitRepo="https://github.com/example/dags.git"))
    assert "gitDeployPublicKey" not in run.outputs
    assert not any(GIT_SSH_KEY_KEY in data for data in secret_data(run).values())


def test_release_name_drives_service_account_names_which_the_values_set() -> None:
    run = run_config(minimal_config(releaseName="prod"))
    assert run.outputs["serviceAccounts"]["scheduler"] == "prod-scheduler"
    assert airflow_release(run).inputs["name"] == "prod"
    values = helm_values(run)
    for role, section in (("worker", "workers"), ("scheduler", "scheduler"), ("triggerer", "triggerer"),
                          ("webserver", "webserver")):
        assert values[section]["serviceAccount"]["name"] == run.outputs["serviceAccounts"][role]


def test_component_runs_alone_under_the_harness() -> None:
    config = parse_stack_config(minimal_config(), stack="dev", secret_keys=MINIMAL_SECRET_KEYS)

    def build() -> None:
        AirflowRelease("solo", AirflowReleaseArgs(
            chart=ChartInputs(airflow=config.airflow, git=config.git, secret_names=secret_names("airflow"),
                              service_accounts=service_account_names("airflow", 2),
                              image=ImageSettings(repository="example.azurecr.io/airflow", tag="2.10.3-abc")),
            metadata_connection=pulumi.Output.secret("x" * 20)))

    run = run_component(build)
    assert airflow_release(run).name == "solo-release"
    assert len(run.of_type(SECRET_TYPE)) == 5


def test_unknown_invoke_fails_loudly() -> None:
    def call_unknown() -> None:
        pulumi.runtime.invoke("example:index/unknown:getThing", {})

    with pytest.raises(UnknownInvokeError, match="example:index/unknown:getThing"):
        run_program("dev", {}, program=call_unknown)
