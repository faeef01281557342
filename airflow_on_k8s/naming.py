"""Names the chart derives from the release name, and the Secrets this program pre-creates.

The ServiceAccount rule is the chart's `airflow.serviceAccountName` helper (chart 1.16-1.21,
see ../shared/airflow-chart/NOTES.md section 1): the base is the release name when it contains
"airflow", else `<release>-airflow`; it ignores `useStandardNaming`.
"""

from dataclasses import dataclass

# The chart's Secret keys (NOTES.md section 3); the chart reads these exact keys.
METADATA_CONNECTION_KEY = "connection"
FERNET_KEY_KEY = "fernet-key"
WEBSERVER_SECRET_KEY_KEY = "webserver-secret-key"
GIT_SSH_KEY_KEY = "gitSshKey"
ADMIN_PASSWORD_KEY = "password"
ADMIN_USERNAME_KEY = "username"


def service_account_base(release_name: str) -> str:
    base = release_name if "airflow" in release_name else f"{release_name}-airflow"
    return base[:63].rstrip("-")


@dataclass(frozen=True)
class ServiceAccountNames:
    """ServiceAccounts the chart creates for an Airflow 2 release with the KubernetesExecutor."""

    worker: str
    scheduler: str
    triggerer: str
    webserver: str

    def as_dict(self) -> dict[str, str]:
        return {"worker": self.worker, "scheduler": self.scheduler,
                "triggerer": self.triggerer, "webserver": self.webserver}


def service_account_names(release_name: str) -> ServiceAccountNames:
    base = service_account_base(release_name)
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
