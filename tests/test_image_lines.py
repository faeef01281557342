"""The image's Airflow lines: per-line requirements, Python and constraints, and a tag per line."""

import dataclasses
import re
import shutil
import string
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from airflow_on_k8s.config import ImageBuildConfig
from airflow_on_k8s.image_context import (
    IMAGE_CONTEXT_DIR,
    IMAGE_LINES,
    REQUIREMENTS_BUILD_ARG,
    ImageLine,
    build_args,
    image_line,
    image_tag,
    line_hash,
    line_inputs,
)
from components.airflow_image import AirflowImage, AirflowImageArgs
from tests.harness import plain, run_component

AIRFLOW_2 = "2.10.3"
AIRFLOW_3 = "3.3.2"
DOCKERFILE = IMAGE_CONTEXT_DIR / "Dockerfile"

# Each pinned provider's `Requires-Dist: apache-airflow>=` and `Requires-Python` from its wheel's METADATA
# on PyPI (`pip download --no-deps <name>==<version>`, read 2026-11-27). A new pin needs a row here.
PROVIDER_METADATA: dict[tuple[str, str], tuple[str, str]] = {
    ("apache-airflow-providers-hashicorp", "3.8.0"): ("2.8.0", "~=3.8"),
    ("apache-airflow-providers-microsoft-azure", "11.0.0"): ("2.8.0", "~=3.9"),
    ("apache-airflow-providers-cncf-kubernetes", "10.25.0"): ("2.11.0", ">=3.11"),
    ("apache-airflow-providers-fab", "3.10.2"): ("3.0.2", ">=3.11"),
    ("apache-airflow-providers-hashicorp", "4.8.4"): ("2.11.0", ">=3.11"),
    ("apache-airflow-providers-microsoft-azure", "15.2.0"): ("2.11.0", ">=3.10"),
    ("apache-airflow-providers-standard", "1.21.0"): ("2.11.0", ">=3.11"),
    ("apache-airflow-providers-common-compat", "1.23.0"): ("2.11.0", ">=3.11"),
}


def pins(line: ImageLine, context_dir: Path = IMAGE_CONTEXT_DIR) -> dict[str, Requirement]:
    lines = [raw.split("#", 1)[0].strip()
             for raw in (context_dir / line.requirements).read_text().splitlines()]
    requirements = [Requirement(text) for text in lines if text]
    return {requirement.name: requirement for requirement in requirements}


def pinned_version(requirement: Requirement) -> str:
    (specifier,) = requirement.specifier
    assert specifier.operator == "==" and "*" not in specifier.version, requirement
    return specifier.version


@pytest.fixture
def context(tmp_path: Path) -> Path:
    copy = tmp_path / "image"
    shutil.copytree(IMAGE_CONTEXT_DIR, copy)
    return copy


def tags(context_dir: Path) -> dict[str, str]:
    return {version: image_tag(version, context_dir) for version in (AIRFLOW_2, AIRFLOW_3)}


# --- which line builds which Airflow ------------------------------------------------------------

@pytest.mark.parametrize(("version", "python", "requirements"), [
    (AIRFLOW_2, "3.11", "requirements/airflow-2.txt"),
    (AIRFLOW_3, "3.12", "requirements/airflow-3.txt"),
])
def test_the_major_version_picks_python_and_requirements(version: str, python: str, requirements: str) -> None:
    assert build_args(version) == {"AIRFLOW_VERSION": version, "PYTHON_VERSION": python,
                                   REQUIREMENTS_BUILD_ARG: requirements}
    assert image_line(version).verified_airflow_version == version
    assert (IMAGE_CONTEXT_DIR / requirements).is_file()


@pytest.mark.parametrize("version", ["1.10.15", "4.0.0", "", "latest", "x.1.2"])
def test_no_line_for_other_major_versions(version: str) -> None:
    with pytest.raises(ValueError, match=r"image/ builds 2\.x, 3\.x"):
        image_line(version)


@pytest.mark.parametrize(("version", "base_image", "constraints"), [
    (AIRFLOW_2, "apache/airflow:2.10.3-python3.11",
     "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"),
    (AIRFLOW_3, "apache/airflow:3.3.2-python3.12",
     "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.2/constraints-3.12.txt"),
])
def test_the_dockerfile_turns_the_build_args_into_base_image_and_constraints(
        version: str, base_image: str, constraints: str) -> None:
    args = build_args(version)
    instructions = DOCKERFILE.read_text().splitlines()
    bases = {string.Template(line.split()[1]).substitute(args)
             for line in instructions if line.startswith("FROM ")}
    (add,) = [line for line in instructions if line.startswith("ADD ") and "constraints" in line]
    assert bases == {base_image}
    assert string.Template(add.split()[1]).substitute(args) == constraints


def test_dockerfile_defaults_build_the_airflow_2_line() -> None:
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE))
    args = build_args(AIRFLOW_2)
    assert {name: defaults.get(name) for name in args} == args


def test_both_stages_install_the_selected_requirements_file() -> None:
    dockerfile = DOCKERFILE.read_text()
    stages = dockerfile.split("\nFROM ")[1:]
    assert len(stages) == 2
    for stage in stages:
        assert f"ARG {REQUIREMENTS_BUILD_ARG}\n" in stage
        assert f"COPY ${{{REQUIREMENTS_BUILD_ARG}}} /tmp/requirements.txt" in stage
    assert "build-essential" not in stages[1] and "--no-index" in stages[1]


# --- the pins -------------------------------------------------------------------------------------

@pytest.mark.parametrize("major", sorted(IMAGE_LINES))
def test_every_requirement_is_pinned_exactly(major: int) -> None:
    requirements = pins(IMAGE_LINES[major])
    assert requirements
    for requirement in requirements.values():
        pinned_version(requirement)
        assert not requirement.extras and requirement.marker is None and requirement.url is None


