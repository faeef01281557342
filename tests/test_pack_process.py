"""The plan CLI's policy pack in a forked child gives the in-process verdict, errors included.

The forked path runs in a fresh process here: a test process may hold threads, and then Pack
falls back to the in-process pack. (tests/test_plan.py holds the whole CLI plan, violations
included, byte-identical to the in-process plan.)
"""

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest
from pulumi.runtime.proto import analyzer_pb2

from tools.offline import PROJECT_DIR, ProgramRun, RecordedResource
from tools.policy_check import Judgement, analyze, configured_servicer
from tools.policy_io import PolicyConfigError

REFUSED_CONFIG = {"no-such-rule": "mandatory"}
CHILD_SCRIPT = textwrap.dedent("""
    import json, os
    from tests.test_pack_process import REFUSED_CONFIG, sample_run
    from tools.pack_process import Pack
    from tools.policy_io import PolicyConfigError

    report = {}
    pack = Pack("prod", {}, fork=True)
    report["forked"] = pack.child_pid is not None
    report["violations"] = [[v.policy, v.level, v.urn, v.message] for v in pack.violations(sample_run())]
    try:
        Pack("prod", REFUSED_CONFIG, fork=True).violations(sample_run())
    except PolicyConfigError as error:
        report["refused"] = str(error)
    stopped = Pack("prod", {}, fork=True)
    child = stopped.child_pid
    stopped.close()  # the program failed: the child gets nothing and exits
    try:
        os.waitpid(child, os.WNOHANG)
        report["child_left"] = True
    except ChildProcessError:
        report["child_left"] = False
    print(json.dumps(report))
""")


def sample_run() -> ProgramRun:
    """One Airflow release on the Celery executor: several rules report it."""
    release = RecordedResource(
        type="kubernetes:helm.sh/v3:Release", name="airflow-release",
        urn="urn:pulumi:prod::airflow-on-k8s::kubernetes:helm.sh/v3:Release::airflow-release",
        parent="", custom=True, inputs={"chart": "airflow", "values": {"executor": "CeleryExecutor"}},
        outputs={}, dependencies=[], property_dependencies={}, protect=False, provider="", options={})
    return ProgramRun(stack="prod", resources=[release], outputs={}, invokes=[], state={})


def test_the_forked_pack_judges_refuses_and_stops_like_the_in_process_one() -> None:
    result = subprocess.run([sys.executable, "-c", CHILD_SCRIPT], cwd=PROJECT_DIR, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["forked"] is True
    in_process = analyze(sample_run(), {})
    assert len(in_process) > 1, "the release breaks rules, so there is a verdict to compare"
    assert report["violations"] == [[v.policy, v.level, v.urn, v.message] for v in in_process]
    with pytest.raises(PolicyConfigError) as refused:
        analyze(sample_run(), REFUSED_CONFIG)
    assert report["refused"] == str(refused.value)
    assert report["child_left"] is False


def test_a_judgement_built_in_any_arrival_order_is_the_batch_verdict(prod_run: ProgramRun) -> None:
    """The CLI's child judges resources as the program registers them, and registration order
    varies: the verdict lists violations by URN whatever the order."""
    celery = sample_run().resources[0]
    second = dataclasses.replace(celery, urn=celery.urn.replace("airflow-release", "another-release"))
    resources = [*prod_run.resources, celery, second]
    batch = analyze(ProgramRun(stack="prod", resources=resources, outputs={}, invokes=[], state={}), {})
    assert {violation.urn for violation in batch} >= {celery.urn, second.urn}
    for order in (list(reversed(resources)), [second, *resources[:-1]]):
        judgement = Judgement(configured_servicer("prod", {}))
        for resource in order:
            judgement.add(resource)
        assert judgement.verdict() == batch


class RecordingServicer:
    """Stands in for the pack's analyzer: records whether each request named a provider."""

    def __init__(self) -> None:
        self.with_provider: dict[str, bool] = {}

    def Analyze(self, request: analyzer_pb2.AnalyzeRequest, _: object) -> analyzer_pb2.AnalyzeResponse:  # noqa: N802
        self.with_provider[request.urn] = request.HasField("provider")
        return analyzer_pb2.AnalyzeResponse()

    def AnalyzeStack(self, request: analyzer_pb2.AnalyzeStackRequest, _: object) -> analyzer_pb2.AnalyzeResponse:  # noqa: N802
        return analyzer_pb2.AnalyzeResponse()


def test_a_resource_that_arrives_before_its_provider_is_judged_with_it(prod_run: ProgramRun) -> None:
    with_provider = {resource.urn for resource in prod_run.resources if resource.provider}
    assert with_provider, "the prod program sets explicit providers"
    providers_last = sorted(prod_run.resources, key=lambda resource: resource.type.startswith("pulumi:providers:"))
    servicer = RecordingServicer()
    judgement = Judgement(servicer)  # type: ignore[arg-type]
    for resource in providers_last:
        judgement.add(resource)
    judgement.verdict()
    assert {urn for urn, named in servicer.with_provider.items() if named} == {
        resource.urn for resource in prod_run.resources
        if resource.provider and resource.provider.rsplit("::", 1)[0] in {r.urn for r in prod_run.resources}}
