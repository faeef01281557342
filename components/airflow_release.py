"""The official Airflow Helm chart with the KubernetesExecutor, and the Secrets it reads by name."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random
import pulumi_tls as tls

from airflow_on_k8s.config import SecretValue
from airflow_on_k8s.helm_values import RELEASE_TIMEOUT_SECONDS, ChartInputs, chart_values
from airflow_on_k8s.naming import (
    ADMIN_PASSWORD_KEY,
    ADMIN_USERNAME_KEY,
    API_SECRET_KEY_KEY,
    FERNET_KEY_KEY,
    GIT_SSH_KEY_KEY,
    JWT_SECRET_KEY,
    METADATA_CONNECTION_KEY,
    WEBSERVER_SECRET_KEY_KEY,
    SecretNames,
)
from airflow_on_k8s.sso import CLIENT_SECRET_KEY

CHART_NAME = "airflow"
CHART_REPOSITORY = "https://airflow.apache.org"
ADMIN_USERNAME = "admin"
# Pod Security Admission: the API server refuses any pod of the namespace outside the restricted
# profile. Enforcement is judged by the profile as Kubernetes 1.35 defines it (the oldest minor
# AKS still supports, airflow_on_k8s/aks_versions.py), so a cluster upgrade never starts refusing
# pods; audit and warn follow the cluster's newest definition, to announce such a change first.
POD_SECURITY_LEVEL = "restricted"
POD_SECURITY_ENFORCE_VERSION = "v1.35"
POD_SECURITY_LABELS: dict[str, str] = {
    "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
    "pod-security.kubernetes.io/enforce-version": POD_SECURITY_ENFORCE_VERSION,
    "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
    "pod-security.kubernetes.io/audit-version": "latest",
    "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
    "pod-security.kubernetes.io/warn-version": "latest",
}


def _camel_case(snake: str) -> str:
    first, *rest = snake.split("_")
    return first + "".join(part.title() for part in rest)


def fernet_key_from_base64(standard_base64: str) -> str:
    """Fernet wants urlsafe base64 of 32 bytes; random's `base64` output is the standard alphabet."""
    return standard_base64.replace("+", "-").replace("/", "_")


