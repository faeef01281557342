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
API_SECRET_KEY_KEY = "api-secret-key"
JWT_SECRET_KEY = "jwt-secret"
GIT_SSH_KEY_KEY = "gitSshKey"
ADMIN_PASSWORD_KEY = "password"
ADMIN_USERNAME_KEY = "username"


@dataclass(frozen=True)
class ServiceAccountNames:
    """The ServiceAccounts of one release with the KubernetesExecutor (task pods run as `worker`).
    Airflow 2 has a webserver; Airflow 3 an api-server and a dag-processor instead."""

    worker: str
    scheduler: str
    triggerer: str
    webserver: str | None = None
    api_server: str | None = None
    dag_processor: str | None = None

    def as_dict(self) -> dict[str, str]:
        """Role -> name for the components this line runs (the `serviceAccounts` stack output)."""
        roles = {"worker": self.worker, "scheduler": self.scheduler, "triggerer": self.triggerer,
                 "webserver": self.webserver, "apiServer": self.api_server, "dagProcessor": self.dag_processor}
        return {role: name for role, name in roles.items() if name is not None}

    def vault_readers(self, bind_webserver: bool) -> list[str]:
        """Who logs in to Vault: everything that resolves connections and variables. On Airflow 3 the
        api-server serves the tasks' fallback lookups and the dag-processor runs top-level code."""
        readers = [self.worker, self.scheduler, self.triggerer]
        if self.webserver is not None and bind_webserver:
            readers.append(self.webserver)
        return readers + [name for name in (self.api_server, self.dag_processor) if name is not None]


def service_account_names(release_name: str, airflow_major: int) -> ServiceAccountNames:
    # The release name is at most 53 characters, so every name stays a valid DNS-1123 label.
    base = release_name
    if airflow_major >= 3:
        return ServiceAccountNames(worker=f"{base}-worker", scheduler=f"{base}-scheduler",
                                   triggerer=f"{base}-triggerer", api_server=f"{base}-api-server",
                                   dag_processor=f"{base}-dag-processor")
    return ServiceAccountNames(worker=f"{base}-worker", scheduler=f"{base}-scheduler",
                               triggerer=f"{base}-triggerer", webserver=f"{base}-webserver")


def ui_service_name(release_name: str, airflow_major: int) -> str:
    """The chart's UI Service (<fullname>-webserver or -api-server; fullname is the release name)."""
    return f"{release_name}-api-server" if airflow_major >= 3 else f"{release_name}-webserver"


@dataclass(frozen=True)
class SecretNames:
    """Kubernetes Secrets this program creates and the chart reads by name."""

    metadata_connection: str
    fernet_key: str
    webserver_secret_key: str  # Airflow 2
    api_secret_key: str  # Airflow 3: [api] secret_key
    jwt_secret: str  # Airflow 3: [api_auth] jwt_secret, shared by scheduler and api-server
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
        api_secret_key=f"{release_name}-api-secret-key-managed",
        jwt_secret=f"{release_name}-jwt-secret-managed",
        git_ssh_key=f"{release_name}-git-ssh-key",
        admin_bootstrap=f"{release_name}-admin-bootstrap",
        sso_client=f"{release_name}-sso-client",
    )
