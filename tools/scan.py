"""The release's manifests through a Kubernetes scanner (checkov's kubernetes framework): `make scan`.

`render DIR` writes what the real chart (../shared/airflow-chart/<version>/chart, rendered with
Helm's own engine as in tests/chart_render.py) renders from the program's values for every
supported (chart, Airflow) pair and both stacks, one file per pair and stack, plus the
KubernetesExecutor's task pod template as a Pod of its own (a scanner does not look inside the
ConfigMap that holds it). `report FILE` reads checkov's JSON report, prints the passed and failed
counts, and fails on any failed check that ACCEPTED does not list, or on an accepted check that
no longer fails (then it is stale). The README's "Pod security" section lists ACCEPTED, and a
test keeps the two equal.

checkov runs from its own virtualenv (requirements-scan.txt): it brings ~100 packages the
program and its tests do not need.
"""

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from airflow_on_k8s.config import SUPPORTED_PAIRS
from tools.offline import PROJECT_DIR, plain, run_program
from tools.plan import load_stack_inputs

CHART_DIR = PROJECT_DIR.parent / "shared" / "airflow-chart"
STACKS = ("dev", "prod")
TASK_POD_TEMPLATE_KEY = "pod_template_file.yaml"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


@dataclass(frozen=True)
class Accepted:
    check: str  # checkov's check id
    title: str
    resources: tuple[str, ...]  # shell patterns over checkov's resource ids, `Kind.namespace.name`
    reason: str


# The pods that run the chart's git-sync or StatsD exporter image.
_CHART_IMAGE_PODS = ("Deployment.*.*-scheduler", "StatefulSet.*.*-triggerer", "Deployment.*.*-dag-processor",
                     "Deployment.*.*-statsd", "Pod.*.*-task-pod-template")
# Pods whose sidecars or short-lived containers the chart gives no probes.
_UNPROBED_PODS = ("Deployment.*.*-scheduler", "StatefulSet.*.*-triggerer", "Deployment.*.*-dag-processor",
                  "Pod.*.*-task-pod-template")

# Every failed check the release keeps, with the reason; the README's "Pod security" lists them.
ACCEPTED: tuple[Accepted, ...] = (
    Accepted("CKV_K8S_38", "Service Account Tokens are only mounted where necessary", ("*",),
             "checkov reads only the pod's own automountServiceAccountToken; the chart sets it on the "
             "ServiceAccount: false for StatsD and the migration Job (tests/test_pod_security.py checks the "
             "effective value). The scheduler, task pods, triggerer, UI and dag-processor call the API server "
             "or log in to Vault with their token."),
    Accepted("CKV_K8S_35", "Prefer using secrets as files over secrets as environment variables", ("*",),
             "the chart hands Airflow its metadata connection and keys (and the program the OIDC client "
             "secret) as secretKeyRef environment variables, the way Airflow reads its config."),
    Accepted("CKV_K8S_43", "Image should use digest", _CHART_IMAGE_PODS,
             "the chart's git-sync and StatsD exporter images, pinned by release tag (registry.k8s.io, quay.io); "
             "the program's own image is pulled by digest everywhere."),
    Accepted("CKV_K8S_15", "Image Pull Policy should be Always", _CHART_IMAGE_PODS,
             "IfNotPresent for those release-tagged images: Always would put a registry round trip in front of "
             "every task pod start. The program's image is pulled by digest, where the policy is moot."),
    Accepted("CKV_K8S_22", "Use read-only filesystem for containers where possible", ("Pod.*.*-task-pod-template",),
             "the task container keeps a writable root filesystem: task code writes where it likes (its working "
             "directory $AIRFLOW_HOME, library caches in $HOME)."),
    Accepted("CKV_K8S_8", "Liveness Probe Should be Configured", _UNPROBED_PODS,
             "the scheduler, triggerer and dag-processor containers have the chart's liveness probes; their "
             "git-sync and log-groomer sidecars have none in the chart, and a task pod runs to completion."),
    Accepted("CKV_K8S_9", "Readiness Probe Should be Configured", _UNPROBED_PODS,
             "those pods take no traffic through a Service but their log servers; the UI and StatsD have "
             "readiness probes."),
)


# The program's own objects in Airflow's namespace that a scanner judges pods against.
PROGRAM_KINDS = {"kubernetes:core/v1:Namespace": ("v1", "Namespace"),
                 "kubernetes:networking.k8s.io/v1:NetworkPolicy": ("networking.k8s.io/v1", "NetworkPolicy")}


@dataclass(frozen=True)
class StackRender:
    values: dict[str, Any]
    release: str
    namespace: str
    program_objects: list[dict[str, Any]]


