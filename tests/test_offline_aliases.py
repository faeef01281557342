"""The offline engine builds alias URNs only when asked; registrations carry Pulumi's own aliases."""

import contextlib
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime.proto import resource_pb2

from tools import offline

Aliases = dict[str, list[str]]


def _program() -> None:
    """Aliases of every kind Pulumi resolves: a type alias (as the azure-native SDK declares per API
    version), a renamed parent, an alias given as an output, and a child of an aliased parent."""
    parent = pulumi.ComponentResource("test:index:Group", "group",
                                      opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="old-group")]))
    pulumi.CustomResource("test:index:Thing", "thing", {"size": 1}, opts=pulumi.ResourceOptions(
        parent=parent, aliases=[pulumi.Alias(type_="test:v1:Thing"), pulumi.Alias(name="old-thing")]))
    pulumi.CustomResource("test:index:Other", "other", {}, opts=pulumi.ResourceOptions(
        aliases=[pulumi.Output.from_input(pulumi.Alias(type_="test:v0:Other")),
                 "urn:pulumi:stack::project::test:index:Older::older"]))


def _registered_aliases(monkeypatch: pytest.MonkeyPatch, *, deferred: bool, alias_specs: bool) -> Aliases:
    seen: Aliases = {}
    register = offline._RecordingMonitor.RegisterResource
    deployment_info = offline._RecordingMonitor.GetDeploymentInfo

    def recording(self: offline._RecordingMonitor, request: Any) -> Any:
        seen[request.name] = [str(alias).replace("\n", " ") for alias in request.aliases] + list(request.aliasURNs)
        return register(self, request)

    def features(self: offline._RecordingMonitor, request: Any) -> Any:
        info = deployment_info(self, request)  # type: ignore[no-untyped-call]
        if not alias_specs:
            info.supportedFeatures.remove(resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS)
        return info

    with monkeypatch.context() as patch:
        patch.setattr(offline._RecordingMonitor, "RegisterResource", recording)
        patch.setattr(offline._RecordingMonitor, "GetDeploymentInfo", features)
        if not deferred:
            patch.setattr(offline, "_alias_urns_on_demand", contextlib.nullcontext)
        offline.run_program("stack", {}, program=_program)
    return seen


@pytest.mark.parametrize("alias_specs", [True, False], ids=["alias-specs", "alias-urns"])
def test_registrations_carry_pulumis_own_aliases(monkeypatch: pytest.MonkeyPatch, alias_specs: bool) -> None:
    ours = _registered_aliases(monkeypatch, deferred=True, alias_specs=alias_specs)
    pulumis = _registered_aliases(monkeypatch, deferred=False, alias_specs=alias_specs)
    assert ours == pulumis
    assert len(ours["thing"]) == (2 if alias_specs else 5)  # without specs: its 2, the parent's, and both combined
    assert len(ours["other"]) == 2


def test_resources_keep_deferred_aliases_and_pulumi_is_restored() -> None:
    kept: list[Any] = []

    def program() -> None:
        thing = pulumi.CustomResource("test:index:Thing", "thing", {},
                                      opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="test:v1:Thing")]))
        kept.extend(thing._aliases)

    offline.run_program("stack", {}, program=program)
    assert [type(alias) for alias in kept] == [offline.DeferredAliasUrn]
    assert vars(pulumi.resource)["collapse_alias_to_urn"] is runtime_resource.collapse_alias_to_urn
    assert runtime_resource.all_aliases.__name__ == "all_aliases"


def test_all_aliases_is_the_only_reader_of_resource_aliases() -> None:
    """Deferring is sound only while Pulumi reads `_aliases` nowhere but all_aliases: this fails
    when an upgrade of the SDK adds a reader, before a plan could silently differ."""
    package = Path(pulumi.__file__).parent
    readers = sorted(f"{path.relative_to(package)}: {line.strip()}"
                     for path in package.rglob("*.py")
                     for line in path.read_text(encoding="utf-8").splitlines()
                     if re.search(r"\._aliases\b", line) and not re.search(r"self\._aliases(\.append\(| = \[\])", line))
    assert readers == ["runtime/resource.py: for parent_alias in parent._aliases:"]
