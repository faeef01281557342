"""Run the CrossGuard pack over a recorded program run, through pulumi-policy's own analyzer.

The CLI talks gRPC to the pack's `_PolicyAnalyzerServicer`; this module calls the same servicer
in-process with the same requests (Configure, Analyze, AnalyzeStack), so enforcement levels,
pack config and the property conversion behave as under `pulumi preview --policy-pack`.
`_PolicyAnalyzerServicer` is private API, and so are the conversion functions of its module that
`_conversions_shared_by_policies` swaps: requirements pin pulumi-policy exactly, and this is the
only place that touches them.
"""

import contextlib
import functools
import json
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jsonschema
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import policy as pulumi_policy_module
from pulumi_policy.policy import _PolicyAnalyzerServicer

from airflow_on_k8s.config import PROJECT
from policies.airflow_policies import PACK_ENFORCEMENT_LEVEL, PACK_NAME, build_policies
from tools.offline import ProgramRun, RecordedResource
from tools.policy_io import POLICY_PACK_DIR, PolicyConfigError, Violation

LEVEL_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
LEVELS_BY_NAME = {name: level for level, name in LEVEL_NAMES.items()}


def pack_version() -> str:
    document = yaml.safe_load((POLICY_PACK_DIR / "PulumiPolicy.yaml").read_text())
    return str(document["version"])


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(values))
    return struct


