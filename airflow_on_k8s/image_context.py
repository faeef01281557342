"""The Airflow image's build inputs per Airflow line and the immutable tag derived from them.

One Dockerfile builds every line; each line has its own requirements file and Python version, and its
tag hashes only what its build reads, so new Airflow 3 pins never retag the Airflow 2 image."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

IMAGE_CONTEXT_DIR = Path(__file__).resolve().parent.parent / "image"
IMAGE_REPOSITORY_NAME = "airflow"
# image/Dockerfile's build argument that names the requirements file, relative to the context.
REQUIREMENTS_BUILD_ARG = "AIRFLOW_REQUIREMENTS"
_HASH_LENGTH = 12


@dataclass(frozen=True)
class ImageLine:
    """What the image of one Airflow major version is built from.

    The pins in `requirements` were resolved against `verified_airflow_version` and its constraints for
    `python_version` (docs/image-pins.md); `min_airflow_version` is the highest `apache-airflow>=` floor
    among them (PyPI METADATA), below which the image cannot be built at all."""

    airflow_major: int
    python_version: str
    requirements: str  # POSIX path inside the build context
    verified_airflow_version: str
    min_airflow_version: str


IMAGE_LINES: dict[int, ImageLine] = {
    line.airflow_major: line for line in (
        ImageLine(airflow_major=2, python_version="3.11", requirements="requirements/airflow-2.txt",
                  verified_airflow_version="2.10.3", min_airflow_version="2.8.0"),
        # 3.12: Airflow 3.3.2 is tested on Python 3.10-3.14 (its PyPI README); 3.11 leaves upstream
        # support in October 2027, 3.12 a year later.
        ImageLine(airflow_major=3, python_version="3.12", requirements="requirements/airflow-3.txt",
                  verified_airflow_version="3.3.2", min_airflow_version="3.0.2"),
    )
}


def image_line(airflow_version: str) -> ImageLine:
    """The line that builds `airflow_version` (X.Y.Z), chosen by its major version."""
    major_text = airflow_version.split(".", 1)[0]
    line = IMAGE_LINES.get(int(major_text)) if major_text.isdigit() else None
    if line is None:
        supported = ", ".join(f"{major}.x" for major in sorted(IMAGE_LINES))
        raise ValueError(f"no image line builds Airflow {airflow_version!r}; image/ builds {supported}")
    return line


def build_args(airflow_version: str) -> dict[str, str]:
    """The Dockerfile's build arguments for `airflow_version`."""
    line = image_line(airflow_version)
    return {"AIRFLOW_VERSION": airflow_version, "PYTHON_VERSION": line.python_version,
            REQUIREMENTS_BUILD_ARG: line.requirements}


def line_inputs(line: ImageLine, context_dir: Path = IMAGE_CONTEXT_DIR) -> list[Path]:
    """Every file of the context except the other lines' requirements files, sorted."""
    requirements = context_dir / line.requirements
    if not requirements.is_file():
        raise FileNotFoundError(f"{requirements}: the requirements of the Airflow {line.airflow_major} line")
    other_lines = {context_dir / other.requirements for other in IMAGE_LINES.values()
                   if other.requirements != line.requirements}
    return sorted(path for path in context_dir.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts and path not in other_lines)


def line_hash(line: ImageLine, context_dir: Path = IMAGE_CONTEXT_DIR) -> str:
    """A digest of the line's Python version and requirements path and of its input files' relative
    paths and bytes; timestamps and modes do not count."""
    digest = hashlib.sha256()
    for text in (line.python_version, line.requirements):
        encoded = text.encode()
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    for path in line_inputs(line, context_dir):
        relative = path.relative_to(context_dir).as_posix().encode()
        content = path.read_bytes()
        digest.update(len(relative).to_bytes(8, "big") + relative)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()[:_HASH_LENGTH]


def image_tag(airflow_version: str, context_dir: Path = IMAGE_CONTEXT_DIR) -> str:
    """`<airflow version>-<short hash>`: a changed input of that line gives a new tag, never a reused one."""
    return f"{airflow_version}-{line_hash(image_line(airflow_version), context_dir)}"
