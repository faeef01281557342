"""The Airflow image's build context and the immutable tag derived from it."""

import hashlib
from pathlib import Path

IMAGE_CONTEXT_DIR = Path(__file__).resolve().parent.parent / "image"
IMAGE_REPOSITORY_NAME = "airflow"
_HASH_LENGTH = 12


def context_hash(context_dir: Path = IMAGE_CONTEXT_DIR) -> str:
    """A digest of every file's relative path and bytes; timestamps and modes do not count."""
    digest = hashlib.sha256()
    files = sorted(path for path in context_dir.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    for path in files:
        relative = path.relative_to(context_dir).as_posix().encode()
        content = path.read_bytes()
        digest.update(len(relative).to_bytes(8, "big") + relative)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()[:_HASH_LENGTH]


def image_tag(airflow_version: str, context_dir: Path = IMAGE_CONTEXT_DIR) -> str:
    """`<airflow version>-<short hash>`: a changed requirements file gives a new tag, never a reused one."""
    return f"{airflow_version}-{context_hash(context_dir)}"