@functools.cache
def _config_validator(schema_json: str) -> jsonschema.protocols.Validator:
    """What `jsonschema.validate` builds on every call; checking the schema itself is most of its cost."""
    schema = json.loads(schema_json)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _configure_request(info: analyzer_pb2.AnalyzerInfo,
                       pack_config: Mapping[str, Any]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """What the CLI sends: every policy's level and its config with schema defaults applied."""
    known = {policy.name for policy in info.policies}
    unknown = sorted(set(pack_config) - known)
    if unknown:
        raise PolicyConfigError(f"pack config names unknown policies: {', '.join(unknown)}")
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy in info.policies:
        entry = pack_config.get(policy.name, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        level_name = entry.pop("enforcementLevel", None)
        if level_name is not None and level_name not in LEVELS_BY_NAME:
            raise PolicyConfigError(f"{policy.name}: unknown enforcement level {level_name!r}")
        schema = json_format.MessageToDict(policy.configSchema)
        properties = schema.get("properties", {})
        merged = {key: spec["default"] for key, spec in properties.items() if "default" in spec}
        merged.update(entry)
        validator = _config_validator(json.dumps({"type": "object", "properties": properties,
                                                  "required": schema.get("required", []),
                                                  "additionalProperties": False}, sort_keys=True))
        error = jsonschema.exceptions.best_match(validator.iter_errors(merged))
        if error is not None:
            where = ".".join([policy.name, *(str(part) for part in error.absolute_path)])
            raise PolicyConfigError(f"{where}: {error.message}") from error
        request.policyConfig[policy.name].CopyFrom(analyzer_pb2.PolicyConfig(
            enforcementLevel=(LEVELS_BY_NAME[level_name] if level_name else policy.enforcementLevel),
            properties=_struct(merged),
        ))
    return request


def _options(resource: RecordedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect,
        ignoreChanges=resource.options.get("ignoreChanges", []),
        deleteBeforeReplace=resource.options.get("deleteBeforeReplace", False),
        deleteBeforeReplaceDefined=True,
        additionalSecretOutputs=resource.options.get("additionalSecretOutputs", []),
        parent=resource.parent,
    )


def _provider_urn(resource: RecordedResource) -> str | None:
    """The URN of the resource's provider (its reference is `urn::id`); None without one."""
    return resource.provider.rsplit("::", 1)[0] if resource.provider else None


def _provider(resource: RecordedResource, by_urn: Mapping[str, RecordedResource]
              ) -> analyzer_pb2.AnalyzerProviderResource | None:
    urn = _provider_urn(resource)
    provider = by_urn.get(urn) if urn is not None else None
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(type=provider.type, name=provider.name, urn=provider.urn,
                                                 properties=_struct(provider.inputs))


def _violations(response: analyzer_pb2.AnalyzeResponse) -> list[Violation]:
    return [Violation(policy=diagnostic.policyName, level=LEVEL_NAMES[diagnostic.enforcementLevel],
                      urn=diagnostic.urn, message=diagnostic.message)
            for diagnostic in response.diagnostics]


@contextlib.contextmanager
def _conversions_shared_by_policies(servicer: _PolicyAnalyzerServicer) -> Iterator[None]:
    """pulumi-policy turns a resource's properties from protobuf into a checked view once per
    policy: 28 times per resource here, most of the analysis time, and builds its options and
    provider views as often. Within one request every policy gets the same views instead. That
    changes nothing the pack can see: each view is built from the same message, and the pack's
    checks only read it (they take a Mapping). Use one per request: the views are forgotten on
    leaving."""
    memo: dict[tuple[str, int], tuple[Any, Any]] = {}

    def shared(kind: str, convert: Callable[..., Any]) -> Callable[..., Any]:
        def convert_once(value: Any, *more: Any) -> Any:
            if more:
                return convert(value, *more)
            key = (kind, id(value))
            if key not in memo:
                memo[key] = (value, convert(value))  # holding `value` keeps its id unique
            return memo[key][1]
        return convert_once

    originals = {name: getattr(pulumi_policy_module, name)
                 for name in ("json_format", "deserialize_properties", "unknown_checking_proxy")}
    replacements = {
        "json_format": types.SimpleNamespace(MessageToDict=shared("dict", json_format.MessageToDict)),
        "deserialize_properties": shared("deserialized", originals["deserialize_properties"]),
        "unknown_checking_proxy": shared("proxy", originals["unknown_checking_proxy"]),
    }
    for name, replacement in replacements.items():
        setattr(pulumi_policy_module, name, replacement)
    # Instance attributes shadow the servicer's methods (per request, as `request` is the argument).
    views = [name for name in ("_get_resource_options", "_get_provider_resource") if hasattr(servicer, name)]
    for name in views:
        setattr(servicer, name, shared(name, getattr(servicer, name)))
    try:
        yield
    finally:
        memo.clear()
        for name, original in originals.items():
            setattr(pulumi_policy_module, name, original)
        for name in views:
            delattr(servicer, name)


def configured_servicer(stack: str, pack_config: Mapping[str, Any]) -> _PolicyAnalyzerServicer:
    """The pack's analyzer as the CLI leaves it before the first resource: configured for the
    stack with the pack config (PolicyConfigError when the CLI would refuse that config)."""
    servicer = _PolicyAnalyzerServicer(PACK_NAME, pack_version(), build_policies(), PACK_ENFORCEMENT_LEVEL)
    info = servicer.GetAnalyzerInfo(empty_pb2.Empty(), None)
    servicer.Configure(_configure_request(info, pack_config), None)
    servicer.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(
        stack=stack, project=PROJECT, dry_run=True), None)
    return servicer


def analyze(run: ProgramRun, pack_config: Mapping[str, Any] | None = None) -> list[Violation]:
    """Every violation the pack reports for the run's resources, as the CLI would get them."""
    return judge(configured_servicer(run.stack, pack_config or {}), run.resources)


def judge(servicer: _PolicyAnalyzerServicer, resources: Sequence[RecordedResource]) -> list[Violation]:
    """What a configured analyzer reports for `resources`: resource policies, then stack policies."""
    judgement = Judgement(servicer)
    for resource in resources:
        judgement.add(resource)
    return judgement.verdict()


class Judgement:
    """The pack's verdict, built as resources arrive (the plan's CLI streams them from the run).

    Resource policies judge a resource once its provider has arrived (at the end otherwise),
    stack policies judge all resources at the end. The verdict lists the resources' violations
    in URN order, then the stack's: registration order varies from run to run, the plan's
    verdict must not."""

    def __init__(self, servicer: _PolicyAnalyzerServicer) -> None:
        self._servicer = servicer
        self._by_urn: dict[str, RecordedResource] = {}
        self._judged: dict[str, list[Violation]] = {}
        self._states: dict[str, analyzer_pb2.AnalyzerResource] = {}  # what stack policies judge, by URN
        self._waiting: list[RecordedResource] = []

    def add(self, resource: RecordedResource) -> None:
        self._by_urn[resource.urn] = resource
        self._waiting.append(resource)
        still_waiting: list[RecordedResource] = []
        for waiting in self._waiting:
            provider_urn = _provider_urn(waiting)
            if provider_urn is not None and provider_urn not in self._by_urn:
                still_waiting.append(waiting)
            else:
                self._judge(waiting)
        self._waiting = still_waiting

    def _judge(self, resource: RecordedResource) -> None:
        provider = _provider(resource, self._by_urn)
        request = analyzer_pb2.AnalyzeRequest(type=resource.type, name=resource.name, urn=resource.urn,
                                              properties=_struct(resource.inputs), options=_options(resource))
        # The CLI hands stack policies each resource's resulting state, not just its inputs.
        state = analyzer_pb2.AnalyzerResource(
            type=resource.type, name=resource.name, urn=resource.urn, parent=resource.parent,
            properties=_struct(resource.outputs), options=_options(resource), dependencies=resource.dependencies)
        if provider is not None:
            request.provider.CopyFrom(provider)
            state.provider.CopyFrom(provider)
        self._states[resource.urn] = state
        with _conversions_shared_by_policies(self._servicer):
            self._judged.setdefault(resource.urn, []).extend(_violations(self._servicer.Analyze(request, None)))

    def verdict(self) -> list[Violation]:
        for waiting in self._waiting:
            self._judge(waiting)
        self._waiting = []
        stack_request = analyzer_pb2.AnalyzeStackRequest(resources=[self._states[urn] for urn in sorted(self._states)])
        violations = [violation for urn in sorted(self._judged) for violation in self._judged[urn]]
        with _conversions_shared_by_policies(self._servicer):
            violations += _violations(self._servicer.AnalyzeStack(stack_request, None))
        return violations
