"""The offline plan as users and pipelines run it: text, JSON and exit status.

The CLI's `main()` runs in this process wherever a test only reads its result; one test starts
the real `python -m tools.plan` process and holds it to the in-process result byte for
byte (another hash seed, SDKs loaded lazily, exit through `os._exit`).
"""

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools import plan
from tools.offline import PROJECT_DIR

PLAN_KEYS = {"stack", "resources", "outputs", "policies"}
RESOURCE_KEYS = {"type", "name", "urn", "parent", "inputs", "dependencies", "protect"}
STRICT_PACK_CONFIG = {"image-registry-allowed": {"enforcementLevel": "mandatory",
                                                 "allowedRegistries": ["myregistry.azurecr.io"]}}


@dataclass(frozen=True)
class PlanResult:
    status: int
    stdout: str
    stderr: str
    json_text: str | None

    @property
    def document(self) -> dict[str, object]:
        assert self.json_text is not None
        loaded: dict[str, object] = json.loads(self.json_text)
        return loaded


def plan_in_process(*args: str, json_path: Path | None = None) -> PlanResult:
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = [*args, *(["--json", str(json_path)] if json_path else [])]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = plan.main(argv)
    return PlanResult(status, stdout.getvalue(), stderr.getvalue(),
                      json_path.read_text() if json_path else None)


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack_plan(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PlanResult:
    stack: str = request.param
    return plan_in_process("--stack", stack, json_path=tmp_path_factory.mktemp(stack) / "plan.json")


@pytest.fixture(scope="module")
def strict_pack_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pack") / "strict.json"
    path.write_text(json.dumps(STRICT_PACK_CONFIG))
    return path


@pytest.fixture(scope="module")
def strict_prod_plan(strict_pack_config: Path, tmp_path_factory: pytest.TempPathFactory) -> PlanResult:
    return plan_in_process("--stack", "prod", "--pack-config", str(strict_pack_config),
                           json_path=tmp_path_factory.mktemp("strict") / "plan.json")


def test_plan_prints_tree_values_and_outputs_and_writes_json(stack_plan: PlanResult) -> None:
    assert stack_plan.status == 0, stack_plan.stderr
    text = stack_plan.stdout
    assert text.splitlines()[1].startswith("This is an offline plan")
    assert "kubernetes:helm.sh/v3:Release  airflow-release" in text
    assert "executor: KubernetesExecutor" in text
    assert "Stack outputs" in text and "gitDeployPublicKey" in text
    assert "offline-placeholder" not in text  # the placeholder connection is a secret, masked
    document = stack_plan.document
    assert set(document) >= PLAN_KEYS
    resources = document["resources"]
    assert isinstance(resources, list)
    for resource in resources:
        assert set(resource) >= RESOURCE_KEYS
    secrets = [r for r in resources if r["type"] == "kubernetes:core/v1:Secret"]
    assert secrets and all(r["inputs"].get("stringData", "[secret]") == "[secret]" for r in secrets)
    assert any("stringData" in r["inputs"] for r in secrets)


def test_plan_json_lists_resources_in_urn_order(stack_plan: PlanResult) -> None:
    resources = stack_plan.document["resources"]
    assert isinstance(resources, list)
    urns = [resource["urn"] for resource in resources]
    assert urns == sorted(urns) and len(set(urns)) == len(urns)


def test_plan_json_does_not_depend_on_where_the_checkout_lives(stack_plan: PlanResult) -> None:
    assert stack_plan.json_text is not None and str(PROJECT_DIR) not in stack_plan.json_text
    [image] = [resource for resource in json.loads(stack_plan.json_text)["resources"]
               if resource["type"] == "docker-build:index:Image"]
    assert image["inputs"]["context"] == {"location": "./image"}
    assert image["inputs"]["dockerfile"] == {"location": "./image/Dockerfile"}


def test_project_paths_are_written_relative_to_the_project() -> None:
    root = Path("/checkouts/base")
    value = {"a": ["/checkouts/base", "/checkouts/base/image/Dockerfile"], "b": "/checkouts/base-other/x",
             "c": 3, "d": "image"}
    assert plan.project_relative(value, root) == {"a": [".", "./image/Dockerfile"], "b": "/checkouts/base-other/x",
                                                  "c": 3, "d": "image"}


def test_bad_config_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    stack_file = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    (tmp_path / "Pulumi.prod.yaml").write_text(
        stack_file.replace("airflow-on-k8s:chartVersion: 1.16.0", 'airflow-on-k8s:chartVersion: "~1.16"'))
    result = plan_in_process("--stack", "prod", "--stack-dir", str(tmp_path))
    assert result.status == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: config airflow-on-k8s:chartVersion = '~1.16' is invalid: "
        "an exact chart version X.Y.Z (no ranges, 'latest' or prefixes)"]


def test_unknown_stack_is_reported(tmp_path: Path) -> None:
    result = plan_in_process("--stack", "qa", "--stack-dir", str(tmp_path))
    assert result.status == 2 and "no stack file Pulumi.qa.yaml" in result.stderr


def test_plan_reports_policy_verdict_and_zero_mandatory_violations(stack_plan: PlanResult) -> None:
    assert "0 mandatory violations" in stack_plan.stdout
    if stack_plan.document["stack"] == "prod":
        assert stack_plan.document["policies"] == []


def test_mandatory_violation_fails_the_plan_and_lands_in_json(strict_prod_plan: PlanResult) -> None:
    assert strict_prod_plan.status == 1, strict_prod_plan.stderr
    assert "[mandatory] image-registry-allowed" in strict_prod_plan.stdout
    # The program's image, named twice: images.airflow and images.pod_template (task pods).
    assert "2 mandatory violations" in strict_prod_plan.stdout
    policies = strict_prod_plan.document["policies"]
    assert isinstance(policies, list)
    assert [(p["policy"], p["level"]) for p in policies] == [("image-registry-allowed", "mandatory")] * 2
    assert set(policies[0]) == {"policy", "level", "urn", "message"}
    assert all(p["urn"].endswith("kubernetes:helm.sh/v3:Release::airflow-release") for p in policies)


def test_unreadable_pack_config_is_one_line(tmp_path: Path) -> None:
    pack_config = tmp_path / "broken.json"
    pack_config.write_text("{not json")
    result = plan_in_process("--stack", "dev", "--pack-config", str(pack_config))
    assert result.status == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_process_gives_the_same_bytes_and_exit_status(strict_prod_plan: PlanResult,
                                                          strict_pack_config: Path, tmp_path: Path) -> None:
    """The real process: another hash seed, lazily loaded SDKs, output flushed before os._exit."""
    json_path = tmp_path / "plan.json"
    result = subprocess.run(
        [sys.executable, "-m", "tools.plan", "--stack", "prod", "--pack-config", str(strict_pack_config),
         "--json", str(json_path)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert (result.returncode, result.stderr) == (1, "")
    assert json_path.read_text() == strict_prod_plan.json_text

    def without_json_path(text: str) -> str:
        return text.rsplit("JSON plan written to ", 1)[0]

    assert without_json_path(result.stdout) == without_json_path(strict_prod_plan.stdout)
