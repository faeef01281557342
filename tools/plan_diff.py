"""What a pull request changes in the offline plans, as one Markdown comment for reviewers.

    python -m tools.plan_diff [--base-ref SHA] [--head-ref SHA] [--output FILE] \\
        base/plan-dev.json head/plan-dev.json base/plan-prod.json head/plan-prod.json

Arguments come in pairs (base, head), one pair per stack. For each stack: resources added and
removed (by URN), changed inputs (one line per changed path, secrets stay `[secret]` because the
plans mask them), changed stack outputs, and policy violations that appear or disappear. A pair
whose file is missing or empty (the plan failed before writing it) is reported as such.
Reads only the JSON plans (`make plan PLAN_JSON=...`), never the program or any credential.
"""

import argparse
import html
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.policy_io import Violation

# The hidden first line the pull-request workflow finds its own comment by.
COMMENT_MARKER = "<!-- airflow-on-k8s:offline-plan-diff -->"
# GitHub refuses comments over 65,536 characters.
MAX_COMMENT_CHARS = 60_000
MAX_VALUE_CHARS = 120
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class _Absent:
    def __repr__(self) -> str:
        return "absent"


ABSENT = _Absent()


@dataclass(frozen=True)
class Change:
    path: str
    base: Any
    head: Any


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    name: str
    changes: list[Change]


@dataclass
class StackDiff:
    stack: str
    base_missing: bool = False
    head_missing: bool = False
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)
    unchanged: int = 0
    outputs: list[Change] = field(default_factory=list)
    new_violations: list[Violation] = field(default_factory=list)
    resolved_violations: list[Violation] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.outputs
                    or self.new_violations or self.resolved_violations)


def _path_part(key: str) -> str:
    return f".{key}" if _PLAIN_KEY.match(key) else f"[{json.dumps(key)}]"


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Leaves of nested JSON with their paths: `values.workers.resources`, `env[0].name`,
    `metadata.annotations["cert-manager.io/cluster-issuer"]`; empty containers are leaves."""
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from flatten(value[key], path + _path_part(str(key)))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from flatten(item, f"{path}[{index}]")
    else:
        yield path.lstrip("."), value


def diff_values(base: Any, head: Any, prefix: str = "") -> list[Change]:
    """Every leaf path whose value differs, was added or was removed, in path order."""
    base_leaves = dict(flatten(base, prefix))
    head_leaves = dict(flatten(head, prefix))
    return [Change(path, base_leaves.get(path, ABSENT), head_leaves.get(path, ABSENT))
            for path in sorted(base_leaves.keys() | head_leaves.keys())
            if base_leaves.get(path, ABSENT) != head_leaves.get(path, ABSENT)]


def _resource_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[Change]:
    changes = diff_values(base.get("inputs", {}), head.get("inputs", {}))
    if base.get("protect") != head.get("protect"):
        changes.append(Change("(protect)", base.get("protect"), head.get("protect")))
    base_deps, head_deps = set(base.get("dependencies", [])), set(head.get("dependencies", []))
    changes += [Change("(dependsOn)", ABSENT, short_urn(urn)) for urn in sorted(head_deps - base_deps)]
    changes += [Change("(dependsOn)", short_urn(urn), ABSENT) for urn in sorted(base_deps - head_deps)]
    return changes


def _violations(document: Mapping[str, Any]) -> set[Violation]:
    return {Violation(p["policy"], p["level"], p["urn"], p["message"]) for p in document.get("policies", [])}


def _violation_order(violation: Violation) -> tuple[bool, str, str, str]:
    return violation.level != "mandatory", violation.policy, violation.urn, violation.message


def diff_plans(stack: str, base: Mapping[str, Any] | None, head: Mapping[str, Any] | None) -> StackDiff:
    """The difference between two plan documents of one stack; None stands for a missing plan."""
    diff = StackDiff(stack=stack, base_missing=base is None, head_missing=head is None)
    if head is None:
        return diff
    base = base or {}
    base_resources = {resource["urn"]: resource for resource in base.get("resources", [])}
    head_resources = {resource["urn"]: resource for resource in head.get("resources", [])}
    diff.added = [head_resources[urn] for urn in sorted(head_resources.keys() - base_resources.keys())]
    diff.removed = [base_resources[urn] for urn in sorted(base_resources.keys() - head_resources.keys())]
    for urn in sorted(base_resources.keys() & head_resources.keys()):
        changes = _resource_changes(base_resources[urn], head_resources[urn])
        if changes:
            resource = head_resources[urn]
            diff.changed.append(ResourceChange(urn, resource["type"], resource["name"], changes))
        else:
            diff.unchanged += 1
    diff.outputs = diff_values(base.get("outputs", {}), head.get("outputs", {}))
    base_violations, head_violations = _violations(base), _violations(head)
    diff.new_violations = sorted(head_violations - base_violations, key=_violation_order)
    diff.resolved_violations = sorted(base_violations - head_violations, key=_violation_order)
    return diff


def short_urn(urn: str) -> str:
    """`type::name`, the part of a URN after its parent chain."""
    qualified_type, _, name = urn.rpartition("::")
    return f"{qualified_type.rsplit('$', 1)[-1]}::{name}"


def _code(text: str) -> str:
    """Inline code that survives any content inside a Markdown table cell."""
    text = text.replace("\n", "⏎").replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _shown(value: Any) -> str:
    if value is ABSENT:
        return "—"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS - 1] + "…"
    return _code(text)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def summary_row(diff: StackDiff) -> str:
    if diff.head_missing:
        return f"| {diff.stack} | **no plan of the head**: `make plan` failed, see the job log | | | | | |"
    new_mandatory = sum(1 for violation in diff.new_violations if violation.level == "mandatory")
    new = f"**{len(diff.new_violations)}** ({new_mandatory} mandatory)" if diff.new_violations else "0"
    return (f"| {diff.stack} | {len(diff.added)} | {len(diff.removed)} | {len(diff.changed)} | {diff.unchanged} "
            f"| {new} | {len(diff.resolved_violations)} |")


def _violation_line(prefix: str, violation: Violation) -> str:
    first_line = violation.message.strip().splitlines()[0] if violation.message.strip() else ""
    return (f"- {prefix} **[{violation.level}] {violation.policy}** on {_code(short_urn(violation.urn))}: "
            f"{first_line}")


def stack_blocks(diff: StackDiff) -> list[str]:
    """The stack's section as separate blocks, so a long comment can be cut between them."""
    blocks = [f"### {diff.stack}"]
    if diff.head_missing:
        return [*blocks, "The head's plan failed before writing JSON; the job log has its error."]
    if diff.base_missing:
        blocks.append("No plan of the base (new stack, or the base's plan failed): everything counts as added.")
    if not diff.has_changes:
        return [*blocks, "No changes."]
    if diff.new_violations or diff.resolved_violations:
        blocks.append("\n".join(["**Policy results**",
                                 *(_violation_line("new:", violation) for violation in diff.new_violations),
                                 *(_violation_line("resolved:", violation) for violation in diff.resolved_violations)]))
    for title, resources in (("Added", diff.added), ("Removed", diff.removed)):
        if resources:
            blocks.append("\n".join([f"**{title}**",
                                     *(f"- {_code(resource['type'])} {_code(resource['name'])}"
                                       for resource in resources)]))
    if diff.changed:
        blocks.append("**Changed**")
    for resource in diff.changed:
        rows = [f"| {_code(change.path)} | {_shown(change.base)} | {_shown(change.head)} |"
                for change in resource.changes]
        blocks.append("\n".join([
            f"<details><summary><code>{html.escape(resource.type)}</code> <code>{html.escape(resource.name)}</code>: "
            f"{_count(len(resource.changes), 'change')}</summary>", "",
            "| path | base | head |", "|---|---|---|", *rows, "", "</details>"]))
    if diff.outputs:
        blocks.append("\n".join(["**Stack outputs**", "", "| output | base | head |", "|---|---|---|",
                                 *(f"| {_code(change.path)} | {_shown(change.base)} | {_shown(change.head)} |"
                                   for change in diff.outputs)]))
    return blocks


