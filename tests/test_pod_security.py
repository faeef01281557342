"""Hardened pods, checked on the real chart's render (tests/chart_render.py) for every supported
(chart, Airflow) pair and both stacks: the restricted Pod Security Standard, one function per
control of kubernetes.io/docs/concepts/security/pod-security-standards; requests and limits on
every container; read-only root filesystems with their writable emptyDirs; ServiceAccount tokens
only where the API server is called; the built image by digest, task pods included. The policy
pack's verdicts on changed values (pods-restricted, control-plane-resources) are held to the render
of those values, on each stack's committed pair.
"""

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_on_k8s.config import SUPPORTED_PAIRS, ContainerResources, StackConfig, parse_stack_config
from airflow_on_k8s.helm_values import ChartInputs, ImageSettings, chart_values
from airflow_on_k8s.naming import secret_names, service_account_names
from components.airflow_release import POD_SECURITY_LABELS
from policies.airflow_policies.pods import control_plane_resources_findings, pods_restricted_findings
from tests.chart_render import (
    COMMITTED_PAIRS,
    K8sObject,
    ProgramRender,
    airflow_cfg,
    all_containers,
    object_key,
    of_kind,
    on_committed_pairs,
    render_chart,
    rendered_pods,
    require_chart,
    task_image,
    task_pod_template,
)
from tests.harness import MINIMAL_SECRET_KEYS, RELEASE_TYPE, minimal_config, plain
from tools.plan import load_stack_inputs

NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
IMAGE_TYPE = "docker-build:index:Image"


def test_the_committed_pairs_cover_every_supported_chart() -> None:
    assert sorted(chart for _, chart in COMMITTED_PAIRS) == sorted(SUPPORTED_PAIRS)


# --- the restricted profile, one function per control ---------------------------------------------

@dataclass(frozen=True)
class Pod:
    source: str
    annotations: Mapping[str, str]
    spec: Mapping[str, Any]


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*all_containers(spec), *(spec.get("ephemeralContainers") or [])]


def _context(item: Mapping[str, Any]) -> Mapping[str, Any]:
    return item.get("securityContext") or {}


def host_process(pod: Pod) -> Iterator[str]:
    """Baseline, HostProcess: no Windows HostProcess pods or containers."""
    for where, context in [("pod", _context(pod.spec)), *((c["name"], _context(c)) for c in _containers(pod.spec))]:
        if (context.get("windowsOptions") or {}).get("hostProcess") is True:
            yield f"{where} is a Windows HostProcess"


def host_namespaces(pod: Pod) -> Iterator[str]:
    """Baseline, Host Namespaces: hostNetwork, hostPID and hostIPC unset or false."""
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.spec.get(field) is True:
            yield f"{field} is true"


def privileged_containers(pod: Pod) -> Iterator[str]:
    """Baseline, Privileged Containers."""
    for container in _containers(pod.spec):
        if _context(container).get("privileged") is True:
            yield f"{container['name']} is privileged"


BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})


