"""The whole values document for the official apache-airflow/airflow chart, one builder per
chart line: Airflow 2 on chart 1.16 (`airflow2_values`), Airflow 3 on chart 1.19 (`airflow3_values`).

Pure: the same inputs always give the same values, and no value holds a secret, only the names
of the Secrets the program creates (the chart reads them by name). Each chart section is written
once, by one function, from typed inputs; nothing is merged afterwards.
"""

import json
import posixpath
from dataclasses import dataclass
from typing import Any

import pulumi

from airflow_on_k8s.config import (
    AirflowConfig,
    ContainerResources,
    GitSyncConfig,
    SsoConfig,
    VaultConfig,
)
from airflow_on_k8s.naming import SecretNames, ServiceAccountNames
from airflow_on_k8s.scheduling import SPOT_TAINT, SPOT_TAINT_KEY, SYSTEM_POOL_SELECTOR
from airflow_on_k8s.sso import CLIENT_SECRET_ENV, CLIENT_SECRET_KEY, helm_tpl_escape, render_webserver_config
from airflow_on_k8s.vault import secrets_config_section

EXECUTOR = "KubernetesExecutor"
AIRFLOW_HOME = "/opt/airflow"
# The chart mounts the dags volume at $AIRFLOW_HOME/dags and git-sync links the checkout as
# `repo` inside it (chart helper `airflow_dags`).
GIT_SYNC_CHECKOUT = f"{AIRFLOW_HOME}/dags/repo"
WORKLOAD_IDENTITY_CLIENT_ID = "azure.workload.identity/client-id"
WORKLOAD_IDENTITY_USE = "azure.workload.identity/use"
LOG_CONNECTION_ID = "wasb_task_logs"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
# Every Airflow pod waits this long for `airflow db migrate` (the migrate Job); the 2 -> 3 schema
# change on a cold database takes minutes. The release waits for the pods, so it waits longer.
MIGRATIONS_WAIT_SECONDS = 600
RELEASE_TIMEOUT_SECONDS = MIGRATIONS_WAIT_SECONDS + 300

# Users the containers run as: the Airflow image's `airflow` user in group 0 (the chart's uid/gid),
# git-sync's own user (the chart's dags.gitSync.uid, created in the git-sync image) and `nobody`
# for the StatsD exporter (the chart's statsd.uid).
AIRFLOW_UID = 50000
AIRFLOW_GID = 0
GIT_SYNC_UID = 65533
STATSD_UID = 65534
# With a read-only root filesystem, the one path Airflow and git-sync write outside their volumes:
# Python's tempfile (the KubernetesExecutor's multiprocessing manager socket, gunicorn's worker
# heartbeat files), bash here-documents, git-sync's private gitconfig (HOME=/tmp in its image).
TMP_DIR = "/tmp"  # an emptyDir of each pod, not the node's /tmp
TMP_VOLUME = "tmp"
GIT_SYNC_TMP_VOLUME = "git-sync-tmp"
# Airflow 2's gunicorn writes its pid file to $AIRFLOW_HOME unless told otherwise
# (airflow/cli/commands/webserver_command.py, setup_locations).
WEBSERVER_PID_FILE = f"{TMP_DIR}/airflow-webserver.pid"


@dataclass(frozen=True)
class ImageSettings:
    """Where every Airflow pod and task pod pulls the image from."""

    repository: pulumi.Input[str]
    tag: pulumi.Input[str]
    # Only for a registry outside Azure; ACR pulls go through the kubelet identity.
    pull_secret_name: str | None = None
    # sha256:<hex> of the pushed image (the build's output): every pod then pulls exactly that image.
    digest: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class TaskLogIdentity:
    """Where task logs go and the workload identity that writes them (no storage key)."""

    client_id: pulumi.Input[str]
    account_url: pulumi.Input[str]
    container: str


@dataclass(frozen=True)
class ChartInputs:
    """Everything the values of one release depend on."""

    airflow: AirflowConfig
    git: GitSyncConfig
    secret_names: SecretNames
    service_accounts: ServiceAccountNames
    image: ImageSettings
    task_logs: TaskLogIdentity | None = None
    vault: VaultConfig | None = None
    # https://<ingress_host> is the UI's address behind the ingress controller.
    ingress_host: str | None = None
    sso: SsoConfig | None = None
    # The OIDC client id: the config's, or the program-managed Entra ID application's.
    sso_client_id: pulumi.Input[str] | None = None


def _airflow_cfg_bool(value: bool) -> str:
    # The chart pipes config values through `tpl` into airflow.cfg: strings keep their case.
    return "True" if value else "False"


