"""The real Airflow chart rendered offline (tests/chart_render.py), and what the rendered objects
say about the program's values.

Every supported (chart, Airflow) pair gets the Helm values of both committed stacks, each stack
run under mocks with that pair's two config values: the values a stack would have on either line.
A small hand-written Airflow 3 values set checks the chart itself. Every test here skips with
the reason when ../shared/airflow-chart is absent.
"""

import ast
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import helm_python
import pytest

from tests.chart_render import (
    K8sObject,
    ProgramRender,
    airflow_cfg,
    all_containers,
    chart_path,
    decoded_secret_data,
    dumps,
    find_object,
    object_key,
    of_kind,
    on_committed_pairs,
    parse_manifest,
    pod_labels,
    pod_specs,
    pods_selected,
    render_chart,
    render_manifests,
    render_stack_pair,
    render_templates,
    rendered_pods,
    require_chart,
    schema_errors,
    selector_matches,
    task_image,
    task_pod_template,
    webserver_config,
)
from tests.harness import GITHUB_KNOWN_HOSTS, SECRET_TYPE, plain, secret_data
from tools.offline import ProgramRun

NETWORK_POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS_TYPE = "kubernetes:networking.k8s.io/v1:Ingress"
AIRFLOW3_CHART = "1.19.0"
GIT_SYNC_IMAGE = "registry.k8s.io/git-sync/git-sync"

# Program NetworkPolicies (name without the release prefix) whose podSelector picks no pod of
# the chart, each with the reason. A name here that does select a chart pod fails the test too.
SELECTS_NO_CHART_POD = {
    "allow-acme-solver": "selects cert-manager's HTTP-01 solver pods (label acme.cert-manager.io/http01-solver), "
                         "which cert-manager creates in this namespace during a certificate challenge",
}

# Data keys under which the chart stores credentials it generates or is given inline
# (NOTES.md section 3); `connection` is judged by its URL instead.
CREDENTIAL_KEYS = frozenset({"fernet-key", "webserver-secret-key", "api-secret-key", "jwt-secret",
                             "password", "postgresql-password", "gitSshKey"})
URL_WITH_PASSWORD = re.compile(r"://[^/@:\s]*:[^/@\s]+@")

AIRFLOW3_VALUES: dict[str, Any] = {
    "airflowVersion": "3.1.7",
    "images": {"airflow": {"repository": "example.azurecr.io/airflow", "tag": "3.1.7-python3.12"}},
    "executor": "KubernetesExecutor",
    "postgresql": {"enabled": False},
    "redis": {"enabled": False},
    "data": {"metadataSecretName": "airflow-metadata-db"},
    "fernetKeySecretName": "airflow-fernet-key",
    "apiSecretKeySecretName": "airflow-api-secret-key",
    "jwtSecretName": "airflow-jwt-secret",
    "createUserJob": {"enabled": False},
    "dags": {"gitSync": {"enabled": True, "repo": "git@github.com:example/dags.git", "ref": "main",
                         "subPath": "", "sshKeySecret": "airflow-git-ssh-key", "knownHosts": GITHUB_KNOWN_HOSTS}},
}


# role in the `serviceAccounts` output -> the chart's `component` label
ROLE_COMPONENTS = {"worker": "worker", "scheduler": "scheduler", "triggerer": "triggerer", "webserver": "webserver",
                   "apiServer": "api-server", "dagProcessor": "dag-processor"}


@pytest.fixture(scope="module")
def airflow3_objects() -> list[K8sObject]:
    return render_chart(AIRFLOW3_CHART, AIRFLOW3_VALUES, release="airflow", namespace="airflow")


