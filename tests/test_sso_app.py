"""SSO as code: the Entra ID application, its roles and its secret come from the program; the
rendered webserver_config.py logs in with Entra ID's default claims and loads where the client
secret is absent."""

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import pytest

from airflow_on_k8s.config import SUPPORTED_PAIRS, parse_stack_config
from airflow_on_k8s.entra_app import app_role_id
from airflow_on_k8s.sso import CLIENT_SECRET_ENV, render_webserver_config
from tests.fab_user_info import (
    CLIENT_ID,
    DEFAULT_V2_CLAIMS,
    OPTIONAL_CLAIMS,
    BadSignatureError,
    SigningKey,
    airflow_fab_stand_in,
    azure_user_info,
    fab_security_manager,
)
from tests.harness import (
    MINIMAL_SECRET_KEYS,
    assert_one_line_config_error,
    helm_values,
    minimal_config,
    plain,
    run_once,
    secret_data,
    secrets_in,
    ui_section,
)
from tools.offline import PROJECT_DIR, ProgramRun, run_program
from tools.plan import load_stack_inputs, plan_document

APPLICATION = "azuread:index/application:Application"
SERVICE_PRINCIPAL = "azuread:index/servicePrincipal:ServicePrincipal"
PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
MAPPING = {"Airflow.Admin": ["Admin"], "Airflow.Op": ["Op"], "Airflow.Viewer": ["Viewer"]}
MANAGED = {"ingressHost": "airflow.example.com", "ingressClusterIssuer": "letsencrypt-prod", "ssoProvider": "azure",
           "ssoTenantId": "2f7c4e9a-5b1d-4c3e-8a6f-9d0b1c2e3f45", "ssoManageApp": "true",
           "ssoRoleMapping": json.dumps(MAPPING), "ssoClientSecretExpiries": '["2027-06-30"]'}


def _stack_with_pair(stack: str, chart: str, **overrides: str) -> ProgramRun:
    """A committed stack on the given chart line, with Entra ID SSO managed by the program."""
    inputs = load_stack_inputs(stack)
    config = {key: value for key, value in inputs.config.items()
              if key not in ("ssoClientId", "ssoClientSecretVaultPath", "ssoOktaDomain")}
    config.update({**MANAGED, "ingressHost": inputs.config["ingressHost"], "chartVersion": chart,
                   "airflowVersion": SUPPORTED_PAIRS[chart], **overrides})
    return run_once(stack, config, inputs.secret_keys)


CASES = [(stack, chart) for stack in ("dev", "prod") for chart in SUPPORTED_PAIRS]


@pytest.fixture(scope="module", params=CASES, ids=[f"{stack}-chart-{chart}" for stack, chart in CASES])
def managed_run(request: pytest.FixtureRequest) -> ProgramRun:
    stack, chart = request.param
    return _stack_with_pair(stack, chart)


def test_the_application_redirects_to_the_ui_of_its_airflow_line(managed_run: ProgramRun) -> None:
    app = plain(managed_run.one(APPLICATION).inputs)
    host = plain(managed_run.one("kubernetes:networking.k8s.io/v1:Ingress").inputs)["spec"]["rules"][0]["host"]
    callback = "/auth/oauth-authorized/azure" if ui_section(helm_values(managed_run)) == "apiServer" \
        else "/oauth-authorized/azure"
    assert app["web"]["redirectUris"] == [f"https://{host}{callback}"] == [managed_run.outputs["ssoRedirectUri"]]
    assert app["signInAudience"] == "AzureADMyOrg"
    assert {claim["name"] for claim in app["optionalClaims"]["idTokens"]} == {"email", "upn"}
    assert app["web"]["implicitGrant"] == {"accessTokenIssuanceEnabled": False, "idTokenIssuanceEnabled": False}


def test_app_roles_are_the_role_mapping_with_stable_ids(managed_run: ProgramRun) -> None:
    roles = plain(managed_run.one(APPLICATION).inputs)["appRoles"]
    assert {role["value"]: role["id"] for role in roles} == {value: app_role_id(value) for value in MAPPING}
    assert all(role["allowedMemberTypes"] == ["User"] and role["enabled"] for role in roles)
    # The same mapping gives the same ids on every run (Entra refuses to re-id an assigned role).
    assert app_role_id("Airflow.Admin") == app_role_id("Airflow.Admin") != app_role_id("Airflow.Op")
    config = helm_values(managed_run)[ui_section(helm_values(managed_run))]
    source = config.get("webserverConfig") or config["apiServerConfig"]
    assert f"AUTH_ROLES_MAPPING = {MAPPING!r}" in source


