"""Pod hardening judged on the Airflow chart's values, before anything is rendered.

`pods-restricted`: every pod a KubernetesExecutor release of the chart runs (control plane, Jobs,
the task pod template) stays inside the restricted Pod Security Standard. `control-plane-resources`:
every container that is not a task pod has CPU and memory requests and limits (task pods:
task-pods-have-limits).

The pack runs without the chart, so this module restates how charts 1.16.0 and 1.19.0 resolve a
container's securityContext (templates/_helpers.yaml: `airflowPodSecurityContext`,
`containerSecurityContext` for Airflow's own containers; `localPodSecurityContext` and
`externalContainerSecurityContext` for StatsD; `localContainerSecurityContext` for git-sync) and
which containers each component runs. tests/test_pod_security.py holds these verdicts to the
chart's real render.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .resources import airflow_helm, chart_airflow_major, dig

# The chart's defaults (values.yaml uid/gid, statsd.uid, dags.gitSync.uid).
CHART_AIRFLOW_UID = 50000
CHART_AIRFLOW_GID = 0
CHART_STATSD_UID = 65534
CHART_GIT_SYNC_UID = 65533
# What `containerSecurityContext` renders when neither the component nor securityContexts.containers set one.
CHART_CONTAINER_DEFAULT: Mapping[str, Any] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}

# The restricted profile (kubernetes.io/docs/concepts/security/pod-security-standards).
RESTRICTED_VOLUME_TYPES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                     "persistentVolumeClaim", "projected", "secret"})
ALLOWED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
RESOURCE_FIELDS = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


@dataclass(frozen=True)
class ContainerValues:
    name: str
    context: Mapping[str, Any]
    spec: Mapping[str, Any]  # a full container spec for extraContainers, else empty


@dataclass(frozen=True)
class PodValues:
    """One pod the chart would render: where in the values it comes from, its resolved contexts."""

    where: str
    context: Mapping[str, Any]
    containers: tuple[ContainerValues, ...]
    volumes: tuple[Mapping[str, Any], ...]


def _section(values: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    section = dig(values, path)
    return section if isinstance(section, Mapping) else {}


def _on(section: Mapping[str, Any], key: str = "enabled") -> bool:
    """The chart's `enabled` switches default to true for the components judged here."""
    return section.get(key) is not False


def _airflow_pod_context(values: Mapping[str, Any], *sections: Mapping[str, Any]) -> Mapping[str, Any]:
    for section in (*sections, values):
        for found in (dig(section, "securityContexts.pod"), section.get("securityContext")):
            if isinstance(found, Mapping) and found:
                return found
    return {"runAsUser": values.get("uid", CHART_AIRFLOW_UID), "fsGroup": values.get("gid", CHART_AIRFLOW_GID)}


def _airflow_container_context(values: Mapping[str, Any], *sections: Mapping[str, Any]) -> Mapping[str, Any]:
    for section in sections:
        found = dig(section, "securityContexts.container")
        if isinstance(found, Mapping) and found:
            return found
    shared = dig(values, "securityContexts.containers")
    return shared if isinstance(shared, Mapping) and shared else CHART_CONTAINER_DEFAULT


def _local_context(section: Mapping[str, Any], kind: str, default_uid: int) -> Mapping[str, Any]:
    for found in (dig(section, f"securityContexts.{kind}"), section.get("securityContext")):
        if isinstance(found, Mapping) and found:
            return found
    return {"runAsUser": section.get("uid", default_uid)}


def _extra_containers(section: Mapping[str, Any]) -> list[ContainerValues]:
    extra = [*(section.get("extraInitContainers") or []), *(section.get("extraContainers") or [])]
    return [ContainerValues(str(spec.get("name") or "?"), spec.get("securityContext") or {}, spec)
            for spec in extra if isinstance(spec, Mapping)]


def _dag_processor_on(values: Mapping[str, Any], major: int) -> bool:
    enabled = dig(values, "dagProcessor.enabled")
    return major >= 3 if enabled is None else enabled is True


