"""The UI: its TLS Ingress and single sign-on (Entra ID or Okta)."""

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from airflow_on_k8s.config.reader import (
    DNS1123_SUBDOMAIN,
    GUID,
    HOSTNAME,
    KeySpec,
    Reader,
    SecretValue,
    check,
    dns_label,
    parse_json,
)
from airflow_on_k8s.config.vault import VAULT_PATH, VaultConfig

KEYS: tuple[KeySpec, ...] = (
    KeySpec("ingressHost", "string", "DNS name of the Airflow UI. Empty: no Ingress (port-forward only).", ""),
    KeySpec("ingressClassName", "string", "IngressClass of the controller.", "nginx"),
    KeySpec("ingressClusterIssuer", "string", "cert-manager ClusterIssuer that issues the UI certificate.", ""),
    KeySpec("ingressTlsSecretName", "string", "Existing TLS Secret for the UI (instead of cert-manager).", ""),
    KeySpec("ingressControllerNamespace", "string",
            "Namespace of the ingress controller pods (allowed to reach the webserver). With clusterMode "
            "create the program installs Traefik there, serving ingressClassName.", "ingress-nginx"),
    KeySpec("ingressAcmeEmail", "string",
            "ACME account e-mail. Set: the program creates the ClusterIssuer ingressClusterIssuer (Let's "
            "Encrypt, HTTP-01 through ingressClassName); required with clusterMode create and an issuer.", ""),
    KeySpec("ssoProvider", "string", "none, azure (Entra ID) or okta.", "none"),
    KeySpec("ssoTenantId", "string", "Entra ID tenant id (ssoProvider azure).", ""),
    KeySpec("ssoOktaDomain", "string", "Okta domain, e.g. example.okta.com (ssoProvider okta).", ""),
    KeySpec("ssoClientId", "string", "OIDC client (application) id (empty with ssoManageApp).", ""),
    KeySpec("ssoManageApp", "boolean",
            "ssoProvider azure: the program creates the Entra ID application, its app roles (from ssoRoleMapping), "
            "its service principal (assignment required) and its client secret.", False),
    KeySpec("ssoClientSecretExpiries", "array",
            "ssoManageApp: end dates (YYYY-MM-DD) of the app's client secrets, one secret each; two while "
            "rotating (README: rotating the SSO client secret).", []),
    KeySpec("ssoClientSecretActive", "string",
            "ssoManageApp: the end date of the secret Airflow uses. Empty: the only one.", ""),
    KeySpec("ssoClientSecret", "string", "OIDC client secret (set with --secret).", "", secret=True,
            max_length=4096),
    KeySpec("ssoClientSecretVaultPath", "string",
            "Instead of ssoClientSecret: KV v2 secret in vaultKvMount whose key client_secret holds it.", ""),
    KeySpec("ssoDefaultRole", "string", "Airflow role of a user no group maps.", "Viewer"),
    KeySpec("ssoRoleMapping", "string",
            "JSON object: IdP group (Okta) or app role (Entra) -> Airflow roles.", "{}",
            max_length=65_536, multiline=True),
)
_EMAIL = re.compile(r"(?=.{3,254}\Z)[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MAX_ROLE_MAPPING_GROUPS = 500
_MAX_GROUP_NAME = 256


@dataclass(frozen=True)
class IngressConfig:
    host: str
    class_name: str
    cluster_issuer: str | None
    tls_secret_name: str | None
    controller_namespace: str
    acme_email: str | None  # set: the program creates cluster_issuer


SsoProvider = Literal["azure", "okta"]
AIRFLOW_ROLES = ("Admin", "Op", "User", "Viewer", "Public")


@dataclass(frozen=True)
class SsoConfig:
    provider: SsoProvider
    tenant_id: str | None
    okta_domain: str | None
    client_id: str | None  # None: the managed app's
    client_secret: SecretValue | None
    client_secret_vault_path: str | None
    default_role: str
    role_mapping: tuple[tuple[str, tuple[str, ...]], ...]
    managed_app: "ManagedAppConfig | None" = None


@dataclass(frozen=True)
class ManagedAppConfig:
    """The Entra ID application the program owns, and which of its client secrets Airflow uses."""

    secret_expiries: tuple[date, ...]
    active_secret_expiry: date


def parse_ingress(reader: Reader, creates_cluster: bool) -> IngressConfig | None:
    typed_host = reader.string("ingressHost")
    host = typed_host.lower()
    issuer = reader.string("ingressClusterIssuer")
    tls_secret = reader.string("ingressTlsSecretName")
    if not host:
        check(not issuer and not tls_secret, "ingressHost", host, "set when a TLS issuer or Secret is given")
        return None
    check(typed_host.isascii() and bool(HOSTNAME.fullmatch(host)), "ingressHost", typed_host,
          "a DNS name such as airflow.example.com (an IDN in its xn-- form)")
    check(bool(issuer) != bool(tls_secret), "ingressClusterIssuer", issuer,
           "exactly one of ingressClusterIssuer (cert-manager) and ingressTlsSecretName: the UI is TLS only")
    for name, value in (("ingressClusterIssuer", issuer), ("ingressTlsSecretName", tls_secret)):
        check(value == "" or bool(DNS1123_SUBDOMAIN.fullmatch(value)), name, value, "a Kubernetes object name")
    class_name = reader.string("ingressClassName")
    check(bool(DNS1123_SUBDOMAIN.fullmatch(class_name)), "ingressClassName", class_name, "an IngressClass name")
    acme_email = reader.string("ingressAcmeEmail")
    if issuer and creates_cluster:
        check(bool(acme_email), "ingressAcmeEmail", acme_email,
               f"an e-mail address with clusterMode create: the new cluster has no ClusterIssuer {issuer} "
               "until the program creates it")
    check(not acme_email or bool(issuer), "ingressAcmeEmail", acme_email,
           "empty without ingressClusterIssuer (it names the ClusterIssuer to create)")
    check(not acme_email or creates_cluster, "ingressAcmeEmail", acme_email,
           "empty with clusterMode existing: the cluster's own cert-manager and issuers are used")
    check(not acme_email or bool(_EMAIL.fullmatch(acme_email)), "ingressAcmeEmail", acme_email,
           "an e-mail address such as platform@example.com")
    return IngressConfig(host=host, class_name=class_name, cluster_issuer=issuer or None,
                         tls_secret_name=tls_secret or None,
                         controller_namespace=dns_label(reader, "ingressControllerNamespace"),
                         acme_email=acme_email or None)


def _role_mapping(reader: Reader) -> tuple[tuple[str, tuple[str, ...]], ...]:
    text = reader.string("ssoRoleMapping") or "{}"
    mapping = parse_json(text, max_depth=2)
    allowed = (f"a JSON object of group -> Airflow roles ({', '.join(AIRFLOW_ROLES)}), each group once, "
               'e.g. {"airflow-admins": ["Admin"]}')
    check(isinstance(mapping, dict), "ssoRoleMapping", text, allowed)
    assert isinstance(mapping, dict)
    check(len(mapping) <= MAX_ROLE_MAPPING_GROUPS, "ssoRoleMapping", text,
          f"at most {MAX_ROLE_MAPPING_GROUPS} groups ({len(mapping)} given)")
    result = []
    for group, roles in mapping.items():
        role_list = [roles] if isinstance(roles, str) else roles
        # Any text is a group name (webserver_config.py quotes it with repr()), within a length.
        check(0 < len(group) <= _MAX_GROUP_NAME, "ssoRoleMapping", group,
              f"group names of 1-{_MAX_GROUP_NAME} characters")
        check(isinstance(role_list, list) and bool(role_list) and all(role in AIRFLOW_ROLES for role in role_list),
              "ssoRoleMapping", f"{group}: {json.dumps(roles)}", allowed)
        result.append((group, tuple(role_list)))
    return tuple(result)


def _date(text: str) -> date | None:
    # An unquoted 2027-06-30 in a YAML list reaches the program as Go's time.String() of that date
    # (pulumi's config/object.go turns the YAML timestamp into text): both spellings are the date.
    match = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?: 00:00:00 \+0000 UTC)?", text)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def _managed_app(reader: Reader, provider: str) -> ManagedAppConfig | None:
    texts = reader.array("ssoClientSecretExpiries")
    active = reader.string("ssoClientSecretActive")
    if not reader.boolean("ssoManageApp"):
        check(not texts, "ssoClientSecretExpiries", str(list(texts))[:200], "empty without ssoManageApp")
        check(not active, "ssoClientSecretActive", active[:200], "empty without ssoManageApp")
        return None
    check(provider == "azure", "ssoManageApp", "true", "false unless ssoProvider is azure (an Entra ID application)")
    allowed = "one or two end dates YYYY-MM-DD (two only while rotating), e.g. [2027-06-30]"
    check(1 <= len(texts) <= 2, "ssoClientSecretExpiries", str(list(texts))[:200], allowed)
    expiries = [_date(text) for text in texts]
    for text, expiry in zip(texts, expiries, strict=True):
        check(expiry is not None, "ssoClientSecretExpiries", text[:200], allowed)
    dates = [expiry for expiry in expiries if expiry is not None]
    check(len(set(dates)) == len(dates), "ssoClientSecretExpiries", str(list(texts))[:200], allowed)
    active_date = _date(active) if active else (dates[0] if len(dates) == 1 else None)
    check(active_date in dates, "ssoClientSecretActive", active[:200],
          f"one of ssoClientSecretExpiries ({', '.join(map(str, dates))}): the secret Airflow logs in with")
    assert active_date is not None
    return ManagedAppConfig(secret_expiries=tuple(dates), active_secret_expiry=active_date)