def test_only_assigned_users_sign_in(managed_run: ProgramRun) -> None:
    principal = plain(managed_run.one(SERVICE_PRINCIPAL).inputs)
    assert principal["appRoleAssignmentRequired"] is True
    assert principal["clientId"] == managed_run.one(APPLICATION).outputs["clientId"]


def test_the_client_secret_reaches_only_the_kubernetes_secret(managed_run: ProgramRun) -> None:
    password = managed_run.one(PASSWORD)
    value = plain(password.outputs["value"])
    assert value and value in secrets_in(password.outputs)
    assert "value" in password.options["additionalSecretOutputs"] or value in secrets_in(password.outputs)
    assert _in_use(managed_run) == value
    assert value not in json.dumps(managed_run.outputs, default=str)
    assert value not in json.dumps(plan_document(managed_run, []), default=str)
    assert plain(password.inputs)["endDate"] == "2027-06-30T00:00:00Z"
    client_id = managed_run.one(APPLICATION).outputs["clientId"]
    assert managed_run.outputs["ssoClientId"] == client_id
    section = helm_values(managed_run)[ui_section(helm_values(managed_run))]
    assert f"'client_id': {client_id!r}" in (section.get("webserverConfig") or section["apiServerConfig"])


@pytest.mark.parametrize(("overrides", "key", "allowed"), [
    ({"ssoClientId": "7e1d5c3b-9a2f-4e8d-b6c4-1a3f5e7d9b20"}, "ssoClientId", "empty with ssoManageApp"),
    ({"ssoClientSecretExpiries": "[]"}, "ssoClientSecretExpiries", "one or two end dates"),
    ({"ssoClientSecretExpiries": '["2027-02-30"]'}, "ssoClientSecretExpiries", "one or two end dates"),
    ({"ssoClientSecretExpiries": '["2027-06-30", "2027-12-31"]'}, "ssoClientSecretActive", "one of"),
    ({"ssoProvider": "okta", "ssoOktaDomain": "example.okta.com"}, "ssoManageApp", "unless ssoProvider is azure"),
    ({"ssoManageApp": "false", "ssoClientId": "client-id-1234"}, "ssoClientSecretExpiries",
     "empty without ssoManageApp"),
])
def test_bad_managed_app_config_is_one_line(overrides: dict[str, str], key: str, allowed: str) -> None:
    assert_one_line_config_error(minimal_config(**{**MANAGED, **overrides}), key, allowed)


# --- rotation: a new password, overlap, then the old one removed ----------------------------------

def _passwords(run: ProgramRun) -> dict[str, tuple[str, str]]:
    """End date -> (URN, value) of every client secret of the app."""
    return {plain(p.inputs)["endDate"][:10]: (p.urn, plain(p.outputs["value"])) for p in run.of_type(PASSWORD)}


def _in_use(run: ProgramRun) -> str:
    [stored] = [data["client-secret"] for name, data in secret_data(run).items() if name.endswith("-sso-client")]
    return stored


def test_rotation_keeps_a_valid_secret_in_use_at_every_step() -> None:
    steps = [{"ssoClientSecretExpiries": '["2027-06-30"]'},
             {"ssoClientSecretExpiries": '["2027-06-30", "2028-06-30"]', "ssoClientSecretActive": "2027-06-30"},
             {"ssoClientSecretExpiries": '["2027-06-30", "2028-06-30"]', "ssoClientSecretActive": "2028-06-30"},
             {"ssoClientSecretExpiries": '["2028-06-30"]'}]
    inputs = load_stack_inputs("prod")
    runs: list[ProgramRun] = []
    for step in steps:
        config = {**inputs.config, **step}
        runs.append(run_program("prod", config, inputs.secret_keys, previous_state=runs[-1].state if runs else None))
    old, both_old_active, both_new_active, new = (_passwords(run) for run in runs)
    # Step 2 adds the new secret and leaves the old one (same resource, same value) in use.
    assert both_old_active["2027-06-30"] == old["2027-06-30"] and set(both_old_active) == {"2027-06-30", "2028-06-30"}
    assert _in_use(runs[1]) == _in_use(runs[0]) == old["2027-06-30"][1]
    # Step 3 switches Airflow to the new secret while the old one still works.
    assert both_new_active == both_old_active and _in_use(runs[2]) == both_new_active["2028-06-30"][1]
    # Step 4 removes the old secret only; the new one is the same resource with the same value.
    assert new == {"2028-06-30": both_new_active["2028-06-30"]} and _in_use(runs[3]) == _in_use(runs[2])
    for run in runs:
        assert _in_use(run) in {value for _, value in _passwords(run).values()}


# --- the rendered config against Flask AppBuilder's own user-info code -------------------------------

def _rendered(run: ProgramRun) -> str:
    section = helm_values(run)[ui_section(helm_values(run))]
    text = str(section.get("webserverConfig") or section["apiServerConfig"])
    return text.replace('{{ "}}" }}', "}}").replace('{{ "{{" }}', "{{")


