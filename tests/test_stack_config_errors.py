"""Issue 14's examples, one by one, through the offline plan's own entry point: a bad stack file
stops with one line that names the key or the file; a valid one plans, whatever it spells."""

import base64
import hashlib
import hmac
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_on_k8s.config import CONFIG_KEYS, KEYS_BY_NAME, parse_stack_config
from airflow_on_k8s.errors import ConfigError
from tests.harness import GITHUB_KNOWN_HOSTS, MINIMAL_SECRET_KEYS, minimal_config
from tools.offline import PROJECT_DIR
from tools.plan import OFFLINE_SECRET_PLACEHOLDERS, offline_placeholder, plan_stack_text

DEV = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
PROD = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()


def with_value(text: str, key: str, value: str) -> str:
    """`text` with the entry of `key` (list items included) set to the YAML `value`."""
    entry = re.compile(rf"^  airflow-on-k8s:{key}:.*(\n    - .*)*$", re.MULTILINE)
    if entry.search(text) is None:
        return f"{text}  airflow-on-k8s:{key}: {value}\n"
    return entry.sub(lambda _: f"  airflow-on-k8s:{key}: {value}", text, count=1)


def line_of(key: str, text: str = DEV) -> int:
    """The line of `key`'s entry in `text` (1-based), as an error reports it."""
    return next(number for number, line in enumerate(text.splitlines(), 1)
                if line.startswith(f"  airflow-on-k8s:{key}:"))


def without(text: str, key: str) -> str:
    return re.sub(rf"^  airflow-on-k8s:{key}:.*(\n    - .*)*\n", "", text, count=1, flags=re.MULTILINE)


def refused(text: str, stack: str = "dev") -> str:
    """The plan's one error line for `text` (asserting there is exactly one and no plan)."""
    status, out, err = plan_stack_text(text, stack)
    assert (status, out) == (2, ""), err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def planned(text: str, stack: str = "dev") -> str:
    status, out, err = plan_stack_text(text, stack)
    assert status == 0, err
    assert err == "" and out.startswith(f"OFFLINE PLAN for stack '{stack}'")
    return out


# 1. Accepted though invalid

def test_a_misspelt_project_namespace_is_refused_with_the_key_it_meant() -> None:
    for namespace in ("airflow-on-k8", "airflow_on_k8s", "Airflow-On-K8s", "airflow-on-k8ss"):
        line = refused(DEV + f"  {namespace}:namespace: team-a\n")
        assert f"Pulumi.dev.yaml:{len(DEV.splitlines()) + 1}:3: config {namespace}:namespace" in line
        assert "did you mean airflow-on-k8s:namespace?" in line


def test_a_null_value_is_an_error_naming_key_and_line() -> None:
    for null in ("~", "null", ""):
        line = refused(with_value(DEV, "gitBranch", null))
        assert line.startswith(f"error: Pulumi.dev.yaml:{line_of('gitBranch')}:3: airflow-on-k8s:gitBranch has no "
                               "value (YAML null)")


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("namespace", "kube-system", "not default or a kube-* system namespace"),
    ("namespace", "default", "not default or a kube-* system namespace"),
    ("networkKubeApiCidrs", "[10.0.0.0/255.0.0.0]", "CIDR notation"),
    ("networkVaultCidrs", "[10.30.0.1]", "CIDR notation"),
    ("networkGitCidrs", "['fe80::%eth0/64']", "CIDR notation"),
    ("chartVersion", '"1.1\uff16.0"', "an exact chart version X.Y.Z"),
    ("workerCpuRequest", '"\uff15"', "a positive Kubernetes CPU quantity"),
    ("clusterOidcIssuerUrl", '"https://"', "the cluster's OIDC issuer URL, https:// with a host"),
    ("vaultAddress", '"https://vault .example.com"', "an https:// URL with a host"),
    ("gitRepo", '"git@github.com:example/dags.git\\0"', "U+0000 at position 31"),
    ("gitBranch", '"main\\u202e"', "no control or invisible characters: U+202E"),
    ("schedulerReplicas", '"\uff12"', "airflow-on-k8s:schedulerReplicas must be of type 'integer'"),
])
def test_values_are_validated_by_what_they_are(key: str, value: str, allowed: str) -> None:
    line = refused(with_value(DEV, key, value))
    assert f"airflow-on-k8s:{key}" in line and allowed in line


def test_yaml_11_readings_do_not_change_meaning_silently() -> None:
    # yes is a string to Pulumi's YAML reader: a boolean key refuses it, as `pulumi preview` does.
    line = refused(with_value(DEV, "deleteWorkerPodsOnFailure", "yes"))
    assert (f"Pulumi.dev.yaml:{line_of('deleteWorkerPodsOnFailure')}:3: airflow-on-k8s:deleteWorkerPodsOnFailure "
            "must be of type 'boolean'") in line
    # 016 is octal to it (14): refused with what Pulumi would pass, instead of planning 14.
    line = refused(with_value(DEV, "gitSyncDepth", "016"))
    assert "airflow-on-k8s:gitSyncDepth: YAML reads 016 as an octal number (a leading 0), so Pulumi passes '14'" in line
    line = refused(with_value(DEV, "gitBranch", "2026-11-27"))
    assert "YAML reads 2026-11-27 as a date, so Pulumi passes '2026-11-27 00:00:00 +0000 UTC'" in line


