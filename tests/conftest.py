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
