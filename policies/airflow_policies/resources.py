"""Reading the resources the pack judges: Helm releases/charts, their values, and images.

The pack runs in its own virtualenv under the Pulumi CLI, so it imports nothing from the
program; the few parsing rules it shares with the program's config are restated here.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HELM_RELEASE_V3 = "kubernetes:helm.sh/v3:Release"
HELM_CHART_V3 = "kubernetes:helm.sh/v3:Chart"
HELM_CHART_V4 = "kubernetes:helm.sh/v4:Chart"
HELM_TYPES = (HELM_RELEASE_V3, HELM_CHART_V3, HELM_CHART_V4)

EXACT_VERSION = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Tags that are moved on purpose: whatever they point at today changes tomorrow.
MUTABLE_TAGS = frozenset({
    "latest", "stable", "edge", "nightly", "main", "master", "dev", "develop", "head", "current",
    "lts", "release", "prod", "production", "staging", "test", "canary", "snapshot", "rolling",
})
FLOATING_VERSION = re.compile(r"^v?\d+(\.\d+)?$")  # "3" or "3.11": moves with every patch


@dataclass(frozen=True)
class HelmResource:
    """The parts of a Helm Release or Chart the rules look at, whatever the resource type."""

    type: str
    chart: str
    version: str
    repository: str
    values: Mapping[str, Any]
    props: Mapping[str, Any]

    @property
    def is_release(self) -> bool:
        return self.type == HELM_RELEASE_V3

    @property
    def is_airflow(self) -> bool:
        chart_name = self.chart.rstrip("/").rsplit("/", 1)[-1].split(".tgz")[0]
        return chart_name.startswith("airflow") or "airflow.apache.org" in self.repository


def helm_resource(resource_type: str, props: Mapping[str, Any]) -> HelmResource | None:
    if resource_type not in HELM_TYPES:
        return None
    repository_opts = props.get("repositoryOpts") or props.get("fetchOpts") or {}
    values = props.get("values") or {}
    return HelmResource(
        type=resource_type,
        chart=str(props.get("chart") or ""),
        version=str(props.get("version") or ""),
        repository=str(repository_opts.get("repo") or ""),
        values=values if isinstance(values, Mapping) else {},
        props=props,
    )


def airflow_helm(resource_type: str, props: Mapping[str, Any]) -> HelmResource | None:
    """The Helm release or chart if it installs Airflow, else None."""
    helm = helm_resource(resource_type, props)
    return helm if helm is not None and helm.is_airflow else None


def dig(values: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """values["a"]["b"] for path "a.b", or default when any step is missing."""
    current: Any = values
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return default
        current = current[part]
    return current


def major_version(version: str) -> int | None:
    match = re.match(r"^v?(\d+)\.", version)
    return int(match.group(1)) if match else None


def chart_airflow_major(helm: HelmResource) -> int:
    """The Airflow major version the chart will template for: airflowVersion, else its default."""
    declared = dig(helm.values, "airflowVersion")
    if isinstance(declared, str) and major_version(declared) is not None:
        return major_version(declared) or 0
    chart_version = tuple(int(part) for part in re.findall(r"\d+", helm.version)[:2]) or (0, 0)
    # Charts from 1.19.0 default to Airflow 3 (their values.yaml: defaultAirflowTag 3.1.7).
    return 3 if chart_version >= (1, 19) else 2


@dataclass(frozen=True)
class ImageReference:
    where: str
    repository: str
    tag: str
    digest: str


def split_image(reference: str) -> tuple[str, str, str]:
    """repository, tag, digest of an image reference; a missing part is ''."""
    name, _, digest = reference.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        return name[:colon], name[colon + 1:], digest
    return name, "", digest


def helm_value_images(helm: HelmResource) -> Iterator[ImageReference]:
    images = helm.values.get("images")
    if not isinstance(images, Mapping):
        return
    for key, image in images.items():
        if isinstance(image, Mapping) and "repository" in image:
            # Where the chart has no digest field (images.pod_template), `<tag>@<digest>` pins the image.
            tag, _, tag_digest = str(image.get("tag") or "").partition("@")
            yield ImageReference(
                where=f"values.images.{key}",
                repository=str(image.get("repository") or ""),
                tag=tag,
                digest=str(image.get("digest") or tag_digest),
            )


_WORKLOAD_POD_SPECS = {
    "kubernetes:core/v1:Pod": "spec",
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
}


def workload_images(resource_type: str, props: Mapping[str, Any]) -> Iterator[ImageReference]:
    path = _WORKLOAD_POD_SPECS.get(resource_type)
    if path is None:
        return
    pod_spec = dig(props, path) or {}
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(pod_spec.get(field) or []):
            reference = str(container.get("image") or "")
            repository, tag, digest = split_image(reference)
            yield ImageReference(where=f"{path}.{field}[{index}].image", repository=repository,
                                 tag=tag, digest=digest)


def image_problem(image: ImageReference, extra_mutable_tags: frozenset[str] = frozenset()) -> str | None:
    """Why this image reference is not pinned, or None when it is."""
    if image.digest:
        return None if DIGEST.match(image.digest) else f"digest {image.digest!r} is not sha256:<64 hex>"
    tag = image.tag.strip()
    if not tag:
        return "has no tag (the runtime pulls 'latest')"
    if tag.lower() in MUTABLE_TAGS | extra_mutable_tags:
        return f"uses the moving tag {tag!r}"
    if not any(character.isdigit() for character in tag) or FLOATING_VERSION.match(tag):
        return f"uses the mutable-looking tag {tag!r} (pin a full version such as 1.2.3, or a digest)"
    return None


def registry_of(repository: str) -> str:
    """The registry host of a repository, as Docker resolves it."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


