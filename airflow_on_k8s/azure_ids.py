"""Azure resource-id arithmetic shared by the components."""


def built_in_role_definition_id(scope_id: str, role_id: str) -> str:
    """The subscription-level id of a built-in role, for a role assignment on `scope_id`
    (any ARM id below /subscriptions/<id>/...)."""
    subscription = scope_id.split("/")[2]
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"
