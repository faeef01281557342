"""The airflow-on-k8s CrossGuard rules, importable without starting the analyzer server."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .rules import RULES, Rule

PACK_NAME = "airflow-on-k8s"
PACK_ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY

__all__ = ["PACK_ENFORCEMENT_LEVEL", "PACK_NAME", "RULES", "Rule", "build_policies"]


def _as_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        config: Mapping[str, Any] = args.get_config() or {}
        for message in rule.check(args.resource_type, args.props, config):
            report_violation(message, args.urn)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=rule.level,
        config_schema=rule.schema(),
        remediation_steps=rule.remediation,
    )


def build_policies() -> list[Policy]:
    return [_as_policy(rule) for rule in RULES]