_SENSITIVE_KEY = re.compile(
    r"(password|passwd|^pass$|token|secret|fernet_?key|ssh_?key|private_?key|api_?key|credential)",
    re.IGNORECASE)
# Keys that name a Secret (sshKeySecret, fernetKeySecretName) or a way to fetch the value
# (airflow.cfg's fernet_key_cmd, sql_alchemy_conn_secret) instead of holding it...
_REFERENCE_KEY = re.compile(r"(secretname|secretref|secretkeyref|^existingsecret|secret|_cmd|_secret)$",
                            re.IGNORECASE)
# ...except these, which hold the value although they end like a reference (chart 1.18+ jwtSecret).
_LITERAL_SECRET_KEYS = frozenset({"jwtsecret", "clientsecret", "secret"})
_REFERENCE_CONTAINER_KEYS = frozenset({"secretName", "secretKeyRef", "valueFrom", "existingSecret"})
_URI_WITH_PASSWORD = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^@\s/]+@")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def _is_literal_secret_key(key: str) -> bool:
    if key.lower() in _LITERAL_SECRET_KEYS:
        return True
    return bool(_SENSITIVE_KEY.search(key)) and not _REFERENCE_KEY.search(key)


def plaintext_secrets(values: Any, path: str = "values") -> Iterator[str]:
    """Paths in Helm values that hold a literal secret, with what kind it is."""
    if isinstance(values, Mapping):
        name, value = values.get("name"), values.get("value")
        if isinstance(name, str) and isinstance(value, str) and value.strip() and _is_literal_secret_key(name):
            # An env entry: {name: AIRFLOW__WEBSERVER__SECRET_KEY, value: "..."} is judged by its name.
            yield f"{path} sets {name} to a literal"
        is_reference_object = bool(_REFERENCE_CONTAINER_KEYS & set(values))
        for key, item in values.items():
            item_path = f"{path}.{key}"
            if (isinstance(item, (str, int, float)) and not isinstance(item, bool)
                    and str(item).strip() and not is_reference_object
                    and _is_literal_secret_key(str(key))):
                yield f"{item_path} holds a literal value for a secret-like key"
            else:
                yield from plaintext_secrets(item, item_path)
    # The analyzer hands lists over as Sequence proxies, not `list`.
    elif isinstance(values, Sequence) and not isinstance(values, str):
        for index, item in enumerate(values):
            yield from plaintext_secrets(item, f"{path}[{index}]")
    elif isinstance(values, str):
        if _PRIVATE_KEY.search(values):
            yield f"{path} holds a private key"
        elif _URI_WITH_PASSWORD.search(values):
            yield f"{path} holds a connection URI with a password"
