"""The Kubernetes cluster: an AKS cluster the program creates, or an existing one whose facts
(kubeconfig, OIDC issuer, API server, kubelet identity) the stack file states."""

import re
from dataclasses import dataclass
from datetime import date

from airflow_on_k8s.aks_versions import version_problem
from airflow_on_k8s.config.network import required_cidrs
from airflow_on_k8s.config.reader import (
    GUID,
    KeySpec,
    Reader,
    SecretValue,
    check,
    cidrs,
    https_url,
    split_url,
    subnet_id,
    url_problem,
)

CLUSTER_TIERS = ("Free", "Standard", "Premium")

KEYS: tuple[KeySpec, ...] = (
    KeySpec("clusterMode", "string",
            "existing (kubeconfig/kubeContext) or create (an AKS cluster with a spot task pool).", "existing"),
    KeySpec("clusterKubernetesVersion", "string",
            "AKS Kubernetes version X.Y[.Z] that AKS still creates clusters at (airflow_on_k8s/aks_versions.py; "
            "create).", "1.36"),
    KeySpec("clusterTier", "string",
            "AKS pricing tier: Free (no SLA, dev), Standard (API server uptime SLA, prod) or Premium (create).",
            "Free"),
    KeySpec("clusterSystemVmSize", "string", "VM size of the on-demand system pool (create).", "Standard_D2s_v5"),
    KeySpec("clusterSystemMinCount", "integer", "System pool autoscaler minimum (create).", 1),
    KeySpec("clusterSystemMaxCount", "integer", "System pool autoscaler maximum (create).", 3),
    KeySpec("clusterTaskVmSize", "string", "VM size of the spot task pool (create).", "Standard_D8s_v5"),
    KeySpec("clusterTaskMinCount", "integer", "Task pool autoscaler minimum; 0 scales to zero (create).", 0),
    KeySpec("clusterTaskMaxCount", "integer", "Task pool autoscaler maximum (create).", 10),
    KeySpec("clusterTaskAutoscaling", "boolean", "Autoscale the spot task pool (required: it must scale to zero).",
            True),
    KeySpec("clusterSpotMaxPrice", "string", "Spot max price per hour in USD; -1 pays up to on-demand.", "-1"),
    KeySpec("clusterNetworkPolicy", "string", "Network policy engine: azure, calico or cilium (create).", "azure"),
    KeySpec("clusterSubnetId", "string",
            "Subnet of the node pools (create). Required with a private database: same or peered VNet.", ""),
    KeySpec("clusterApiServerSubnetId", "string",
            "Subnet for API Server VNet Integration (create; required with NetworkPolicies): delegated to "
            "Microsoft.ContainerService/managedClusters, /28 or larger, in clusterSubnetId's VNet. Pods reach "
            "the API server there, so its egress rule is known on the first up.", ""),
    KeySpec("clusterOidcIssuerUrl", "string",
            "OIDC issuer of an existing cluster (workload identity for task logs). Create mode: from the cluster.",
            ""),
    KeySpec("kubeconfig", "string",
            "Kubeconfig contents for the Kubernetes provider (set with --secret). "
            "Empty: the ambient kubeconfig.", "", secret=True, max_length=1_048_576, multiline=True),
    KeySpec("kubeContext", "string", "Kubeconfig context to use. Empty: the current context.", ""),
    KeySpec("kubeletObjectId", "string",
            "Object id of an existing cluster's kubelet identity, which pulls images (imageSource build).", ""),
    KeySpec("vaultKubernetesHost", "string",
            "API server URL Vault calls to review tokens (https://...; required with vaultAddress).", ""),
    KeySpec("networkKubeApiCidrs", "array",
            "CIDRs of an existing cluster's API server (egress on 443). Empty (and required empty) with "
            "clusterMode create: read from clusterApiServerSubnetId.", []),
)


@dataclass(frozen=True)
class CreatedClusterConfig:
    kubernetes_version: str
    tier: str
    dns_prefix: str
    system_vm_size: str
    system_min_count: int
    system_max_count: int
    task_vm_size: str
    task_min_count: int
    task_max_count: int
    spot_max_price: float
    network_policy: str
    subnet_id: str | None
    api_server_subnet_id: str | None