def pod_security_context(run_as_user: int, *, fs_group: int | None = None) -> dict[str, Any]:
    """A pod in the restricted Pod Security Standard: never root, the runtime's default seccomp profile."""
    context: dict[str, Any] = {"runAsUser": run_as_user, "runAsNonRoot": True,
                               "seccompProfile": {"type": "RuntimeDefault"}}
    if fs_group is not None:
        context["fsGroup"] = fs_group
    return context


def container_security_context(*, read_only_root: bool, run_as_user: int | None = None) -> dict[str, Any]:
    """A container in the restricted profile: no privilege escalation, no capabilities."""
    context: dict[str, Any] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                               "readOnlyRootFilesystem": read_only_root, "runAsNonRoot": True,
                               "seccompProfile": {"type": "RuntimeDefault"}}
    if run_as_user is not None:
        context["runAsUser"] = run_as_user
    return context


def _resources(resources: ContainerResources) -> dict[str, Any]:
    return {"requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
            "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory}}


def _pinned_tag(image: ImageSettings) -> pulumi.Input[str]:
    """`<tag>@<digest>` when the digest is known: a valid reference wherever the chart writes
    `repository:tag`, and the runtime pulls by the digest."""
    if image.digest is None:
        return image.tag
    return pulumi.Output.concat(image.tag, "@", image.digest)


def dags_folder(sub_path: str) -> str:
    """Where the DAGs are inside every Airflow container and task pod."""
    return posixpath.join(GIT_SYNC_CHECKOUT, sub_path) if sub_path else GIT_SYNC_CHECKOUT


def _git_sync(git: GitSyncConfig, secret_names: SecretNames, resources: ContainerResources) -> dict[str, Any]:
    values: dict[str, Any] = {
        "enabled": True,
        "repo": git.repo,
        # git-sync v4 (chart 1.16 ships v4.3.0) reads `ref`; v3 images read branch/rev.
        "branch": git.branch,
        "rev": git.rev,
        "ref": git.branch if git.rev == "HEAD" else git.rev,
        "depth": git.depth,
        "subPath": git.sub_path,
        "period": git.period,
        "resources": _resources(resources),
        # Also the task pods' init clone. git-sync's own user: the chart's other pod-level
        # securityContext (Airflow's uid) would otherwise apply.
        "securityContexts": {"container": container_security_context(read_only_root=True,
                                                                      run_as_user=GIT_SYNC_UID)},
        "extraVolumeMounts": [{"name": GIT_SYNC_TMP_VOLUME, "mountPath": TMP_DIR}],
    }
    if git.auth == "ssh":
        # A pre-created Secret, never the inline `sshKey`: chart <= 1.18 builds invalid task pods
        # from the inline key (apache/airflow#54161).
        values["sshKeySecret"] = secret_names.git_ssh_key
        values["knownHosts"] = git.known_hosts.strip()
    return values


def _log_connection(account_url: pulumi.Input[str]) -> pulumi.Input[str]:
    def render(url: str) -> str:
        return json.dumps({"conn_type": "wasb", "host": url})
    if isinstance(account_url, str):
        return render(account_url)
    url: pulumi.Output[str] = pulumi.Output.from_input(account_url)
    return url.apply(render)


def _config(inputs: ChartInputs) -> dict[str, Any]:
    """airflow.cfg, section by section."""
    airflow, executor = inputs.airflow, inputs.airflow.executor
    config: dict[str, Any] = {
        "core": {"dags_folder": dags_folder(inputs.git.sub_path), "load_examples": "False"},
        "kubernetes_executor": {
            "delete_worker_pods": _airflow_cfg_bool(executor.delete_worker_pods),
            "delete_worker_pods_on_failure": _airflow_cfg_bool(executor.delete_worker_pods_on_failure),
            "worker_pods_creation_batch_size": str(executor.worker_pods_creation_batch_size),
        },
        # A pod waiting for a spot node longer than this fails visibly (and retries) instead of hanging.
        "scheduler": {"task_queued_timeout": f"{float(airflow.scheduling.task_queued_timeout_seconds)}"},
    }
    if inputs.task_logs is not None:
        config["logging"] = {"remote_logging": "True", "remote_base_log_folder": f"wasb-{inputs.task_logs.container}",
                             "remote_log_conn_id": LOG_CONNECTION_ID}
        config["azure_remote_logging"] = {"remote_wasb_log_container": inputs.task_logs.container}
    if inputs.vault is not None:
        config["secrets"] = secrets_config_section(inputs.vault)
    if inputs.ingress_host is not None and inputs.airflow.airflow_major < 3:
        config["webserver"] = {
            "base_url": f"https://{inputs.ingress_host}",
            # Behind the ingress controller: trust X-Forwarded-* so OAuth redirects use https.
            "enable_proxy_fix": "True",
        }
    if inputs.airflow.airflow_major >= 3:
        # Airflow 3's own default is SimpleAuthManager; SSO and roles need FAB (the chart sets it too).
        config["core"]["auth_manager"] = FAB_AUTH_MANAGER
        if inputs.ingress_host is not None:
            # [webserver] base_url and enable_proxy_fix moved to [api] and [fab] in Airflow 3.
            config["api"] = {"base_url": f"https://{inputs.ingress_host}"}
            config["fab"] = {"enable_proxy_fix": "True"}
    return config


def _component(inputs: ChartInputs, service_account: str, resources: ContainerResources, *,
               workload_identity: bool, on_system_pool: bool) -> dict[str, Any]:
    """What every long-lived component shares: its ServiceAccount, size, placement and identity label.
    Its pod and container security contexts are the release-wide ones (`_common`)."""
    account: dict[str, Any] = {"create": True, "name": service_account}
    section: dict[str, Any] = {"serviceAccount": account, "resources": _resources(resources)}
    if workload_identity and inputs.task_logs is not None:
        account["annotations"] = {WORKLOAD_IDENTITY_CLIENT_ID: inputs.task_logs.client_id}
        section["labels"] = {WORKLOAD_IDENTITY_USE: "true"}
    if on_system_pool and inputs.airflow.scheduling.spot_task_pods:
        section["nodeSelector"] = dict(SYSTEM_POOL_SELECTOR)
    return section


def _sso_config_text(inputs: ChartInputs) -> pulumi.Input[str]:
    """webserver_config.py, escaped for the chart's `tpl`."""
    sso = inputs.sso
    assert sso is not None and inputs.sso_client_id is not None

    def render(client_id: str) -> str:
        return helm_tpl_escape(render_webserver_config(sso, client_id))
    if isinstance(inputs.sso_client_id, str):
        return render(inputs.sso_client_id)
    client_id: pulumi.Output[str] = pulumi.Output.from_input(inputs.sso_client_id)
    return client_id.apply(render)


def _with_log_groomer(section: dict[str, Any], inputs: ChartInputs) -> dict[str, Any]:
    """The sidecar that deletes old log files next to the scheduler, triggerer and dag-processor."""
    section["logGroomerSidecar"] = {"resources": _resources(inputs.airflow.component_resources.log_groomer)}
    return section


def _sso_client_secret_env(inputs: ChartInputs) -> list[dict[str, Any]]:
    return [{"name": CLIENT_SECRET_ENV, "valueFrom": {"secretKeyRef": {
        "name": inputs.secret_names.sso_client, "key": CLIENT_SECRET_KEY}}}] if inputs.sso is not None else []


def _webserver(inputs: ChartInputs) -> dict[str, Any]:
    assert inputs.service_accounts.webserver is not None
    section = _component(inputs, inputs.service_accounts.webserver, inputs.airflow.component_resources.webserver,
                         workload_identity=True, on_system_pool=True)
    # gunicorn's pid file goes to the /tmp emptyDir, not the read-only $AIRFLOW_HOME.
    section["args"] = ["bash", "-c", f"exec airflow webserver --pid {WEBSERVER_PID_FILE}"]
    env: list[dict[str, Any]] = []
    if inputs.vault is not None and not inputs.vault.bind_webserver:
        # The Vault role does not admit the webserver: keep it on Airflow's own backends instead of
        # failing a Vault login on every connection lookup.
        env.append({"name": "AIRFLOW__SECRETS__BACKEND", "value": ""})
    if inputs.sso is not None:
        section["webserverConfig"] = _sso_config_text(inputs)
    else:
        # Airflow 2's `airflow webserver` writes a default webserver_config.py into $AIRFLOW_HOME
        # when none is mounted (airflow/__main__.py, write_webserver_configuration_if_needed).
        section["securityContexts"] = {"container": container_security_context(read_only_root=False)}
    env += _sso_client_secret_env(inputs)
    if env:
        section["env"] = env
    section.update({
        "replicas": inputs.airflow.replicas.webserver,
        # Chart 1.16 otherwise creates an Admin user with password "admin".
        "defaultUser": {"enabled": False},
        # Reached only through the TLS Ingress.
        "service": {"type": "ClusterIP"},
    })
    return section


def _workers(inputs: ChartInputs) -> dict[str, Any]:
    """Task pods (the pod template): their size, ServiceAccount, identity and spot placement."""
    section = _component(inputs, inputs.service_accounts.worker, inputs.airflow.worker_resources,
                         workload_identity=True, on_system_pool=False)
    # Task code writes where it likes (its working directory $AIRFLOW_HOME, library caches in
    # $HOME): the task container keeps a writable root filesystem; the rest of the profile holds.
    section["securityContexts"] = {"container": container_security_context(read_only_root=False)}
    if inputs.airflow.scheduling.spot_task_pods:
        section["tolerations"] = [SPOT_TAINT]
        section["affinity"] = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "preference": {"matchExpressions": [{"key": SPOT_TAINT_KEY, "operator": "In", "values": ["spot"]}]},
        }]}}
    return section


