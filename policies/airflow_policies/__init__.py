"""The airflow-on-k8s CrossGuard rules, importable without starting the analyzer server."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .azure import StackResource
from .rules import RULES, Rule

PACK_NAME = "airflow-on-k8s"
PACK_ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY

__all__ = ["PACK_ENFORCEMENT_LEVEL", "PACK_NAME", "RULES", "Rule", "build_policies"]


def _policy_fields(rule: Rule) -> dict[str, Any]:
    return {"name": rule.name, "description": rule.description, "enforcement_level": rule.level,
            "config_schema": rule.schema(), "remediation_steps": rule.remediation}


def _as_stack_policy(rule: Rule) -> StackValidationPolicy:
    stack_check = rule.stack_check
    assert stack_check is not None

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [StackResource(type=resource.resource_type, urn=resource.urn, props=resource.props,
                                   dependencies=frozenset(dependency.urn for dependency in resource.dependencies))
                     for resource in args.resources]
        for urn, message in stack_check(resources, args.get_config() or {}):
            report_violation(message, urn)

    return StackValidationPolicy(validate=validate, **_policy_fields(rule))


def _as_policy(rule: Rule) -> Policy:
    if rule.stack_check is not None:
        return _as_stack_policy(rule)
    check = rule.check
    assert check is not None

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        config: Mapping[str, Any] = args.get_config() or {}
        for message in check(args.resource_type, args.props, config):
            report_violation(message, args.urn)

    return ResourceValidationPolicy(validate=validate, **_policy_fields(rule))


def build_policies() -> list[Policy]:
    return [_as_policy(rule) for rule in RULES]
