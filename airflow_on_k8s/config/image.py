"""The image every Airflow pod and task pod runs: built into ACR from image/, or an existing one."""

import re
from dataclasses import dataclass

from airflow_on_k8s.config.reader import (
    DNS1123_SUBDOMAIN,
    GUID,
    KeySpec,
    Reader,
    SecretValue,
    check,
)

KEYS: tuple[KeySpec, ...] = (
    KeySpec("imageSource", "string",
            "build (ACR + image built from image/) or existing (airflowImageRepository:airflowImageTag).",
            "build"),
    KeySpec("airflowImageRepository", "string", "Airflow image repository (imageSource existing).",
            "apache/airflow"),
    KeySpec("airflowImageTag", "string",
            "Airflow image tag; must begin with airflowVersion (e.g. 2.10.3-python3.11; imageSource existing).",
            "2.10.3"),
    KeySpec("registryName", "string",
            "ACR name (5-50 letters and digits, globally unique). Empty: generated.", ""),
    KeySpec("registrySku", "string", "Basic, Standard or Premium (prod: Standard).", "Basic"),
    KeySpec("registryPushUsername", "string",
            "Client id of a service principal that may push to the registry. Empty: the ambient "
            "Docker credentials (`az acr login`).", ""),
    KeySpec("registryPushPassword", "string",
            "Secret of that service principal (set with --secret).", "", secret=True),
    KeySpec("registryPullSecretName", "string",
            "Existing image pull Secret for a registry outside Azure (imageSource existing only).", ""),
)
REGISTRY_SKUS = ("Basic", "Standard", "Premium")
_IMAGE_REPOSITORY = re.compile(
    r"\A(?=.{1,255}\Z)(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]{1,5})?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*\Z"
)
_IMAGE_TAG = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")


@dataclass(frozen=True)
class AirflowImage:
    repository: str
    tag: str


@dataclass(frozen=True)
class ImageBuildConfig:
    registry_name: str | None  # None: Pulumi generates a unique name
    registry_sku: str
    push_username: str | None
    push_password: SecretValue | None


@dataclass(frozen=True)
class ExistingImageConfig:
    image: AirflowImage
    pull_secret_name: str | None


def _image(reader: Reader, airflow_version: str) -> AirflowImage:
    repository = reader.string("airflowImageRepository")
    check(bool(_IMAGE_REPOSITORY.match(repository)), "airflowImageRepository", repository,
           "an image repository without tag or digest, e.g. apache/airflow or myacr.azurecr.io/airflow")
    tag = reader.string("airflowImageTag")
    check(tag.lower() != "latest" and bool(_IMAGE_TAG.match(tag)), "airflowImageTag", tag,
           "a pinned image tag (not empty, not 'latest')")
    check(tag == airflow_version or tag.startswith(f"{airflow_version}-"), "airflowImageTag", tag,
           f"a tag that begins with airflowVersion {airflow_version} (e.g. {airflow_version}-python3.11) "
           "so the chart's airflowVersion matches the image")
    return AirflowImage(repository=repository, tag=tag)


def parse(reader: Reader, airflow_version: str) -> ImageBuildConfig | ExistingImageConfig:
    source = reader.choice("imageSource", ("build", "existing"))
    pull_secret = reader.string("registryPullSecretName")
    if source == "existing":
        check(pull_secret == "" or bool(DNS1123_SUBDOMAIN.fullmatch(pull_secret)), "registryPullSecretName",
               pull_secret, "the name of an existing kubernetes.io/dockerconfigjson Secret")
        return ExistingImageConfig(image=_image(reader, airflow_version), pull_secret_name=pull_secret or None)
    check(pull_secret == "", "registryPullSecretName", pull_secret,
           "empty with imageSource build: the kubelet identity pulls from ACR with AcrPull")
    name = reader.string("registryName")
    check(name == "" or bool(re.fullmatch(r"[a-zA-Z0-9]{5,50}", name)), "registryName", name,
           "5-50 letters and digits, globally unique (empty: generated)")
    sku = reader.choice("registrySku", REGISTRY_SKUS)
    username = reader.string("registryPushUsername")
    password = reader.secret("registryPushPassword")
    check(username == "" or bool(GUID.fullmatch(username)), "registryPushUsername", username,
           "the client id (GUID) of a service principal with push rights")
    check(bool(username) == (password is not None), "registryPushPassword", "[secret]",
           "set together with registryPushUsername, or both empty", secret=True)
    return ImageBuildConfig(registry_name=name or None, registry_sku=sku, push_username=username or None,
                            push_password=password)