@dataclass(frozen=True)
class ExistingClusterConfig:
    """What the program needs to know of a cluster it did not create; each fact is required only
    by the part that uses it (see `require`)."""

    kubeconfig: SecretValue | None  # None: the ambient kubeconfig
    context: str | None
    oidc_issuer_url: str | None
    api_server_url: str | None
    kubelet_object_id: str | None
    api_server_cidrs: tuple[str, ...]


ClusterConfig = CreatedClusterConfig | ExistingClusterConfig


def _vm_size(reader: Reader, name: str) -> str:
    value = reader.string(name)
    check(bool(re.fullmatch(r"Standard_[A-Za-z0-9_]{1,60}", value)), name, value,
          "an Azure VM size such as Standard_D4s_v5")
    return value


def _api_server_subnet(reader: Reader, node_subnet_id: str | None) -> str | None:
    subnet = subnet_id(reader, "clusterApiServerSubnetId", "delegated to Microsoft.ContainerService/managedClusters")
    if subnet is None:
        return None
    vnet = subnet.lower().split("/subnets/")[0]
    check(node_subnet_id is not None and node_subnet_id.lower().split("/subnets/")[0] == vnet,
          "clusterApiServerSubnetId", subnet, "a subnet in the VNet of clusterSubnetId (API Server VNet "
          "Integration with your own VNet needs both)")
    check(subnet.lower() != (node_subnet_id or "").lower(), "clusterApiServerSubnetId", subnet,
          "a subnet of its own, delegated to Microsoft.ContainerService/managedClusters, not the node subnet")
    return subnet


_FACTS_OF_AN_EXISTING_CLUSTER = {
    "kubeconfig": "the created cluster's kubeconfig is used",
    "kubeContext": "the created cluster's kubeconfig is used",
    "clusterOidcIssuerUrl": "the created cluster's issuer is used",
    "vaultKubernetesHost": "the created cluster's API server is used",
    "kubeletObjectId": "the created cluster's kubelet identity pulls images",
}


def _created(reader: Reader, stack: str, today: date) -> CreatedClusterConfig:
    for name, because in _FACTS_OF_AN_EXISTING_CLUSTER.items():
        typed = reader.secret(name) if name == "kubeconfig" else reader.string(name)
        check(not typed, name, "[secret]" if name == "kubeconfig" else typed,
              f"empty with clusterMode create: {because}", secret=name == "kubeconfig")
    typed_api = reader.array("networkKubeApiCidrs")
    check(not typed_api, "networkKubeApiCidrs", str(list(typed_api))[:200],
          "empty: the program reads it from clusterApiServerSubnetId")
    # The stack name becomes the cluster's DNS prefix (airflow-<stack>).
    check(bool(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,44}[A-Za-z0-9])?", stack)), "clusterMode", "create",
          f"used on a stack whose name suits an AKS DNS prefix (letters, digits, '-'); {stack!r} does not")
    version = reader.string("clusterKubernetesVersion")
    problem = version_problem(version, today)
    check(problem is None, "clusterKubernetesVersion", version, problem or "")
    system_min = reader.integer("clusterSystemMinCount", 1, 100)
    system_max = reader.integer("clusterSystemMaxCount", 1, 100)
    check(system_min <= system_max, "clusterSystemMinCount", str(system_min),
          f"at most clusterSystemMaxCount ({system_max})")
    check(reader.boolean("clusterTaskAutoscaling"), "clusterTaskAutoscaling", "false",
          "true: the spot task pool must autoscale, down to zero between batch windows")
    task_min = reader.integer("clusterTaskMinCount", 0, 1000)
    task_max = reader.integer("clusterTaskMaxCount", 1, 1000)
    check(task_min <= task_max, "clusterTaskMinCount", str(task_min), f"at most clusterTaskMaxCount ({task_max})")
    node_subnet = subnet_id(reader, "clusterSubnetId", "the node pools' subnet")
    price_text = reader.string("clusterSpotMaxPrice")
    # Decimal notation only: float() would also read "nan", "1e3", "1_0" and non-ASCII digits.
    price = float(price_text) if re.fullmatch(r"-1|[0-9]{1,5}(\.[0-9]{1,5})?", price_text) else 0.0
    check(price == -1 or (0 < price < 10_000), "clusterSpotMaxPrice", price_text,
          "-1 (up to the on-demand price) or a positive price per hour in USD")
    return CreatedClusterConfig(
        kubernetes_version=version, tier=reader.choice("clusterTier", CLUSTER_TIERS), dns_prefix=f"airflow-{stack}",
        system_vm_size=_vm_size(reader, "clusterSystemVmSize"), system_min_count=system_min,
        system_max_count=system_max, task_vm_size=_vm_size(reader, "clusterTaskVmSize"), task_min_count=task_min,
        task_max_count=task_max, spot_max_price=price,
        network_policy=reader.choice("clusterNetworkPolicy", ("azure", "calico", "cilium")),
        subnet_id=node_subnet, api_server_subnet_id=_api_server_subnet(reader, node_subnet))


