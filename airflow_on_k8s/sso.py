"""The webserver_config.py that puts Flask AppBuilder behind OIDC SSO (Entra ID or Okta).

The client secret is never rendered: the file reads it from an environment variable that the
chart fills from a Kubernetes Secret in the UI pods. Other pods that load the file (the Airflow 2
scheduler and triggerer run FAB CLI commands such as `airflow roles list`) have no such variable
and must still load it, so it is read with `os.environ.get`.
"""

import re
from typing import Any

from airflow_on_k8s.config import SsoConfig

CLIENT_SECRET_ENV = "AIRFLOW_SSO_CLIENT_SECRET"
FAB_SECURITY_MANAGER = "airflow.providers.fab.auth_manager.security_manager.override"
# Entra ID's id_token carries neither `email` nor `upn` by default (v2.0: oid, tid,
# preferred_username, name, roles), yet Airflow's and Flask AppBuilder's `azure` user-info code
# reads one of them and refuses the login with a KeyError. The managed app asks for both as
# optional claims; this security manager also fills `upn` from `preferred_username`, so a
# hand-made app registration with the default claims logs in too.
_ENTRA_CLAIMS_SECURITY_MANAGER = [
    f"from {FAB_SECURITY_MANAGER} import FabAirflowSecurityManagerOverride",
    "",
    "",
    "class EntraIdSecurityManager(FabAirflowSecurityManagerOverride):",
    '    """Accepts Entra ID tokens with only the default claims (no email, no upn)."""',
    "",
    "    def _decode_and_validate_azure_jwt(self, id_token):",
    "        claims = dict(super()._decode_and_validate_azure_jwt(id_token))",
    "        if 'email' not in claims and 'upn' not in claims and 'preferred_username' in claims:",
    "            claims['upn'] = claims['preferred_username']",
    "        return claims",
    "",
    "",
    "SECURITY_MANAGER_CLASS = EntraIdSecurityManager",
]
CLIENT_SECRET_KEY = "client-secret"
_HELM_DELIMITER = re.compile(r"\{\{|\}\}")


def oidc_metadata_url(sso: SsoConfig) -> str:
    if sso.provider == "azure":
        return f"https://login.microsoftonline.com/{sso.tenant_id}/v2.0/.well-known/openid-configuration"
    return f"https://{sso.okta_domain}/.well-known/openid-configuration"


def scopes(sso: SsoConfig) -> str:
    # Okta sends group membership only when asked; Entra ID puts app roles in the id_token.
    return "openid profile email groups" if sso.provider == "okta" else "openid profile email"


def _remote_app(sso: SsoConfig, client_id: str) -> dict[str, Any]:
    client_kwargs: dict[str, Any] = {"scope": scopes(sso)}
    if sso.provider == "azure":
        base = f"https://login.microsoftonline.com/{sso.tenant_id}/oauth2/v2.0"
        # Flask AppBuilder skips the id_token's signature check unless asked (it logs a warning).
        client_kwargs["verify_signature"] = True
    else:
        base = f"https://{sso.okta_domain}/oauth2/v1"
    return {
        "client_id": client_id,
        "api_base_url": f"{base}/",
        "access_token_url": f"{base}/token",
        "authorize_url": f"{base}/authorize",
        "server_metadata_url": oidc_metadata_url(sso),
        "request_token_url": None,
        "client_kwargs": client_kwargs,
    }


def redirect_uri(provider: str, host: str, airflow_major: int) -> str:
    """Where the IdP sends users back: FAB's OAuth callback, under /auth on Airflow 3."""
    prefix = "/auth" if airflow_major >= 3 else ""
    return f"https://{host}{prefix}/oauth-authorized/{provider}"


def render_webserver_config(sso: SsoConfig, client_id: str) -> str:
    """Python source of webserver_config.py. Literals go through repr(), so any group name is safe."""
    mapping = {group: list(roles) for group, roles in sso.role_mapping}
    provider = {"name": sso.provider, "icon": "fa-windows" if sso.provider == "azure" else "fa-circle-o",
                "token_key": "access_token"}
    return "\n".join([
        '"""Rendered by airflow-on-k8s: OIDC single sign-on, no local passwords."""',
        "import os",
        "",
        "from flask_appbuilder.security.manager import AUTH_OAUTH",
        *(_ENTRA_CLAIMS_SECURITY_MANAGER if sso.provider == "azure" else []),
        "",
        "AUTH_TYPE = AUTH_OAUTH",
        "AUTH_USER_REGISTRATION = True",
        f"AUTH_USER_REGISTRATION_ROLE = {sso.default_role!r}",
        "AUTH_ROLES_SYNC_AT_LOGIN = True",
        f"AUTH_ROLES_MAPPING = {mapping!r}",
        "WTF_CSRF_ENABLED = True",
        "OAUTH_PROVIDERS = [",
        f"    {{**{provider!r},",
        f"     'remote_app': {{**{_remote_app(sso, client_id)!r},",
        f"                    'client_secret': os.environ.get({CLIENT_SECRET_ENV!r})}}}},",
        "]",
        "",
    ])


def helm_tpl_escape(text: str) -> str:
    """The chart passes webserverConfig through `tpl`: turn every literal {{ or }} into a template
    that prints it, so Helm renders the text unchanged."""
    return _HELM_DELIMITER.sub(lambda match: '{{ "' + match.group(0) + '" }}', text)
