"""The offline engine's registration stack trace equals Pulumi's own, without its source reads."""

import linecache
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime.proto import source_pb2

from tests.harness import run_component
from tools.offline import stack_trace_without_source_text

StackTraceFunction = Callable[[], source_pb2.StackTrace]


class _Resource:
    """Stands for pulumi.Resource: the innermost `__init__`, which asks for the trace."""

    def __init__(self, trace: StackTraceFunction, into: list[source_pb2.StackTrace]) -> None:
        into.append(trace())


class _CustomResource(_Resource):
    pass


class _ConcreteResource(_CustomResource):
    def __init__(self, trace: StackTraceFunction, into: list[source_pb2.StackTrace]) -> None:
        self._middle(trace, into)

    def _middle(self, trace: StackTraceFunction, into: list[source_pb2.StackTrace]) -> None:
        _Middle(trace, into)


class _Middle:
    def __init__(self, trace: StackTraceFunction, into: list[source_pb2.StackTrace]) -> None:
        _Resource(trace, into)


def _user_code(trace: StackTraceFunction, depth: int, into: list[source_pb2.StackTrace]) -> None:
    if depth:
        _user_code(trace, depth - 1, into)
    else:
        _ConcreteResource(trace, into)


def _both(run: Callable[[StackTraceFunction, list[source_pb2.StackTrace]], Any]
          ) -> tuple[source_pb2.StackTrace, source_pb2.StackTrace]:
    traces: list[source_pb2.StackTrace] = []
    for trace in (stack_trace_without_source_text, runtime_resource._get_stack_trace):
        run(trace, traces)  # one call site: every frame's line is the same for both
    ours, pulumis = traces
    return ours, pulumis


def test_equals_pulumis_trace_outside_the_third_init() -> None:
    ours, pulumis = _both(lambda trace, into: _user_code(trace, 3, into))
    assert ours == pulumis
    assert len(ours.frames) > 4  # this test's frames and pytest's below them
    assert ours.frames[0].pc.uri.endswith("test_offline_stack_trace.py")
    assert ours.frames[0].pc.line > 0


def test_equals_pulumis_empty_trace_with_fewer_than_three_inits() -> None:
    ours, pulumis = _both(lambda trace, into: _Resource(trace, into))
    assert ours == pulumis == source_pb2.StackTrace()


def test_reads_no_source_text() -> None:
    linecache.clearcache()
    stack_trace_without_source_text()
    _user_code(stack_trace_without_source_text, 1, [])
    assert __file__ not in linecache.cache


def test_a_program_run_registers_with_it_and_restores_pulumis() -> None:
    seen: list[str] = []

    def program() -> None:
        seen.append(runtime_resource._get_stack_trace.__name__)
        pulumi.ComponentResource("test:index:Thing", "thing")

    run = run_component(program)
    assert seen == ["stack_trace_without_source_text"]
    assert [resource.name for resource in run.resources] == ["thing"]
    assert runtime_resource._get_stack_trace.__name__ == "_get_stack_trace"
