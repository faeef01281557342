"""The offline plan: run the real program for a stack under Pulumi's mock runtime and report.

    python -m tools.plan --stack prod [--json plan.json]

No Pulumi CLI, cloud account or cluster is needed. Values a provider computes (ids, random
keys, generated SSH keys) are placeholders, and secret stack config that only the CLI can
decrypt is replaced by labelled placeholders. The policy pack then judges every resource with
the stack's pack config (policies/config/<stack>.json), as `pulumi preview --policy-pack` would.
Exit status: 0 planned, 1 mandatory policy violations, 2 bad config or input.
"""

import gc

if __name__ == "__main__":
    # One short run: memory is released at exit, and collections only cost time. Before the
    # imports below: the collector ran ~35 ms of a ~0.55 s plan while they loaded.
    gc.disable()
    from tools import startup_code

    startup_code.install()  # before the imports below define their dataclasses

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from airflow_on_k8s.config import KEYS_BY_NAME, PROJECT, reject_mistyped_namespaces
from airflow_on_k8s.errors import ConfigError, printable
from tools import lazy_sdk
from tools.offline import PROJECT_DIR, OfflineEngine, ProgramRun, RecordedResource, run_program
from tools.pack_process import Pack
from tools.policy_io import PolicyConfigError, Violation, load_pack_config, stack_pack_config
from tools.stack_file import (
    ConfigEntry,
    Encrypted,
    StackFileError,
    config_text,
    holds_encrypted,
    pulumi_type_problem,
    read_stack_file,
)

SECRET_MASK = "[secret]"
HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"

# Stand-ins for secret config that the CLI would decrypt, one for every secret key. Each
# satisfies its key's own validation and is plainly not real, so a plan never carries a
# production secret and any stack `pulumi preview` accepts also plans offline.
OFFLINE_SECRET_PLACEHOLDERS: dict[str, str] = {
    "metadataConnection":
        "postgresql://airflow:offline-placeholder@{host}:5432/airflow?sslmode=require",
    "gitSshPrivateKey":
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb2ZmbGluZS1wbGFjZWhvbGRlcg==\n"
        "-----END OPENSSH PRIVATE KEY-----\n",
    "kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
    "registryPushPassword": "offline-placeholder-push-password",
    "ssoClientSecret": "offline-placeholder-client-secret",
    "vaultSeedConnections":
        '{"offline_placeholder": "postgresql://offline:placeholder@offline.invalid:5432/offline?sslmode=require"}',
    "vaultSeedVariables": '{"offline_placeholder": "offline-placeholder"}',
}


def offline_placeholder(name: str, config: Mapping[str, str]) -> str:
    """The stand-in for secret key `name`, fitted to the rest of the stack's config: the metadata
    connection names the host that postgresExistingFqdn states, as the real one must."""
    host = config.get("postgresExistingFqdn", "").strip().lower() or "metadata-db.invalid"
    return OFFLINE_SECRET_PLACEHOLDERS[name].replace("{host}", host)


class PlanInputError(Exception):
    """A stack file the plan cannot read."""


@dataclass(frozen=True)
class StackInputs:
    stack: str
    config: dict[str, str]
    secret_keys: frozenset[str]
    placeholders: tuple[str, ...]  # keys whose values are offline stand-ins


def _project_value(entry: ConfigEntry, name: str) -> str | None:
    """The text the program receives for one of this project's entries; None for an encrypted
    value (a placeholder stands in). Refuses what the CLI refuses, and YAML nulls."""
    spec = KEYS_BY_NAME.get(name)
    where = f"{entry.position}: {printable(entry.key, 120)}"
    if entry.value is None:
        raise PlanInputError(f"{where} has no value (YAML null); write \"\" for an empty value or remove the line")
    if spec is not None:
        problem = pulumi_type_problem(spec.type, entry.value)
        if problem is not None:
            raise PlanInputError(f"{where} {problem}, as Pulumi.yaml declares it (`pulumi preview` refuses it too)")
    surprise = entry.reading_surprise()
    if surprise is not None and entry.written is not None:
        text = config_text(entry.value)
        raise PlanInputError(f"{where}: YAML reads {printable(entry.written, 40)} as {surprise}, so Pulumi passes "
                             f"{text[:40]!r}; quote it to keep the text as written")
    if isinstance(entry.value, Encrypted):
        if spec is not None and not spec.secret:
            raise PlanInputError(f"{where} is encrypted but is not a secret key: the offline plan cannot stand in "
                                 f"for its value; set it in plain text (`pulumi config set {name} ...`)")
        return None
    if holds_encrypted(entry.value):
        raise PlanInputError(f"{where} holds encrypted items: the offline plan cannot stand in for them; "
                             "encrypt the whole value or none of it")
    return config_text(entry.value)


