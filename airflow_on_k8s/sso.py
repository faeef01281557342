"""The webserver_config.py that puts Flask AppBuilder behind OIDC SSO (Entra ID or Okta).

The client secret is never rendered: the file reads it from an environment variable that the
chart fills from a Kubernetes Secret.
"""

import re
from typing import Any

from airflow_on_k8s.config import SsoConfig

CLIENT_SECRET_ENV = "AIRFLOW_SSO_CLIENT_SECRET"
CLIENT_SECRET_KEY = "client-secret"
_HELM_DELIMITER = re.compile(r"\{\{|\}\}")


def oidc_metadata_url(sso: SsoConfig) -> str:
    if sso.provider == "azure":
        return f"https://login.microsoftonline.com/{sso.tenant_id}/v2.0/.well-known/openid-configuration"
    return f"https://{sso.okta_domain}/.well-known/openid-configuration"


def scopes(sso: SsoConfig) -> str:
    # Okta sends group membership only when asked; Entra ID puts app roles in the id_token.
    return "openid profile email groups" if sso.provider == "okta" else "openid profile email"


def _remote_app(sso: SsoConfig) -> dict[str, Any]:
    if sso.provider == "azure":
        base = f"https://login.microsoftonline.com/{sso.tenant_id}/oauth2/v2.0"
    else:
        base = f"https://{sso.okta_domain}/oauth2/v1"
    return {
        "client_id": sso.client_id,
        "api_base_url": f"{base}/",
        "access_token_url": f"{base}/token",
        "authorize_url": f"{base}/authorize",
        "server_metadata_url": oidc_metadata_url(sso),
        "request_token_url": None,
        "client_kwargs": {"scope": scopes(sso)},
    }


def render_webserver_config(sso: SsoConfig) -> str:
    """Python source of webserver_config.py. Literals go through repr(), so any group name is safe."""
    mapping = {group: list(roles) for group, roles in sso.role_mapping}
    provider = {"name": sso.provider, "icon": "fa-windows" if sso.provider == "azure" else "fa-circle-o",
                "token_key": "access_token"}
    return "\n".join([
        '"""Rendered by airflow-on-k8s: OIDC single sign-on, no local passwords."""',
        "import os",
        "",
        "from flask_appbuilder.security.manager import AUTH_OAUTH",
        "",
        "AUTH_TYPE = AUTH_OAUTH",
        "AUTH_USER_REGISTRATION = True",
        f"AUTH_USER_REGISTRATION_ROLE = {sso.default_role!r}",
        "AUTH_ROLES_SYNC_AT_LOGIN = True",
        f"AUTH_ROLES_MAPPING = {mapping!r}",
        "WTF_CSRF_ENABLED = True",
        "OAUTH_PROVIDERS = [",
        f"    {{**{provider!r},",
        f"     'remote_app': {{**{_remote_app(sso)!r},",
        f"                    'client_secret': os.environ[{CLIENT_SECRET_ENV!r}]}}}},",
        "]",
        "",
    ])


def helm_tpl_escape(text: str) -> str:
    """The chart passes webserverConfig through `tpl`: turn every literal {{ or }} into a template
    that prints it, so Helm renders the text unchanged."""
    return _HELM_DELIMITER.sub(lambda match: '{{ "' + match.group(0) + '" }}', text)