def baseline_capabilities(pod: Pod) -> Iterator[str]:
    """Baseline, Capabilities: only the default set may be added."""
    for container in _containers(pod.spec):
        added = set((_context(container).get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES
        if added:
            yield f"{container['name']} adds {sorted(added)}"


def host_path_volumes(pod: Pod) -> Iterator[str]:
    """Baseline, HostPath Volumes."""
    for volume in pod.spec.get("volumes") or []:
        if "hostPath" in volume:
            yield f"volume {volume['name']} is a hostPath"


def host_ports(pod: Pod) -> Iterator[str]:
    """Baseline, Host Ports: none (the baseline's allow-list is empty by default)."""
    for container in _containers(pod.spec):
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                yield f"{container['name']} binds host port {port['hostPort']}"


APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def app_armor(pod: Pod) -> Iterator[str]:
    """Baseline, AppArmor: unset, RuntimeDefault or Localhost (field or legacy annotation)."""
    contexts = [("pod", _context(pod.spec)), *((c["name"], _context(c)) for c in _containers(pod.spec))]
    for where, context in contexts:
        profile = (context.get("appArmorProfile") or {}).get("type")
        if profile not in (None, "RuntimeDefault", "Localhost"):
            yield f"{where} has AppArmor profile {profile}"
    for key, value in pod.annotations.items():
        if key.startswith(APPARMOR_ANNOTATION) and value != "runtime/default" and not value.startswith("localhost/"):
            yield f"annotation {key} is {value}"


SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def selinux(pod: Pod) -> Iterator[str]:
    """Baseline, SELinux: only the container types; no custom user or role."""
    for where, context in [("pod", _context(pod.spec)), *((c["name"], _context(c)) for c in _containers(pod.spec))]:
        options = context.get("seLinuxOptions") or {}
        if options.get("type") is not None and options["type"] not in SELINUX_TYPES:
            yield f"{where} has SELinux type {options['type']}"
        if options.get("user") or options.get("role"):
            yield f"{where} sets an SELinux user or role"


def proc_mount(pod: Pod) -> Iterator[str]:
    """Baseline, /proc Mount Type: Default."""
    for container in _containers(pod.spec):
        if _context(container).get("procMount") not in (None, "Default"):
            yield f"{container['name']} has procMount {_context(container)['procMount']}"


SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes"})


def sysctls(pod: Pod) -> Iterator[str]:
    """Baseline, Sysctls: only the safe set."""
    for sysctl in _context(pod.spec).get("sysctls") or []:
        if sysctl["name"] not in SAFE_SYSCTLS:
            yield f"sysctl {sysctl['name']}"


RESTRICTED_VOLUME_TYPES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                     "persistentVolumeClaim", "projected", "secret"})


def volume_types(pod: Pod) -> Iterator[str]:
    """Restricted, Volume Types."""
    for volume in pod.spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            yield f"volume {volume['name']} is {sorted(kinds)}"


def privilege_escalation(pod: Pod) -> Iterator[str]:
    """Restricted, Privilege Escalation: allowPrivilegeEscalation false on every container."""
    for container in _containers(pod.spec):
        if _context(container).get("allowPrivilegeEscalation") is not False:
            yield f"{container['name']} may escalate privileges"


def running_as_non_root(pod: Pod) -> Iterator[str]:
    """Restricted, Running as Non-root: runAsNonRoot true on the pod (no container false) or on every container."""
    pod_level = _context(pod.spec).get("runAsNonRoot")
    for container in _containers(pod.spec):
        own = _context(container).get("runAsNonRoot")
        if own is False or (own is None and pod_level is not True):
            yield f"{container['name']} may run as root"


def running_as_non_root_user(pod: Pod) -> Iterator[str]:
    """Restricted, Running as Non-root user: runAsUser never 0."""
    for where, context in [("pod", _context(pod.spec)), *((c["name"], _context(c)) for c in _containers(pod.spec))]:
        if context.get("runAsUser") == 0:
            yield f"{where} runs as UID 0"


def seccomp(pod: Pod) -> Iterator[str]:
    """Restricted, Seccomp: RuntimeDefault or Localhost on the pod or every container; never Unconfined."""
    allowed = ("RuntimeDefault", "Localhost")
    pod_type = (_context(pod.spec).get("seccompProfile") or {}).get("type")
    if pod_type is not None and pod_type not in allowed:
        yield f"pod seccomp profile {pod_type}"
    for container in _containers(pod.spec):
        own = (_context(container).get("seccompProfile") or {}).get("type")
        if own is not None and own not in allowed:
            yield f"{container['name']} seccomp profile {own}"
        elif own is None and pod_type is None:
            yield f"{container['name']} has no seccomp profile"


def restricted_capabilities(pod: Pod) -> Iterator[str]:
    """Restricted, Capabilities: drop ALL; add only NET_BIND_SERVICE."""
    for container in _containers(pod.spec):
        capabilities = _context(container).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield f"{container['name']} does not drop ALL"
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            yield f"{container['name']} adds {capabilities['add']}"


Control = Callable[[Pod], Iterator[str]]
CONTROLS: dict[str, Control] = {
    "host-process": host_process, "host-namespaces": host_namespaces, "privileged": privileged_containers,
    "baseline-capabilities": baseline_capabilities, "host-path-volumes": host_path_volumes, "host-ports": host_ports,
    "app-armor": app_armor, "selinux": selinux, "proc-mount": proc_mount, "sysctls": sysctls,
    "volume-types": volume_types, "privilege-escalation": privilege_escalation,
    "running-as-non-root": running_as_non_root, "running-as-non-root-user": running_as_non_root_user,
    "seccomp": seccomp, "restricted-capabilities": restricted_capabilities,
}