def load_stack_inputs(stack: str, stack_dir: Path = PROJECT_DIR) -> StackInputs:
    """Pulumi.<stack>.yaml read as the CLI reads it (tools/stack_file.py), this project's entries
    as the program receives them, encrypted secrets replaced by offline placeholders."""
    stack_file = stack_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise PlanInputError(f"no stack file {stack_file.name}; stacks here: "
                             + ", ".join(sorted(p.name[7:-5] for p in stack_dir.glob("Pulumi.*.yaml"))))
    try:
        entries = read_stack_file(stack_file, PROJECT)
    except StackFileError as error:
        raise PlanInputError(str(error)) from None
    prefix = f"{PROJECT}:"
    config: dict[str, str] = {}
    encrypted: list[str] = []
    for entry in entries:
        try:
            reject_mistyped_namespaces([entry.key])
        except ConfigError as error:
            raise PlanInputError(f"{entry.position}: {error}") from None
        if not entry.key.startswith(prefix):
            continue  # provider config such as kubernetes:context belongs to the CLI
        name = entry.key[len(prefix):]
        text = _project_value(entry, name)
        if text is None:
            encrypted.append(name)
        else:
            config[name] = text
    for name, spec in KEYS_BY_NAME.items():
        if spec.secret and spec.default is None and name not in config and name not in encrypted:
            # Required secrets live encrypted in each operator's stack file, never in Git.
            encrypted.append(name)
    for name in encrypted:
        # An encrypted key the program does not know gets a stand-in too: the program names it.
        known = name in OFFLINE_SECRET_PLACEHOLDERS
        config[name] = offline_placeholder(name, config) if known else "offline-placeholder"
    return StackInputs(stack=stack, config=config, secret_keys=frozenset(encrypted),
                       placeholders=tuple(sorted(encrypted)))


