"""Kubernetes resource quantities ("500m", "4Gi"), parsed the way the API server parses them.

The grammar is the one in k8s.io/apimachinery/pkg/api/resource/quantity.go: a signed decimal
number followed by a binary suffix (Ki..Ei), a decimal suffix (m, k, M..E) or a decimal exponent.
"""

import re
from decimal import Decimal

_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$",
    re.ASCII,  # \d must not take a fullwidth digit, which Decimal would read
)

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6,
            "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15,
            "E": Decimal(10) ** 18}


def parse_quantity(text: str) -> Decimal | None:
    """The quantity's value in base units (cores or bytes), or None if Kubernetes would reject it."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        return None
    number = Decimal(match.group("number"))
    suffix = match.group("suffix") or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    if suffix:
        exponent = int(suffix[1:])
        # The API server caps exponents far below this; refusing huge ones keeps Decimal cheap.
        if abs(exponent) > 30:
            return None
        return number * (Decimal(10) ** exponent)
    return number