@pytest.mark.parametrize("major", sorted(IMAGE_LINES))
def test_pinned_providers_support_the_line(major: int) -> None:
    line = IMAGE_LINES[major]
    floors = []
    for name, requirement in pins(line).items():
        key = (name, pinned_version(requirement))
        assert key in PROVIDER_METADATA, f"record {key} in PROVIDER_METADATA from its PyPI METADATA"
        min_airflow, requires_python = PROVIDER_METADATA[key]
        assert Version(min_airflow) <= Version(line.verified_airflow_version), key
        assert line.python_version in SpecifierSet(requires_python), key
        floors.append(Version(min_airflow))
    assert max(floors) == Version(line.min_airflow_version)
    assert Version(line.min_airflow_version).major <= major == Version(line.verified_airflow_version).major


def test_fab_is_pinned_past_the_oauth_regression_and_the_security_fixes() -> None:
    fab = Version(pinned_version(pins(IMAGE_LINES[3])["apache-airflow-providers-fab"]))
    assert fab != Version("3.3.0") and fab >= Version("3.9.0")


def test_airflow_3_line_carries_the_providers_it_needs() -> None:
    assert set(pins(IMAGE_LINES[3])) >= {
        "apache-airflow-providers-cncf-kubernetes", "apache-airflow-providers-fab",
        "apache-airflow-providers-hashicorp", "apache-airflow-providers-microsoft-azure",
        "apache-airflow-providers-standard"}


# --- one tag per line -----------------------------------------------------------------------------

def test_tag_is_airflow_version_and_the_lines_short_hash(context: Path) -> None:
    for version, tag in tags(context).items():
        assert tag == f"{version}-{line_hash(image_line(version), context)}"
        assert re.fullmatch(rf"{re.escape(version)}-[0-9a-f]{{12}}", tag)
    assert tags(context) == tags(IMAGE_CONTEXT_DIR)  # the copy hashes like the original
    assert len(set(tags(context).values())) == 2


@pytest.mark.parametrize(("changed", "unchanged"), [(AIRFLOW_2, AIRFLOW_3), (AIRFLOW_3, AIRFLOW_2)])
def test_a_lines_requirements_retag_only_that_line(context: Path, changed: str, unchanged: str) -> None:
    before = tags(context)
    requirements = context / image_line(changed).requirements
    requirements.write_text(requirements.read_text() + "pendulum==3.0.0\n")
    after = tags(context)
    assert after[changed] != before[changed]
    assert after[unchanged] == before[unchanged]


@pytest.mark.parametrize("change", ["dockerfile", "add", "rename", "shared-requirements"])
def test_a_shared_input_retags_every_line(context: Path, change: str) -> None:
    before = tags(context)
    if change == "dockerfile":
        (context / "Dockerfile").write_text((context / "Dockerfile").read_text() + "\n# comment\n")
    elif change == "add":
        (context / "dags_helper.py").write_text("VALUE = 1\n")
    elif change == "rename":
        (context / "Dockerfile").rename(context / "Containerfile")
    else:  # a file both lines could include with `-r`
        (context / "requirements" / "common.txt").write_text("pendulum==3.0.0\n")
    after = tags(context)
    assert all(after[version] != before[version] for version in before)


def test_the_python_version_is_part_of_the_hash(context: Path) -> None:
    line = image_line(AIRFLOW_3)
    assert line_hash(dataclasses.replace(line, python_version="3.13"), context) != line_hash(line, context)


def test_tag_ignores_timestamps_and_modes(context: Path) -> None:
    before = tags(context)
    for line in IMAGE_LINES.values():
        requirements = context / line.requirements
        requirements.touch()
        requirements.chmod(0o600)
    assert tags(context) == before


def test_line_inputs_leave_out_only_the_other_lines_requirements() -> None:
    for line in IMAGE_LINES.values():
        others = {IMAGE_CONTEXT_DIR / other.requirements for other in IMAGE_LINES.values()
                  if other.airflow_major != line.airflow_major}
        inputs = set(line_inputs(line))
        assert IMAGE_CONTEXT_DIR / line.requirements in inputs and DOCKERFILE in inputs
        assert not inputs & others


def test_a_missing_requirements_file_fails_instead_of_hashing(context: Path) -> None:
    (context / image_line(AIRFLOW_3).requirements).unlink()
    with pytest.raises(FileNotFoundError, match=r"airflow-3\.txt"):
        image_tag(AIRFLOW_3, context)
    assert image_tag(AIRFLOW_2, context) == image_tag(AIRFLOW_2)


# --- the component builds the line it is given -------------------------------------------------------

def test_component_builds_the_airflow_3_line() -> None:
    settings = ImageBuildConfig(registry_name="airflowtest01", registry_sku="Basic", push_username=None,
                                push_password=None)

    def build() -> None:
        AirflowImage("airflow-image", AirflowImageArgs(
            settings=settings, airflow_version=AIRFLOW_3, resource_group_name="rg-airflow",
            location="westeurope", kubelet_object_id="3f2c8a1e-6b7d-4e0f-9a51-2d8c4b6e7f10"))

    image = plain(run_component(build).one("docker-build:index:Image").inputs)
    assert image["buildArgs"] == {"AIRFLOW_VERSION": AIRFLOW_3, "PYTHON_VERSION": "3.12",
                                  REQUIREMENTS_BUILD_ARG: "requirements/airflow-3.txt"}
    assert [tag.rsplit(":", 1)[1] for tag in image["tags"]] == [image_tag(AIRFLOW_3)]