def _template_annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    spec = obj.get("spec") or {}
    template = (spec.get("jobTemplate") or {}).get("spec", {}).get("template") if obj["kind"] == "CronJob" \
        else spec.get("template")
    return ((template or {}).get("metadata") or {}).get("annotations") or {}


def pods(objects: list[K8sObject]) -> list[Pod]:
    """Every pod the release runs, the task pod template included, with its annotations."""
    annotations = {object_key(obj): _template_annotations(obj) for obj in objects}
    template = task_pod_template(objects)
    found = []
    for pod in rendered_pods(objects):
        if pod.source.endswith(":pod_template_file.yaml"):
            assert template is not None
            found.append(Pod(pod.source, template["metadata"].get("annotations") or {}, pod.spec))
        else:
            found.append(Pod(pod.source, annotations.get(pod.source, {}), pod.spec))
    return found


def violations(objects: list[K8sObject], controls: Mapping[str, Control] = CONTROLS) -> list[str]:
    return [f"{pod.source}: {name}: {problem}" for pod in pods(objects) for name, control in controls.items()
            for problem in control(pod)]


@pytest.mark.parametrize("control", CONTROLS)
def test_every_rendered_pod_meets_the_restricted_profile(program_render: ProgramRender, control: str) -> None:
    sources = {pod.source for pod in pods(program_render.objects)}
    # Control plane, the migration Job and the task pod template are all judged.
    assert {"Deployment/airflow-scheduler", "Deployment/airflow-statsd", "Job/airflow-run-airflow-migrations",
            "ConfigMap/airflow-config:pod_template_file.yaml"} <= sources
    assert violations(program_render.objects, {control: CONTROLS[control]}) == []