def render_markdown(diffs: Sequence[StackDiff], base_ref: str | None = None, head_ref: str | None = None,
                    max_chars: int = MAX_COMMENT_CHARS) -> str:
    refs = f" between {_code(base_ref or 'base')} and {_code(head_ref or 'head')}"
    head = [
        COMMENT_MARKER,
        "## Offline plan diff",
        f"What this pull request changes in the offline plans{refs}: the real program under Pulumi's "
        "mock runtime, no cloud credentials. Provider-computed values are placeholders and secrets are "
        "masked; the real `pulumi preview` can still differ in what the cloud computes.",
        "| stack | added | removed | changed | unchanged | new policy violations | resolved |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(summary_row(diff) for diff in diffs),
    ]
    text = "\n\n".join(head)
    truncation = ("\n\n… cut here: GitHub limits a comment's length. The plans of both sides are in the "
                  "`offline-plan-diff` artifact of this run; `python -m tools.plan_diff` prints the "
                  "whole diff from them.")
    for block in (block for diff in diffs for block in stack_blocks(diff)):
        if len(text) + len(block) + 2 > max_chars - len(truncation):
            return text + truncation + "\n"
        text += "\n\n" + block
    return text + "\n"


def load_plan(path: Path) -> dict[str, Any] | None:
    """A plan document, or None when the file is missing or empty (the plan did not get that far)."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Markdown diff of offline plans, one (base, head) pair per stack.")
    parser.add_argument("plans", nargs="+", type=Path, metavar="BASE HEAD", help="plan JSON files, in pairs")
    parser.add_argument("--base-ref", help="shown as the base, e.g. a commit")
    parser.add_argument("--head-ref", help="shown as the head, e.g. a commit")
    parser.add_argument("--output", type=Path, help="write the Markdown here instead of stdout")
    args = parser.parse_args(argv)
    if len(args.plans) % 2:
        parser.error("plans come in pairs: BASE HEAD [BASE HEAD ...]")
    diffs = []
    for base_path, head_path in zip(args.plans[::2], args.plans[1::2], strict=True):
        base, head = load_plan(base_path), load_plan(head_path)
        stack = str((head or base or {}).get("stack") or head_path.stem)
        diffs.append(diff_plans(stack, base, head))
    markdown = render_markdown(diffs, args.base_ref, args.head_ref)
    if args.output:
        args.output.write_text(markdown)
    else:
        sys.stdout.write(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