def parse_sso(reader: Reader, vault: VaultConfig | None, ingress: IngressConfig | None) -> SsoConfig | None:
    provider = reader.choice("ssoProvider", ("none", "azure", "okta"))
    if provider == "none":
        return None
    check(ingress is not None, "ingressHost", "", f"set: ssoProvider {provider} redirects users back to it")
    tenant = reader.string("ssoTenantId")
    typed_domain = reader.string("ssoOktaDomain")
    domain = typed_domain.lower()
    if provider == "azure":
        check(bool(GUID.fullmatch(tenant)), "ssoTenantId", tenant,
              "the Entra ID tenant id (GUID) for ssoProvider azure")
    else:
        check(typed_domain.isascii() and bool(HOSTNAME.fullmatch(domain)), "ssoOktaDomain", typed_domain,
               "the Okta domain (e.g. example.okta.com) for ssoProvider okta")
    client_id = reader.string("ssoClientId")
    secret = reader.secret("ssoClientSecret")
    vault_path = reader.string("ssoClientSecretVaultPath")
    managed_app = _managed_app(reader, provider)
    if managed_app is not None:
        for name, value in (("ssoClientId", client_id), ("ssoClientSecretVaultPath", vault_path)):
            check(not value, name, value, "empty with ssoManageApp: the program creates the app and its secret")
        check(secret is None, "ssoClientSecret", "[secret]",
              "empty with ssoManageApp: the program creates the app and its secret", secret=True)
        return SsoConfig(provider="azure", tenant_id=tenant, okta_domain=None, client_id=None, client_secret=None,
                         client_secret_vault_path=None, default_role=reader.choice("ssoDefaultRole", AIRFLOW_ROLES),
                         role_mapping=_role_mapping(reader), managed_app=managed_app)
    check(bool(re.fullmatch(r"[A-Za-z0-9._-]{8,128}", client_id)), "ssoClientId", client_id,
           "the OIDC client (application) id")
    check((secret is None) != (vault_path == ""), "ssoClientSecret", "[secret]",
           "exactly one of ssoClientSecret (set with --secret) and ssoClientSecretVaultPath", secret=True)
    if vault_path:
        check(vault is not None and bool(VAULT_PATH.fullmatch(vault_path)), "ssoClientSecretVaultPath",
               vault_path, "a path inside vaultKvMount (needs vaultAddress)")
        check(vault is None or not vault.create_kv_mount, "ssoClientSecretVaultPath", vault_path,
               "empty while vaultCreateKvMount is true: the secret must exist before the first update reads it")
    default_role = reader.choice("ssoDefaultRole", AIRFLOW_ROLES)
    return SsoConfig(provider="azure" if provider == "azure" else "okta", tenant_id=tenant or None,
                     okta_domain=domain or None, client_id=client_id, client_secret=secret,
                     client_secret_vault_path=vault_path or None, default_role=default_role,
                     role_mapping=_role_mapping(reader))
