"""What the plan reads and writes about the policy pack without loading it: the pack config
files the pipelines pass, and the violations the pack reports.

Kept apart from tools/policy_check.py, which loads pulumi-policy and the pack, so that the plan's
CLI can start the pack in another process while it runs the program, and so that plan_diff
reads violations without loading either.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools import PROJECT_DIR

POLICY_PACK_DIR = PROJECT_DIR / "policies"


class PolicyConfigError(Exception):
    """Pack config the CLI would refuse: an unknown policy, level or property."""


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str
    message: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def load_pack_config(path: Path) -> dict[str, Any]:
    """A `--policy-pack-config` JSON file: policy name -> level, or {enforcementLevel, ...}."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise PolicyConfigError(f"cannot read pack config {path}: {error}") from error
    if not isinstance(loaded, dict):
        raise PolicyConfigError(f"pack config {path} is not a JSON object")
    return loaded


def stack_pack_config(stack: str) -> dict[str, Any]:
    """The `--policy-pack-config` file the pipelines pass for this stack, if there is one."""
    path = POLICY_PACK_DIR / "config" / f"{stack}.json"
    return load_pack_config(path) if path.is_file() else {}
