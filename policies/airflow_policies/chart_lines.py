"""Which Airflow each supported chart version runs.

Restates the program's SUPPORTED_PAIRS (airflow_on_k8s/config/airflow.py; the pack runs without
the program's code, and a test keeps the two equal). Chart 1.16.0 cannot run Airflow 3 (no JWT or
API secret, no webserver_config for the api-server); charts from 1.20.0 refuse Airflow < 2.11.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from .resources import airflow_helm, dig

SUPPORTED_PAIRS: dict[str, str] = {"1.16.0": "2.10.3", "1.19.0": "3.3.2"}


def _pairs() -> str:
    return ", ".join(f"chart {chart} with Airflow {airflow}" for chart, airflow in SUPPORTED_PAIRS.items())


def chart_compatibility_findings(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm is None:
        return
    chart = helm.version.removeprefix("v")
    declared = dig(helm.values, "airflowVersion")
    if chart not in SUPPORTED_PAIRS:
        yield f"chart version {helm.version!r} is not a supported chart line ({_pairs()})."
    elif declared != SUPPORTED_PAIRS[chart]:
        yield (f"values.airflowVersion is {declared!r}, but chart {chart} is paired with Airflow "
               f"{SUPPORTED_PAIRS[chart]} ({_pairs()}). The chart templates branch on airflowVersion.")
