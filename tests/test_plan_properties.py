"""Generated stack files through the offline plan's entry point, as a new user would write them:
wrong types, YAML oddities, unicode, huge and nested values, unknown and misspelt keys, broken
syntax. Each ends in a plan (exit 0, or 1 with mandatory policy violations), or in exit 2 with
exactly one stderr line naming a key or the file; never a traceback, and within 5 s of CPU time.

The default run plans the same 10 generated files every time (derandomized: a red run reruns
red, and the suite stays fast). PLAN_PROPERTY_EXAMPLES=2000 runs that many fresh random examples
instead, to explore.
"""

import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from airflow_on_k8s.config import CONFIG_KEYS, PROJECT
from tests.harness import ANY_CHARACTER
from tools.offline import PROJECT_DIR
from tools.plan import plan_stack_text

EXPLORE = os.environ.get("PLAN_PROPERTY_EXAMPLES")
EXAMPLES = int(EXPLORE or "10")
# CPU time, not wall time: the machine is shared. A plan whose program takes a path no earlier
# plan took imports that provider's modules (pulumi_vault.kv, azure-native submodules) once per
# process, as every `make plan` does before it starts; that one-off cost gets the import bound.
CPU_SECONDS_PER_EXAMPLE = 5.0
CPU_SECONDS_WITH_IMPORTS = 20.0
WALL_SECONDS_PER_EXAMPLE = 60.0  # a hang guard
STACKS = {stack: (PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text() for stack in ("dev", "prod")}
KEY_NAMES = [spec.name for spec in CONFIG_KEYS]
# A key or the file, as the one error line names them.
NAMES_KEY_OR_FILE = re.compile(r"^error: (config [^\s=]+:[^\s=]* = |Pulumi\.(dev|prod)\.yaml(:\d+:\d+)?: )")
_ENTRY = re.compile(r"^  (?P<key>[^\s#][^\n]*?):(?: (?P<value>.*))?$")


@dataclass
class Block:
    """One config entry (its line and the list items under it), or any other line."""

    lines: list[str]
    key: str | None = None


def blocks_of(text: str) -> list[Block]:
    blocks: list[Block] = []
    for line in text.splitlines():
        if line.startswith("    ") and blocks and blocks[-1].key:
            blocks[-1].lines.append(line)
            continue
        entry = _ENTRY.match(line)
        blocks.append(Block([line], entry.group("key") if entry else None))
    return blocks


def text_of(blocks: list[Block]) -> str:
    return "\n".join(line for block in blocks for line in block.lines) + "\n"


def entry(key: str, value: str) -> Block:
    return Block([f"  {key}: {value}"], key)


# Values: YAML a user might type, and YAML no one should.
yaml_oddities = st.sampled_from([
    "yes", "no", "on", "off", "y", "~", "null", "", "016", "0x1F", "0o17", "1e3", "1.0", ".inf", ".nan", "-.inf",
    "2026-11-27", "2026-11-27T10:00:00Z", "true", "False", "TRUE", "-", "''", '""', "'  '", "!!int 12", "!!int x",
    "!!str 12", "!!binary aGk=", "!!float 1", "!foo bar", "&anchor value", "*nowhere", "&loop [*loop]",
    "[]", "{}", "[a, [b]]", "{a: b}", "{secure: 12}", "{secure: v1:AAAA}", "'\\n'", '"\\0"', '"\\t tab"',
    '"\\u202e"', '"\\u00a0"', '"caf\\u00e9"', '"\\U0001F600"', "|\n    line one\n    line two", ">-\n    folded",
    '"unclosed', "[unclosed", "{a: 1", "a: b: c", "@reserved", "`backtick", "%directive", "? complex",
    "0.0.0.0/0", "10.0.0.0/255.0.0.0", "[10.0.0.1]", "['fe80::%eth0/64']", "https://", "http://x",
    "kube-system", "default", "1.1\uff16.0", "\uff12", "latest", "2h", "25h", "3600",
])
unicode_text = st.text(ANY_CHARACTER, max_size=40).map(lambda text: json.dumps(text, ensure_ascii=True))
plain_text = st.text(ANY_CHARACTER, min_size=1, max_size=20)
huge = st.sampled_from([1_100, 70_000, 300_000]).map(lambda size: "x" * size)
nested = st.integers(min_value=1, max_value=200).map(lambda depth: "[" * depth + "]" * depth)
nested_json = st.integers(min_value=1, max_value=20_000).map(lambda depth: "'" + "[" * depth + "]" * depth + "'")
numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str),
                    st.floats(allow_nan=False, allow_infinity=False).map(repr))
many_cidrs = st.integers(min_value=2, max_value=3_000).map(
    lambda count: "[" + ", ".join(f"10.{i // 250 % 250}.{i % 250}.0/24" for i in range(count)) + "]")