def _api_server(inputs: ChartInputs) -> dict[str, Any]:
    """Airflow 3's UI, REST API and the execution API every task pod calls."""
    assert inputs.service_accounts.api_server is not None
    section = _component(inputs, inputs.service_accounts.api_server, inputs.airflow.component_resources.webserver,
                         workload_identity=True, on_system_pool=True)
    if inputs.sso is not None:
        # The chart mounts apiServerConfig, not webserver.webserverConfig, into the api-server.
        section["apiServerConfig"] = _sso_config_text(inputs)
        section["env"] = _sso_client_secret_env(inputs)
    section.update({
        "replicas": inputs.airflow.replicas.webserver,
        "service": {"type": "ClusterIP"},
        # Task heartbeats go through the api-server: keep one up through drains.
        "podDisruptionBudget": {"enabled": True, "config": {"maxUnavailable": 1}},
    })
    return section


def _images(image: ImageSettings) -> dict[str, Any]:
    """The image of every Airflow pod, by digest when the program built it. Task pods start from
    `images.pod_template` (the chart ignores images.airflow.digest there), so it names the same image."""
    airflow: dict[str, Any] = {"repository": image.repository, "tag": image.tag, "pullPolicy": "IfNotPresent"}
    if image.digest is not None:
        airflow["digest"] = image.digest
    return {"airflow": airflow,
            "pod_template": {"repository": image.repository, "tag": _pinned_tag(image), "pullPolicy": "IfNotPresent"},
            "migrationsWaitTimeout": MIGRATIONS_WAIT_SECONDS}