def test_structured_values_for_string_keys_are_refused_as_preview_refuses_them() -> None:
    line = refused(with_value(DEV, "ssoRoleMapping", '{"airflow-admins": ["Admin"]}'))
    assert "airflow-on-k8s:ssoRoleMapping must be of type 'string', not a mapping" in line


# 2. Tracebacks

@pytest.mark.parametrize(("value", "expected"), [
    # The quoted scalar runs on to the next double quote, where the mapping cannot go on.
    ('"aks', "expected <block end>, but found '<scalar>' (while parsing a block mapping at line 4, column 3)"),
    ("*undefined", ":31: found undefined alias 'undefined'"),
    ("&loop [*loop]", ":31: an anchor's value contains an alias of itself"),
])
def test_a_malformed_stack_file_is_one_line_with_file_line_and_column(value: str, expected: str) -> None:
    line = refused(with_value(DEV, "kubeContext", value))
    assert re.match(r"error: Pulumi\.dev\.yaml:\d+:\d+: ", line) and expected in line
    if value != '"aks':
        assert line.startswith(f"error: Pulumi.dev.yaml:{line_of('kubeContext')}:")


def test_deeply_nested_json_is_one_line() -> None:
    nested = "[" * 100_000 + "]" * 100_000
    line = refused(with_value(without(DEV, "ssoRoleMapping"), "ssoRoleMapping", f"'{nested}'"))
    assert "config airflow-on-k8s:ssoRoleMapping" in line and len(line) < 600
    line = refused(with_value(without(DEV, "ssoRoleMapping"), "ssoRoleMapping", "'" + "[" * 50 + "]" * 50 + "'"))
    assert "a JSON object of group -> Airflow roles" in line


# 3. A hang

def test_thousands_of_cidrs_stop_at_once() -> None:
    for count in (1_000, 5_000):
        cidrs = "".join(f"\n    - 10.{i // 256}.{i % 256}.1/32" for i in range(count))
        started = time.perf_counter()
        line = refused(with_value(DEV, "postgresAllowedCidrs", cidrs))
        assert time.perf_counter() - started < 5
        assert f"at most 64 entries ({count} given)" in line or "at most 6,400 characters" in line


def test_a_cidr_listed_twice_is_refused() -> None:
    line = refused(with_value(DEV, "postgresAllowedCidrs", "[203.0.113.10/32, 203.0.113.10/32]"))
    assert "each CIDR once" in line


# 4. Valid config refused

