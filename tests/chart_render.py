"""Render the official Airflow chart offline with Helm's own engine, and read the rendered objects.

The chart's templates live in `../shared/airflow-chart/<version>/chart/` (NOTES.md section 0).
`helm-python-sdk` binds Helm's Go SDK (v4.2.3 in the pinned 0.2.2): `Chart.render` runs the same
engine as `helm template`, including the chart's `values.schema.json` check and its `fail`
calls (check-values.yaml, NOTES.txt), with no cluster and no network. `lookup` returns nothing
and `.Capabilities` are Helm's defaults (Kubernetes v1.36.0, built-in API versions only); the
Airflow charts 1.16.0 and 1.19.0 use neither and declare no `kubeVersion`, which
tests/test_chart_render.py keeps true. Hook objects (the fernet Secret, the migration Job with
`useHelmHooks`) are returned like any other object, annotations kept: a Release creates them too.

A test that needs a chart calls `require_chart(version)`: without `../shared` it skips with the
reason instead of passing silently.
"""

import base64
import configparser
import functools
import hashlib
import json
import os
import pickle
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import helm_python
import helm_python._native
import jsonschema
import pytest
import yaml

from airflow_on_k8s.config import SUPPORTED_PAIRS
from tests.harness import CHART_DIR, airflow_release, helm_values, run_once
from tools.offline import PROJECT_DIR, ProgramRun
from tools.plan import load_stack_inputs

CHART_ROOT: Path = CHART_DIR
NOTES_TEMPLATE = "NOTES.txt"
TASK_POD_TEMPLATE_KEY = "pod_template_file.yaml"
AIRFLOW_CFG_KEY = "airflow.cfg"
WEBSERVER_CONFIG_FILE = "webserver_config.py"

K8sObject = dict[str, Any]
# libyaml's loader parses a release in a fraction of the pure-Python loader's time; same safe subset.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# kind -> path from the object to its pod template (metadata + spec).
_POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}


def chart_path(version: str) -> Path:
    return CHART_ROOT / version / "chart"


def require_chart(version: str) -> Path:
    """The chart directory of `version`; skips the calling test when this checkout lacks it."""
    path = chart_path(version)
    if not (path / "Chart.yaml").is_file():
        pytest.skip(f"{path} is absent: the official Airflow chart {version} lives in "
                    "../shared/airflow-chart/<version>/chart, which this checkout does not have")
    return path


# A render is a function of Helm's engine, the chart's files, the values, the release and the
# namespace, and costs 0.2-0.5 s of the engine (~80 distinct renders, ~20 s of a full run); reading
# its YAML back costs ~0.03 s more. Each distinct render runs once per process, and successful ones
# are kept across runs in build/chart-renders (a tool cache, like .mypy_cache: `make clean` empties
# it), named by a hash of all of the above: the library file and the chart's files by size and
# modification time, the values by the JSON text Helm receives. The objects read from a render
# are kept too, under the same hash and this file's text (the reading is done here), when JSON
# holds them exactly. A render that fails is never kept. The most recently used entries are kept
# (~100 kB each; a full run uses ~160).
RENDER_CACHE_DIR = PROJECT_DIR / "build" / "chart-renders"
KEPT_RENDERS = 2_000
_RenderKey = tuple[str, str, str, str]
_MANIFESTS: dict[_RenderKey, dict[str, str]] = {}
_TEMPLATES: dict[_RenderKey, bytes] = {}
_READER_STAMP = hashlib.sha256(Path(__file__).read_bytes() + yaml.__version__.encode()).hexdigest()


def _render_key(version: str, values: Mapping[str, Any], release: str, namespace: str) -> _RenderKey:
    return version, json.dumps(_json_ready(values)), release, namespace


