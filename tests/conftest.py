from __future__ import annotations

import gc
import os
import pickle
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

import pytest

from airflow_on_k8s.config import SUPPORTED_PAIRS

if TYPE_CHECKING:
    from tests.chart_render import ProgramRender
    from tools.offline import ProgramRun

# The harness and the chart renderer (Pulumi, Helm's engine) are imported by the fixtures, not
# here: the xdist controller loads this file too, and starts the workers only after it has.

# Helm's engine is Go, and a render allocates heavily: collecting at 400% heap growth instead of
# Go's 100% cut the CPU of a render by ~35% here (~0.21 s instead of ~0.33 s) for ~30 MB more
# per process. Go reads GOGC when a process starts, so this reaches the xdist workers, started
# after this file is loaded, and any subprocess; with -n0 set it before starting pytest.
os.environ.setdefault("GOGC", "400")

T = TypeVar("T")
# Every supported (chart, Airflow) pair with the config of both committed stacks.
PROGRAM_PAIRS = [(stack, chart) for stack in ("dev", "prod") for chart in SUPPORTED_PAIRS]


def read_only(value: T, name: str) -> Iterator[T]:
    """Yield `value` to a module's tests, then fail loudly if one of them changed it: the tests of
    a module share it, so a test that changes what it reads must change a copy.deepcopy of it."""
    before = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    yield value
    if pickle.dumps(value, pickle.HIGHEST_PROTOCOL) != before:
        pytest.fail(f"a test of this module changed the shared {name}; change a copy.deepcopy of it instead",
                    pytrace=False)


# Each run below happens once per process (tests/harness.py run_once); every module gets its own copy.

@pytest.fixture(scope="module")
def prod_run() -> Iterator[ProgramRun]:
    from tests.harness import run_stack

    yield from read_only(run_stack("prod"), "prod_run")


@pytest.fixture(scope="module")
def dev_run() -> Iterator[ProgramRun]:
    from tests.harness import run_stack

    yield from read_only(run_stack("dev"), "dev_run")


@pytest.fixture(params=["dev", "prod"], scope="module")
def stack_run(request: pytest.FixtureRequest) -> Iterator[ProgramRun]:
    from tests.harness import run_stack

    yield from read_only(run_stack(request.param), f"stack_run[{request.param}]")


@pytest.fixture(scope="module", params=PROGRAM_PAIRS, ids=[f"{stack}-chart-{chart}" for stack, chart in PROGRAM_PAIRS])
def program_render(request: pytest.FixtureRequest) -> Iterator[ProgramRender]:
    """Both committed stacks on every supported (chart, Airflow) pair, rendered by the real chart."""
    from tests.chart_render import render_stack_pair

    stack, chart = request.param
    yield from read_only(render_stack_pair(stack, chart), f"program_render[{stack}-chart-{chart}]")


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported (the SDKs' classes and functions) lives for the whole session;
    freezing it spares every later garbage collection from walking it again. The program runs
    allocate heavily: collecting every 700 allocations (the default) spent ~8 s of CPU in a full
    run here, every 20,000 spends ~3 s, for ~20 MB more memory."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Collect what became garbage among the frozen objects (an event loop made at import time)
    while the interpreter is whole, as a collection during the session would have. What is left
    is alive at exit, where Python promises no finalizer: frozen again, the interpreter's exit
    skips walking it (~1.5 s less per worker, before the run can end)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
