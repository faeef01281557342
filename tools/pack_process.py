"""The policy pack in a forked process, so that loading it overlaps the program's run.

The plan's CLI needs the program's resources and a configured pack, and the pack's verdict
needs the resources. Loading the pack (pulumi-policy, the rules, their HCL and JSON Schema
libraries) and configuring it takes about a fifth of a plan. A child forked before the run does
that on another core while the parent runs the program, and judges each resource the parent
sends as the program registers it: tools.policy_check.Judgement, which `analyze` uses
in-process too, so the verdict is the same. A test holds the CLI's JSON plan byte-identical to
the in-process one.

Only the CLI uses it (a test process may hold threads, which fork does not copy). Where fork is
missing, or threads are already running, the pack runs in-process after the program.
"""

import os
import pickle
import queue
import sys
import threading
import traceback
from collections.abc import Mapping
from typing import Any, BinaryIO

from tools.offline import ProgramRun, RecordedResource
from tools.policy_io import PolicyConfigError, Violation

_END = None  # after the last resource


class PackProcessError(Exception):
    """The forked pack failed in a way the in-process pack would have raised."""


class Pack:
    """A pack being readied for `stack`. `send` each resource the program registers (a listener
    of tools.offline.OfflineEngine); `violations(run)` sends what was not sent and gives the
    verdict on the run's resources."""

    def __init__(self, stack: str, pack_config: Mapping[str, Any], *, fork: bool) -> None:
        self._stack = stack
        self._pack_config = dict(pack_config)
        self._child: int | None = None
        self._requests: BinaryIO | None = None
        self._results: BinaryIO | None = None
        self._sent: set[str] = set()
        if fork and hasattr(os, "fork") and threading.active_count() == 1:
            self._fork()

    def _fork(self) -> None:
        request_read, request_write = os.pipe()
        result_read, result_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:
            os.close(request_write)
            os.close(result_read)
            _serve(self._stack, self._pack_config, os.fdopen(request_read, "rb"), os.fdopen(result_write, "wb"))
        os.close(request_read)
        os.close(result_write)
        self._child = child
        self._requests = os.fdopen(request_write, "wb")
        self._results = os.fdopen(result_read, "rb")

    @property
    def child_pid(self) -> int | None:
        """The forked child while it runs; None when the pack runs in this process."""
        return self._child

    def send(self, resource: RecordedResource) -> None:
        """Hand one registered resource to the child (a no-op for the in-process pack)."""
        if self._requests is not None:
            pickle.dump(resource, self._requests, protocol=pickle.HIGHEST_PROTOCOL)
            self._requests.flush()
            self._sent.add(resource.urn)

    def violations(self, run: ProgramRun) -> list[Violation]:
        if self._child is None:
            from tools.policy_check import analyze  # the pack loads only when used
            return analyze(run, self._pack_config)
        assert self._requests is not None and self._results is not None
        for resource in run.resources:
            if resource.urn not in self._sent:
                self.send(resource)
        pickle.dump(_END, self._requests)
        self._requests.close()
        outcome, detail = pickle.load(self._results)
        self.close()
        if outcome == "config":
            raise PolicyConfigError(detail)
        if outcome == "crash":
            raise PackProcessError(f"the policy pack failed:\n{detail}")
        return [Violation(*fields) for fields in detail]

    def close(self) -> None:
        """Stop the child (when the program failed, its resources end early and it exits)."""
        for stream in (self._requests, self._results):
            if stream is not None and not stream.closed:
                stream.close()
        if self._child is not None:
            os.waitpid(self._child, 0)
            self._child = None


def _warm_up_resource(stack: str) -> RecordedResource:
    """A Vault policy for Airflow to judge while the parent still runs the program: python-hcl2
    builds its grammar on its first parse (~0.1 s), the pack's one slow first use. (A pack config
    with other `airflowMarkers` skips the parse here; that only costs the time.)"""
    from policies.airflow_policies.vault import VAULT_POLICY  # loads in the child only
    urn = f"urn:pulumi:{stack}::warm-up::{VAULT_POLICY}::airflow-warm-up"
    inputs = {"name": "airflow-warm-up", "policy": 'path "warm/up" {\n}\n'}
    return RecordedResource(type=VAULT_POLICY, name="airflow-warm-up", urn=urn, parent="", custom=True,
                            inputs=inputs, outputs={}, dependencies=[], property_dependencies={}, protect=False,
                            provider="", options={})


def _receive(requests: BinaryIO, into: "queue.Queue[RecordedResource | EOFError | None]") -> None:
    """Drain the pipe as the parent writes, so its writes never wait on a full pipe while this
    process is still loading the pack."""
    try:
        while True:
            resource = pickle.load(requests)
            into.put(resource)
            if resource is _END:
                return
    except EOFError as stopped:
        into.put(stopped)


def _serve(stack: str, pack_config: Mapping[str, Any], requests: BinaryIO, results: BinaryIO) -> None:
    """The child: ready the pack, judge each resource that arrives, report the verdict at the
    end, and exit without running the parent's exit handlers or flushing its buffers."""
    arrivals: queue.Queue[RecordedResource | EOFError | None] = queue.Queue()
    threading.Thread(target=_receive, args=(requests, arrivals), daemon=True).start()
    outcome: tuple[str, Any]
    try:
        try:
            from tools.policy_check import Judgement, configured_servicer, judge  # loads in the child only
            servicer = configured_servicer(stack, pack_config)
            judge(servicer, [_warm_up_resource(stack)])
            judgement: Judgement | None = Judgement(servicer)
        except PolicyConfigError as error:
            judgement, outcome = None, ("config", str(error))
        while (arrival := arrivals.get()) is not _END:
            if isinstance(arrival, EOFError):
                os._exit(0)  # the parent stopped: nobody waits for a verdict
            if judgement is not None:
                judgement.add(arrival)
        if judgement is not None:
            outcome = ("violations", [(v.policy, v.level, v.urn, v.message) for v in judgement.verdict()])
    except BaseException:  # reported to the parent, which raises it
        outcome = ("crash", traceback.format_exc())
    try:
        pickle.dump(outcome, results)
        results.close()
    finally:
        os._exit(0)
