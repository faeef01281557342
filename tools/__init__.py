"""Tools around the program: the mock engine, the offline plan, the policy runner, file generators.

They import the program and the policy pack; the program imports neither.
"""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def write_whole(path: Path, data: bytes) -> None:
    """Write a tool cache's entry whole or not at all: other runs may read or write it meanwhile.
    A read-only checkout keeps nothing, which is only slower."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        pass
