import gc

import pytest

from tests.harness import run_stack
from tools.offline import ProgramRun


@pytest.fixture(scope="session")
def prod_run() -> ProgramRun:
    return run_stack("prod")


@pytest.fixture(scope="session")
def dev_run() -> ProgramRun:
    return run_stack("dev")


@pytest.fixture(params=["dev", "prod"], scope="session")
def stack_run(request: pytest.FixtureRequest) -> ProgramRun:
    return run_stack(request.param)


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
    while the interpreter is whole, as a collection during the session would have."""
    gc.unfreeze()
    gc.collect()