def mask_secrets(value: Any) -> Any:
    """Plain JSON data with every Pulumi secret replaced by a mask; integral floats as ints."""
    if rpc.is_rpc_secret(value):
        return SECRET_MASK
    if isinstance(value, Mapping):
        return {key: mask_secrets(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def project_relative(value: Any, project_dir: Path = PROJECT_DIR) -> Any:
    """`value` with every text that is a path in the project written relative to it ("./image"):
    the program passes absolute paths (the image's build context), and a plan must not depend on
    where its checkout lives (a pull request's base and head are planned in two folders)."""
    if isinstance(value, str):
        root = str(project_dir)
        if value == root:
            return "."
        if value.startswith(root + os.sep):
            return "./" + Path(value).relative_to(project_dir).as_posix()
        return value
    if isinstance(value, Mapping):
        return {key: project_relative(item, project_dir) for key, item in value.items()}
    if isinstance(value, list):
        return [project_relative(item, project_dir) for item in value]
    return value


def _resource_json(resource: RecordedResource) -> dict[str, Any]:
    return {
        "type": resource.type,
        "name": resource.name,
        "urn": resource.urn,
        "parent": resource.parent or None,
        "inputs": project_relative(mask_secrets(resource.inputs)),
        "dependencies": sorted(resource.dependencies),
        "protect": resource.protect,
    }


def plan_document(run: ProgramRun, violations: list[Violation]) -> dict[str, Any]:
    """The JSON plan. Its keys are a public interface: extend, never rename or remove."""
    return {
        "stack": run.stack,
        "resources": [_resource_json(resource) for resource in sorted(run.resources, key=lambda r: r.urn)],
        "outputs": mask_secrets(run.outputs),
        "policies": [violation.as_json() for violation in violations],
    }


def mandatory_count(violations: list[Violation]) -> int:
    return sum(1 for violation in violations if violation.level == "mandatory")


def _tree_lines(run: ProgramRun) -> list[str]:
    children: dict[str, list[RecordedResource]] = {}
    for resource in run.resources:
        children.setdefault(resource.parent, []).append(resource)
    known = {resource.urn for resource in run.resources}
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for resource in sorted(children.get(parent, []), key=lambda r: (r.type, r.name)):
            flags = " [protected]" if resource.protect else ""
            lines.append(f"{'  ' * depth}- {resource.type}  {resource.name}{flags}")
            walk(resource.urn, depth + 1)

    for root_parent in sorted(parent for parent in children if parent not in known):
        walk(root_parent, 0)
    return lines


def _policy_lines(violations: list[Violation]) -> list[str]:
    lines = ["", f"Policy pack ({len(violations)} violations):"]
    for violation in violations:
        lines.append(f"- [{violation.level}] {violation.policy}: {violation.urn}")
        lines += [f"    {line}" for line in violation.message.splitlines()]
    advisory = sum(1 for violation in violations if violation.level == "advisory")
    lines.append(f"{mandatory_count(violations)} mandatory violations, {advisory} advisory")
    return lines


# libyaml's emitter writes the Helm values in a fifth of the pure-Python one's time (~10 ms of a
# plan); it folds long quoted strings at other places, which only the human-readable text shows.
_YAML_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _yaml_text(data: Any) -> str:
    return str(yaml.dump(data, Dumper=_YAML_DUMPER, sort_keys=True)).rstrip()


def render_text(run: ProgramRun, inputs: StackInputs, violations: list[Violation]) -> str:
    document = plan_document(run, violations)
    lines = [
        f"OFFLINE PLAN for stack '{run.stack}' (project {PROJECT})",
        "This is an offline plan: the real program ran under Pulumi's mock runtime with no cloud",
        "credentials. Provider-computed values (ids, random keys, generated SSH keys) are",
        "placeholders; nothing was created or changed.",
    ]
    if inputs.placeholders:
        lines.append("Secret config replaced by offline placeholders: " + ", ".join(inputs.placeholders))
    lines += ["", f"Resources ({len(run.resources)}):", *_tree_lines(run)]
    for resource in document["resources"]:
        if resource["type"] == HELM_RELEASE_TYPE:
            lines += ["", f"Helm values of {resource['name']} (secrets masked):",
                      _yaml_text(resource["inputs"].get("values", {}))]
    lines += ["", "Stack outputs (secrets masked):",
              _yaml_text(document["outputs"])]
    lines += _policy_lines(violations)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None, *, pack_in_child: bool = False) -> int:
    """The CLI. `pack_in_child` readies the policy pack in a forked process during the run
    (tools/pack_process.py); the verdict is the same either way."""
    parser = argparse.ArgumentParser(description="Offline plan of an airflow-on-k8s stack.")
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
    parser.add_argument("--json", dest="json_path", help="also write the plan as JSON to this file")
    parser.add_argument("--pack-config", type=Path,
                        help="policy pack config JSON (default: policies/config/<stack>.json)")
    parser.add_argument("--stack-dir", type=Path, default=PROJECT_DIR,
                        help="folder holding Pulumi.<stack>.yaml (default: the project)")
    args = parser.parse_args(argv)
    try:
        inputs = load_stack_inputs(args.stack, args.stack_dir)
        # Read before the run: an unreadable file fails in milliseconds, not after the program.
        pack_config = (load_pack_config(args.pack_config) if args.pack_config
                       else stack_pack_config(inputs.stack))
        pack = Pack(inputs.stack, pack_config, fork=pack_in_child)
        try:
            run = run_program(inputs.stack, inputs.config, inputs.secret_keys,
                              engine=OfflineEngine(listener=pack.send))
            violations = pack.violations(run)
        finally:
            pack.close()
    except (ConfigError, PlanInputError, PolicyConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(render_text(run, inputs, violations))
    if args.json_path:
        document = plan_document(run, violations)
        Path(args.json_path).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        print(f"\nJSON plan written to {args.json_path}")
    return 1 if mandatory_count(violations) else 0


def exit_now(status: int) -> None:
    """End a one-shot CLI run once its output is flushed: collecting the program's ~200,000
    objects and tearing down the interpreter took ~1 s of a ~2 s plan, and nothing is left to
    clean up (files are closed, no thread holds work)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
def plan_stack_text(text: str | bytes, stack: str = "dev", *args: str) -> tuple[int, str, str]:
    """The offline plan of a stack file's text, run in this process as `make plan` runs it:
    (exit status, stdout, stderr). For tests that try many stack files."""
    with tempfile.TemporaryDirectory() as folder:
        data = text.encode() if isinstance(text, str) else text
        (Path(folder) / f"Pulumi.{stack}.yaml").write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["--stack", stack, "--stack-dir", folder, *args])
    return status, out.getvalue(), err.getvalue()


if __name__ == "__main__":
    lazy_sdk.install()
    status = main(pack_in_child=True)
    startup_code.save()
    lazy_sdk.save()
    exit_now(status)
