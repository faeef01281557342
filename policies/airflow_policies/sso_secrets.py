"""Client secrets of the SSO application (azuread ApplicationPassword) judged by their end date."""

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from .aks_versions import as_of

APPLICATION_PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
DEFAULT_WARN_DAYS = 30


def _end_date(props: Mapping[str, Any]) -> date | None:
    text = str(props.get("endDate") or "")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def expired_findings(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if resource_type != APPLICATION_PASSWORD:
        return
    end = _end_date(props)
    if end is None:
        yield ("the client secret has no end date (or one that cannot be read): a secret that never expires "
               "is never rotated. Set ssoClientSecretExpiries.")
    elif end <= as_of(config):
        yield (f"the client secret expired on {end.isoformat()}: SSO logins fail. Add a later date to "
               "ssoClientSecretExpiries, make it ssoClientSecretActive, then remove the old one.")


def expiring_findings(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if resource_type != APPLICATION_PASSWORD:
        return
    end, today = _end_date(props), as_of(config)
    warn_days = int(config.get("warnDays", DEFAULT_WARN_DAYS))
    if end is not None and today < end <= today + timedelta(days=warn_days):
        yield (f"the client secret expires on {end.isoformat()}, within {warn_days} days. Rotate it: add a "
               "later date to ssoClientSecretExpiries, switch ssoClientSecretActive, remove the old date.")