def hashed(host: str) -> str:
    salt = hashlib.sha1(host.encode()).digest()
    digest = hmac.new(salt, host.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def test_known_hosts_as_ssh_keyscan_and_openssh_write_them() -> None:
    key = GITHUB_KNOWN_HOSTS.split(" ", 1)[1]
    for known_hosts in (
        f"{hashed('github.com')} {key}",  # ssh-keyscan -H
        f"# github.com:22 SSH-2.0-babeld\n\n@cert-authority *.github.com,github.com {key}",
        f"gitlab.com {key}\n*.github.com,!gist.github.com,github.com {key} a comment",
    ):
        config = parse_stack_config(minimal_config(gitKnownHosts=known_hosts), stack="dev",
                                    secret_keys=MINIMAL_SECRET_KEYS)
        assert config.git.known_hosts == known_hosts
    for wrong in (f"{hashed('gitlab.com')} {key}", f"@revoked github.com {key}\ngitlab.com {key}",
                  f"*.github.com,!github.com {key}"):
        with pytest.raises(ConfigError, match="gitKnownHosts"):
            parse_stack_config(minimal_config(gitKnownHosts=wrong), stack="dev", secret_keys=MINIMAL_SECRET_KEYS)


def test_vault_token_ttl_follows_the_documented_limit() -> None:
    assert "at most 1h" in KEYS_BY_NAME["vaultTokenTtl"].description
    line = refused(with_value(DEV, "vaultTokenTtl", "2h"))
    assert "at most 1h: the policy pack's vault-role-least-privilege" in line


def test_valid_config_plans_however_it_is_spelt() -> None:
    """One stack with every spelling the issue found refused or dropped, each valid to Pulumi."""
    secret_keys = {spec.name for spec in CONFIG_KEYS if spec.secret}
    assert set(OFFLINE_SECRET_PLACEHOLDERS) == secret_keys
    github_key = GITHUB_KNOWN_HOSTS.split(" ", 1)[1]
    text = without(without(DEV, "ssoClientSecretVaultPath"), "postgresAllowedCidrs")
    text = without(text, "namespace") + "  namespace: team-a\n"  # no namespace: the project's
    text = with_value(text, "gitKnownHosts", f"|\n    # ssh-keyscan -H github.com\n"
                                             f"    {hashed('github.com')} {github_key}")
    text = with_value(text, "vaultTokenTtl", "3600")  # seconds, as Vault reads it
    text = with_value(text, "gitBranch", '"2026-11-27"')  # quoted: the text, not a date
    text = with_value(text, "postgresMode", "existing")  # with a real server name
    text = with_value(text, "postgresExistingFqdn", "pg-airflow-dev.postgres.database.azure.com")
    text = with_value(text, "registryPushUsername", "3f2c8a1e-6b7d-4e0f-9a51-2d8c4b6e7f10")
    # Every secret key encrypted, as `pulumi config set --secret` writes it.
    for name in sorted(secret_keys):
        text = with_value(text, name, "\n    secure: v1:c2VjcmV0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==")
    text += ("  kubernetes:context: aks-airflow-dev\n  azure-native:location: westeurope\n"
             "  other-project:anything: [1, 2]\n")
    out = planned(text)
    assert f"Secret config replaced by offline placeholders: {', '.join(sorted(secret_keys))}" in out
    assert "offline-placeholder" not in out  # placeholders are secrets: masked in the plan
    assert "namespace: team-a" in out.split("Stack outputs")[1]
    assert "branch: '2026-11-27'" in out and "knownHosts: '# ssh-keyscan -H github.com" in out


def test_the_connection_placeholder_names_the_configured_host() -> None:
    uri = offline_placeholder("metadataConnection", {"postgresExistingFqdn": "PG-Prod.postgres.database.azure.com"})
    assert uri.startswith("postgresql://airflow:offline-placeholder@pg-prod.postgres.database.azure.com:5432/")


def test_an_encrypted_key_that_is_not_secret_is_explained() -> None:
    line = refused(with_value(DEV, "kubeContext", "\n    secure: v1:AAAA"))
    assert line.startswith(f"error: Pulumi.dev.yaml:{line_of('kubeContext')}:3: airflow-on-k8s:kubeContext is "
                           "encrypted but is not a secret key")


# 5. Unreadable errors

def test_errors_quote_at_most_200_characters_of_a_value() -> None:
    line = refused(with_value(DEV, "kubeContext", "x" * 300_000))
    assert f"'{'x' * 200}'… (300,000 characters) is invalid: at most 1,024 characters" in line
    assert len(line) < 400
    line = refused(DEV + "  airflow-on-k8s:" + "k" * 5_000 + ": 1\n")
    assert len(line) < 400


def test_a_misspelt_key_names_the_key_it_meant() -> None:
    line = refused(DEV + "  airflow-on-k8s:shedulerReplicas: 2\n")
    assert line == ("error: config airflow-on-k8s:shedulerReplicas = [secret] is invalid: a known key; "
                    "did you mean schedulerReplicas?")


def test_the_command_line_gives_one_line_for_a_malformed_file(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text(with_value(DEV, "kubeContext", "*undefined"))
    result = subprocess.run([sys.executable, "-m", "tools.plan", "--stack", "dev", "--stack-dir", str(tmp_path)],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"error: Pulumi.dev.yaml:{line_of('kubeContext')}:31: found undefined alias 'undefined'\n"


def test_under_the_cli_a_misspelt_namespace_is_refused_from_the_runtimes_keys() -> None:
    """The real CLI hands the program every key of the stack; the program checks their namespaces."""
    from pulumi.runtime.config import set_config

    from airflow_on_k8s.config import load_stack_config
    from tools.offline import OfflineEngine, run_program

    def program() -> None:
        set_config("kubernetes:context", "aks-airflow-dev")
        set_config("airflow-on-k8:gitBranch", "main")
        load_stack_config()

    engine = OfflineEngine()
    with pytest.raises(ConfigError, match="did you mean airflow-on-k8s:gitBranch"):
        run_program("dev", minimal_config(), MINIMAL_SECRET_KEYS, program=program, engine=engine)
    assert engine.resources == []


def test_limits_hold_for_keys_the_chosen_modes_do_not_read() -> None:
    # An existing database never reads postgresSkuName; a NUL in it is refused all the same.
    with pytest.raises(ConfigError, match="postgresSkuName = 'Standard_B1ms\\\\x00' is invalid: no control"):
        parse_stack_config(minimal_config(postgresSkuName="Standard_B1ms\x00"), stack="dev",
                           secret_keys=MINIMAL_SECRET_KEYS)


def test_an_unquoted_date_in_a_list_is_the_date_pulumi_passes() -> None:
    # Pulumi hands the program "2027-06-30 00:00:00 +0000 UTC" for an unquoted YAML date.
    text = with_value(PROD, "ssoClientSecretExpiries", "\n    - 2027-06-30\n    - 2027-12-31")
    out = planned(with_value(text, "ssoClientSecretActive", '"2027-06-30"'), "prod")
    assert "2027-12-31" in out
