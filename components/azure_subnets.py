"""Address ranges of existing subnets, read from Azure so that stack files hold ids, not copied CIDRs."""

import pulumi

# The module, not the package: mypy skips the network package's ~290 modules (pyproject.toml).
from pulumi_azure_native.network.get_subnet import get_subnet_output

from airflow_on_k8s.azure_ids import subnet_parts


def subnet_cidrs(subnet_id: str, parent: pulumi.Resource) -> pulumi.Output[list[str]]:
    """The subnet's address prefixes, read through the parent's Azure provider (so its subscription)."""
    _, group, network, subnet = subnet_parts(subnet_id)
    found = get_subnet_output(resource_group_name=group, virtual_network_name=network, subnet_name=subnet,
                              opts=pulumi.InvokeOutputOptions(parent=parent))
    return found.apply(lambda result: list(result.address_prefixes or
                                           ([result.address_prefix] if result.address_prefix else [])))