@functools.cache
def _engine_and_chart_stamp(version: str) -> str:
    """What a render of `version` depends on besides its arguments, as one text."""
    files = [helm_python._native.library_path, *sorted(path for path in chart_path(version).rglob("*")
                                                      if path.is_file())]
    stats = [(str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in files]
    return json.dumps([helm_python.__version__, stats])


def _kept_file(key: _RenderKey, kind: str) -> Path:
    """The file of a render's manifests (kind "manifests") or of the objects read from them ("objects")."""
    depends_on = [_engine_and_chart_stamp(key[0]), *key, *([_READER_STAMP] if kind == "objects" else [])]
    return RENDER_CACHE_DIR / f"{hashlib.sha256(json.dumps(depends_on).encode()).hexdigest()}.{kind}.json"


def _read_kept(path: Path) -> Any:
    """What `path` keeps; None when nothing is kept there."""
    try:
        kept = json.loads(path.read_text())
        os.utime(path)  # used: the last to go
    except (OSError, ValueError):
        return None
    return kept


def _keep(path: Path, data: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(data))
        os.replace(partial, path)  # whole or absent, whichever worker writes it
        kept = list(RENDER_CACHE_DIR.glob("*.json"))
        if len(kept) > KEPT_RENDERS:
            for stale in sorted(kept, key=lambda entry: entry.stat().st_mtime_ns)[:-KEPT_RENDERS]:
                stale.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only checkout renders every time, which is only slower; another worker pruned first


def render_manifests(version: str, values: Mapping[str, Any], *, release: str,
                     namespace: str) -> dict[str, str]:
    """Template path (`airflow/templates/...`) -> rendered text, sorted by path, as Helm renders
    it for an install of `release` into `namespace`. Raises helm_python.HelmValuesError when the
    values break the chart's schema and HelmRenderError when a template `fail`s."""
    path = require_chart(version)
    key = _render_key(version, values, release, namespace)
    if key not in _MANIFESTS:
        kept_file = _kept_file(key, "manifests")
        manifests: dict[str, str] | None = _read_kept(kept_file)
        if manifests is None:
            with helm_python.Chart.load(path) as chart:
                rendered = chart.render(_json_ready(values), name=release, namespace=namespace)
            manifests = dict(sorted(rendered.items()))
            _keep(kept_file, manifests)
        _MANIFESTS[key] = manifests
    return dict(_MANIFESTS[key])


def render_templates(version: str, values: Mapping[str, Any], *, release: str,
                     namespace: str) -> dict[str, list[K8sObject]]:
    """Template path -> the objects it rendered (templates that render nothing are left out)."""
    require_chart(version)
    key = _render_key(version, values, release, namespace)
    if key not in _TEMPLATES:
        kept_file = _kept_file(key, "objects")
        read: dict[str, list[K8sObject]] | None = _read_kept(kept_file)
        if read is None:
            manifests = render_manifests(version, values, release=release, namespace=namespace)
            by_template = {path: parse_manifest(text, source=path) for path, text in manifests.items()
                           if PurePosixPath(path).name != NOTES_TEMPLATE}
            read = {path: objects for path, objects in by_template.items() if objects}
            if _json_holds(read):
                _keep(kept_file, read)
        _TEMPLATES[key] = pickle.dumps(read, pickle.HIGHEST_PROTOCOL)
    templates: dict[str, list[K8sObject]] = pickle.loads(_TEMPLATES[key])
    return templates


def _json_holds(data: Any) -> bool:
    """Whether JSON gives `data` back as it is (YAML may also read dates, bytes and non-text keys)."""
    try:
        return bool(json.loads(json.dumps(data)) == data)
    except (TypeError, ValueError):
        return False


def render_chart(version: str, values: Mapping[str, Any], *, release: str,
                 namespace: str) -> list[K8sObject]:
    """Every Kubernetes object the chart renders (NOTES.txt excluded), in template-path order."""
    templates = render_templates(version, values, release=release, namespace=namespace)
    return [obj for objects in templates.values() for obj in objects]


def parse_manifest(text: str, *, source: str) -> list[K8sObject]:
    """The YAML documents of one manifest; empty documents dropped, anything else must be a mapping."""
    objects: list[K8sObject] = []
    for document in yaml.load_all(text, Loader=_YAML_LOADER):
        if document is None or document == {}:
            continue
        if not isinstance(document, dict):
            raise ValueError(f"{source}: a rendered document is a {type(document).__name__}, not an object")
        objects.append(document)
    return objects


def _json_ready(value: Any) -> Any:
    """Helm's binding serialises with json.dumps, which refuses Mappings that are not dicts."""
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    return value


@dataclass(frozen=True)
class ProgramRender:
    """One stack's Airflow release on one supported (chart, Airflow) pair, rendered by that chart."""
    run: ProgramRun
    values: dict[str, Any]
    version: str
    release: str
    namespace: str
    objects: list[K8sObject]

    @property
    def airflow3(self) -> bool:
        return not str(self.values["airflowVersion"]).startswith("2.")

    @property
    def ui(self) -> str:
        """The UI's component label and container name."""
        return "api-server" if self.airflow3 else "webserver"


# Changed values are rendered on each stack's own committed (chart, Airflow) pair only: a change
# takes its path through the chart's templates, which differ by chart line, not by stack, and the
# two stacks pin the two lines. Both stacks on both lines were ~70 renders of ~0.2 s of Helm's
# engine, on the one worker that runs test_pod_security.py, for the same paths.
COMMITTED_PAIRS = [(stack, load_stack_inputs(stack).config["chartVersion"]) for stack in ("dev", "prod")]
on_committed_pairs = pytest.mark.parametrize("program_render", COMMITTED_PAIRS, indirect=True,
                                             ids=[f"{stack}-chart-{chart}" for stack, chart in COMMITTED_PAIRS])


def render_stack_pair(stack: str, chart: str) -> ProgramRender:
    """The committed `stack` run with the pair's two config values, and its release rendered by the
    chart it pins: the values a stack would have on that line. The run and the render happen once
    per process (run_once, render_chart); each call returns its own copy."""
    require_chart(chart)
    inputs = load_stack_inputs(stack)
    config = {**inputs.config, "chartVersion": chart, "airflowVersion": SUPPORTED_PAIRS[chart]}
    run = run_once(stack, config, inputs.secret_keys)
    release = airflow_release(run)
    version, name, namespace = (release.inputs[key] for key in ("version", "name", "namespace"))
    values = helm_values(run)
    objects = render_chart(version, values, release=name, namespace=namespace)
    return ProgramRender(run, values, version, name, namespace, objects)


def schema_errors(version: str, values: Mapping[str, Any]) -> list[str]:
    """Draft-7 errors of `values` against the chart's own values.schema.json, one line each."""
    schema = json.loads((require_chart(version) / "values.schema.json").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(_json_ready(values)),
                    key=lambda error: [str(part) for part in error.path])
    return [f"{'.'.join(str(part) for part in error.path)}: {error.message}" for error in errors]


def object_key(obj: Mapping[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def of_kind(objects: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [obj for obj in objects if obj.get("kind") == kind]


def find_object(objects: Iterable[Mapping[str, Any]], kind: str, name: str) -> Mapping[str, Any]:
    matches = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    if len(matches) != 1:
        raise LookupError(f"expected one rendered {kind}/{name}, found {len(matches)}")
    return matches[0]


# --- KubernetesExecutor task pods ---------------------------------------------------------

def task_pod_template(objects: Iterable[Mapping[str, Any]]) -> K8sObject | None:
    """The Pod that KubernetesExecutor task pods start from: `pod_template_file.yaml`, a YAML
    text inside the chart's `<fullname>-config` ConfigMap (NOTES.md section 2). None when the
    executor renders no template (no KubernetesExecutor)."""
    found = [(object_key(config_map), config_map["data"][TASK_POD_TEMPLATE_KEY])
             for config_map in of_kind(objects, "ConfigMap")
             if TASK_POD_TEMPLATE_KEY in (config_map.get("data") or {})]
    if not found:
        return None
    if len(found) > 1:
        raise LookupError(f"{TASK_POD_TEMPLATE_KEY} in several ConfigMaps: {[key for key, _ in found]}")
    source, text = found[0]
    pods = parse_manifest(text, source=f"{source}:{TASK_POD_TEMPLATE_KEY}")
    if len(pods) != 1 or pods[0].get("kind") != "Pod":
        raise ValueError(f"{source}:{TASK_POD_TEMPLATE_KEY} is not one Pod")
    return pods[0]


def airflow_cfg(objects: Iterable[Mapping[str, Any]]) -> configparser.ConfigParser:
    """The rendered airflow.cfg (the `<fullname>-config` ConfigMap), parsed as Airflow parses it
    (no interpolation; section and key names kept as written)."""
    found = [config_map["data"][AIRFLOW_CFG_KEY] for config_map in of_kind(objects, "ConfigMap")
             if AIRFLOW_CFG_KEY in (config_map.get("data") or {})]
    if len(found) != 1:
        raise LookupError(f"expected one ConfigMap with {AIRFLOW_CFG_KEY}, found {len(found)}")
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(found[0])
    return parser


def task_image(objects: Iterable[Mapping[str, Any]]) -> str:
    """The image KubernetesExecutor task pods actually run. Airflow's KubeConfig builds
    `worker_container_repository:worker_container_tag` when both are set in [kubernetes_executor],
    and that image replaces the pod template's `base` image (NOTES.md section 2); otherwise the
    template's image stays."""
    objects = list(objects)
    config = airflow_cfg(objects)
    section = "kubernetes_executor"
    repository = config.get(section, "worker_container_repository", fallback="")
    tag = config.get(section, "worker_container_tag", fallback="")
    if repository and tag:
        return f"{repository}:{tag}"
    template = task_pod_template(objects)
    if template is None:
        raise LookupError("no KubernetesExecutor pod template rendered")
    base = next(item for item in template["spec"]["containers"] if item["name"] == "base")
    return str(base["image"])


# --- pods of every workload ------------------------------------------------------------------

@dataclass(frozen=True)
class RenderedPod:
    """One pod template: `source` is `Kind/name` of its workload, or `ConfigMap/<name>:pod_template_file.yaml`
    for the task pod template."""
    source: str
    labels: Mapping[str, str]
    spec: Mapping[str, Any]


def rendered_pods(objects: Iterable[Mapping[str, Any]], *, include_task_pods: bool = True) -> Iterator[RenderedPod]:
    """The pod template of every Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob and Pod,
    then the KubernetesExecutor task pod template (the pods the scheduler creates at run time)."""
    objects = list(objects)
    for obj in objects:
        path = _POD_TEMPLATE_PATHS.get(str(obj.get("kind")))
        if path is None:
            continue
        template: Mapping[str, Any] = obj
        for step in path:
            template = template[step]
        yield RenderedPod(object_key(obj), dict((template.get("metadata") or {}).get("labels") or {}),
                          template["spec"])
    if include_task_pods:
        task_pod = task_pod_template(objects)
        if task_pod is not None:
            config_map = next(obj for obj in of_kind(objects, "ConfigMap")
                              if TASK_POD_TEMPLATE_KEY in (obj.get("data") or {}))
            yield RenderedPod(f"{object_key(config_map)}:{TASK_POD_TEMPLATE_KEY}",
                              dict(task_pod["metadata"].get("labels") or {}), task_pod["spec"])


def pod_specs(objects: Iterable[Mapping[str, Any]], *,
              include_task_pods: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(source, pod spec) for every pod the release runs; see rendered_pods."""
    for pod in rendered_pods(objects, include_task_pods=include_task_pods):
        yield pod.source, pod.spec


def pod_labels(objects: Iterable[Mapping[str, Any]], *,
               include_task_pods: bool = True) -> dict[str, Mapping[str, str]]:
    """source -> the labels its pods carry (what a NetworkPolicy podSelector is matched against)."""
    return {pod.source: pod.labels for pod in rendered_pods(objects, include_task_pods=include_task_pods)}


def all_containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Init containers first, then containers (ephemeral containers are never rendered)."""
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


# --- label selectors -------------------------------------------------------------------------

def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics (apimachinery `LabelSelectorAsSelector`): every
    matchLabels pair and every matchExpressions requirement must hold. An empty selector matches
    every pod (NetworkPolicy `podSelector: {}`); a null one matches nothing. Invalid selectors,
    which the API server rejects, raise ValueError."""
    if selector is None:
        return False
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise ValueError(f"unknown label selector fields {sorted(unknown)}")
    for key, value in (selector.get("matchLabels") or {}).items():
        if not isinstance(value, str):
            raise ValueError(f"matchLabels[{key!r}] must be a string, not {value!r}")
        if labels.get(key) != value:
            return False
    return all(_requirement_holds(requirement, labels) for requirement in selector.get("matchExpressions") or [])


def _requirement_holds(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key: str = requirement["key"]
    operator: str = requirement["operator"]
    values = requirement.get("values") or []
    if operator in ("In", "NotIn"):
        if not values:
            raise ValueError(f"{operator} on {key!r} needs at least one value")
        if operator == "In":
            return key in labels and labels[key] in values
        return key not in labels or labels[key] not in values
    if operator in ("Exists", "DoesNotExist"):
        if values:
            raise ValueError(f"{operator} on {key!r} takes no values")
        present = key in labels
        return present if operator == "Exists" else not present
    raise ValueError(f"unknown label selector operator {operator!r}")


def pods_selected(selector: Mapping[str, Any] | None, objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Sources of the rendered pods (task pods included) that `selector` selects."""
    return [source for source, labels in pod_labels(objects).items() if selector_matches(selector, labels)]


# --- files the chart mounts ------------------------------------------------------------------

def mounted_file(objects: Iterable[Mapping[str, Any]], workload: str, container: str, mount_path: str) -> str:
    """The text of the file `container` of `workload` (`Kind/name`) sees at `mount_path`, followed
    the way the kubelet does: volumeMount -> pod volume -> ConfigMap key (subPath)."""
    objects = list(objects)
    pod = next((pod for pod in rendered_pods(objects) if pod.source == workload), None)
    if pod is None:
        raise LookupError(f"no rendered workload {workload}")
    spec_container = next((item for item in all_containers(pod.spec) if item["name"] == container), None)
    if spec_container is None:
        raise LookupError(f"{workload} has no container {container}")
    mount = next((item for item in spec_container.get("volumeMounts") or [] if item["mountPath"] == mount_path), None)
    if mount is None:
        raise LookupError(f"{workload}/{container} mounts nothing at {mount_path}")
    volume = next(item for item in pod.spec.get("volumes") or [] if item["name"] == mount["name"])
    if "configMap" not in volume:
        raise LookupError(f"{workload} volume {volume['name']} is not a ConfigMap: {sorted(volume)}")
    if not mount.get("subPath"):
        raise LookupError(f"{workload}/{container} mounts the whole ConfigMap at {mount_path}, not one key")
    config_map = find_object(objects, "ConfigMap", volume["configMap"]["name"])
    data: Mapping[str, str] = config_map.get("data") or {}
    if mount["subPath"] not in data:
        raise LookupError(f"ConfigMap {config_map['metadata']['name']} has no key {mount['subPath']}")
    return data[mount["subPath"]]


def webserver_config(objects: Iterable[Mapping[str, Any]], *, component: str = "webserver") -> str | None:
    """The `webserver_config.py` the Airflow 2 webserver (component "webserver") or the Airflow 3
    api-server (component "api-server", chart 1.17+) mounts; None when it mounts none (the image's
    own file then applies)."""
    objects = list(objects)
    workloads = [pod for pod in rendered_pods(objects, include_task_pods=False)
                 if pod.labels.get("component") == component and pod.source.startswith("Deployment/")]
    if len(workloads) != 1:
        raise LookupError(f"expected one {component} Deployment, found {[pod.source for pod in workloads]}")
    workload = workloads[0]
    main = next(item for item in workload.spec["containers"] if item["name"] == component)
    mounts = [item["mountPath"] for item in main.get("volumeMounts") or []
              if PurePosixPath(item["mountPath"]).name == WEBSERVER_CONFIG_FILE]
    if not mounts:
        return None
    return mounted_file(objects, workload.source, component, mounts[0])


def decoded_secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    """A rendered Secret's `data` (base64) and `stringData`, as text."""
    decoded = {key: base64.b64decode(value).decode("utf-8", "replace")
               for key, value in (secret.get("data") or {}).items()}
    decoded.update(secret.get("stringData") or {})
    return decoded


def dumps(objects: Iterable[Mapping[str, Any]]) -> str:
    """All objects as one JSON text, for assertions that a value appears nowhere."""
    return json.dumps(list(objects), sort_keys=True)