def _container(spec: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    matches = [container for container in all_containers(spec) if container["name"] == name]
    assert len(matches) == 1, f"expected one container {name}, found {[c['name'] for c in all_containers(spec)]}"
    return matches[0]


def _env(container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {item["name"]: item for item in container.get("env") or []}


def _component_spec(objects: list[K8sObject], component: str) -> Mapping[str, Any]:
    specs = [pod.spec for pod in rendered_pods(objects) if pod.labels.get("component") == component]
    assert len(specs) == 1, f"expected one rendered pod template of component {component}, found {len(specs)}"
    return specs[0]


# --- label selectors -----------------------------------------------------------------------

LABELS = {"tier": "airflow", "component": "worker", "release": "airflow"}


@pytest.mark.parametrize(("selector", "expected"), [
    ({}, True),
    ({"matchLabels": {}}, True),
    ({"matchLabels": {"tier": "airflow", "component": "worker"}}, True),
    ({"matchLabels": {"component": "scheduler"}}, False),
    ({"matchLabels": {"team": "data"}}, False),
    ({"matchExpressions": [{"key": "component", "operator": "In", "values": ["scheduler", "worker"]}]}, True),
    ({"matchExpressions": [{"key": "component", "operator": "In", "values": ["scheduler"]}]}, False),
    ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["data"]}]}, False),
    ({"matchExpressions": [{"key": "component", "operator": "NotIn", "values": ["scheduler"]}]}, True),
    ({"matchExpressions": [{"key": "component", "operator": "NotIn", "values": ["worker"]}]}, False),
    # NotIn holds for a pod without the key at all.
    ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["data"]}]}, True),
    ({"matchExpressions": [{"key": "release", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
    # matchLabels and every expression must all hold.
    ({"matchLabels": {"tier": "airflow"},
      "matchExpressions": [{"key": "component", "operator": "In", "values": ["worker"]},
                           {"key": "release", "operator": "In", "values": ["other"]}]}, False),
    (None, False),
])
def test_selector_matches_follows_kubernetes_label_selector_rules(selector: Mapping[str, Any] | None,
                                                                   expected: bool) -> None:
    assert selector_matches(selector, LABELS) is expected


@pytest.mark.parametrize("selector", [
    {"matchExpressions": [{"key": "component", "operator": "In", "values": []}]},
    {"matchExpressions": [{"key": "component", "operator": "NotIn"}]},
    {"matchExpressions": [{"key": "component", "operator": "Exists", "values": ["worker"]}]},
    {"matchExpressions": [{"key": "component", "operator": "Equals", "values": ["worker"]}]},
    {"matchLabels": {"replicas": 1}},
    {"podSelector": {}},
])
def test_selector_matches_refuses_selectors_the_api_server_rejects(selector: Mapping[str, Any]) -> None:
    with pytest.raises(ValueError):
        selector_matches(selector, LABELS)


# --- the helper itself -------------------------------------------------------------------------

def test_require_chart_skips_with_the_path_when_the_chart_is_absent() -> None:
    with pytest.raises(pytest.skip.Exception, match=r"0\.0\.0-absent/chart is absent"):
        require_chart("0.0.0-absent")


def test_parse_manifest_keeps_objects_and_drops_empty_documents() -> None:
    text = "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n{}\n"
    assert parse_manifest(text, source="t") == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}]
    with pytest.raises(ValueError, match="is a str"):
        parse_manifest("just text\n", source="t")


@pytest.mark.parametrize("version", ["1.16.0", AIRFLOW3_CHART])
def test_the_chart_renders_the_same_for_any_cluster(version: str) -> None:
    """Offline, `lookup` finds nothing and `.Capabilities` are Helm's defaults. The render stands
    for AKS only while the chart reads neither and declares no kubeVersion."""
    path = require_chart(version)
    assert "kubeVersion" not in (path / "Chart.yaml").read_text()
    for template in sorted((path / "templates").rglob("*")) + sorted((path / "files").rglob("*")):
        if template.is_file():
            text = template.read_text()
            assert ".Capabilities" not in text, f"{template} reads .Capabilities: pass kube_version/api_versions"
            assert not re.search(r"\blookup\s", text), f"{template} uses lookup, which is empty offline"