def program_render(stack: str, chart: str) -> StackRender:
    """The Airflow release's values, name and namespace when `stack` runs the (chart, Airflow) pair,
    and the program's Namespace and NetworkPolicies."""
    inputs = load_stack_inputs(stack)
    config = {**inputs.config, "chartVersion": chart, "airflowVersion": SUPPORTED_PAIRS[chart]}
    run = run_program(stack, config, inputs.secret_keys)
    [release] = [resource for resource in run.of_type(RELEASE_TYPE) if resource.inputs.get("chart") == "airflow"]
    namespace = str(release.inputs["namespace"])
    objects = []
    for resource in run.resources:
        if resource.type in PROGRAM_KINDS:
            api_version, kind = PROGRAM_KINDS[resource.type]
            body = json.loads(json.dumps(plain(resource.inputs)))
            if kind == "Namespace" and body["metadata"]["name"] != namespace:
                continue
            objects.append({"apiVersion": api_version, "kind": kind, **body})
    values: dict[str, Any] = json.loads(json.dumps(plain(release.inputs["values"])))
    return StackRender(values, str(release.inputs["name"]), namespace, objects)


def rendered_documents(chart: str, values: Mapping[str, Any], release: str, namespace: str) -> Iterator[dict[str, Any]]:
    """Every object the chart renders, then the task pod template as a Pod. Helm installs every
    object into the release's namespace, which `helm template` leaves unwritten: it is set here."""
    import helm_python  # only here: the render needs Helm's engine, the report does not

    with helm_python.Chart.load(CHART_DIR / chart / "chart") as loaded:
        manifests = loaded.render(dict(values), name=release, namespace=namespace)
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if not document:
                continue
            document["metadata"].setdefault("namespace", namespace)
            yield document
            template = (document.get("data") or {}).get(TASK_POD_TEMPLATE_KEY) if document.get("kind") == "ConfigMap" \
                else None
            if template:
                pod = yaml.safe_load(template)
                pod["metadata"] = {**pod["metadata"], "name": f"{release}-task-pod-template", "namespace": namespace}
                yield pod


def render(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stack in STACKS:
        for chart in SUPPORTED_PAIRS:
            stack_render = program_render(stack, chart)
            path = out / f"{stack}-chart-{chart}.yaml"
            documents = [*stack_render.program_objects, *rendered_documents(
                chart, stack_render.values, stack_render.release, stack_render.namespace)]
            path.write_text(yaml.safe_dump_all(documents, sort_keys=True))
            written.append(path)
    return written


@dataclass(frozen=True)
class Finding:
    check: str
    title: str
    resource: str
    file: str


def _reports(document: Any) -> list[Mapping[str, Any]]:
    """checkov prints one report object, or a list of them (one per framework)."""
    return list(document) if isinstance(document, list) else [document]


def read_report(path: Path) -> tuple[int, list[Finding]]:
    passed, failed = 0, []
    for report in _reports(json.loads(path.read_text())):
        results = report.get("results") or {}
        passed += len(results.get("passed_checks") or [])
        failed += [Finding(item["check_id"], item.get("check_name", ""), item.get("resource", ""),
                           item.get("file_path", "")) for item in results.get("failed_checks") or []]
    return passed, failed


def accepted_by(finding: Finding) -> Accepted | None:
    return next((rule for rule in ACCEPTED if rule.check == finding.check
                 and any(fnmatchcase(finding.resource, pattern) for pattern in rule.resources)), None)


def report(path: Path) -> int:
    passed, failed = read_report(path)
    unaccepted = [finding for finding in failed if accepted_by(finding) is None]
    used = {rule for finding in failed if (rule := accepted_by(finding)) is not None}
    print(f"checkov kubernetes: {passed} passed, {len(failed)} failed "
          f"({len(failed) - len(unaccepted)} accepted, {len(unaccepted)} not accepted)")
    for rule in ACCEPTED:
        count = sum(1 for finding in failed if accepted_by(finding) == rule)
        print(f"  accepted {rule.check} ({rule.title}): {count}")
    for finding in unaccepted:
        print(f"  FAILED {finding.check} {finding.title}: {finding.resource} ({finding.file})")
    stale = [rule for rule in ACCEPTED if rule not in used]
    for rule in stale:
        print(f"  STALE accepted {rule.check}: it no longer fails; remove it from ACCEPTED and the README")
    return 1 if unaccepted or stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.scan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("render", help="write the rendered manifests").add_argument("out", type=Path)
    commands.add_parser("report", help="judge checkov's JSON report").add_argument("report", type=Path)
    args = parser.parse_args(argv)
    if args.command == "render":
        for path in render(args.out):
            print(f"rendered {path}")
        return 0
    return report(args.report)


if __name__ == "__main__":
    sys.exit(main())
