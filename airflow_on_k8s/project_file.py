"""Writes the `config:` block of Pulumi.yaml from CONFIG_KEYS, so the two never drift.

    python -m airflow_on_k8s.project_file      # after adding or changing a key
"""

import json

from airflow_on_k8s.config import CONFIG_KEYS, KeySpec
from airflow_on_k8s.offline import PROJECT_DIR

PROJECT_FILE = PROJECT_DIR / "Pulumi.yaml"
CONFIG_HEADER = "config:\n"


def _yaml_default(default: object) -> str:
    if isinstance(default, bool):
        return "true" if default else "false"
    return json.dumps(default) if isinstance(default, (str, list)) else str(default)


def _entry(spec: KeySpec) -> list[str]:
    lines = [f"  {spec.name}:", f"    type: {spec.type}"]
    if spec.type == "array":
        lines += ["    items:", "      type: string"]
    lines.append(f"    description: {json.dumps(spec.description)}")
    if spec.default is not None:
        lines.append(f"    default: {_yaml_default(spec.default)}")
    if spec.secret and spec.default is None:
        lines.append("    secret: true")
    return lines


def render_config_block() -> str:
    return CONFIG_HEADER + "\n".join(line for spec in CONFIG_KEYS for line in _entry(spec)) + "\n"


def rendered_project_file() -> str:
    head = PROJECT_FILE.read_text().split(CONFIG_HEADER)[0]
    return head + render_config_block()


if __name__ == "__main__":
    PROJECT_FILE.write_text(rendered_project_file())
