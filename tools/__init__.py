"""Tools around the program: the mock engine, the offline plan, the policy runner, file generators.

They import the program and the policy pack; the program imports neither.
"""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