def _task_image_config(image: ImageSettings) -> dict[str, Any]:
    """The image the KubernetesExecutor puts in every task pod: worker_container_repository:tag
    replaces the pod template's image at run time. The chart writes both the current section and
    the deprecated [kubernetes] one from images.airflow.repository/tag, which ignore the digest."""
    return {"worker_container_repository": image.repository, "worker_container_tag": _pinned_tag(image)}


def _common(inputs: ChartInputs) -> dict[str, Any]:
    """What both chart lines share: image, database, keys, config, DAGs, scheduler, triggerer, task pods,
    and the pod hardening every Airflow pod gets."""
    airflow = inputs.airflow
    sizes = airflow.component_resources
    scheduler = _with_log_groomer(_component(inputs, inputs.service_accounts.scheduler, sizes.scheduler,
                                             workload_identity=True, on_system_pool=True), inputs)
    # Keep one scheduler up through node drains and upgrades.
    scheduler.update(replicas=airflow.replicas.scheduler,
                     podDisruptionBudget={"enabled": True, "config": {"maxUnavailable": 1}})
    triggerer = _with_log_groomer(_component(inputs, inputs.service_accounts.triggerer, sizes.triggerer,
                                             workload_identity=True, on_system_pool=True), inputs)
    triggerer["replicas"] = airflow.replicas.triggerer
    statsd: dict[str, Any] = {
        "resources": _resources(sizes.statsd),
        "securityContexts": {"pod": pod_security_context(STATSD_UID),
                             "container": container_security_context(read_only_root=True)},
        # The exporter never calls the API server.
        "serviceAccount": {"automountServiceAccountToken": False},
    }
    if airflow.scheduling.spot_task_pods:
        statsd["nodeSelector"] = dict(SYSTEM_POOL_SELECTOR)
    config = _config(inputs)
    for section in ("kubernetes_executor", "kubernetes"):
        config.setdefault(section, {}).update(_task_image_config(inputs.image))
    values: dict[str, Any] = {
        "executor": EXECUTOR,
        "airflowVersion": airflow.airflow_version,
        "images": _images(inputs.image),
        "postgresql": {"enabled": False},
        "redis": {"enabled": False},
        "data": {"metadataSecretName": inputs.secret_names.metadata_connection},
        "fernetKeySecretName": inputs.secret_names.fernet_key,
        "config": config,
        "dags": {"persistence": {"enabled": False},
                 "gitSync": _git_sync(inputs.git, inputs.secret_names, sizes.git_sync)},
        # Every Airflow pod and container that sets no context of its own (all but the task
        # container, git-sync and StatsD): the restricted profile with a read-only root filesystem.
        "securityContexts": {"pod": pod_security_context(AIRFLOW_UID, fs_group=AIRFLOW_GID),
                             "containers": container_security_context(read_only_root=True)},
        # Every Airflow pod gets both emptyDirs; Airflow's containers mount `tmp`, git-sync its own.
        "volumes": [{"name": TMP_VOLUME, "emptyDir": {}}, {"name": GIT_SYNC_TMP_VOLUME, "emptyDir": {}}],
        "volumeMounts": [{"name": TMP_VOLUME, "mountPath": TMP_DIR}],
        "scheduler": scheduler,
        "triggerer": triggerer,
        "workers": _workers(inputs),
        "statsd": statsd,
        # With Helm hooks the migration Job is a post-install hook, while every pod waits for
        # the migration: an atomic (waiting) install deadlocks. Plain Jobs run during install.
        # `airflow db migrate` needs the database, not the API server (nor Vault: its ServiceAccount
        # is not bound there).
        "migrateDatabaseJob": {"useHelmHooks": False, "applyCustomEnv": False,
                               "resources": _resources(sizes.migrate_job),
                               "serviceAccount": {"automountServiceAccountToken": False}},
    }
    if inputs.task_logs is not None:
        # A connection with only the account URL: the hook then uses DefaultAzureCredential, which
        # picks up the federated token the workload identity webhook mounts.
        values["env"] = [{"name": f"AIRFLOW_CONN_{LOG_CONNECTION_ID.upper()}",
                          "value": _log_connection(inputs.task_logs.account_url)}]
    return values


