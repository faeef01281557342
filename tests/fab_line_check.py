"""Run in a subprocess against another Flask AppBuilder (PYTHONPATH first): the rendered Entra ID
webserver_config.py through that FAB's own user-info code. Prints one JSON object."""

import json
from typing import Any

import flask_appbuilder
from flask_appbuilder.security.sqla.manager import SecurityManager

from airflow_on_k8s.config.web import SsoConfig
from airflow_on_k8s.sso import CLIENT_SECRET_ENV, render_webserver_config
from tests.fab_user_info import (
    CLIENT_ID,
    DEFAULT_V2_CLAIMS,
    OPTIONAL_CLAIMS,
    BadSignatureError,
    SigningKey,
    airflow_fab_stand_in,
    azure_user_info,
)


def _outcome(manager: type, claims: dict[str, Any], remote: dict[str, Any], signer: SigningKey,
             verifier: SigningKey) -> dict[str, Any]:
    try:
        return {"info": azure_user_info(manager, signer.sign(claims), remote, verifier.jwks())}
    except KeyError as error:
        return {"error": f"KeyError {error}"}
    except BadSignatureError:
        return {"error": "BadSignatureError"}


def main() -> None:
    sso = SsoConfig(provider="azure", tenant_id=DEFAULT_V2_CLAIMS["tid"], okta_domain=None, client_id=CLIENT_ID,
                    client_secret=None, client_secret_vault_path=None, default_role="Viewer",
                    role_mapping=(("Airflow.Admin", ("Admin",)),))
    namespace: dict[str, Any] = {}
    fake_os = type("FakeOs", (), {"environ": {CLIENT_SECRET_ENV: "from-the-secret"}})
    with airflow_fab_stand_in():
        source = render_webserver_config(sso, CLIENT_ID).replace("import os\n", "", 1)
        exec(compile(source, "webserver_config.py", "exec"), {"os": fake_os}, namespace)
    [provider] = namespace["OAUTH_PROVIDERS"]
    remote = provider["remote_app"]
    manager = namespace["SECURITY_MANAGER_CLASS"]
    key, other = SigningKey(), SigningKey()
    print(json.dumps({
        "fab": flask_appbuilder.__version__,
        "fab_alone_default_claims": _outcome(SecurityManager, DEFAULT_V2_CLAIMS, remote, key, key),
        "default_claims": _outcome(manager, DEFAULT_V2_CLAIMS, remote, key, key),
        "optional_claims": _outcome(manager, {**DEFAULT_V2_CLAIMS, **OPTIONAL_CLAIMS}, remote, key, key),
        "foreign_signature": _outcome(manager, DEFAULT_V2_CLAIMS, remote, key, other),
    }))


if __name__ == "__main__":
    main()