def _airflow_pod(values: Mapping[str, Any], path: str, main: str, *, wait_for_migrations: bool,
                 log_groomer: bool, git_sync: bool, context_sections: Sequence[Mapping[str, Any]] = ()
                 ) -> PodValues:
    """A pod of Airflow's own image: `main`, the migration wait, the log groomer, git-sync, extras."""
    section = _section(values, path)
    sections = tuple(context_sections) or (section,)
    containers = [ContainerValues(main, _airflow_container_context(values, *sections), {})]
    if wait_for_migrations and _on(_section(section, "waitForMigrations")):
        containers.append(ContainerValues("wait-for-airflow-migrations", _airflow_container_context(
            values, _section(section, "waitForMigrations")), {}))
    if log_groomer and _on(_section(section, "logGroomerSidecar")):
        containers.append(ContainerValues(f"{main}-log-groomer", _airflow_container_context(
            values, _section(section, "logGroomerSidecar")), {}))
    git = _section(values, "dags.gitSync")
    if git_sync and git.get("enabled") is True:
        containers.append(ContainerValues("git-sync", _local_context(git, "container", CHART_GIT_SYNC_UID), {}))
    containers += _extra_containers(section)
    volumes = [*(values.get("volumes") or []), *(section.get("extraVolumes") or [])]
    return PodValues(f"values.{path}", _airflow_pod_context(values, *sections), tuple(containers),
                     tuple(volume for volume in volumes if isinstance(volume, Mapping)))


def chart_pods(values: Mapping[str, Any], major: int) -> Iterator[PodValues]:
    """Every pod a KubernetesExecutor release of this chart line renders from `values`."""
    dag_processor = _dag_processor_on(values, major)
    if _on(_section(values, "scheduler")):
        yield _airflow_pod(values, "scheduler", "scheduler", wait_for_migrations=True, log_groomer=True,
                           git_sync=not dag_processor)
    ui = "apiServer" if major >= 3 else "webserver"
    if _on(_section(values, ui)):
        yield _airflow_pod(values, ui, "api-server" if major >= 3 else "webserver", wait_for_migrations=True,
                           log_groomer=False, git_sync=False)
    if _on(_section(values, "triggerer")):
        yield _airflow_pod(values, "triggerer", "triggerer", wait_for_migrations=True, log_groomer=True,
                           git_sync=True)
    if dag_processor:
        yield _airflow_pod(values, "dagProcessor", "dag-processor", wait_for_migrations=True, log_groomer=True,
                           git_sync=True)
    # The KubernetesExecutor's pod template; chart 1.19 reads workers.kubernetes before workers.
    task_sections = (_section(values, "workers.kubernetes"), _section(values, "workers"))
    yield _airflow_pod(values, "workers", "base", wait_for_migrations=False, log_groomer=False, git_sync=True,
                       context_sections=task_sections)
    if _on(_section(values, "migrateDatabaseJob")):
        yield _airflow_pod(values, "migrateDatabaseJob", "run-airflow-migrations", wait_for_migrations=False,
                           log_groomer=False, git_sync=False)
    # Chart 1.16 runs the create-user Job for webserver.defaultUser (on by default); 1.19 for
    # createUserJob.enabled (on by default) or a deprecated webserver.defaultUser that is on.
    default_user = dig(values, "webserver.defaultUser.enabled")
    create_user = (default_user is not False if major < 3
                   else dig(values, "createUserJob.enabled") is not False or default_user is True)
    if create_user:
        yield _airflow_pod(values, "createUserJob", "create-user", wait_for_migrations=False, log_groomer=False,
                           git_sync=False)
    for optional in ("cleanup", "databaseCleanup"):
        if dig(values, f"{optional}.enabled") is True:
            yield _airflow_pod(values, optional, optional, wait_for_migrations=False, log_groomer=False,
                               git_sync=False)
    statsd = _section(values, "statsd")
    if _on(statsd):
        context = statsd.get("securityContexts") or {}
        container = context.get("container") if isinstance(context, Mapping) else None
        yield PodValues("values.statsd", _local_context(statsd, "pod", CHART_STATSD_UID),
                        (ContainerValues("statsd", container or CHART_CONTAINER_DEFAULT, {}),), ())