def airflow2_values(inputs: ChartInputs) -> dict[str, Any]:
    """The chart values of an Airflow 2 release on chart 1.16."""
    values = _common(inputs)
    values.update({
        "webserverSecretKeySecretName": inputs.secret_names.webserver_secret_key,
        "webserver": _webserver(inputs),
        # The Job does not run (webserver.defaultUser is off); its ServiceAccount needs no token.
        "createUserJob": {"useHelmHooks": False, "applyCustomEnv": False,
                          "serviceAccount": {"automountServiceAccountToken": False}},
    })
    if inputs.image.pull_secret_name:
        values["registry"] = {"secretName": inputs.image.pull_secret_name}
    return values


def airflow3_values(inputs: ChartInputs) -> dict[str, Any]:
    """The chart values of an Airflow 3 release on chart 1.19: api-server instead of webserver,
    the dag-processor (which runs git-sync and parses DAGs), pre-created API and JWT secrets."""
    assert inputs.service_accounts.dag_processor is not None
    values = _common(inputs)
    dag_processor = _with_log_groomer(_component(
        inputs, inputs.service_accounts.dag_processor, inputs.airflow.component_resources.dag_processor,
        workload_identity=True, on_system_pool=True), inputs)
    dag_processor.update(enabled=True, replicas=1)
    values.update({
        # Left to the chart, both are random on every render: tokens signed before an upgrade fail after it.
        "apiSecretKeySecretName": inputs.secret_names.api_secret_key,
        "jwtSecretName": inputs.secret_names.jwt_secret,
        "apiServer": _api_server(inputs),
        "dagProcessor": dag_processor,
        # Chart 1.19 runs this Job unless it is disabled here (it ignores webserver.defaultUser).
        "createUserJob": {"enabled": False, "useHelmHooks": False, "applyCustomEnv": False,
                          "serviceAccount": {"automountServiceAccountToken": False}},
    })
    if inputs.image.pull_secret_name:
        # Chart 1.19 reads imagePullSecrets; registry.secretName is deprecated there.
        values["imagePullSecrets"] = [inputs.image.pull_secret_name]
    return values


def chart_values(inputs: ChartInputs) -> dict[str, Any]:
    """The values of the chart line the config names."""
    return airflow3_values(inputs) if inputs.airflow.airflow_major >= 3 else airflow2_values(inputs)
