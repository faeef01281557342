"""AKS Kubernetes minor versions and their end of standard (community) support.

Source: the "AKS Kubernetes release calendar" table of
https://learn.microsoft.com/azure/aks/supported-kubernetes-versions
(MicrosoftDocs/azure-aks-docs, articles/aks/supported-kubernetes-versions.md, commit fb060ab of
2026-08-21, read on 2026-11-27). The calendar gives months; a month is read as its first day,
the earliest date it can mean, for both GA and end of life. Past end of life a version enters
platform support, where "cluster creation: not supported"; long-term support needs the Premium
tier and the AKSLongTermSupport plan, which this program does not configure.

The policy pack restates this table (it runs without the program's code); a test keeps the two equal.
"""

import re
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class AksVersion:
    minor: str
    generally_available: date
    end_of_life: date


AKS_VERSIONS: tuple[AksVersion, ...] = (
    AksVersion("1.32", date(2025, 4, 1), date(2026, 3, 1)),
    AksVersion("1.33", date(2025, 6, 1), date(2026, 7, 1)),
    AksVersion("1.34", date(2025, 11, 1), date(2026, 11, 1)),
    AksVersion("1.35", date(2026, 3, 1), date(2027, 3, 1)),
    AksVersion("1.36", date(2026, 6, 1), date(2027, 6, 1)),
    AksVersion("1.37", date(2026, 10, 1), date(2027, 10, 1)),
)
VERSIONS_BY_MINOR = {version.minor: version for version in AKS_VERSIONS}
_VERSION = re.compile(r"(?P<minor>1\.(0|[1-9]\d{0,2}))(\.(0|[1-9]\d{0,3}))?")


def minor_of(version: str) -> str | None:
    """"1.36" for "1.36" or "1.36.2"; None when the text is not a pinned X.Y[.Z] version."""
    match = _VERSION.fullmatch(version)
    return match.group("minor") if match else None


def creatable_minors(today: date) -> tuple[str, ...]:
    """Minor versions AKS creates clusters at on `today`: GA and not past end of life."""
    return tuple(v.minor for v in AKS_VERSIONS if v.generally_available <= today < v.end_of_life)


def version_problem(version: str, today: date) -> str | None:
    """Why a new cluster cannot run `version` on `today`, or None when it can."""
    choices = creatable_minors(today)
    allowed = f"choose {choices[0]}..{choices[-1]}" if choices else "the AKS calendar in this file is out of date"
    minor = minor_of(version)
    if minor is None:
        return f"a pinned version X.Y or X.Y.Z; {allowed}"
    known = VERSIONS_BY_MINOR.get(minor)
    if known is None:
        return f"{minor} is not in the AKS release calendar this program knows; {allowed}"
    if today >= known.end_of_life:
        return f"{minor} reached end of life in {known.end_of_life:%Y-%m}; {allowed}"
    if today < known.generally_available:
        return f"{minor} is not generally available on AKS until {known.generally_available:%Y-%m}; {allowed}"
    return None
