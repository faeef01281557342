"""Entry point for `pulumi preview --policy-pack policies`.

Constructing the PolicyPack starts the analyzer gRPC server and blocks, so nothing else lives
here: the rules are in the importable package `airflow_policies`.
"""

from airflow_policies import PACK_ENFORCEMENT_LEVEL, PACK_NAME, build_policies
from pulumi_policy import PolicyPack

PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=PACK_ENFORCEMENT_LEVEL)