def test_the_render_needs_no_network() -> None:
    """Helm's engine in a network namespace without interfaces: no DNS, no route, same objects."""
    require_chart("1.16.0")
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--net", "true"], capture_output=True).returncode != 0:
        pytest.skip("`unshare --net` is unavailable here: cannot take the network away from a render")
    script = textwrap.dedent(f"""
        import socket
        import helm_python
        try:
            socket.create_connection(("pypi.org", 443), timeout=5)
        except OSError:
            pass
        else:
            raise SystemExit("the namespace still reaches the network")
        with helm_python.Chart.load({str(chart_path("1.16.0"))!r}) as chart:
            rendered = chart.render({{"executor": "KubernetesExecutor", "postgresql": {{"enabled": False}}}},
                                    name="airflow", namespace="airflow")
        print(sum(1 for path in rendered if path.endswith("deployment.yaml")))
    """)
    result = subprocess.run([unshare, "--net", sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0


def test_the_render_enforces_the_chart_schema_like_helm_install() -> None:
    values = {"executor": "KubernetesExecutor", "webserver": {"defaultUsr": {"enabled": False}}}
    with pytest.raises(helm_python.HelmValuesError, match="defaultUsr"):
        render_chart("1.16.0", values, release="airflow", namespace="airflow")
    assert any("defaultUsr" in error for error in schema_errors("1.16.0", values))


def test_the_render_runs_the_charts_own_checks() -> None:
    """NOTES.txt is rendered (and `fail`s here) though its text is never returned as an object."""
    values = {"executor": "KubernetesExecutor", "config": {"core": {"executor": "LocalExecutor"}}}
    with pytest.raises(helm_python.HelmRenderError, match=r"config\.core\.executor"):
        render_manifests("1.16.0", values, release="airflow", namespace="airflow")


def test_a_kept_render_is_what_the_engine_renders_now() -> None:
    """Renders and the objects read from them are kept across runs (chart_render.RENDER_CACHE_DIR):
    what a run kept for a key must be what Helm's engine renders for it now, text for text."""
    render = render_stack_pair("prod", AIRFLOW3_CHART)
    arguments = {"release": render.release, "namespace": render.namespace}
    kept = render_manifests(render.version, render.values, **arguments)
    with helm_python.Chart.load(chart_path(render.version)) as chart:
        fresh = chart.render(render.values, name=render.release, namespace=render.namespace)
    assert kept == dict(sorted(fresh.items()))
    read = {path: parse_manifest(text, source=path) for path, text in fresh.items() if not path.endswith("NOTES.txt")}
    assert render_templates(render.version, render.values, **arguments) == {
        path: objects for path, objects in sorted(read.items()) if objects}


# --- the program's values on the chart it pins ---------------------------------------------------

def test_program_values_pass_the_pinned_chart_schema(program_render: ProgramRender) -> None:
    assert schema_errors(program_render.version, program_render.values) == []


def test_every_rendered_object_is_a_named_kubernetes_object(program_render: ProgramRender) -> None:
    _assert_well_formed(program_render.objects)


def _assert_well_formed(objects: list[K8sObject]) -> None:
    assert objects
    for obj in objects:
        assert isinstance(obj.get("apiVersion"), str) and obj["apiVersion"], obj
        assert isinstance(obj.get("kind"), str) and obj["kind"], obj
        assert isinstance(obj.get("metadata", {}).get("name"), str) and obj["metadata"]["name"], obj
    keys = [object_key(obj) for obj in objects]
    assert len(keys) == len(set(keys)), "the chart renders one object twice"


def test_no_job_creates_a_login_user(program_render: ProgramRender) -> None:
    """SSO only: no `airflow users create` with the chart's admin/admin."""
    for source, spec in pod_specs(program_render.objects):
        for container in all_containers(spec):
            command = " ".join([*container.get("command", []), *container.get("args", [])])
            assert "users create" not in command, source
    jobs = [obj["metadata"]["name"] for obj in of_kind(program_render.objects, "Job")]
    assert not [name for name in jobs if name.endswith("-create-user")]


def credential_secrets(objects: list[K8sObject]) -> list[str]:
    """`Secret/name:key` of every rendered Secret entry that holds a credential."""
    found = []
    for secret in of_kind(objects, "Secret"):
        for key, text in decoded_secret_data(secret).items():
            if key in CREDENTIAL_KEYS or URL_WITH_PASSWORD.search(text):
                found.append(f"{object_key(secret)}:{key}")
    return found


def test_the_chart_renders_no_secret_holding_a_credential(program_render: ProgramRender) -> None:
    """Every credential is a Secret the program manages, referenced by name: the chart makes none."""
    assert credential_secrets(program_render.objects) == []


@on_committed_pairs
def test_the_credential_check_catches_a_chart_generated_key(program_render: ProgramRender) -> None:
    """Guards the test above: without the name of the program's Secret, the chart makes its own."""
    value, secret = (("jwtSecretName", "jwt-secret") if program_render.airflow3 else
                     ("webserverSecretKeySecretName", "webserver-secret-key"))
    values = {key: item for key, item in program_render.values.items() if key != value}
    objects = render_chart(program_render.version, values, release=program_render.release,
                           namespace=program_render.namespace)
    assert credential_secrets(objects) == [f"Secret/{program_render.release}-{secret}:{secret}"]


def test_no_secret_value_of_the_program_reaches_the_chart(program_render: ProgramRender) -> None:
    rendered = dumps(program_render.objects)
    decoded = "\n".join(text for secret in of_kind(program_render.objects, "Secret")
                        for text in decoded_secret_data(secret).values())
    values = [(f"{name}:{key}", value) for name, data in secret_data(program_render.run).items()
              for key, value in data.items() if value]
    assert len(values) >= 4
    for where, value in values:
        assert value not in rendered and value not in decoded, f"{where} appears in the render"


def _program_secrets(run: ProgramRun, namespace: str) -> dict[str, set[str]]:
    """Secret name -> its keys, for the Secrets the program creates in `namespace`."""
    secrets: dict[str, set[str]] = {}
    for resource in run.of_type(SECRET_TYPE):
        inputs = plain(resource.inputs)
        if inputs["metadata"].get("namespace") == namespace:
            secrets[inputs["metadata"]["name"]] = set(inputs.get("stringData") or {}) | set(inputs.get("data") or {})
    return secrets


def _referenced(spec: Mapping[str, Any], kind: str) -> Iterator[tuple[str, str | None]]:
    """(name, key or None for the whole object) of every Secret or ConfigMap a pod spec uses."""
    ref_field, volume_field, name_field = (("secretKeyRef", "secret", "secretName") if kind == "Secret"
                                           else ("configMapKeyRef", "configMap", "name"))
    env_from_field = "secretRef" if kind == "Secret" else "configMapRef"
    for container in all_containers(spec):
        for item in container.get("env") or []:
            ref = (item.get("valueFrom") or {}).get(ref_field)
            if ref and not ref.get("optional"):
                yield ref["name"], ref["key"]
        for item in container.get("envFrom") or []:
            ref = item.get(env_from_field)
            if ref and not ref.get("optional"):
                yield ref["name"], None
    for volume in spec.get("volumes") or []:
        source = volume.get(volume_field)
        if source and not source.get("optional"):
            keys = [item["key"] for item in source.get("items") or []]
            yield from ((source[name_field], key) for key in keys) if keys else [(source[name_field], None)]


def test_every_secret_and_config_map_a_pod_uses_exists(program_render: ProgramRender) -> None:
    """Each reference resolves to an object the chart renders or the program creates, with the key."""
    rendered = {kind: {obj["metadata"]["name"]: set(decoded_secret_data(obj) if kind == "Secret"
                                                    else obj.get("data") or {})
                       for obj in of_kind(program_render.objects, kind)}
                for kind in ("Secret", "ConfigMap")}
    available = {"Secret": {**rendered["Secret"], **_program_secrets(program_render.run, program_render.namespace)},
                 "ConfigMap": rendered["ConfigMap"]}
    checked = 0
    for source, spec in pod_specs(program_render.objects):
        for kind, names in available.items():
            for name, key in _referenced(spec, kind):
                checked += 1
                assert name in names, f"{source} uses {kind} {name}, which nothing creates"
                assert key is None or key in names[name], f"{source} uses {kind} {name} key {key}, which it lacks"
    assert checked > 20


def test_task_pods_clone_the_dags_repository_with_git_sync(program_render: ProgramRender) -> None:
    git_sync = program_render.values["dags"]["gitSync"]
    template = task_pod_template(program_render.objects)
    assert template is not None
    spec = template["spec"]
    init = _container(spec, "git-sync-init")
    assert init in spec["initContainers"]
    assert init["image"].startswith(f"{GIT_SYNC_IMAGE}:")
    env = {name: item.get("value") for name, item in _env(init).items()}
    assert env["GITSYNC_REPO"] == git_sync["repo"]
    assert env["GITSYNC_REF"] == git_sync["ref"]
    assert env["GITSYNC_ONE_TIME"] == "true"
    # The clone lands in the volume the task container reads the DAGs from.
    clone_volume = next(mount["name"] for mount in init["volumeMounts"] if mount["mountPath"] == "/git")
    dags_mounts = [mount for mount in _container(spec, "base")["volumeMounts"] if mount["name"] == clone_volume]
    dags_folder = airflow_cfg(program_render.objects).get("core", "dags_folder")
    assert dags_mounts and dags_folder.startswith(dags_mounts[0]["mountPath"] + "/")
    # The deploy key comes from the program's Secret, not an inline key (chart bug #54161 in 1.16).
    key_volume = next(volume for volume in spec["volumes"] if volume.get("secret"))
    assert key_volume["secret"]["secretName"] == git_sync["sshKeySecret"]


def test_task_pods_run_the_program_image_with_the_worker_resources(program_render: ProgramRender) -> None:
    values = program_render.values
    template = task_pod_template(program_render.objects)
    assert template is not None
    image = values["images"]["airflow"]
    # The built image's digest rides in the tag (test_pod_security.py checks it everywhere).
    assert task_image(program_render.objects) == f"{image['repository']}:{image['tag']}@{image['digest']}"
    base = _container(template["spec"], "base")
    assert base["resources"] == values["workers"]["resources"]
    assert base["resources"]["limits"]["memory"]


def test_rendered_service_accounts_are_the_exported_ones(program_render: ProgramRender) -> None:
    exported: dict[str, str] = plain(program_render.run.outputs["serviceAccounts"])
    rendered = {obj["metadata"]["name"] for obj in of_kind(program_render.objects, "ServiceAccount")}
    for role, name in exported.items():
        assert name in rendered, f"{role}: the chart renders no ServiceAccount {name}"
        assert _component_spec(program_render.objects, ROLE_COMPONENTS[role])["serviceAccountName"] == name, role
    components = {labels["component"] for labels in pod_labels(program_render.objects).values()}
    # Every long-lived Airflow component runs as a ServiceAccount the program named.
    assert components - {"statsd", "run-airflow-migrations"} == {ROLE_COMPONENTS[role] for role in exported}


def test_vault_and_federation_bind_the_rendered_service_accounts(program_render: ProgramRender) -> None:
    run = program_render.run
    rendered = {obj["metadata"]["name"] for obj in of_kind(program_render.objects, "ServiceAccount")}
    [role] = [plain(r.inputs) for r in run.of_type("vault:kubernetes/authBackendRole:AuthBackendRole")]
    assert set(role["boundServiceAccountNames"]) <= rendered
    subjects = {plain(r.inputs)["subject"].rsplit(":", 1)[1]
                for r in run.of_type("azure-native:managedidentity:FederatedIdentityCredential")}
    assert subjects and subjects <= rendered
    readers = {"worker", "scheduler", "triggerer"} | ({"api-server", "dag-processor"} if program_render.airflow3
                                                      else set())
    assert {f"{program_render.release}-{component}" for component in readers} <= set(role["boundServiceAccountNames"])


def test_every_pod_carries_the_labels_the_network_policies_select_on(program_render: ProgramRender) -> None:
    for source, labels in pod_labels(program_render.objects).items():
        assert labels.get("tier") == "airflow", source
        assert labels.get("release") == program_render.release, source
        assert labels.get("component"), source


def _program_network_policies(render: ProgramRender) -> dict[str, Mapping[str, Any]]:
    """Policy name without the `<release>-` prefix -> spec, for the Airflow namespace."""
    policies = {}
    for resource in render.run.of_type(NETWORK_POLICY_TYPE):
        inputs = plain(resource.inputs)
        assert inputs["metadata"]["namespace"] == render.namespace, resource.name
        policies[inputs["metadata"]["name"].removeprefix(f"{render.release}-")] = inputs["spec"]
    return policies


def _pod_selectors(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The policy's own podSelector and every peer podSelector in this namespace (a peer with a
    namespaceSelector selects pods elsewhere)."""
    yield "podSelector", spec["podSelector"]
    for direction, peers_field in (("ingress", "from"), ("egress", "to")):
        for rule in spec.get(direction) or []:
            for peer in rule.get(peers_field) or []:
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    yield f"{direction} peer", peer["podSelector"]


def test_every_network_policy_selector_picks_rendered_pods(program_render: ProgramRender) -> None:
    policies = _program_network_policies(program_render)
    assert set(SELECTS_NO_CHART_POD) <= set(policies)
    for name, spec in policies.items():
        for where, selector in _pod_selectors(spec):
            selected = pods_selected(selector, program_render.objects)
            if name in SELECTS_NO_CHART_POD and where == "podSelector":
                assert selected == [], f"{name} now selects {selected}: drop it from SELECTS_NO_CHART_POD"
            else:
                assert selected, f"{name} {where} {selector} matches no rendered pod"


def test_no_network_policy_names_a_component_the_chart_does_not_run(program_render: ProgramRender) -> None:
    """Each value of a `component In (...)` list selects a pod on its own: no dead alternative
    (the kind of gap an Airflow 3 render, with api-server instead of webserver, would open)."""
    components = {labels["component"] for labels in pod_labels(program_render.objects).values()}
    for name, spec in _program_network_policies(program_render).items():
        for where, selector in _pod_selectors(spec):
            match_labels = selector.get("matchLabels") or {}
            named = {match_labels["component"]} if "component" in match_labels else set()
            for expression in selector.get("matchExpressions") or []:
                if expression["key"] == "component" and expression["operator"] == "In":
                    named |= set(expression["values"])
            dead = sorted(named - components)
            assert not dead, f"{name} {where} names {dead}; rendered components: {sorted(components)}"


def test_the_ingress_routes_to_a_rendered_service_port(program_render: ProgramRender) -> None:
    services = {obj["metadata"]["name"]: obj for obj in of_kind(program_render.objects, "Service")}
    backends = [path["backend"]["service"]
                for resource in program_render.run.of_type(INGRESS_TYPE)
                for rule in plain(resource.inputs)["spec"]["rules"]
                for path in rule["http"]["paths"]]
    assert backends
    for backend in backends:
        assert backend["name"] in services, f"the Ingress routes to {backend['name']}, which the chart does not render"
        ports = services[backend["name"]]["spec"]["ports"]
        wanted = backend["port"]
        assert any(port["port"] == wanted.get("number") or port.get("name") == wanted.get("name") for port in ports)


def test_the_ui_mounts_the_program_webserver_config(program_render: ProgramRender) -> None:
    """The webserver (Airflow 2) or api-server (Airflow 3) mounts the SSO config the program wrote."""
    text = webserver_config(program_render.objects, component=program_render.ui)
    assert text is not None
    assert "{{" not in text
    expected = (program_render.values["apiServer"]["apiServerConfig"] if program_render.airflow3
                else program_render.values["webserver"]["webserverConfig"])
    # Helm's `tpl` resolves the program's escapes; the chart's `|-` block drops the final newline.
    assert text == expected.replace('{{ "}}" }}', "}}").replace('{{ "{{" }}', "{{").rstrip("\n")
    tree = ast.parse(text, filename="webserver_config.py")
    needed = {str(node.slice.value) for node in ast.walk(tree)
              if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ"
              and isinstance(node.slice, ast.Constant)}
    needed |= {str(node.args[0].value) for node in ast.walk(tree)
               if isinstance(node, ast.Call) and ast.unparse(node.func) == "os.environ.get"
               and node.args and isinstance(node.args[0], ast.Constant)}
    assert needed, "the SSO config reads its client secret from the environment"
    ui = _container(_component_spec(program_render.objects, program_render.ui), program_render.ui)
    assert needed <= set(_env(ui)), f"webserver_config.py reads {sorted(needed - set(_env(ui)))}"
    literals = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    secrets = [value for data in secret_data(program_render.run).values() for value in data.values() if value]
    assert not [literal for literal in literals if literal in secrets], "a secret value is written in the file"


def test_the_remote_log_connection_reaches_the_pods_that_use_it(program_render: ProgramRender) -> None:
    """Task pods write remote logs, the webserver reads them (without the Vault backend): both need
    the connection the rendered airflow.cfg names, as an AIRFLOW_CONN_ variable."""
    logging = airflow_cfg(program_render.objects)["logging"]
    assert logging.get("remote_logging") == "True"
    variable = f"AIRFLOW_CONN_{logging['remote_log_conn_id'].upper()}"
    for component, container in (("worker", "base"), (program_render.ui, program_render.ui)):
        env = _env(_container(_component_spec(program_render.objects, component), container))
        assert variable in env, f"{component} lacks {variable}"


# --- chart 1.19.0 with Airflow 3 values ----------------------------------------------------------

def test_airflow3_values_pass_the_1_19_schema() -> None:
    assert schema_errors(AIRFLOW3_CHART, AIRFLOW3_VALUES) == []


def test_airflow3_render_is_well_formed(airflow3_objects: list[K8sObject]) -> None:
    _assert_well_formed(airflow3_objects)


def test_airflow3_runs_an_api_server_and_a_dag_processor_instead_of_a_webserver(
        airflow3_objects: list[K8sObject]) -> None:
    components = {labels["component"] for labels in pod_labels(airflow3_objects).values()}
    assert {"api-server", "dag-processor", "scheduler", "triggerer", "worker"} <= components
    assert "webserver" not in components
    assert not [obj for obj in of_kind(airflow3_objects, "Job") if obj["metadata"]["name"].endswith("-create-user")]
    assert _component_spec(airflow3_objects, "api-server")["serviceAccountName"] == "airflow-api-server"


def test_airflow3_execution_api_url_is_the_rendered_api_server_service(airflow3_objects: list[K8sObject]) -> None:
    """Task pods call the execution API at this URL: it must be a Service the chart renders."""
    url = urlsplit(airflow_cfg(airflow3_objects).get("core", "execution_api_server_url"))
    service = find_object(airflow3_objects, "Service", str(url.hostname))
    assert url.port in [port["port"] for port in service["spec"]["ports"]]
    assert pods_selected({"matchLabels": service["spec"]["selector"]}, airflow3_objects) == [
        "Deployment/airflow-api-server"]


def test_airflow3_signing_keys_come_from_the_named_secrets(airflow3_objects: list[K8sObject]) -> None:
    assert credential_secrets(airflow3_objects) == []
    for component, container in (("scheduler", "scheduler"), ("api-server", "api-server"), ("worker", "base")):
        env = _env(_container(_component_spec(airflow3_objects, component), container))
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"]["valueFrom"]["secretKeyRef"] == {
            "name": AIRFLOW3_VALUES["jwtSecretName"], "key": "jwt-secret"}, component


def test_airflow3_dags_reach_the_dag_processor_and_task_pods_through_git_sync(
        airflow3_objects: list[K8sObject]) -> None:
    for component in ("dag-processor", "worker"):
        names = [container["name"] for container in all_containers(_component_spec(airflow3_objects, component))]
        assert "git-sync-init" in names, component
    scheduler = [container["name"] for container in all_containers(_component_spec(airflow3_objects, "scheduler"))]
    assert not [name for name in scheduler if name.startswith("git-sync")]
    base = _container(_component_spec(airflow3_objects, "worker"), "base")
    assert _env(base)["AIRFLOW__CORE__EXECUTOR"]["value"] == "KubernetesExecutor"
    assert task_image(airflow3_objects) == "example.azurecr.io/airflow:3.1.7-python3.12"


def test_airflow3_api_server_mounts_webserver_config_only_when_given(airflow3_objects: list[K8sObject]) -> None:
    assert webserver_config(airflow3_objects, component="api-server") is None
    config = ("from flask_appbuilder.security.manager import AUTH_OAUTH\n"
              "AUTH_TYPE = AUTH_OAUTH\n")
    objects = render_chart(AIRFLOW3_CHART, {**AIRFLOW3_VALUES, "apiServer": {"apiServerConfig": config}},
                           release="airflow", namespace="airflow")
    assert webserver_config(objects, component="api-server") == config.rstrip("\n")


# --- every flow a rendered pod needs is allowed ----------------------------------------------------

# (component, destination, port) each Airflow line needs, from the chart's templates and Airflow's
# docs (AIRFLOW3.md section 3.2 for Airflow 3): "db", "git", "kube-api" are addresses outside the
# namespace; any other destination is a component label in it.
NEEDED_FLOWS = {
    2: [*((c, "db", 5432) for c in ("scheduler", "webserver", "triggerer", "worker", "run-airflow-migrations")),
        *((c, "git", 22) for c in ("scheduler", "triggerer", "worker")),
        ("scheduler", "kube-api", 443), ("webserver", "kube-api", 443),
        ("webserver", "worker", 8793), ("webserver", "triggerer", 8794)],
    3: [*((c, "db", 5432) for c in ("scheduler", "api-server", "triggerer", "dag-processor",
                                     "run-airflow-migrations")),
        *((c, "git", 22) for c in ("dag-processor", "triggerer", "worker")),
        ("scheduler", "kube-api", 443), ("api-server", "kube-api", 443),
        # The execution API: every Airflow 3 task starts, heartbeats and ends through it.
        ("worker", "api-server", 8080),
        ("api-server", "worker", 8793), ("api-server", "triggerer", 8794)],
}
# Flows Airflow 3 no longer needs, and a default-deny namespace must not open.
UNNEEDED_FLOWS = {2: [], 3: [("worker", "db", 5432), ("scheduler", "git", 22)]}


def _labels_of(render: ProgramRender, component: str) -> Mapping[str, str]:
    matches = [labels for labels in pod_labels(render.objects).values() if labels.get("component") == component]
    assert matches, f"the chart renders no {component} pod"
    return matches[0]


def _allows(render: ProgramRender, source: str, destination: str, port: int) -> bool:
    """Whether some egress rule of a policy selecting `source` lets it reach `destination` on `port`
    (and, for a pod in the namespace, some ingress rule of a policy selecting it admits `source`)."""
    policies = _program_network_policies(render).values()
    source_labels = _labels_of(render, source)

    def port_open(rule: Mapping[str, Any]) -> bool:
        return not rule.get("ports") or any(p.get("port") == port for p in rule["ports"])

    def egress_ok(peer_ok: Any) -> bool:
        return any(selector_matches(spec["podSelector"], source_labels) and "Egress" in spec["policyTypes"]
                   and any(port_open(rule) and any(peer_ok(peer) for peer in rule.get("to") or [])
                           for rule in spec.get("egress") or [])
                   for spec in policies)

    if destination in ("db", "git", "kube-api"):
        return egress_ok(lambda peer: "ipBlock" in peer)
    target = _labels_of(render, destination)
    admitted = any(selector_matches(spec["podSelector"], target) and "Ingress" in spec["policyTypes"]
                   and any(port_open(rule) and any("podSelector" in peer and selector_matches(peer["podSelector"],
                                                                                              source_labels)
                                                   for peer in rule.get("from") or [])
                           for rule in spec.get("ingress") or [])
                   for spec in policies)
    return admitted and egress_ok(lambda peer: "podSelector" in peer and selector_matches(peer["podSelector"], target))


def test_every_rendered_pod_may_make_the_flows_it_needs(program_render: ProgramRender) -> None:
    line = 3 if program_render.airflow3 else 2
    for source, destination, port in NEEDED_FLOWS[line]:
        assert _allows(program_render, source, destination, port), f"{source} -> {destination}:{port} is denied"
    for source, destination, port in UNNEEDED_FLOWS[line]:
        assert not _allows(program_render, source, destination, port), f"{source} -> {destination}:{port} is open"