@dataclass(frozen=True)
class AirflowReleaseArgs:
    # Everything the chart values depend on, the names of the Secrets created here included.
    chart: ChartInputs
    # The metadata DB's SQLAlchemy URI; kept secret end to end.
    metadata_connection: pulumi.Input[str]
    # With SSO (chart.sso), the OIDC client secret; the login then replaces passwords.
    sso_client_secret: pulumi.Input[str] | None = None
    # Resources the release must wait for (the database, the pushed image) beyond its Secrets.
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class AirflowRelease(pulumi.ComponentResource):
    """Namespace, pre-created key Secrets and the `apache-airflow/airflow` Helm release."""

    namespace: pulumi.Output[str]
    release_name: pulumi.Output[str]
    secret_names: SecretNames
    created_secrets: dict[str, str]  # camelCase role -> name, for every Secret this release created
    deploy_public_key: pulumi.Output[str] | None
    helm_values: dict[str, object]

    def __init__(self, name: str, args: AirflowReleaseArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:airflow:AirflowRelease", name, None, opts)
        airflow = args.chart.airflow
        assert (args.chart.sso is None) == (args.sso_client_secret is None), "SSO needs its client secret"
        self.secret_names = args.chart.secret_names
        self._created_names: set[str] = set()
        self.helm_values = chart_values(args.chart)

        namespace = kubernetes.core.v1.Namespace(
            f"{name}-namespace",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=airflow.namespace,
                labels={"app.kubernetes.io/part-of": "airflow-on-k8s", **POD_SECURITY_LABELS},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = namespace.metadata.apply(lambda metadata: metadata.name or airflow.namespace)

        key_secrets = self._key_secrets(name, args, self.namespace)
        self.deploy_public_key = None
        if args.chart.git.auth == "ssh":
            ssh_secret, self.deploy_public_key = self._git_ssh_secret(
                name, args.chart.git.ssh_private_key, self.namespace)
            key_secrets.append(ssh_secret)

        release = kubernetes.helm.v3.Release(
            f"{name}-release",
            kubernetes.helm.v3.ReleaseArgs(
                name=airflow.release_name,
                chart=CHART_NAME,
                version=airflow.chart_version,
                repository_opts=kubernetes.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
                namespace=self.namespace,
                create_namespace=False,
                atomic=True,
                cleanup_on_fail=True,
                timeout=RELEASE_TIMEOUT_SECONDS,
                values=self.helm_values,
            ),
            # Values hold Secret names only, so the dependency has to be explicit.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*key_secrets, *args.depends_on]),
        )
        self.release_name = release.name.apply(lambda value: value or airflow.release_name)
        self.created_secrets = {_camel_case(role): secret_name
                                for role, secret_name in asdict(self.secret_names).items()
                                if secret_name in self._created_names}

        self.register_outputs({
            "namespace": self.namespace,
            "releaseName": self.release_name,
            "deployPublicKey": self.deploy_public_key,
        })

    def _secret(self, resource_name: str, secret_name: str, namespace: pulumi.Input[str],
                data: dict[str, pulumi.Input[str]]) -> kubernetes.core.v1.Secret:
        self._created_names.add(secret_name)
        return kubernetes.core.v1.Secret(
            resource_name,
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=secret_name,
                namespace=namespace,
                labels={"app.kubernetes.io/part-of": "airflow-on-k8s"},
            ),
            type="Opaque",
            string_data={key: pulumi.Output.secret(value) for key, value in data.items()},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _key_secrets(self, name: str, args: AirflowReleaseArgs,
                     namespace: pulumi.Output[str]) -> list[kubernetes.core.v1.Secret]:
        names = self.secret_names
        # Random resources keep their result in the state: the keys survive every `pulumi up`
        # and change only if these resources are replaced on purpose.
        fernet_bytes = random.RandomBytes(f"{name}-fernet-key", length=32,
                                          opts=pulumi.ResourceOptions(parent=self))
        secrets = [
            self._secret(f"{name}-metadata-connection", names.metadata_connection, namespace,
                         {METADATA_CONNECTION_KEY: args.metadata_connection}),
            self._secret(f"{name}-fernet-key", names.fernet_key, namespace,
                         {FERNET_KEY_KEY: fernet_bytes.base64.apply(fernet_key_from_base64)}),
        ]
        # Airflow 2 signs UI sessions with the webserver key; Airflow 3 has an API key for that and a
        # JWT secret the scheduler signs task tokens with and the api-server checks them with.
        keys = ([("api-secret-key", names.api_secret_key, API_SECRET_KEY_KEY, 32),
                 ("jwt-secret", names.jwt_secret, JWT_SECRET_KEY, 64)]
                if args.chart.airflow.airflow_major >= 3 else
                [("webserver-secret-key", names.webserver_secret_key, WEBSERVER_SECRET_KEY_KEY, 32)])
        for role, secret_name, key, length in keys:
            key_bytes = random.RandomBytes(f"{name}-{role}", length=length, opts=pulumi.ResourceOptions(parent=self))
            secrets.append(self._secret(f"{name}-{role}", secret_name, namespace, {key: key_bytes.hex}))
        if args.sso_client_secret is not None:
            secrets.append(self._secret(f"{name}-sso-client", names.sso_client, namespace,
                                        {CLIENT_SECRET_KEY: args.sso_client_secret}))
        else:
            # Until SSO is configured, the first admin's password waits in a Secret (see README).
            admin_password = random.RandomPassword(f"{name}-admin-password", length=32, special=False,
                                                   opts=pulumi.ResourceOptions(parent=self))
            secrets.append(self._secret(f"{name}-admin-bootstrap", names.admin_bootstrap, namespace,
                                        {ADMIN_USERNAME_KEY: ADMIN_USERNAME,
                                         ADMIN_PASSWORD_KEY: admin_password.result}))
        return secrets

    def _git_ssh_secret(self, name: str, given_key: SecretValue | None,
                        namespace: pulumi.Output[str]
                        ) -> tuple[kubernetes.core.v1.Secret, pulumi.Output[str]]:
        if given_key is None:
            generated = tls.PrivateKey(f"{name}-git-deploy-key", algorithm="ED25519",
                                       opts=pulumi.ResourceOptions(parent=self))
            private_key: pulumi.Output[str] = generated.private_key_openssh
            public_key = generated.public_key_openssh
        else:
            private_key = pulumi.Output.secret(given_key.value)
            is_openssh = "BEGIN OPENSSH PRIVATE KEY" in given_key.value
            derived = tls.get_public_key_output(
                private_key_openssh=private_key if is_openssh else None,
                private_key_pem=None if is_openssh else private_key,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            # The public half is meant to be pasted into the git host; it is not a secret.
            public_key = pulumi.Output.unsecret(derived.public_key_openssh)
        secret = self._secret(f"{name}-git-ssh-key", self.secret_names.git_ssh_key, namespace,
                              {GIT_SSH_KEY_KEY: private_key})
        return secret, public_key.apply(str.strip)