BAD_PODS: list[tuple[str, dict[str, Any], Mapping[str, str]]] = [
    ("host-process", {"securityContext": {"windowsOptions": {"hostProcess": True}}}, {}),
    ("host-namespaces", {"hostNetwork": True}, {}),
    ("privileged", {"containers": [{"name": "c", "securityContext": {"privileged": True}}]}, {}),
    ("baseline-capabilities",
     {"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]}, {}),
    ("host-path-volumes", {"volumes": [{"name": "v", "hostPath": {"path": "/"}}]}, {}),
    ("host-ports", {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}]}]}, {}),
    ("app-armor", {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}, {}),
    ("app-armor", {}, {f"{APPARMOR_ANNOTATION}c": "unconfined"}),
    ("selinux", {"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}, {}),
    ("proc-mount", {"containers": [{"name": "c", "securityContext": {"procMount": "Unmasked"}}]}, {}),
    ("sysctls", {"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}}, {}),
    ("volume-types", {"volumes": [{"name": "v", "nfs": {"server": "nfs", "path": "/"}}]}, {}),
    ("privilege-escalation", {"initContainers": [{"name": "init", "securityContext": {}}]}, {}),
    ("running-as-non-root", {"securityContext": {"runAsNonRoot": True},
                             "containers": [{"name": "c", "securityContext": {"runAsNonRoot": False}}]}, {}),
    ("running-as-non-root", {"containers": [{"name": "c"}]}, {}),
    ("running-as-non-root-user", {"containers": [{"name": "c", "securityContext": {"runAsUser": 0}}]}, {}),
    ("seccomp", {"containers": [{"name": "c"}]}, {}),
    ("seccomp", {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "c", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}]}, {}),
    ("restricted-capabilities",
     {"containers": [{"name": "c", "securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}]}, {}),
]


@pytest.mark.parametrize(("control", "spec", "annotations"), BAD_PODS,
                         ids=[f"{case[0]}-{index}" for index, case in enumerate(BAD_PODS)])
def test_each_control_catches_its_violation(control: str, spec: dict[str, Any],
                                            annotations: Mapping[str, str]) -> None:
    assert list(CONTROLS[control](Pod("Pod/bad", annotations, spec)))


def test_every_control_has_a_bad_pod() -> None:
    assert {case[0] for case in BAD_PODS} == set(CONTROLS)


def _unhardened(values: Mapping[str, Any]) -> dict[str, Any]:
    """The program's values without any securityContexts: what the chart renders by default."""
    stripped = copy.deepcopy(dict(values))
    stripped.pop("securityContexts")
    for path in ("statsd", "workers", "dags.gitSync", "webserver"):
        section: Any = stripped
        for part in path.split("."):
            section = section.get(part, {})
        section.pop("securityContexts", None)
    return stripped


@on_committed_pairs
def test_the_charts_own_pods_fall_outside_the_profile(program_render: ProgramRender) -> None:
    """Guards the checks above: the chart's defaults (the state before issue 13) are caught."""
    objects = render_chart(program_render.version, _unhardened(program_render.values),
                           release=program_render.release, namespace=program_render.namespace)
    found = violations(objects)
    for control in ("seccomp", "running-as-non-root"):
        assert [line for line in found if f": {control}: " in line], control
    assert [line for line in found if line.startswith("Deployment/airflow-statsd: ")]


# --- requests and limits -----------------------------------------------------------------------------

def _stack_config(render: ProgramRender) -> StackConfig:
    inputs = load_stack_inputs(render.run.stack)
    config = {**inputs.config, "chartVersion": render.version, "airflowVersion": SUPPORTED_PAIRS[render.version]}
    return parse_stack_config(config, stack=render.run.stack, secret_keys=inputs.secret_keys)


def _expected_resources(config: StackConfig, component: str, container: str) -> ContainerResources:
    sizes = config.airflow.component_resources
    if container.startswith("git-sync"):
        return sizes.git_sync
    if container.endswith("-log-groomer"):
        return sizes.log_groomer
    by_component = {"scheduler": sizes.scheduler, "webserver": sizes.webserver, "api-server": sizes.webserver,
                    "triggerer": sizes.triggerer, "dag-processor": sizes.dag_processor, "statsd": sizes.statsd,
                    "run-airflow-migrations": sizes.migrate_job, "worker": config.airflow.worker_resources}
    return by_component[component]


def test_every_container_has_the_configured_requests_and_limits(program_render: ProgramRender) -> None:
    config = _stack_config(program_render)
    checked = 0
    for pod in rendered_pods(program_render.objects):
        for container in all_containers(pod.spec):
            expected = _expected_resources(config, pod.labels["component"], container["name"])
            assert container.get("resources") == {
                "requests": {"cpu": expected.requests.cpu, "memory": expected.requests.memory},
                "limits": {"cpu": expected.limits.cpu, "memory": expected.limits.memory},
            }, f"{pod.source}/{container['name']}"
            checked += 1
    assert checked >= 12


def test_prod_and_dev_size_the_control_plane_differently() -> None:
    """Sizes come from the stack files, not from code defaults."""
    sizes = {stack: parse_stack_config(load_stack_inputs(stack).config, stack=stack,
                                       secret_keys=load_stack_inputs(stack).secret_keys).airflow.component_resources
             for stack in ("dev", "prod")}
    assert sizes["dev"].scheduler != sizes["prod"].scheduler
    assert sizes["dev"].statsd != sizes["prod"].statsd


# --- read-only root filesystems and what stays writable ------------------------------------------------

def test_root_filesystems_are_read_only_except_the_task_container(program_render: ProgramRender) -> None:
    for pod in rendered_pods(program_render.objects):
        volumes = {volume["name"]: volume for volume in pod.spec.get("volumes") or []}
        for container in all_containers(pod.spec):
            where = f"{pod.source}/{container['name']}"
            read_only = _context(container).get("readOnlyRootFilesystem")
            if pod.labels["component"] == "worker" and container["name"] == "base":
                # Task code writes where it likes (README, "Pod security").
                assert read_only is False, where
                continue
            assert read_only is True, where
            if container["name"] == "statsd":
                continue  # the exporter writes nothing
            tmp = [mount for mount in container.get("volumeMounts") or [] if mount["mountPath"] == "/tmp"]
            assert len(tmp) == 1, f"{where} has no writable /tmp"
            assert "emptyDir" in volumes[tmp[0]["name"]], where


def test_git_sync_and_airflow_do_not_share_their_tmp(program_render: ProgramRender) -> None:
    for pod in rendered_pods(program_render.objects):
        tmp_volumes = {container["name"]: mount["name"] for container in all_containers(pod.spec)
                       for mount in container.get("volumeMounts") or [] if mount["mountPath"] == "/tmp"}
        git = {volume for name, volume in tmp_volumes.items() if name.startswith("git-sync")}
        airflow = {volume for name, volume in tmp_volumes.items() if not name.startswith("git-sync")}
        assert not git & airflow, pod.source


def test_the_ui_writes_no_pid_file_into_its_read_only_home(program_render: ProgramRender) -> None:
    """Airflow 2's gunicorn writes its pid file to $AIRFLOW_HOME unless given --pid; Airflow 3's
    api-server (uvicorn) writes none and keeps the chart's command."""
    [ui] = [container for pod in rendered_pods(program_render.objects) if pod.labels["component"] == program_render.ui
            for container in pod.spec["containers"] if container["name"] == program_render.ui]
    command = " ".join(ui["args"])
    if program_render.airflow3:
        assert command == "bash -c exec airflow api-server"
    else:
        assert command == "bash -c exec airflow webserver --pid /tmp/airflow-webserver.pid"


# --- ServiceAccount tokens -------------------------------------------------------------------------------

# Who calls the API server or logs in to Vault with its ServiceAccount token: the scheduler
# launches task pods, task pods may launch pods, the UI reads task pod logs, and every Vault reader
# presents its token (airflow_on_k8s/vault.py).
TOKEN_USERS = frozenset({"scheduler", "worker", "webserver", "api-server", "triggerer", "dag-processor"})


def test_only_pods_that_use_a_token_mount_one(program_render: ProgramRender) -> None:
    automount = {account["metadata"]["name"]: account.get("automountServiceAccountToken", True)
                 for account in of_kind(program_render.objects, "ServiceAccount")}
    seen = set()
    for pod in rendered_pods(program_render.objects):
        component = pod.labels["component"]
        account = pod.spec.get("serviceAccountName", "default")
        mounted = pod.spec.get("automountServiceAccountToken", automount.get(account, True))
        assert mounted is (component in TOKEN_USERS), f"{pod.source} ({account})"
        seen.add(component)
    assert {"statsd", "run-airflow-migrations"} <= seen


# --- the image by digest ---------------------------------------------------------------------------------

def test_every_airflow_pod_and_task_pod_runs_the_built_image_by_digest(program_render: ProgramRender) -> None:
    [image] = program_render.run.of_type(IMAGE_TYPE)
    digest = image.outputs["digest"]
    assert digest.startswith("sha256:")
    assert plain(program_render.run.outputs["imageDigest"]) == digest
    airflow = program_render.values["images"]["airflow"]
    assert airflow["digest"] == digest
    repository = airflow["repository"]
    by_digest = [container["image"] for pod in rendered_pods(program_render.objects)
                 for container in all_containers(pod.spec) if container["image"].startswith(f"{repository}")]
    assert len(by_digest) >= 8
    assert all(reference.endswith(f"@{digest}") for reference in by_digest), by_digest
    # Task pods: the executor replaces the template's image with worker_container_repository:tag.
    pinned = f"{repository}:{airflow['tag']}@{digest}"
    assert task_image(program_render.objects) == pinned
    config = airflow_cfg(program_render.objects)
    for section in ("kubernetes_executor", "kubernetes"):
        assert config.get(section, "worker_container_tag") == f"{airflow['tag']}@{digest}", section
    template = task_pod_template(program_render.objects)
    assert template is not None
    assert next(c["image"] for c in template["spec"]["containers"] if c["name"] == "base") == pinned


def test_the_namespace_enforces_the_restricted_profile(program_render: ProgramRender) -> None:
    namespaces = [plain(resource.inputs)["metadata"] for resource in program_render.run.of_type(NAMESPACE_TYPE)]
    [namespace] = [metadata for metadata in namespaces if metadata["name"] == program_render.namespace]
    labels = namespace["labels"]
    assert labels.items() >= POD_SECURITY_LABELS.items()
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"].startswith("v1.")


# --- the policy pack's verdicts agree with the render ---------------------------------------------------

ValuesChange = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> ValuesChange:
    def change(values: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = values
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return change


def _drop(path: str) -> ValuesChange:
    def change(values: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = values
        for part in parents:
            target = target[part]
        target.pop(last)
    return change


def _without_seccomp(values: dict[str, Any]) -> None:
    for path in ("securityContexts.pod", "securityContexts.containers"):
        _drop(f"{path}.seccompProfile")(values)


def _privileged_create_user_job(values: dict[str, Any]) -> None:
    """The create-user Job switched on the way each chart line does it, with a privileged container."""
    airflow3 = str(values["airflowVersion"]).startswith("3.")
    switch = "createUserJob.enabled" if airflow3 else "webserver.defaultUser.enabled"
    _set(switch, True)(values)
    _set("createUserJob.securityContexts.container", {"privileged": True})(values)


# Changes of the program's values, each through a different chart path: (change, leaves the profile).
VALUE_CHANGES: dict[str, tuple[ValuesChange, bool]] = {
    # Containers carry the profile themselves: a pod context without it is still compliant.
    "pod-without-seccomp": (_drop("securityContexts.pod.seccompProfile"), False),
    "no-seccomp": (_without_seccomp, True),
    "escalating-containers": (_set("securityContexts.containers", {"capabilities": {"drop": ["ALL"]}}), True),
    "root-git-sync": (_set("dags.gitSync.securityContexts.container", {"runAsUser": 0, "runAsNonRoot": False}),
                      True),
    "privileged-statsd": (_set("statsd.securityContexts.container", {"privileged": True}), True),
    "task-pods-keep-capabilities": (_set("workers.securityContexts.container", {"allowPrivilegeEscalation": False}),
                                    True),
    "log-groomer-adds-a-capability": (_set("triggerer.logGroomerSidecar.securityContexts.container", {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}), True),
    "host-path": (_set("scheduler.extraVolumes", [{"name": "docker", "hostPath": {"path": "/var/run"}}]), True),
    # A context for a Job the release does not run changes nothing.
    "privileged-but-disabled-create-user-job": (
        _set("createUserJob.securityContexts.container", {"privileged": True}), False),
    "privileged-create-user-job": (_privileged_create_user_job, True),
}


def _release_props(render: ProgramRender, values: Mapping[str, Any]) -> dict[str, Any]:
    return {**plain(render.run.one(RELEASE_TYPE, "airflow-release").inputs), "values": values}


def test_the_pack_passes_the_program_values(program_render: ProgramRender) -> None:
    props = _release_props(program_render, program_render.values)
    assert list(pods_restricted_findings(RELEASE_TYPE, props, {})) == []
    assert list(control_plane_resources_findings(RELEASE_TYPE, props, {})) == []


# Changes rendered together, each taking its own pod out of the profile: in their shared render a
# pod's violations can only be its change's. The pod, by object and the release's name.
OWN_POD: dict[str, str] = {
    "privileged-statsd": "Deployment/{release}-statsd",
    "host-path": "Deployment/{release}-scheduler",
    "privileged-create-user-job": "Job/{release}-create-user",
    "log-groomer-adds-a-capability": "StatefulSet/{release}-triggerer",
    "task-pods-keep-capabilities": "ConfigMap/{release}-config:pod_template_file.yaml",
}
# One render per group: the changes above together, the two that keep the profile together, and
# each change that reaches many pods on its own (5 renders per pair instead of 10).
RENDER_GROUPS: list[tuple[str, ...]] = [
    tuple(OWN_POD), ("pod-without-seccomp", "privileged-but-disabled-create-user-job"),
    ("no-seccomp",), ("escalating-containers",), ("root-git-sync",),
]


def test_the_render_groups_hold_every_change_once() -> None:
    grouped = [change for group in RENDER_GROUPS for change in group]
    assert sorted(grouped) == sorted(VALUE_CHANGES)
    for group in RENDER_GROUPS:
        leaving = {VALUE_CHANGES[change][1] for change in group}
        assert len(leaving) == 1 and (len(group) == 1 or not leaving.pop() or set(group) == set(OWN_POD)), group


@on_committed_pairs
@pytest.mark.parametrize("group", RENDER_GROUPS, ids=["+".join(group) for group in RENDER_GROUPS])
def test_pods_restricted_agrees_with_the_render(program_render: ProgramRender, group: tuple[str, ...]) -> None:
    values = copy.deepcopy(program_render.values)
    for change in group:
        VALUE_CHANGES[change][0](values)
    objects = render_chart(program_render.version, values, release=program_render.release,
                           namespace=program_render.namespace)
    found = violations(objects)
    leaves_the_profile = VALUE_CHANGES[group[0]][1]
    if set(group) == set(OWN_POD):
        assert {line.split(": ")[0] for line in found} == {
            pod.format(release=program_render.release) for pod in OWN_POD.values()}, found
    else:
        assert bool(found) is leaves_the_profile, found
    for change in group:  # the pack's verdict, on each change alone
        alone = copy.deepcopy(program_render.values)
        VALUE_CHANGES[change][0](alone)
        findings = list(pods_restricted_findings(RELEASE_TYPE, _release_props(program_render, alone), {}))
        assert bool(findings) is VALUE_CHANGES[change][1], (change, findings)


# The containers each control-plane resources path sizes, by container name: dropped together, the
# render leaves exactly these without limits (one render per pair instead of one per path).
SIZED_BY: dict[str, set[str]] = {
    "statsd.resources": {"statsd"},
    "dags.gitSync.resources": {"git-sync", "git-sync-init"},
    "migrateDatabaseJob.resources": {"run-airflow-migrations"},
    "scheduler.logGroomerSidecar.resources": {"scheduler-log-groomer"},
    "triggerer.resources": {"triggerer", "wait-for-airflow-migrations"},
}


@on_committed_pairs
def test_control_plane_resources_agrees_with_the_render(program_render: ProgramRender) -> None:
    values = copy.deepcopy(program_render.values)
    for path in SIZED_BY:
        _drop(path)(values)
    objects = render_chart(program_render.version, values, release=program_render.release,
                           namespace=program_render.namespace)
    unsized = {container["name"] for pod in rendered_pods(objects, include_task_pods=False)
               for container in all_containers(pod.spec) if not (container.get("resources") or {}).get("limits")}
    assert unsized == set().union(*SIZED_BY.values())
    for path in SIZED_BY:
        alone = copy.deepcopy(program_render.values)
        _drop(path)(alone)
        assert list(control_plane_resources_findings(RELEASE_TYPE, _release_props(program_render, alone), {})), path


# --- values the committed stacks do not exercise ---------------------------------------------------------

EXISTING_IMAGE = ImageSettings(repository="registry.example.com/airflow", tag="2.10.3-1")


def _minimal_values(image: ImageSettings) -> dict[str, Any]:
    """An Airflow 2 release without SSO, ingress, Vault or task logs, from the smallest valid config."""
    config = parse_stack_config(minimal_config(), stack="dev", secret_keys=MINIMAL_SECRET_KEYS)
    release = config.airflow.release_name
    return chart_values(ChartInputs(airflow=config.airflow, git=config.git, secret_names=secret_names(release),
                                    service_accounts=service_account_names(release, config.airflow.airflow_major),
                                    image=image))


def test_without_sso_the_airflow2_webserver_keeps_a_writable_root() -> None:
    """`airflow webserver` writes webserver_config.py into $AIRFLOW_HOME when none is mounted."""
    require_chart("1.16.0")
    objects = render_chart("1.16.0", _minimal_values(EXISTING_IMAGE), release="airflow", namespace="airflow")
    assert violations(objects) == []
    read_only = {f"{pod.labels['component']}/{container['name']}": _context(container)["readOnlyRootFilesystem"]
                 for pod in rendered_pods(objects) for container in all_containers(pod.spec)}
    assert read_only.pop("webserver/webserver") is False
    assert read_only.pop("worker/base") is False
    assert set(read_only.values()) == {True}


def test_an_image_without_a_digest_is_pulled_by_its_tag() -> None:
    require_chart("1.16.0")
    values = _minimal_values(EXISTING_IMAGE)
    assert "digest" not in values["images"]["airflow"]
    assert values["images"]["pod_template"]["tag"] == EXISTING_IMAGE.tag
    objects = render_chart("1.16.0", values, release="airflow", namespace="airflow")
    assert task_image(objects) == "registry.example.com/airflow:2.10.3-1"