def _load(source: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """Execute webserver_config.py as Airflow loads it, with `environ` as the process environment."""
    fake_os = type("FakeOs", (), {"environ": dict(environ)})
    namespace: dict[str, Any] = {}
    with airflow_fab_stand_in():
        exec(compile(source.replace("import os\n", "", 1), "webserver_config.py", "exec"), {"os": fake_os}, namespace)
    return namespace


@pytest.fixture(scope="module")
def entra_config() -> dict[str, Any]:
    config = parse_stack_config(minimal_config(**{**MANAGED, "ssoManageApp": "false", "ssoClientId": CLIENT_ID,
                                                  "ssoClientSecretExpiries": "[]"}, ssoClientSecret="s3cret-value"),
                                stack="prod", secret_keys=MINIMAL_SECRET_KEYS | {"ssoClientSecret"})
    assert config.sso is not None
    return _load(render_webserver_config(config.sso, CLIENT_ID), {CLIENT_SECRET_ENV: "from-the-secret"})


def _remote_app(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    [provider] = settings["OAUTH_PROVIDERS"]
    remote: Mapping[str, Any] = provider["remote_app"]
    return remote


def test_fab_alone_refuses_entra_default_claims(entra_config: dict[str, Any]) -> None:
    """The defect: FAB's azure branch reads upn, else email; a default v2.0 id_token has neither."""
    key = SigningKey()
    with pytest.raises(KeyError):
        azure_user_info(fab_security_manager(), key.sign(DEFAULT_V2_CLAIMS), _remote_app(entra_config), key.jwks())


@pytest.mark.parametrize("claims", [DEFAULT_V2_CLAIMS, {**DEFAULT_V2_CLAIMS, **OPTIONAL_CLAIMS}],
                         ids=["default-claims", "with-optional-claims"])
def test_the_rendered_config_logs_in_with_entra_claims(entra_config: dict[str, Any], claims: Mapping[str, Any]) -> None:
    key = SigningKey()
    manager = entra_config["SECURITY_MANAGER_CLASS"]
    assert issubclass(manager, fab_security_manager())
    info = azure_user_info(manager, key.sign(claims), _remote_app(entra_config), key.jwks())
    assert info["username"] == claims["oid"] and info["role_keys"] == ["Airflow.Admin"]
    assert info["email"] == claims.get("upn", claims["preferred_username"])


def test_the_id_token_signature_is_checked(entra_config: dict[str, Any]) -> None:
    assert _remote_app(entra_config)["client_kwargs"]["verify_signature"] is True
    with pytest.raises(BadSignatureError):
        azure_user_info(entra_config["SECURITY_MANAGER_CLASS"], SigningKey("test-key").sign(DEFAULT_V2_CLAIMS),
                        _remote_app(entra_config), SigningKey("test-key").jwks())


def test_pods_without_the_client_secret_still_load_the_config(managed_run: ProgramRun) -> None:
    """Airflow 2's scheduler and triggerer mount webserver_config.py for FAB CLI commands
    (`airflow roles list`, `sync-perm`) but have no client secret: loading must not fail there."""
    source = _rendered(managed_run)
    absent = _load(source, {})
    assert _remote_app(absent)["client_secret"] is None
    present = _load(source, {CLIENT_SECRET_ENV: "from-the-secret"})
    assert _remote_app(present)["client_secret"] == "from-the-secret"


FAB_AIRFLOW2 = PROJECT_DIR / "venv" / "fab-airflow2"


def test_the_airflow2_line_logs_in_through_its_own_flask_appbuilder() -> None:
    """The same checks through FAB 4.5.2, the Airflow 2.10.3 image's (`make install` puts it apart)."""
    if not (FAB_AIRFLOW2 / ".installed").is_file():
        pytest.skip(f"{FAB_AIRFLOW2} is absent: `make install` installs Flask AppBuilder 4.5.2 there")
    result = subprocess.run([sys.executable, "-m", "tests.fab_line_check"], cwd=PROJECT_DIR, capture_output=True,
                            text=True, timeout=120, check=False,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(FAB_AIRFLOW2), str(PROJECT_DIR)])})
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["fab"] == "4.5.2"
    assert outcome["fab_alone_default_claims"]["error"].startswith("KeyError")
    for claims in ("default_claims", "optional_claims"):
        info = outcome[claims]["info"]
        assert info["username"] == DEFAULT_V2_CLAIMS["oid"] and info["role_keys"] == ["Airflow.Admin"], claims
        assert info["email"] == DEFAULT_V2_CLAIMS["preferred_username"] == OPTIONAL_CLAIMS["upn"], claims
    assert outcome["foreign_signature"] == {"error": "BadSignatureError"}
