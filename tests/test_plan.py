"""The offline plan as users and pipelines run it: a subprocess, text and JSON."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.offline import PROJECT_DIR

PLAN_KEYS = {"stack", "resources", "outputs"}
RESOURCE_KEYS = {"type", "name", "urn", "parent", "inputs", "dependencies", "protect"}


def run_plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.plan", *args], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_prints_tree_values_and_outputs_and_writes_json(stack: str, tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    result = run_plan("--stack", stack, "--json", str(plan_path))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.splitlines()[1].startswith("This is an offline plan")
    assert "kubernetes:helm.sh/v3:Release  airflow-release" in text
    assert "executor: KubernetesExecutor" in text
    assert "Stack outputs" in text and "gitDeployPublicKey" in text
    assert "offline-placeholder" not in text  # the placeholder connection is a secret, masked
    document = json.loads(plan_path.read_text())
    assert set(document) >= PLAN_KEYS and document["stack"] == stack
    for resource in document["resources"]:
        assert set(resource) >= RESOURCE_KEYS
    secrets = [r for r in document["resources"] if r["type"] == "kubernetes:core/v1:Secret"]
    assert secrets and all(r["inputs"].get("stringData", "[secret]") == "[secret]" for r in secrets)
    assert any("stringData" in r["inputs"] for r in secrets)


def test_bad_config_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    stack_file = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    (tmp_path / "Pulumi.prod.yaml").write_text(
        stack_file.replace("airflow-on-k8s:chartVersion: 1.16.0", 'airflow-on-k8s:chartVersion: "~1.16"'))
    result = run_plan("--stack", "prod", "--stack-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: config airflow-on-k8s:chartVersion = '~1.16' is invalid: "
                     "an exact chart version X.Y.Z (no ranges, 'latest' or prefixes)"]


def test_unknown_stack_is_reported(tmp_path: Path) -> None:
    result = run_plan("--stack", "qa", "--stack-dir", str(tmp_path))
    assert result.returncode == 2 and "no stack file Pulumi.qa.yaml" in result.stderr


def test_plan_reports_policy_verdict_and_zero_mandatory_violations(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    result = run_plan("--stack", "prod", "--json", str(plan_path))
    assert result.returncode == 0, result.stderr
    assert "0 mandatory violations" in result.stdout
    assert json.loads(plan_path.read_text())["policies"] == []


def test_mandatory_violation_fails_the_plan_and_lands_in_json(tmp_path: Path) -> None:
    pack_config = tmp_path / "strict.json"
    pack_config.write_text(json.dumps({"image-registry-allowed": {
        "enforcementLevel": "mandatory", "allowedRegistries": ["myregistry.azurecr.io"]}}))
    plan_path = tmp_path / "plan.json"
    result = run_plan("--stack", "prod", "--pack-config", str(pack_config), "--json", str(plan_path))
    assert result.returncode == 1, result.stderr
    assert "[mandatory] image-registry-allowed" in result.stdout
    # The program's image, named twice: images.airflow and images.pod_template (task pods).
    assert "2 mandatory violations" in result.stdout
    policies = json.loads(plan_path.read_text())["policies"]
    assert [(p["policy"], p["level"]) for p in policies] == [("image-registry-allowed", "mandatory")] * 2
    assert set(policies[0]) == {"policy", "level", "urn", "message"}
    assert all(p["urn"].endswith("kubernetes:helm.sh/v3:Release::airflow-release") for p in policies)


def test_unreadable_pack_config_is_one_line(tmp_path: Path) -> None:
    pack_config = tmp_path / "broken.json"
    pack_config.write_text("{not json")
    result = run_plan("--stack", "dev", "--pack-config", str(pack_config))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
