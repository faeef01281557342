"""What the program-managed Entra ID application for SSO holds (pure): its app roles, the claims
the login needs, the Graph permissions of an OIDC sign-in, and its client secrets' names and dates."""

import uuid
from datetime import date
from typing import Any

from airflow_on_k8s.config import SsoConfig

# App role ids must stay the same across updates (Entra refuses to change a role's id while it is
# assigned): derived from the role's value, never random.
APP_ROLE_NAMESPACE = uuid.UUID("6f1f8f1c-3d0c-5d1e-9b7e-2a9c4d8e1f00")
MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Delegated Graph permissions of an OpenID Connect sign-in (openid, profile, email, User.Read).
SIGN_IN_SCOPES = {
    "openid": "37f7f235-527c-4136-accd-4a02d197296e",
    "profile": "14dad69e-099b-42c9-810b-d002981feec1",
    "email": "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0",
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
}
# Airflow's azure user-info code reads `email`, else `upn`; neither is in a v2.0 id_token by default.
ID_TOKEN_OPTIONAL_CLAIMS = ("email", "upn")


def app_role_id(value: str) -> str:
    return str(uuid.uuid5(APP_ROLE_NAMESPACE, value))


def app_roles(sso: SsoConfig) -> list[dict[str, Any]]:
    """One app role per key of ssoRoleMapping: assigning it to a user or group grants those Airflow roles."""
    return [{
        "id": app_role_id(value),
        "value": value,
        "display_name": value,
        "description": f"Airflow roles {', '.join(roles)}",
        "allowed_member_types": ["User"],
        "enabled": True,
    } for value, roles in sso.role_mapping]


def secret_resource_suffix(expiry: date) -> str:
    """A password resource per end date: rotating adds one and later removes the other."""
    return expiry.isoformat()


def end_date(expiry: date) -> str:
    return f"{expiry.isoformat()}T00:00:00Z"
