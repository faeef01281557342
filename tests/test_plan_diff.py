"""The pull-request comment: the difference between two real offline plans of the prod stack."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harness import run_once
from tools import plan_diff
from tools.offline import ProgramRun
from tools.plan import load_stack_inputs, plan_document
from tools.plan_diff import ABSENT, COMMENT_MARKER, Change, diff_plans, flatten, render_markdown
from tools.policy_check import analyze
from tools.policy_io import stack_pack_config

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
STRICT_PACK_CONFIG = {"image-registry-allowed": {"enforcementLevel": "mandatory",
                                                 "allowedRegistries": ["myregistry.azurecr.io"]}}


def document(run: ProgramRun, pack_config: dict[str, Any]) -> dict[str, Any]:
    """The plan as `make plan PLAN_JSON=...` writes it and the workflow reads it back."""
    loaded: dict[str, Any] = json.loads(json.dumps(plan_document(run, analyze(run, pack_config)), sort_keys=True))
    return loaded


def prod_plan(pack_config: dict[str, Any] | None = None, **config_changes: str) -> dict[str, Any]:
    inputs = load_stack_inputs("prod")
    run = run_once("prod", {**inputs.config, **config_changes}, inputs.secret_keys)
    return document(run, pack_config if pack_config is not None else stack_pack_config("prod"))


@pytest.fixture(scope="module")
def base_and_head() -> tuple[dict[str, Any], dict[str, Any]]:
    """Base: prod without NetworkPolicies. Head: prod with them, a bigger task memory limit and a
    pack config that makes the registry allow-list mandatory."""
    base = prod_plan(networkPoliciesEnabled="false")
    head = prod_plan(STRICT_PACK_CONFIG, workerMemoryLimit="8Gi")
    return base, head


def test_added_resources_changed_inputs_and_new_violation(base_and_head: tuple[dict[str, Any], dict[str, Any]]
                                                          ) -> None:
    base, head = base_and_head
    diff = diff_plans("prod", base, head)
    assert diff.added and {resource["type"] for resource in diff.added} == {
        NETWORK_POLICY, "airflow-on-k8s:network:AirflowNetwork"}
    assert [r for r in head["resources"] if r["type"] == NETWORK_POLICY] == \
        [r for r in diff.added if r["type"] == NETWORK_POLICY]
    assert diff.removed == []
    release = next(change for change in diff.changed if change.type == RELEASE)
    assert Change("values.workers.resources.limits.memory", "4Gi", "8Gi") in release.changes
    assert len(diff.changed) + diff.unchanged + len(diff.added) == len(head["resources"])
    # The program's image is named twice in the values: images.airflow and images.pod_template.
    assert [(v.policy, v.level) for v in diff.new_violations] == [("image-registry-allowed", "mandatory")] * 2
    # Without NetworkPolicies the base broke the pack's default-deny rule; the head resolves it.
    assert base["policies"] and {(v.policy, v.urn) for v in diff.resolved_violations} == \
        {(p["policy"], p["urn"]) for p in base["policies"]}


def test_the_reverse_diff_removes_and_resolves(base_and_head: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, head = base_and_head
    forward, reverse = diff_plans("prod", base, head), diff_plans("prod", head, base)
    assert reverse.removed == forward.added and reverse.added == []
    assert reverse.resolved_violations == forward.new_violations
    assert reverse.new_violations == forward.resolved_violations
    release = next(change for change in reverse.changed if change.type == RELEASE)
    assert Change("values.workers.resources.limits.memory", "8Gi", "4Gi") in release.changes


def test_markdown_summary_and_details(base_and_head: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, head = base_and_head
    diff = diff_plans("prod", base, head)
    markdown = render_markdown([diff_plans("dev", head, head), diff], "1111111", "2222222")
    assert markdown.startswith(COMMENT_MARKER + "\n")
    assert (f"| prod | {len(diff.added)} | 0 | {len(diff.changed)} | {diff.unchanged} | **2** (2 mandatory) "
            f"| {len(diff.resolved_violations)} |") in markdown
    assert "- resolved: **[mandatory] " in markdown
    assert f"| dev | 0 | 0 | 0 | {len(head['resources'])} | 0 | 0 |" in markdown
    assert "### dev\n\nNo changes." in markdown
    assert "- new: **[mandatory] image-registry-allowed** on `kubernetes:helm.sh/v3:Release::airflow-release`" \
        in markdown
    assert '| `values.workers.resources.limits.memory` | `"4Gi"` | `"8Gi"` |' in markdown
    assert "- `kubernetes:networking.k8s.io/v1:NetworkPolicy` `network-airflow-default-deny`" in markdown
    assert "offline-placeholder" not in markdown  # secrets stay masked, as in the plans


def test_identical_plans_have_no_changes(prod_run: ProgramRun) -> None:
    plan = document(prod_run, stack_pack_config("prod"))
    diff = diff_plans("prod", plan, json.loads(json.dumps(plan)))
    assert not diff.has_changes and diff.unchanged == len(plan["resources"])


def test_missing_plans_are_reported_not_guessed(prod_run: ProgramRun) -> None:
    plan = document(prod_run, stack_pack_config("prod"))
    new_stack = diff_plans("prod", None, plan)
    assert len(new_stack.added) == len(plan["resources"]) and new_stack.base_missing
    failed_head = diff_plans("prod", plan, None)
    markdown = render_markdown([failed_head])
    assert "| prod | **no plan of the head**: `make plan` failed, see the job log | | | | | |" in markdown
    assert "The head's plan failed before writing JSON" in markdown


def test_paths_name_dotted_keys_and_list_items() -> None:
    value = {"metadata": {"annotations": {"cert-manager.io/cluster-issuer": "le"}},
             "env": [{"name": "A"}], "empty": {}}
    assert dict(flatten(value)) == {'metadata.annotations["cert-manager.io/cluster-issuer"]': "le",
                                    "env[0].name": "A", "empty": {}}
    assert plan_diff.diff_values({"a": [1, 2]}, {"a": [1]}) == [Change("a[1]", 2, ABSENT)]


def test_cells_survive_pipes_backticks_and_newlines() -> None:
    assert plan_diff._shown("a|b`c\nd") == '`` "a\\|b`c\\nd" ``'
    assert plan_diff._shown(ABSENT) == "—"
    assert plan_diff._shown("x" * 500).endswith("…`") and len(plan_diff._shown("x" * 500)) < 130


def test_a_long_diff_is_cut_between_blocks_under_the_limit(base_and_head: tuple[dict[str, Any], dict[str, Any]]
                                                           ) -> None:
    base, head = base_and_head
    full = render_markdown([diff_plans("prod", base, head)])
    cut = render_markdown([diff_plans("prod", base, head)], max_chars=len(full) // 2)
    assert len(cut) <= len(full) // 2 and "cut here: GitHub limits a comment's length" in cut
    assert cut.count("<details>") == cut.count("</details>")


def test_cli_reads_pairs_and_writes_one_comment(base_and_head: tuple[dict[str, Any], dict[str, Any]],
                                                tmp_path: Path) -> None:
    base, head = base_and_head
    (tmp_path / "base-prod.json").write_text(json.dumps(base))
    (tmp_path / "head-prod.json").write_text(json.dumps(head))
    (tmp_path / "head-dev.json").write_text("")  # the head's dev plan failed before writing
    output = tmp_path / "comment.md"
    assert plan_diff.main([str(tmp_path / "base-dev.json"), str(tmp_path / "head-dev.json"),
                           str(tmp_path / "base-prod.json"), str(tmp_path / "head-prod.json"),
                           "--base-ref", "abc", "--head-ref", "def", "--output", str(output)]) == 0
    markdown = output.read_text()
    assert markdown.count(COMMENT_MARKER) == 1 and "between `abc` and `def`" in markdown
    assert "| head-dev | **no plan of the head**" in markdown and "| prod |" in markdown
    with pytest.raises(SystemExit):
        plan_diff.main([str(tmp_path / "base-prod.json")])
