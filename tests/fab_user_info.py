"""Run the rendered webserver_config.py against Flask AppBuilder's own code.

Airflow is not installed here (it runs in the image), so Airflow's FAB security manager
(`FabAirflowSecurityManagerOverride`, which subclasses FAB's) is stood in for by FAB's own
SecurityManager: the Entra ID user-info code and the id_token validation the tests exercise are
FAB's, at the version the Airflow 3 image pins (apache-airflow-providers-fab 3.10.2 ->
flask-appbuilder 5.2.2).
"""

import sys
import time
import types
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import authlib.deprecate  # noqa: F401 (it installs an "always" filter; the one below must come after it)

with warnings.catch_warnings():
    # FAB 5.2.2 verifies Entra ID tokens with authlib.jose, which announces its successor on import.
    warnings.filterwarnings("ignore", "authlib.jose module is deprecated")
    from authlib.jose import JsonWebKey
    from authlib.jose import jwt as authlib_jwt
    from authlib.jose.errors import BadSignatureError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from airflow_on_k8s.sso import FAB_SECURITY_MANAGER

__all__ = ["BadSignatureError", "SigningKey", "airflow_fab_stand_in", "azure_user_info", "fab_security_manager"]

TENANT = "2f7c4e9a-5b1d-4c3e-8a6f-9d0b1c2e3f45"
CLIENT_ID = "58c7ff93-6f8b-5d69-83f0-05fce53a2013"
# What a v2.0 id_token carries without optional claims (Microsoft identity platform, "ID token
# claims reference"): no email, no upn.
DEFAULT_V2_CLAIMS: dict[str, Any] = {
    "aud": CLIENT_ID, "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "tid": TENANT, "ver": "2.0",
    "oid": "00000000-0000-0000-66f3-3332eca7ea81", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
    "name": "Ada Lovelace", "preferred_username": "ada@data-platform.example.com", "roles": ["Airflow.Admin"],
}
OPTIONAL_CLAIMS = {"email": "ada.lovelace@example.com", "upn": "ada@data-platform.example.com"}


def fab_security_manager() -> type:
    """FAB's SecurityManager, of the Flask AppBuilder first on the path. Imported when a test asks:
    Flask AppBuilder takes ~1.3 s to import, which every test worker would pay at collection."""
    from flask_appbuilder.security.sqla.manager import SecurityManager

    manager: type = SecurityManager
    return manager


@contextmanager
def airflow_fab_stand_in() -> Iterator[None]:
    """Make `from airflow.providers.fab...override import FabAirflowSecurityManagerOverride` give FAB's
    SecurityManager while the block runs."""
    names = FAB_SECURITY_MANAGER.split(".")
    security_manager = fab_security_manager()
    saved = {name: sys.modules.get(name) for name in (".".join(names[:i]) for i in range(1, len(names) + 1))}
    try:
        for name in saved:
            sys.modules[name] = types.ModuleType(name)
        sys.modules[FAB_SECURITY_MANAGER].FabAirflowSecurityManagerOverride = security_manager  # type: ignore[attr-defined]
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class SigningKey:
    """An RSA key that signs id_tokens, published as the JWKS FAB fetches from Microsoft."""

    def __init__(self, kid: str = "test-key") -> None:
        self.kid = kid
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, claims: Mapping[str, Any]) -> str:
        now = int(time.time())
        payload = {"iat": now, "nbf": now, "exp": now + 3600, **claims}
        pem = self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
        token: bytes = authlib_jwt.encode({"alg": "RS256", "kid": self.kid, "typ": "JWT"}, payload, pem)
        return token.decode()

    def jwks(self) -> dict[str, Any]:
        public = self._private.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
        key = JsonWebKey.import_key(public, {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [key.as_dict()]}


def azure_user_info(security_manager: type, id_token: str, remote_app: Mapping[str, Any], jwks: Mapping[str, Any]
                    ) -> dict[str, Any]:
    """FAB's `get_oauth_user_info("azure", ...)` on an OAuth response holding `id_token`, with the
    remote app's client_kwargs (verify_signature) and Microsoft's key set replaced by `jwks`."""
    manager: Any = object.__new__(security_manager)
    manager.oauth_remotes = {"azure": types.SimpleNamespace(client_kwargs=dict(remote_app["client_kwargs"]))}
    manager._get_microsoft_jwks = lambda: jwks  # the one network call: Microsoft's signing keys
    info: dict[str, Any] = manager.get_oauth_user_info("azure", {"id_token": id_token})
    return info