# --- the restricted profile, one check per control -------------------------------------------------

def _effective(pod: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    """A field the container may set for itself, falling back to the pod's."""
    return container[key] if container.get(key) is not None else pod.get(key)


def _container_problems(pod: Mapping[str, Any], container: ContainerValues) -> Iterator[str]:
    context = container.context
    if context.get("privileged") is True:
        yield "runs privileged"
    capabilities = context.get("capabilities") or {}
    if "ALL" not in [str(item) for item in capabilities.get("drop") or []]:
        yield "does not drop ALL capabilities"
    added = {str(item) for item in capabilities.get("add") or []} - ALLOWED_ADDED_CAPABILITIES
    if added:
        yield f"adds capabilities {sorted(added)}"
    if context.get("allowPrivilegeEscalation") is not False:
        yield "allows privilege escalation (allowPrivilegeEscalation is not false)"
    if _effective(pod, context, "runAsNonRoot") is not True:
        yield "may run as root (runAsNonRoot is not true)"
    if _effective(pod, context, "runAsUser") == 0:
        yield "runs as UID 0"
    seccomp = _effective(pod, context, "seccompProfile") or {}
    if seccomp.get("type") not in ALLOWED_SECCOMP_TYPES:
        yield f"has seccompProfile {seccomp.get('type') or 'unset'} (RuntimeDefault or Localhost required)"
    for port in container.spec.get("ports") or []:
        if isinstance(port, Mapping) and port.get("hostPort"):
            yield f"binds host port {port['hostPort']}"


def restricted_problems(pod: PodValues) -> Iterator[str]:
    for volume in pod.volumes:
        kinds = sorted(set(volume) - {"name"})
        if not set(kinds) <= RESTRICTED_VOLUME_TYPES:
            yield f"volume {volume.get('name')!r} is {', '.join(kinds)}"
    for container in pod.containers:
        for problem in _container_problems(pod.context, container):
            yield f"container {container.name} {problem}"


def pods_restricted_findings(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm is None:
        return
    for pod in chart_pods(helm.values, chart_airflow_major(helm)):
        problems = list(restricted_problems(pod))
        if problems:
            yield (f"the pod of {pod.where} would run outside the restricted Pod Security Standard: "
                   f"{'; '.join(problems)}. Set securityContexts (pod: runAsNonRoot true, seccompProfile "
                   "RuntimeDefault; container: allowPrivilegeEscalation false, capabilities drop ALL).")


# --- requests and limits ---------------------------------------------------------------------------

def sized_containers(values: Mapping[str, Any], major: int) -> Iterator[str]:
    """Values paths of the `resources` of every container that is not a task pod."""
    dag_processor = _dag_processor_on(values, major)
    components = ["scheduler", "apiServer" if major >= 3 else "webserver", "triggerer"]
    components += ["dagProcessor"] if dag_processor else []
    for component in components:
        section = _section(values, component)
        if not _on(section):
            continue
        # The migration wait init container shares the component's resources.
        yield f"{component}.resources"
        if component != components[1] and _on(_section(section, "logGroomerSidecar")):
            yield f"{component}.logGroomerSidecar.resources"
    if _on(_section(values, "statsd")):
        yield "statsd.resources"
    if dig(values, "dags.gitSync.enabled") is True:
        yield "dags.gitSync.resources"
    if _on(_section(values, "migrateDatabaseJob")):
        yield "migrateDatabaseJob.resources"


def control_plane_resources_findings(resource_type: str, props: Mapping[str, Any],
                                     _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm is None:
        return
    for path in sized_containers(helm.values, chart_airflow_major(helm)):
        resources = _section(helm.values, path)
        missing = [field for field in RESOURCE_FIELDS if not dig(resources, field)]
        if missing:
            yield (f"values.{path} lacks {', '.join(missing)}: the container can take a whole node or be "
                   "evicted first. Set the component's <component>Resources key (cpu=<request>/<limit> "
                   "memory=<request>/<limit>).")
