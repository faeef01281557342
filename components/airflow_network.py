"""NetworkPolicies that close the Airflow namespace and open only what Airflow needs."""

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as kubernetes


@dataclass(frozen=True)
class AirflowNetworkArgs:
    namespace: pulumi.Input[str]
    # (name, spec) pairs from airflow_on_k8s.network.network_policy_specs
    policies: list[tuple[str, dict[str, Any]]]


class AirflowNetwork(pulumi.ComponentResource):
    policy_names: list[str]

    def __init__(self, name: str, args: AirflowNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow-on-k8s:network:AirflowNetwork", name, None, opts)
        self.policy_names = []
        for policy_name, spec in args.policies:
            kubernetes.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=policy_name, namespace=args.namespace),
                # Kubernetes' own camelCase field names; the SDK passes them through unchanged.
                spec=cast(kubernetes.networking.v1.NetworkPolicySpecArgsDict, spec),
                opts=pulumi.ResourceOptions(parent=self))
            self.policy_names.append(policy_name)
        self.register_outputs({"policyNames": self.policy_names})
