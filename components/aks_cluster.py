"""An AKS cluster that scales task compute to zero: on-demand system pool, spot task pool.

The control plane runs as a user-assigned identity that holds Network Contributor on the node and
API server subnets before the cluster exists (Azure expects it on subnets in another resource
group; only the az CLI grants it by itself). The API server gets an address in its own subnet (API
Server VNet Integration), so the pods' egress rule to it is known on the first `pulumi up`. The spot
pool is an AgentPool of its own: it changes and upgrades without rewriting the cluster object.
"""

import base64
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerservice as containerservice
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.privatedns as privatedns

from airflow_on_k8s.azure_ids import NETWORK_CONTRIBUTOR_ROLE_ID, built_in_role_definition_id, virtual_network_id
from airflow_on_k8s.cluster_facts import ClusterFacts
from airflow_on_k8s.config import CreatedClusterConfig
from airflow_on_k8s.scheduling import SPOT_TAINT
from components.azure_subnets import subnet_cidrs

TASK_POOL_LABEL = {"airflow-on-k8s/pool": "tasks"}


@dataclass(frozen=True)
class AksClusterArgs:
    settings: CreatedClusterConfig
    resource_group_name: pulumi.Input[str]
    location: str
    # Private DNS zones (e.g. the database's) that pods must resolve: linked to the nodes' VNet.
    linked_dns_zone_ids: tuple[str, ...] = ()


class AksCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    kubelet_object_id: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    api_server_url: pulumi.Output[str]
    # The API server subnet's ranges, read from Azure; empty without API Server VNet Integration.
    api_server_cidrs: pulumi.Output[list[str]]
    task_pool_name: pulumi.Output[str]
    facts: ClusterFacts

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:cluster:AksCluster", name, None, opts)
        settings = args.settings
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-control-plane", resource_group_name=args.resource_group_name, location=args.location,
            opts=pulumi.ResourceOptions(parent=self))
        subnet_grants = self._grant_subnets(name, identity, [settings.subnet_id, settings.api_server_subnet_id])
        cluster = containerservice.ManagedCluster(
            f"{name}-cluster",
            resource_group_name=args.resource_group_name,
            location=args.location,
            dns_prefix=settings.dns_prefix,
            kubernetes_version=settings.kubernetes_version,
            sku=containerservice.ManagedClusterSKUArgs(name=containerservice.ManagedClusterSKUName.BASE,
                                                       tier=settings.tier),
            identity=containerservice.ManagedClusterIdentityArgs(
                type=containerservice.ResourceIdentityType.USER_ASSIGNED, user_assigned_identities=[identity.id]),
            enable_rbac=True,
            oidc_issuer_profile=containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=containerservice.ManagedClusterSecurityProfileArgs(
                workload_identity=containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True)),
            api_server_access_profile=(containerservice.ManagedClusterAPIServerAccessProfileArgs(
                enable_vnet_integration=True, subnet_id=settings.api_server_subnet_id)
                if settings.api_server_subnet_id else None),
            # The NetworkPolicies of the namespace need an enforcing engine.
            network_profile=containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin="azure", network_policy=settings.network_policy,
                # AKS accepts the cilium policy engine only with the cilium dataplane.
                network_dataplane="cilium" if settings.network_policy == "cilium" else None),
            agent_pool_profiles=[
                # Long-lived control plane: scheduler, webserver, triggerer, statsd, system add-ons.
                containerservice.ManagedClusterAgentPoolProfileArgs(
                    name="system", mode="System", vm_size=settings.system_vm_size, os_type="Linux",
                    type="VirtualMachineScaleSets", enable_auto_scaling=True, count=settings.system_min_count,
                    min_count=settings.system_min_count, max_count=settings.system_max_count,
                    orchestrator_version=settings.kubernetes_version, vnet_subnet_id=settings.subnet_id),
            ],
            # The autoscaler owns the node count once the cluster runs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=subnet_grants,
                                        ignore_changes=["agentPoolProfiles[0].count"]),
        )
        spot_taint = f"{SPOT_TAINT['key']}={SPOT_TAINT['value']}:{SPOT_TAINT['effect']}"
        # Task pods only (they tolerate the taint); scales to zero between batch windows.
        task_pool = containerservice.AgentPool(
            f"{name}-tasks",
            resource_group_name=args.resource_group_name, resource_name_=cluster.name, agent_pool_name="tasks",
            mode="User", vm_size=settings.task_vm_size, os_type="Linux", type="VirtualMachineScaleSets",
            scale_set_priority="Spot", scale_set_eviction_policy="Delete", spot_max_price=settings.spot_max_price,
            enable_auto_scaling=True, count=settings.task_min_count, min_count=settings.task_min_count,
            max_count=settings.task_max_count, node_taints=[spot_taint], node_labels=TASK_POOL_LABEL,
            orchestrator_version=settings.kubernetes_version, vnet_subnet_id=settings.subnet_id,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]))
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=args.resource_group_name, resource_name=cluster.name,
            opts=pulumi.InvokeOutputOptions(parent=self))
        self.kubeconfig = pulumi.Output.secret(credentials.kubeconfigs.apply(
            lambda kubeconfigs: base64.b64decode(kubeconfigs[0].value).decode()))
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(
            lambda profile: profile.issuer_url if profile and profile.issuer_url else "")
        self.kubelet_object_id = cluster.identity_profile.apply(
            lambda identities: (identities or {})["kubeletidentity"].object_id or "")
        self.cluster_name = cluster.name
        self.task_pool_name = task_pool.name
        self.api_server_url = cluster.fqdn.apply(lambda fqdn: f"https://{fqdn}:443")
        self.api_server_cidrs = (subnet_cidrs(settings.api_server_subnet_id, self)
                                 if settings.api_server_subnet_id else pulumi.Output.from_input([]))
        self.facts = ClusterFacts(kubeconfig=self.kubeconfig, context=None, oidc_issuer_url=self.oidc_issuer_url,
                                  api_server_url=self.api_server_url, kubelet_object_id=self.kubelet_object_id,
                                  api_server_cidrs=self.api_server_cidrs)
        if settings.subnet_id:
            for index, zone_id in enumerate(args.linked_dns_zone_ids):
                zone_group, zone_name = zone_id.split("/")[4], zone_id.rstrip("/").split("/")[-1]
                privatedns.VirtualNetworkLink(
                    f"{name}-dns-link-{index}", resource_group_name=zone_group, private_zone_name=zone_name,
                    location="global", registration_enabled=False,
                    virtual_network=privatedns.SubResourceArgs(id=virtual_network_id(settings.subnet_id)),
                    opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"clusterName": self.cluster_name, "oidcIssuerUrl": self.oidc_issuer_url,
                               "kubeletObjectId": self.kubelet_object_id, "taskPoolName": self.task_pool_name})

    def _grant_subnets(self, name: str, identity: managedidentity.UserAssignedIdentity,
                       subnet_ids: list[str | None]) -> list[pulumi.Resource]:
        """Network Contributor for the control plane on each subnet it places nodes or the API server in."""
        grants: list[pulumi.Resource] = []
        for role, subnet_id in zip(("nodes", "api-server"), subnet_ids, strict=True):
            if subnet_id:
                grants.append(authorization.RoleAssignment(
                    f"{name}-{role}-subnet-network-contributor",
                    principal_id=identity.principal_id, principal_type="ServicePrincipal",
                    role_definition_id=built_in_role_definition_id(subnet_id, NETWORK_CONTRIBUTOR_ROLE_ID),
                    scope=subnet_id,
                    description=f"AKS control plane manages the {role} subnet (load balancers, IPs, routes).",
                    opts=pulumi.ResourceOptions(parent=self)))
        return grants
