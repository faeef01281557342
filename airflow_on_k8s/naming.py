"""The names this program gives the chart's ServiceAccounts and the Secrets it pre-creates.

The values set every ServiceAccount name explicitly (`<component>.serviceAccount.name`), so the
names Vault roles and federated credentials bind are owned here rather than predicted from the
chart's naming helpers.
"""

from dataclasses import dataclass

# The keys the chart reads from each Secret (its templates/secrets and _helpers.yaml).
METADATA_CONNECTION_KEY = "connection"
FERNET_KEY_KEY = "fernet-key"
WEBSERVER_SECRET_KEY_KEY = "webserver-secret-key"
GIT_SSH_KEY_KEY = "gitSshKey"
ADMIN_PASSWORD_KEY = "password"
ADMIN_USERNAME_KEY = "username"


@dataclass(frozen=True)
class ServiceAccountNames:
    """ServiceAccounts of an Airflow 2 release with the KubernetesExecutor (task pods run as `worker`)."""

    worker: str
    scheduler: str
    triggerer: str
    webserver: str

    def as_dict(self) -> dict[str, str]:
        return {"worker": self.worker, "scheduler": self.scheduler,
                "triggerer": self.triggerer, "webserver": self.webserver}


def service_account_names(release_name: str) -> ServiceAccountNames:
    # The release name is at most 53 characters, so every name stays a valid DNS-1123 label.
    base = release_name
    return ServiceAccountNames(
        worker=f"{base}-worker",
        scheduler=f"{base}-scheduler",
        triggerer=f"{base}-triggerer",
        webserver=f"{base}-webserver",
    )


@dataclass(frozen=True)
class SecretNames:
    """Kubernetes Secrets this program creates and the chart reads by name."""

    metadata_connection: str
    fernet_key: str
    webserver_secret_key: str
    git_ssh_key: str
    admin_bootstrap: str
    sso_client: str


def secret_names(release_name: str) -> SecretNames:
    # Distinct from the chart's own defaults (<release>-metadata, <release>-fernet-key) so the
    # chart can never render a Secret with the same name over ours.
    return SecretNames(
        metadata_connection=f"{release_name}-metadata-db",
        fernet_key=f"{release_name}-fernet-key-managed",
        webserver_secret_key=f"{release_name}-webserver-key-managed",
        git_ssh_key=f"{release_name}-git-ssh-key",
        admin_bootstrap=f"{release_name}-admin-bootstrap",
        sso_client=f"{release_name}-sso-client",
    )
