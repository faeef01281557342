"""tools/scan.py, the `make scan` pipeline around checkov, without checkov: the rendered manifests it
hands the scanner, the verdict it draws from a report, and the README's list of accepted findings."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.chart_render import require_chart
from tools.offline import PROJECT_DIR
from tools.scan import ACCEPTED, read_report, rendered_documents, report

SMALL_VALUES: dict[str, Any] = {"executor": "KubernetesExecutor", "postgresql": {"enabled": False},
                                "redis": {"enabled": False}, "data": {"metadataSecretName": "db"}}


def test_the_scanner_gets_every_object_in_the_namespace_and_the_task_pod_template() -> None:
    require_chart("1.16.0")
    documents = list(rendered_documents("1.16.0", SMALL_VALUES, "airflow", "airflow"))
    assert {document["metadata"]["namespace"] for document in documents} == {"airflow"}
    [template] = [document for document in documents if document["kind"] == "Pod"]
    assert template["metadata"]["name"] == "airflow-task-pod-template"
    assert [container["name"] for container in template["spec"]["containers"]] == ["base"]
    assert {"Deployment", "Job", "ConfigMap"} <= {document["kind"] for document in documents}


def _checkov_report(tmp_path: Path, failed: list[tuple[str, str]], passed: int = 3) -> Path:
    path = tmp_path / "checkov.json"
    path.write_text(json.dumps({"check_type": "kubernetes", "results": {
        "passed_checks": [{"check_id": "CKV_K8S_20"}] * passed,
        "failed_checks": [{"check_id": check, "check_name": check, "resource": resource, "file_path": "/x.yaml"}
                          for check, resource in failed]}}))
    return path


def _every_accepted_finding() -> list[tuple[str, str]]:
    examples = {"*": "Deployment.airflow.airflow-scheduler"}
    return [(rule.check, examples.get(rule.resources[0], rule.resources[0].replace("*", "airflow")))
            for rule in ACCEPTED]


def test_the_report_passes_when_every_finding_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _checkov_report(tmp_path, _every_accepted_finding())
    assert read_report(path)[0] == 3
    assert report(path) == 0
    assert f"3 passed, {len(ACCEPTED)} failed ({len(ACCEPTED)} accepted, 0 not accepted)" in capsys.readouterr().out


def test_the_report_fails_on_a_finding_nobody_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Read-only root filesystems are accepted off only for the task pod template.
    findings = [*_every_accepted_finding(), ("CKV_K8S_22", "Deployment.airflow.airflow-scheduler")]
    assert report(_checkov_report(tmp_path, findings)) == 1
    assert "FAILED CKV_K8S_22" in capsys.readouterr().out


def test_the_report_fails_on_an_accepted_finding_that_is_gone(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert report(_checkov_report(tmp_path, _every_accepted_finding()[1:])) == 1
    assert f"STALE accepted {ACCEPTED[0].check}" in capsys.readouterr().out


def test_the_readme_lists_every_accepted_finding() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `CKV")]
    assert sorted(row.split("`")[1] for row in rows) == sorted(rule.check for rule in ACCEPTED)