scalar = st.one_of(yaml_oddities, unicode_text, numbers)
flow_list = st.lists(scalar, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
block_list = st.lists(st.one_of(unicode_text, numbers), min_size=1, max_size=4).map(
    lambda items: "".join(f"\n    - {item}" for item in items))
values = st.one_of(yaml_oddities, unicode_text, plain_text, huge, nested, nested_json, numbers, many_cidrs,
                   flow_list, block_list)
misspellings = st.sampled_from(["airflow-on-k8", "airflow_on_k8s", "Airflow-On-K8s", "airflow-on-k8ss",
                                "airflowonk8s", "airflow-0n-k8s"])
other_namespaces = st.sampled_from(["kubernetes", "azure-native", "vault", "other-project", "pulumi"])
# Values that are right for their key, so some generated stacks are valid and must plan.
VALID = {
    "namespace": ["team-a", '"airflow-data"'], "schedulerReplicas": ["3", '"2"'], "gitBranch": ["main", '"2026-11"'],
    "workerCpuRequest": ["250m", '"1"', "0.5"], "workerMemoryLimit": ["8Gi"], "gitSyncPeriod": ["1m"],
    "vaultTokenTtl": ["30m", "3600", '"1h"'], "gitSyncDepth": ["0", "5"], "deleteWorkerPods": ["True", "false"],
    "taskQueuedTimeoutSeconds": ["600"], "ssoDefaultRole": ["User"], "spotTaskPods": ["false"],
    "networkVaultCidrs": ["[10.30.0.0/24, 10.31.0.0/24]", "\n    - 10.30.0.0/24"],
}
Mutation = Callable[[st.DrawFn, list[Block]], list[Block]]


def _keyed(blocks: list[Block]) -> list[int]:
    return [index for index, block in enumerate(blocks) if block.key and block.key.startswith(f"{PROJECT}:")]


def set_value(draw: st.DrawFn, blocks: list[Block]) -> list[Block]:
    if not _keyed(blocks):
        return blocks
    index = draw(st.sampled_from(_keyed(blocks)))
    blocks[index] = entry(blocks[index].key or "", draw(values))
    return blocks


def set_valid_value(draw: st.DrawFn, blocks: list[Block]) -> list[Block]:
    name = draw(st.sampled_from(sorted(VALID)))
    blocks = [block for block in blocks if block.key != f"{PROJECT}:{name}"]
    return [*blocks, entry(f"{PROJECT}:{name}", draw(st.sampled_from(VALID[name])))]


def drop_entry(draw: st.DrawFn, blocks: list[Block]) -> list[Block]:
    if not _keyed(blocks):
        return blocks
    index = draw(st.sampled_from(_keyed(blocks)))
    return blocks[:index] + blocks[index + 1:]


def respell_key(draw: st.DrawFn, blocks: list[Block]) -> list[Block]:
    """A key written without namespace, in the old ns:config:name form, or misspelt."""
    if not _keyed(blocks):
        return blocks
    index = draw(st.sampled_from(_keyed(blocks)))
    block = blocks[index]
    name = (block.key or "").split(":", 1)[1]
    form = draw(st.sampled_from(["bare", "legacy", "case", "drop", "swap"]))
    if form == "bare":
        new_key = name
    elif form == "legacy":
        new_key = f"{PROJECT}:config:{name}"
    elif form == "case":
        new_key = f"{PROJECT}:{name[0].upper()}{name[1:]}"
    elif form == "drop":
        position = draw(st.integers(min_value=0, max_value=len(name) - 1))
        new_key = f"{PROJECT}:{name[:position]}{name[position + 1:]}"
    else:
        new_key = f"{PROJECT}:{name[1]}{name[0]}{name[2:]}"
    blocks[index] = Block([block.lines[0].replace(f"  {block.key}:", f"  {new_key}:", 1), *block.lines[1:]], new_key)
    return blocks


def add_entry(draw: st.DrawFn, blocks: list[Block]) -> list[Block]:
    namespace = draw(st.one_of(st.just(PROJECT), misspellings, other_namespaces))
    name = draw(st.one_of(st.sampled_from(KEY_NAMES),
                          st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9]{0,30}\Z", alphabet=ANY_CHARACTER)))
    return [*blocks, entry(f"{namespace}:{name}", draw(st.one_of(values, st.sampled_from(["x", "1", "true"]))))]


def encrypt(draw: st.DrawFn, blocks: list[Block]) -> list[Block]:
    name = draw(st.sampled_from(KEY_NAMES))
    blocks = [block for block in blocks if block.key != f"{PROJECT}:{name}"]
    return [*blocks, Block([f"  {PROJECT}:{name}:", "    secure: v1:c2VjcmV0:AAAAAAAAAAAAAAAA"], f"{PROJECT}:{name}")]


def harmless_noise(draw: st.DrawFn, blocks: list[Block]) -> list[Block]:
    index = draw(st.integers(min_value=1, max_value=len(blocks)))
    noise = draw(st.sampled_from(["  # a comment", "", "  # ünïcødé comment ✓", "   "]))
    return [*blocks[:index], Block([noise]), *blocks[index:]]


def break_syntax(draw: st.DrawFn, blocks: list[Block]) -> list[Block]:
    index = draw(st.integers(min_value=0, max_value=len(blocks)))
    garbage = draw(st.sampled_from(["\tairflow-on-k8s:namespace: x", "config:", "- item", "  : no key", "]",
                                    "  airflow-on-k8s:namespace: a: b", "  &anchor", "\ufeff", "...", "---",
                                    "secretsprovider: passphrase", "confg:", "  <<: {a:b: 1}", "  <<: *nowhere"]))
    return [*blocks[:index], Block([garbage]), *blocks[index:]]


def truncate(draw: st.DrawFn, blocks: list[Block]) -> list[Block]:
    text = text_of(blocks)
    cut = draw(st.integers(min_value=0, max_value=len(text)))
    return [Block([text[:cut]])]


MUTATIONS: list[Mutation] = [set_value, set_value, set_value, set_valid_value, set_valid_value, drop_entry,
                             respell_key, add_entry, add_entry, encrypt, harmless_noise, break_syntax, truncate]


@st.composite
def stack_files(draw: st.DrawFn) -> tuple[str, str]:
    stack = draw(st.sampled_from(sorted(STACKS)))
    blocks = blocks_of(STACKS[stack])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        blocks = draw(st.sampled_from(MUTATIONS))(draw, blocks)
    return stack, text_of(blocks)


@dataclass(frozen=True)
class Outcome:
    status: int
    cpu_seconds: float
    imported_modules: int


def check_outcome(stack: str, text: str) -> Outcome:
    """Plan `text` and hold the outcome to the issue's rules."""
    modules, wall, cpu = len(sys.modules), time.perf_counter(), time.process_time()
    status, out, err = plan_stack_text(text, stack)
    cpu_used, wall_used = time.process_time() - cpu, time.perf_counter() - wall
    imported = len(sys.modules) - modules
    limit = CPU_SECONDS_WITH_IMPORTS if imported else CPU_SECONDS_PER_EXAMPLE
    assert cpu_used < limit and wall_used < WALL_SECONDS_PER_EXAMPLE, (cpu_used, wall_used, imported)
    assert "Traceback" not in out + err
    if status in (0, 1):
        assert err == "", err
        assert out.startswith(f"OFFLINE PLAN for stack '{stack}'") and "\nResources (" in out
        assert status == 0 or "mandatory violations" in out
    else:
        assert status == 2, (status, err)
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert NAMES_KEY_OR_FILE.match(lines[0]), lines[0]
        assert len(lines[0]) < 1_000, lines[0][:300]  # values are quoted up to ~200 characters
    return Outcome(status, cpu_used, imported)


@pytest.fixture(scope="module")
def warm_program() -> None:
    """The first plans in a process import the providers' modules; time the examples without that."""
    for stack, text in STACKS.items():
        assert plan_stack_text(text, stack)[0] == 0


@pytest.mark.usefixtures("warm_program")
@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=EXPLORE is None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(case=stack_files())
def test_any_stack_file_plans_or_stops_with_one_line(case: tuple[str, str]) -> None:
    stack, text = case
    outcome = check_outcome(stack, text)
    event(f"exit {outcome.status}")
    event("CPU " + ("< 0.5 s" if outcome.cpu_seconds < 0.5 else "0.5-2 s" if outcome.cpu_seconds < 2 else ">= 2 s"))
    if outcome.imported_modules:
        event("imported provider modules")


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_committed_stack_files_survive_the_harmless_rewrites(stack: str) -> None:
    """Comments, namespace-less and legacy key forms and quoting change nothing Pulumi reads."""
    blocks = blocks_of(STACKS[stack])
    for index in _keyed(blocks)[::7]:
        block = blocks[index]
        name = (block.key or "").split(":", 1)[1]
        blocks[index] = Block([block.lines[0].replace(f"  {block.key}:", f"  {name}:", 1), *block.lines[1:]], name)
    config_line = next(index for index, block in enumerate(blocks) if block.lines == ["config:"])
    blocks.insert(config_line + 1, Block(["  # a comment the CLI ignores", "  kubernetes:context: somewhere"]))
    assert check_outcome(stack, text_of(blocks)).status == 0
