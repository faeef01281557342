"""Azure resource-id arithmetic shared by the components."""


def built_in_role_definition_id(scope_id: str, role_id: str) -> str:
    """The subscription-level id of a built-in role, for a role assignment on `scope_id`
    (any ARM id below /subscriptions/<id>/...)."""
    subscription = scope_id.split("/")[2]
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"


NETWORK_CONTRIBUTOR_ROLE_ID = "4d97b98b-1d4f-4787-a291-c67834d212e7"


def subnet_parts(subnet_id: str) -> tuple[str, str, str, str]:
    """(subscription, resource group, virtual network, subnet) of a subnet's ARM id
    (/subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.Network/virtualNetworks/<v>/subnets/<n>)."""
    parts = subnet_id.strip("/").split("/")
    return parts[1], parts[3], parts[7], parts[9]


def virtual_network_id(subnet_id: str) -> str:
    return subnet_id.split("/subnets/")[0]
