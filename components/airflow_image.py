"""Azure Container Registry and the project's Airflow image built into it."""

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerregistry as containerregistry
import pulumi_docker_build as docker_build
import pulumi_random as random

from airflow_on_k8s.azure_ids import built_in_role_definition_id
from airflow_on_k8s.config import ImageBuildConfig
from airflow_on_k8s.image_context import IMAGE_CONTEXT_DIR, IMAGE_REPOSITORY_NAME, build_args, image_tag

# Built-in role "AcrPull" (the same id in every tenant).
ACR_PULL_ROLE_ID = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


@dataclass(frozen=True)
class AirflowImageArgs:
    settings: ImageBuildConfig
    airflow_version: str
    resource_group_name: pulumi.Input[str]
    location: str
    # Object id of the AKS kubelet identity that pulls the image.
    kubelet_object_id: pulumi.Input[str]
    context_dir: Path = IMAGE_CONTEXT_DIR


class AirflowImage(pulumi.ComponentResource):
    """ACR (admin user off, no anonymous pull), the image pushed on `up`, and AcrPull for the
    kubelet identity so pods pull without any secret."""

    repository: pulumi.Output[str]
    tag: str
    image_ref: pulumi.Output[str]
    digest: pulumi.Output[str]  # sha256:<hex> of the pushed image
    registry_id: pulumi.Output[str]
    login_server: pulumi.Output[str]
    resources: list[pulumi.Resource]

    def __init__(self, name: str, args: AirflowImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:image:AirflowImage", name, None, opts)
        settings = args.settings
        registry_name: pulumi.Input[str]
        if settings.registry_name is not None:
            registry_name = settings.registry_name
        else:
            # ACR names are global, letters and digits only: Pulumi's "-suffix" autoname is invalid.
            suffix = random.RandomString(f"{name}-registry-suffix", length=10, special=False, upper=False,
                                         opts=pulumi.ResourceOptions(parent=self))
            registry_name = pulumi.Output.concat("airflow", suffix.result)
        registry = containerregistry.Registry(
            f"{name}-registry",
            registry_name=registry_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=containerregistry.SkuArgs(name=settings.registry_sku),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.login_server = registry.login_server
        self.registry_id = registry.id
        self.repository = registry.login_server.apply(lambda server: f"{server}/{IMAGE_REPOSITORY_NAME}")
        self.tag = image_tag(args.airflow_version, args.context_dir)
        cache_ref = self.repository.apply(lambda repository: f"{repository}:buildcache")

        image = docker_build.Image(
            f"{name}-image",
            context=docker_build.BuildContextArgs(location=str(args.context_dir)),
            dockerfile=docker_build.DockerfileArgs(location=str(args.context_dir / "Dockerfile")),
            # The Airflow line picks the Python version and the requirements file.
            build_args=build_args(args.airflow_version),
            platforms=[docker_build.Platform.LINUX_AMD64],
            tags=[self.repository.apply(lambda repository: f"{repository}:{self.tag}")],
            push=True,
            # Previews never build: the tag is known from the context hash alone.
            build_on_preview=False,
            registries=self._push_credentials(settings, registry.login_server),
            cache_from=[docker_build.CacheFromArgs(
                registry=docker_build.CacheFromRegistryArgs(ref=cache_ref))],
            cache_to=[docker_build.CacheToArgs(registry=docker_build.CacheToRegistryArgs(
                ref=cache_ref, mode=docker_build.CacheMode.MAX, image_manifest=True, oci_media_types=True))],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_ref = image.ref
        self.digest = image.digest

        acr_pull = authorization.RoleAssignment(
            f"{name}-kubelet-acr-pull",
            principal_id=args.kubelet_object_id,
            principal_type="ServicePrincipal",
            role_definition_id=registry.id.apply(lambda scope: built_in_role_definition_id(scope, ACR_PULL_ROLE_ID)),
            scope=registry.id,
            description="AKS kubelet pulls the Airflow image (no image pull secret).",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.resources = [registry, image, acr_pull]
        self.register_outputs({
            "repository": self.repository,
            "tag": self.tag,
            "imageRef": self.image_ref,
            "digest": self.digest,
            "registryId": self.registry_id,
            "loginServer": self.login_server,
        })

    @staticmethod
    def _push_credentials(settings: ImageBuildConfig, login_server: pulumi.Output[str]
                          ) -> list[docker_build.RegistryArgs] | None:
        """A push identity from config, or None for the ambient Docker login (`az acr login`).

        ACR's admin-credentials invoke (listRegistryCredentials) is refused while the admin user is
        disabled, so pushes authenticate as a service principal (ACR accepts its client id and
        secret as a Docker login) or with whatever the machine is already logged in as."""
        if settings.push_username is None or settings.push_password is None:
            return None
        return [docker_build.RegistryArgs(address=login_server, username=settings.push_username,
                                          password=pulumi.Output.secret(settings.push_password.value))]