def _existing(reader: Reader) -> ExistingClusterConfig:
    issuer = reader.string("clusterOidcIssuerUrl")
    # Federated credentials compare the issuer exactly: it is kept as typed, trailing '/' too.
    check(not issuer or (url_problem(issuer, "https") is None and not split_url(issuer).query
                         and not split_url(issuer).fragment), "clusterOidcIssuerUrl", issuer,
          "the cluster's OIDC issuer URL, https:// with a host and no query "
          "(az aks show --query oidcIssuerProfile.issuerUrl)")
    host = reader.string("vaultKubernetesHost")
    if host:
        https_url(reader, "vaultKubernetesHost", "the API server Vault reviews tokens with")
    kubelet = reader.string("kubeletObjectId")
    check(not kubelet or bool(GUID.fullmatch(kubelet)), "kubeletObjectId", kubelet,
          "the object id (GUID) of the AKS kubelet identity (az aks show --query identityProfile.kubeletidentity"
          ".objectId); optional with clusterMode create")
    context = reader.string("kubeContext")
    return ExistingClusterConfig(kubeconfig=reader.secret("kubeconfig"), context=context or None,
                                 oidc_issuer_url=issuer or None, api_server_url=host.rstrip("/") or None,
                                 kubelet_object_id=kubelet or None,
                                 api_server_cidrs=cidrs(reader, "networkKubeApiCidrs"))


def parse(reader: Reader, stack: str, today: date) -> ClusterConfig:
    if reader.choice("clusterMode", ("existing", "create")) == "create":
        return _created(reader, stack, today)
    return _existing(reader)


def require(reader: Reader, cluster: ClusterConfig, *, task_logs: bool, vault: bool, image_build: bool,
            network_policies: bool, private_database: bool) -> None:
    """The cluster facts the other sections need, now that they are known."""
    if isinstance(cluster, CreatedClusterConfig):
        check(cluster.subnet_id is not None or not private_database, "clusterSubnetId", "",
              "a subnet resource id in the database's VNet (or a peered one): required with a private "
              "database, or pods cannot reach it")
        check(cluster.api_server_subnet_id is not None or not network_policies, "clusterApiServerSubnetId", "",
              "a subnet resource id with clusterMode create and NetworkPolicies: the API server's address "
              "(API Server VNet Integration) is what the scheduler's egress rule allows")
        return
    check(cluster.oidc_issuer_url is not None or not task_logs, "clusterOidcIssuerUrl", "",
          "the cluster's OIDC issuer URL (az aks show --query oidcIssuerProfile.issuerUrl), required for "
          "task logs on an existing cluster")
    if vault and cluster.api_server_url is None:
        https_url(reader, "vaultKubernetesHost", "the API server Vault reviews tokens with")
    check(cluster.kubelet_object_id is not None or not image_build, "kubeletObjectId", "",
          "the object id (GUID) of the AKS kubelet identity (az aks show --query identityProfile.kubeletidentity"
          ".objectId); optional with clusterMode create")
    if network_policies:
        required_cidrs(reader, "networkKubeApiCidrs", "the scheduler creates task pods")
