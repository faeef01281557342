"""Vault's Kubernetes auth for Airflow: token review, a read-only policy and a narrow role."""

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_vault as vault

from airflow_on_k8s.config import VaultConfig
from airflow_on_k8s.vault import read_only_policy

TOKEN_REVIEWER = "vault-token-reviewer"
# Built-in ClusterRole that may create TokenReviews: what Vault needs to verify pod tokens.
AUTH_DELEGATOR_CLUSTER_ROLE = "system:auth-delegator"


def _decoded(data: Mapping[str, str] | None, key: str) -> str:
    if not data or key not in data:
        raise ValueError(f"the token Secret has no {key!r} yet")
    return base64.b64decode(data[key]).decode()


@dataclass(frozen=True)
class VaultIntegrationArgs:
    settings: VaultConfig
    namespace: pulumi.Input[str]
    # The API server Vault sends TokenReviews to (config, or the created cluster's).
    kubernetes_host: pulumi.Input[str]
    # The release's ServiceAccounts that read connections and variables (ServiceAccountNames.vault_readers).
    bound_service_accounts: Sequence[str]
    release_name: str


class VaultIntegration(pulumi.ComponentResource):
    """Needs both a `kubernetes` and a `vault` provider in `opts.providers`."""

    auth_path: pulumi.Output[str]
    role_name: pulumi.Output[str]
    policy_name: pulumi.Output[str]
    bound_service_accounts: list[str]

    def __init__(self, name: str, args: VaultIntegrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:vault:VaultIntegration", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)

        # A dedicated reviewer identity, so Vault outside the cluster can verify pod tokens too.
        reviewer = kubernetes.core.v1.ServiceAccount(
            f"{name}-token-reviewer",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=TOKEN_REVIEWER, namespace=args.namespace),
            opts=child)
        kubernetes.rbac.v1.ClusterRoleBinding(
            f"{name}-token-reviewer-binding",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=f"{args.release_name}-{TOKEN_REVIEWER}"),
            role_ref=kubernetes.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=AUTH_DELEGATOR_CLUSTER_ROLE),
            subjects=[kubernetes.rbac.v1.SubjectArgs(kind="ServiceAccount", name=TOKEN_REVIEWER,
                                                     namespace=args.namespace)],
            opts=child)
        # A long-lived token Secret: Kubernetes fills `token` and `ca.crt` for the ServiceAccount.
        token = kubernetes.core.v1.Secret(
            f"{name}-token-reviewer-token",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=f"{TOKEN_REVIEWER}-token", namespace=args.namespace,
                annotations={"kubernetes.io/service-account.name": TOKEN_REVIEWER}),
            type="kubernetes.io/service-account-token",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[reviewer]))

        reviewer_jwt: pulumi.Output[str] = pulumi.Output.secret(token.data.apply(lambda data: _decoded(data, "token")))
        auth = vault.AuthBackend(f"{name}-kubernetes-auth", type="kubernetes", path=settings.auth_path,
                                 description="Airflow pods log in with their ServiceAccount token.", opts=child)
        vault.kubernetes.AuthBackendConfig(
            f"{name}-kubernetes-auth-config",
            backend=auth.path,
            kubernetes_host=args.kubernetes_host,
            kubernetes_ca_cert=token.data.apply(lambda data: _decoded(data, "ca.crt")),
            token_reviewer_jwt=reviewer_jwt,
            opts=child)
        policy = vault.Policy(f"{name}-read-policy", name=f"{settings.role_name}-read",
                              policy=read_only_policy(settings), opts=child)

        self.bound_service_accounts = list(args.bound_service_accounts)
        role = vault.kubernetes.AuthBackendRole(
            f"{name}-role",
            backend=auth.path,
            role_name=settings.role_name,
            bound_service_account_names=self.bound_service_accounts,
            bound_service_account_namespaces=[args.namespace],
            token_policies=[policy.name],
            token_ttl=settings.token_ttl_seconds,
            token_max_ttl=settings.token_ttl_seconds,
            opts=child)

        mount: pulumi.Input[str] = settings.kv_mount
        if settings.create_kv_mount:
            mount = vault.Mount(f"{name}-kv", path=settings.kv_mount, type="kv", options={"version": "2"},
                                description="Airflow connections and variables.", opts=child).path
        for conn_id, uri in settings.seed_connections:
            vault.kv.SecretV2(f"{name}-connection-{conn_id}", mount=mount,
                              name=f"{settings.connections_path}/{conn_id}",
                              data_json=pulumi.Output.secret(json.dumps({"conn_uri": uri.value})), opts=child)
        for key, value in settings.seed_variables:
            vault.kv.SecretV2(f"{name}-variable-{key}", mount=mount, name=f"{settings.variables_path}/{key}",
                              data_json=pulumi.Output.secret(json.dumps({"value": value.value})), opts=child)

        self.auth_path = auth.path
        self.role_name = role.role_name
        self.policy_name = policy.name
        self.register_outputs({
            "authPath": self.auth_path,
            "roleName": self.role_name,
            "policyName": self.policy_name,
            "boundServiceAccounts": self.bound_service_accounts,
        })
