"""The readers behind two rules: Vault policies through python-hcl2 and json, webserver_config.py
through Helm's `tpl` and Python's `ast`, each checked on what the program really produces."""

from hypothesis import given
from hypothesis import strategies as st

from airflow_on_k8s.sso import helm_tpl_escape
from policies.airflow_policies.client_secret import InlineSecret, literal_client_secrets
from policies.airflow_policies.vault import policy_blocks
from policies.airflow_policies.web import render_tpl_text
from tests.harness import ANY_CHARACTER, helm_values, plain
from tests.test_policies import found, single, webserver_config
from tools.offline import ProgramRun
from tools.policy_check import analyze

POLICY = "vault:index/policy:Policy"


def test_prod_policy_reads_as_its_two_read_only_paths(prod_run: ProgramRun) -> None:
    # python-hcl2 8.x quotes strings unless told not to: the paths must come back bare.
    assert policy_blocks(plain(prod_run.one(POLICY).inputs)["policy"]) == [
        ("airflow-prod/data/connections/*", {"read"}), ("airflow-prod/data/variables/*", {"read"})]


def test_same_policy_in_hcl_and_json_reads_the_same() -> None:
    hcl = ('# Airflow\npath "kv/data/connections/*" {\n  capabilities = ["read", "list"]\n}\n'
           'path "kv/data/variables/*" {\n  min_wrapping_ttl = "1s"\n  capabilities = ["read"]\n}\n')
    json_form = ('{"path": {"kv/data/connections/*": {"capabilities": ["read", "list"]},'
                 ' "kv/data/variables/*": {"min_wrapping_ttl": "1s", "capabilities": ["read"]}}}')
    assert policy_blocks(hcl) == policy_blocks(json_form) == [
        ("kv/data/connections/*", {"read", "list"}), ("kv/data/variables/*", {"read"})]


@given(st.text(ANY_CHARACTER))
def test_tpl_rendering_undoes_the_programs_escape(text: str) -> None:
    assert render_tpl_text(helm_tpl_escape(text)) == text


def test_tpl_rendering_follows_trim_markers_and_comments() -> None:
    assert render_tpl_text('a  {{- "x" -}}\n  b{{/* why */}}c {{ `{{` }}') == "axbc {{"
    # Not a quoted string: left as it is, so the text does not parse and the rule says so.
    assert render_tpl_text("{{ .Values.secret }}") == "{{ .Values.secret }}"


def test_prod_webserver_config_is_read_after_tpl(prod_run: ProgramRun) -> None:
    raw = helm_values(prod_run)["webserver"]["webserverConfig"]
    assert '{{ "}}" }}' in raw  # the program's escape: without rendering it, this is no Python
    source = render_tpl_text(raw)
    assert "'client_secret': os.environ.get('AIRFLOW_SSO_CLIENT_SECRET')" in source
    assert literal_client_secrets(source) == []


def test_every_sink_is_found_with_its_line() -> None:
    source = "\n".join([
        "import os",
        "A = 'x'",
        "B = A",
        "REMOTE = {'client_secret': B}",
        "REMOTE['client_secret'] = 'x'",
        "settings.client_secret = 'x'",
        "dict(client_secret='x')",
        "CLIENT_SECRET = 'x'",
        "OK = {'client_secret': os.environ['S'], 'other': 'x'}",
    ])
    assert literal_client_secrets(source) == [
        InlineSecret(4, "the key 'client_secret'"), InlineSecret(5, "the subscript ['client_secret']"),
        InlineSecret(6, "the attribute .client_secret"), InlineSecret(7, "the keyword client_secret="),
        InlineSecret(8, "the name CLIENT_SECRET")]


def test_messages_name_the_line_but_never_the_secret() -> None:
    violations = found(analyze(single("kubernetes:helm.sh/v3:Release", webserver_config(
        "import os\nREMOTE = {'client_secret': 'hunter2-value'}\n"))), "oidc-no-inline-secret")
    assert len(violations) == 1
    expected = "values.webserver.webserverConfig line 2: the key 'client_secret' gets a string literal"
    assert expected in violations[0].message
    assert "hunter2-value" not in violations[0].message
    broken = found(analyze(single("kubernetes:helm.sh/v3:Release", webserver_config(
        "REMOTE = {'client_secret': 'hunter2-value'\n"))), "oidc-no-inline-secret")
    assert len(broken) == 1 and "is not Python" in broken[0].message and "hunter2-value" not in broken[0].message


def test_config_too_deep_to_walk_is_reported_not_passed() -> None:
    # Thousands of chained operators exhaust the recursive walk: the rule must say so, not crash or pass.
    source = "import os\nREMOTE = {'client_secret': " + " + ".join(["os.environ['S']"] * 3000) + "}\n"
    violations = found(analyze(single("kubernetes:core/v1:ConfigMap", {"data": {"webserver_config.py": source}})),
                       "oidc-no-inline-secret")
    assert [violation.message.endswith("cannot be checked for an inline OIDC client secret (RecursionError).")
            for violation in violations] == [True]
