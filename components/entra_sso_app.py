"""The Entra ID application Airflow's SSO signs in with, owned by the program (ssoManageApp):
redirect URI, app roles from ssoRoleMapping, the claims the login needs, a service principal that
admits only assigned users, and client secrets whose value goes straight into a Kubernetes Secret."""

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread

from airflow_on_k8s.config import SsoConfig
from airflow_on_k8s.entra_app import (
    ID_TOKEN_OPTIONAL_CLAIMS,
    MICROSOFT_GRAPH_APP_ID,
    SIGN_IN_SCOPES,
    app_roles,
    end_date,
    secret_resource_suffix,
)


@dataclass(frozen=True)
class EntraSsoAppArgs:
    settings: SsoConfig  # with managed_app set
    display_name: str
    redirect_uri: str


class EntraSsoApp(pulumi.ComponentResource):
    client_id: pulumi.Output[str]
    redirect_uri: str
    client_secret: pulumi.Output[str]  # secret: the active password's value

    def __init__(self, name: str, args: EntraSsoAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:sso:EntraSsoApp", name, None, opts)
        managed = args.settings.managed_app
        assert managed is not None, "EntraSsoApp needs ssoManageApp"
        child = pulumi.ResourceOptions(parent=self)
        # Whoever runs `pulumi up` owns what it creates, so the next run may change it.
        deployer = azuread.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        application = azuread.Application(
            f"{name}-application",
            display_name=args.display_name,
            sign_in_audience="AzureADMyOrg",
            owners=[deployer.object_id],
            web=azuread.ApplicationWebArgs(
                redirect_uris=[args.redirect_uri],
                implicit_grant=azuread.ApplicationWebImplicitGrantArgs(
                    access_token_issuance_enabled=False, id_token_issuance_enabled=False)),
            app_roles=[azuread.ApplicationAppRoleArgs(**role) for role in app_roles(args.settings)],
            optional_claims=azuread.ApplicationOptionalClaimsArgs(id_tokens=[
                azuread.ApplicationOptionalClaimsIdTokenArgs(name=claim, essential=False)
                for claim in ID_TOKEN_OPTIONAL_CLAIMS]),
            required_resource_accesses=[azuread.ApplicationRequiredResourceAccessArgs(
                resource_app_id=MICROSOFT_GRAPH_APP_ID,
                resource_accesses=[azuread.ApplicationRequiredResourceAccessResourceAccessArgs(id=scope, type="Scope")
                                   for scope in SIGN_IN_SCOPES.values()])],
            opts=child)
        azuread.ServicePrincipal(
            f"{name}-service-principal", client_id=application.client_id, owners=[deployer.object_id],
            # Only users and groups given an app role may sign in at all.
            app_role_assignment_required=True, opts=child)
        passwords = {
            expiry: azuread.ApplicationPassword(
                f"{name}-secret-{secret_resource_suffix(expiry)}", application_id=application.id,
                display_name=f"airflow-sso-until-{expiry.isoformat()}", end_date=end_date(expiry), opts=child)
            for expiry in managed.secret_expiries}
        self.client_id = application.client_id
        self.redirect_uri = args.redirect_uri
        self.client_secret = pulumi.Output.secret(passwords[managed.active_secret_expiry].value)
        self.register_outputs({"clientId": self.client_id, "redirectUri": self.redirect_uri})
