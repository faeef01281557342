"""The DAG repository's Airflow 3 gate (examples/dag-repo-ci.yml), run as written with the pinned ruff."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.offline import PROJECT_DIR

WORKFLOW = PROJECT_DIR / "examples" / "dag-repo-ci.yml"
VENV_BIN = Path(sys.executable).parent
GATE_RULES = ("AIR301", "AIR302", "AIR303", "AIR311", "AIR312")

AIRFLOW_2_DAG = '''\
from datetime import datetime

from airflow import DAG
from airflow.decorators import task
from airflow.operators.bash import BashOperator
from airflow.operators.dummy import DummyOperator
from airflow.operators.python import PythonOperator


def report(**context):
    print(context)


@task
def produce(execution_date=None, **context):
    return context["next_ds"]


with DAG(dag_id="legacy", start_date=datetime(2026, 1, 1), schedule_interval="@daily") as dag:
    start = DummyOperator(task_id="start")
    run = PythonOperator(task_id="report", python_callable=report)
    bash = BashOperator(task_id="bash", bash_command="echo {{ ds }}")
    start >> run >> bash >> produce()
'''

AIRFLOW_3_DAG = '''\
from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import dag, task


@dag(dag_id="modern", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False)
def modern():
    @task
    def report(logical_date=None):
        return logical_date

    report() >> BashOperator(task_id="bash", bash_command="echo {{ logical_date }}")


modern()
'''

# Imports on Airflow 2.10 and 3.x alike: the shape the workflow's header recommends for the switch-over.
BOTH_VERSIONS_DAG = '''\
from datetime import datetime

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.operators.python import PythonOperator


def report(**context):
    return context["logical_date"]


with DAG(dag_id="both", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False) as dag:
    PythonOperator(task_id="report", python_callable=report)
'''


def workflow_steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def gate_steps() -> list[dict[str, Any]]:
    return [step for step in workflow_steps() if "run" in step and "pip install" not in step["run"]]


def run_gate(repo: Path) -> list[subprocess.CompletedProcess[str]]:
    """Each checking step of the workflow, in the DAG repository `repo`, as GitHub's bash runs it."""
    environment = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    return [subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=environment, text=True,
                           capture_output=True, timeout=60, check=False) for step in gate_steps()]


def dag_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "dags" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_workflow_pins_the_ruff_these_tests_run() -> None:
    (install,) = [step["run"] for step in workflow_steps() if "pip install" in step.get("run", "")]
    pinned = re.fullmatch(r"python -m pip install ruff==(\S+)", install.strip())
    installed = subprocess.run([VENV_BIN / "ruff", "--version"], capture_output=True, text=True, check=True)
    assert pinned is not None and installed.stdout.split() == ["ruff", pinned.group(1)]
    requirements = (PROJECT_DIR / "requirements-dev.txt").read_text().splitlines()
    assert f"ruff=={pinned.group(1)}" in requirements


def test_pinned_ruff_has_the_gate_rules_as_stable_rules() -> None:
    listed = subprocess.run([VENV_BIN / "ruff", "rule", "--all", "--output-format", "json"],
                            capture_output=True, text=True, check=True)
    rules = {rule["code"]: rule for rule in json.loads(listed.stdout) if rule.get("code")}
    for code in GATE_RULES:
        assert rules[code]["linter"] == "Airflow" and rules[code]["preview"] is False, code
    assert any("--select AIR3 " in step["run"] and "--preview" not in step["run"] for step in gate_steps())


def test_gate_fails_an_airflow_2_dag_with_every_kind_of_finding(tmp_path: Path) -> None:
    ruff, templates = run_gate(dag_repo(tmp_path, {"legacy.py": AIRFLOW_2_DAG}))
    assert ruff.returncode == 1
    found = set(re.findall(r"\b(AIR3\d\d)\b", ruff.stdout))
    assert found >= {"AIR301", "AIR302", "AIR311", "AIR312"}
    for removed in ("schedule_interval", "execution_date", "next_ds", "airflow.operators.dummy.DummyOperator"):
        assert removed in ruff.stdout, removed
    assert templates.returncode == 0


@pytest.mark.parametrize("dag", [AIRFLOW_3_DAG, BOTH_VERSIONS_DAG], ids=["airflow-3", "both-versions"])
def test_gate_passes_airflow_3_dags(tmp_path: Path, dag: str) -> None:
    sql = "SELECT '{{ ds }}', '{{ logical_date }}', '{{ dag_run.logical_date }}'\n"
    results = run_gate(dag_repo(tmp_path, {"dag.py": dag, "sql/daily.sql": sql}))
    assert [result.returncode for result in results] == [0, 0], [result.stdout for result in results]


@pytest.mark.parametrize("template", [
    "SELECT * FROM t WHERE day = '{{ execution_date }}'",
    "DELETE FROM t WHERE day < '{{ prev_ds_nodash }}'",
    "echo {{ macros.ds_add(next_ds, 1) }}",
    "echo {{ yesterday_ds }}",
])
def test_gate_fails_removed_context_variables_in_templates(tmp_path: Path, template: str) -> None:
    repo = dag_repo(tmp_path, {"dag.py": AIRFLOW_3_DAG, "sql/job.sql": template + "\n"})
    ruff, templates = run_gate(repo)
    assert ruff.returncode == 0
    assert templates.returncode == 1 and "sql/job.sql:1:" in templates.stdout


def test_example_pod_override_dag_has_no_breaking_findings() -> None:
    """The example runs on 2.10.3 and 3.3.2 unchanged: only the deprecated-but-working rules fire."""
    result = subprocess.run([VENV_BIN / "ruff", "check", "--isolated", "--select", "AIR3", "--output-format",
                             "json", PROJECT_DIR / "examples" / "pod_override_dag.py"],
                            capture_output=True, text=True, check=False)
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert codes == {"AIR311", "AIR312"}
