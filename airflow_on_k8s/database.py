"""Pure helpers for the metadata database: the SQLAlchemy URI and firewall ranges."""

import ipaddress
from urllib.parse import quote

POSTGRES_PORT = 5432
AIRFLOW_DATABASE = "airflow"


def metadata_connection_uri(user: str, password: str, host: str, database: str = AIRFLOW_DATABASE,
                            port: int = POSTGRES_PORT) -> str:
    """The `connection` the chart reads: every reserved character in user and password is
    percent-encoded, so SQLAlchemy parses back exactly the same credentials."""
    return (f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
            f"{quote(database, safe='')}?sslmode=require")


def firewall_range(cidr: str) -> tuple[str, str]:
    """First and last address of an IPv4 CIDR: Flexible Server firewall rules are ranges."""
    network = ipaddress.IPv4Network(cidr, strict=True)
    return str(network.network_address), str(network.broadcast_address)


def firewall_rule_name(cidr: str) -> str:
    """A rule name Azure accepts (letters, digits, '-', '_') that is stable per CIDR."""
    return "allow-" + cidr.replace(".", "-").replace("/", "-")
