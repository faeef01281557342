"""The CrossGuard pack through pulumi-policy's analyzer: each rule, mutations of the real stacks,
pack config, and the pack served the way the Pulumi CLI starts it."""

import copy
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.airflow_policies import RULES
from tests.harness import RELEASE_TYPE, run_stack
from tools.offline import ProgramRun, RecordedResource
from tools.policy_check import analyze
from tools.policy_io import POLICY_PACK_DIR, PolicyConfigError, Violation, stack_pack_config

DIGEST = "sha256:" + "a" * 64


def single(resource_type: str, inputs: dict[str, Any], stack: str = "prod") -> ProgramRun:
    resource = RecordedResource(
        type=resource_type, name="subject", urn=f"urn:pulumi:{stack}::airflow-on-k8s::{resource_type}::subject",
        parent="", custom=True, inputs=inputs, outputs={}, dependencies=[], property_dependencies={},
        protect=False, provider="", options={})
    return ProgramRun(stack=stack, resources=[resource], outputs={}, invokes=[], state={})


def found(violations: list[Violation], rule: str) -> list[Violation]:
    return [violation for violation in violations if violation.policy == rule]


def airflow_release(values: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"chart": "airflow", "version": "1.16.0", "repositoryOpts": {"repo": "https://airflow.apache.org"},
            "atomic": True, "timeout": 600, "values": values, **props}


INGRESS_TYPE = "kubernetes:networking.k8s.io/v1:Ingress"
CLUSTER_TYPE = "azure-native:containerservice:ManagedCluster"
SSO_PASSWORD_TYPE = "azuread:index/applicationPassword:ApplicationPassword"
VAULT_ROLE_TYPE = "vault:kubernetes/authBackendRole:AuthBackendRole"
VAULT_POLICY_TYPE = "vault:index/policy:Policy"
GOOD_VAULT_ROLE: dict[str, Any] = {
    "roleName": "airflow", "boundServiceAccountNames": ["airflow-worker", "airflow-scheduler"],
    "boundServiceAccountNamespaces": ["airflow"], "tokenTtl": 3600, "tokenMaxTtl": 3600,
}

# The restricted Pod Security Standard and a size, as the program writes them (airflow_on_k8s/helm_values.py).
RESTRICTED_POD = {"runAsUser": 50000, "fsGroup": 0, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True}
SIZE = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}

GOOD_AIRFLOW_VALUES: dict[str, Any] = {
    "executor": "KubernetesExecutor",
    "airflowVersion": "2.10.3",
    "postgresql": {"enabled": False},
    "images": {"airflow": {"repository": "apache/airflow", "tag": "2.10.3-python3.11"}},
    "data": {"metadataSecretName": "airflow-metadata-db"},
    "fernetKeySecretName": "airflow-fernet-key",
    "webserverSecretKeySecretName": "airflow-webserver-key",
    "migrateDatabaseJob": {"useHelmHooks": False, "applyCustomEnv": False},
    "createUserJob": {"useHelmHooks": False, "applyCustomEnv": False},
    "workers": {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}},
    "config": {"logging": {"remote_logging": "True"}},
    "securityContexts": {"pod": RESTRICTED_POD, "containers": RESTRICTED_CONTAINER},
    "statsd": {"securityContexts": {"pod": {**RESTRICTED_POD, "runAsUser": 65534}}, "resources": SIZE},
    "scheduler": {"resources": SIZE, "logGroomerSidecar": {"resources": SIZE}},
    "webserver": {"resources": SIZE},
    "triggerer": {"resources": SIZE, "logGroomerSidecar": {"resources": SIZE}},
}
GOOD_AIRFLOW_VALUES["migrateDatabaseJob"]["resources"] = SIZE


def webserver_config(source: str) -> dict[str, Any]:
    return airflow_release(with_values(webserver={"webserverConfig": source}))


def with_values(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(GOOD_AIRFLOW_VALUES)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = values
        for part in parents:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return values


def test_the_good_release_passes_every_rule() -> None:
    assert analyze(single(RELEASE_TYPE, airflow_release(GOOD_AIRFLOW_VALUES))) == []


# (rule, resource type, inputs): one failing case per line; each fails only through its rule's check.
FAILING_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("airflow-no-bundled-postgres", RELEASE_TYPE, airflow_release(with_values(postgresql=None))),
    ("airflow-no-bundled-postgres", "kubernetes:helm.sh/v4:Chart",
     {"chart": "oci://registry.example.com/charts/airflow", "version": "1.16.0",
      "values": with_values(postgresql__enabled=True)}),
    ("helm-chart-version-pinned", RELEASE_TYPE, airflow_release(GOOD_AIRFLOW_VALUES, version=">=1.16.0")),
    ("helm-chart-version-pinned", RELEASE_TYPE, airflow_release(GOOD_AIRFLOW_VALUES, version="")),
    ("helm-chart-version-pinned", "kubernetes:helm.sh/v3:Chart", {"chart": "bitnami/redis", "version": "18.1.0"}),
    ("image-tags-pinned", RELEASE_TYPE,
     airflow_release(with_values(images__statsd={"repository": "quay.io/prometheus/statsd-exporter", "tag": ""}))),
    ("image-tags-pinned", "kubernetes:apps/v1:Deployment",
     {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}}}),
    ("image-tags-pinned", "kubernetes:apps/v1:Deployment",
     {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
    ("image-tags-pinned", "kubernetes:batch/v1:CronJob",
     {"spec": {"jobTemplate": {"spec": {"template": {"spec": {
         "containers": [{"name": "job", "image": "python:3.11"}]}}}}}}),
    # The digest in a tag (images.pod_template has no digest field) is checked like a digest.
    ("image-tags-pinned", RELEASE_TYPE, airflow_release(with_values(
        images__pod_template={"repository": "apache/airflow", "tag": "2.10.3-python3.11@sha256:abc"}))),
    ("image-tags-pinned", RELEASE_TYPE, airflow_release(with_values(images__airflow__digest="latest"))),
    ("airflow-chart-compatible", RELEASE_TYPE, airflow_release(with_values(airflowVersion="3.3.2"))),
    ("airflow-chart-compatible", RELEASE_TYPE, airflow_release(GOOD_AIRFLOW_VALUES, version="1.18.0")),
    ("airflow-kubernetes-executor", RELEASE_TYPE, airflow_release(with_values(executor="CeleryExecutor"))),
    ("airflow-kubernetes-executor", RELEASE_TYPE, airflow_release(with_values(executor=None))),
    ("airflow-keys-pre-created", RELEASE_TYPE, airflow_release(with_values(data__metadataSecretName=None))),
    ("airflow-keys-pre-created", RELEASE_TYPE,
     airflow_release(with_values(airflowVersion="3.0.2", images__airflow__tag="3.0.2"), version="1.19.0")),
    ("no-plaintext-secrets-in-values", RELEASE_TYPE, airflow_release(with_values(webserverSecretKey="abc123"))),
    ("no-plaintext-secrets-in-values", RELEASE_TYPE,
     airflow_release(with_values(config={"database": {"sql_alchemy_conn": "postgresql://u:pw@db/airflow"}}))),
    ("no-plaintext-secrets-in-values", RELEASE_TYPE,
     airflow_release(with_values(dags={"gitSync": {"sshKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx"}}))),
    ("no-plaintext-secrets-in-values", RELEASE_TYPE,
     airflow_release(with_values(data__metadataConnection={"user": "airflow", "pass": "hunter2"}))),
    ("no-plaintext-secrets-in-values", RELEASE_TYPE,
     airflow_release(with_values(env=[{"name": "AIRFLOW__WEBSERVER__SECRET_KEY", "value": "s3cr3t"}]))),
    ("helm-release-atomic", RELEASE_TYPE, airflow_release(GOOD_AIRFLOW_VALUES, atomic=False)),
    ("helm-release-atomic", RELEASE_TYPE, airflow_release(GOOD_AIRFLOW_VALUES, timeout=300)),
    ("airflow-hooks-off-with-wait", RELEASE_TYPE, airflow_release(with_values(migrateDatabaseJob=None))),
    ("airflow-hooks-off-with-wait", RELEASE_TYPE,
     airflow_release(with_values(createUserJob__useHelmHooks=True))),
    ("postgres-prod-resilience", "azure-native:dbforpostgresql:Server",
     {"backup": {"backupRetentionDays": 7}, "highAvailability": {"mode": "SameZone"},
      "network": {"publicNetworkAccess": "Disabled", "delegatedSubnetResourceId": "/sub/x"}}),
    ("postgres-prod-resilience", "azure-native:dbforpostgresql:Server",
     {"backup": {"backupRetentionDays": 7}, "highAvailability": {"mode": "ZoneRedundant"},
      "network": {"publicNetworkAccess": "Enabled"}}),
    ("acr-admin-user-disabled", "azure-native:containerregistry:Registry", {"adminUserEnabled": True}),
    ("acr-no-anonymous-pull", "azure-native:containerregistry:Registry", {"anonymousPullEnabled": True}),
    ("vault-role-least-privilege", VAULT_ROLE_TYPE, {**GOOD_VAULT_ROLE, "boundServiceAccountNames": ["*"]}),
    ("vault-role-least-privilege", VAULT_ROLE_TYPE, {**GOOD_VAULT_ROLE, "boundServiceAccountNamespaces": ["air*"]}),
    ("vault-role-least-privilege", VAULT_ROLE_TYPE, {**GOOD_VAULT_ROLE, "tokenTtl": 86400}),
    ("vault-role-least-privilege", VAULT_ROLE_TYPE, {**GOOD_VAULT_ROLE, "tokenTtl": 0}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/data/connections/*" {\n capabilities = ["read", "update"]\n}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/*" {\n  capabilities = ["read"]\n}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "etl", "policy": 'path "secret/data/airflow/+/x" {\n  capabilities = ["read"]\n}'}),
    # Each of these got past the old regular expressions or reads differently in Vault than in python-hcl2.
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/data/connections/*" {\n  allowed_parameters = {\n'
                                        '    "*" = []\n  }\n'
                                        '  capabilities = ["create", "update", "delete", "sudo"]\n}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": '{"path": {"airflow/data/connections/*": {"capabilities": ["sudo"]}}}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": '{"path": [{"airflow/data/variables/*": [{"capabilities": ["delete"]}]}]}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/data/connections/*" {\n  policy = "write"\n}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/data/connections/*" {\n  capabilities = ["sudo"]\n'
                                        '  capabilities = ["read"]\n}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": '{"path": {"airflow/data/connections/*": {"capabilities": ["sudo"], '
                                        '"capabilities": ["read"]}}}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/data/connections/*" "x" {\n  capabilities = ["sudo"]\n}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/data/connections/*" {\n  capabilities = local.caps\n}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/data/connections/*" {\n  capabilities = ["read"]\n'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": '{"path": {"airflow/data/connections/*": {"capabilities": ["read"]}}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "/airflow/data/*" {\n  capabilities = ["read"]\n}'}),
    ("ingress-tls-required", INGRESS_TYPE, {"spec": {"rules": [{"host": "airflow.example.com"}]}}),
    ("ingress-tls-required", INGRESS_TYPE,
     {"spec": {"tls": [{"hosts": ["a.example.com"]}], "rules": [{"host": "b.example.com"}]}}),
    ("ingress-tls-required", RELEASE_TYPE, airflow_release(with_values(ingress={"web": {"enabled": True}}))),
    ("webserver-not-public", RELEASE_TYPE,
     airflow_release(with_values(webserver={"service": {"type": "LoadBalancer"}}))),
    ("webserver-not-public", "kubernetes:core/v1:Service",
     {"metadata": {"name": "airflow-webserver"}, "spec": {"type": "NodePort"}}),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     airflow_release(with_values(webserver={"webserverConfig": "OAUTH_PROVIDERS = [{'client_secret': 'abc'}]"}))),
    ("oidc-no-inline-secret", "kubernetes:core/v1:ConfigMap",
     {"data": {"webserver_config.py": 'CLIENT_SECRET = "abc"'}}),
    # The subscript form got past the old regular expressions; so did everything below it.
    ("oidc-no-inline-secret", RELEASE_TYPE,
     webserver_config("OAUTH_PROVIDERS[0]['remote_app']['client_secret'] = 'hunter2'")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("SECRET = 'hunter2'\nREMOTE = {'client_secret': SECRET}")),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     webserver_config("PART = 'hunter'\nSECRET = PART + '2'\nREMOTE = {'client_secret': SECRET}")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("REMOTE = dict(client_secret='hunter2')")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("oauth.register('azure', client_secret='hunter2')")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("settings.client_secret = 'hunter2'")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("setattr(settings, 'client_secret', 'hunter2')")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("REMOTE = {'client_secret': f'hunter{2}'}")),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     webserver_config("import os\nREMOTE = {'client_secret': f\"{os.environ['S']}\"}")),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     webserver_config("import os\nREMOTE = {'client_secret': os.environ.get('S', 'hunter2')}")),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     webserver_config("import os\nREMOTE = {'client_secret': os.getenv('S') or 'hunter2'}")),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     webserver_config("import base64\nREMOTE = {'client_secret': base64.b64decode('aHVudGVyMg==').decode()}")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("client_id, client_secret = 'id', 'hunter2'")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("def remote(client_secret='hunter2'):\n    pass")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("OIDC_CLIENT_SECRET = 'hunter2'")),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     airflow_release(with_values(apiServer={"apiServerConfig": "REMOTE = {'client_secret': 'hunter2'}"}))),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("client_secret: hunter2\n  tenant: x")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("REMOTE = {'client_secret': {{ .Values.secret }}}")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config("REMOTE = {'client_secret': '{{ .Values.secret }}'}")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config('REMOTE = {{ "{" }}\'client_secret\': \'x\'}')),
    ("oidc-no-inline-secret", "kubernetes:core/v1:ConfigMap",
     {"data": {"settings.yaml": "oidc:\n  client_secret: hunter2\n"}}),
    ("task-pods-have-limits", RELEASE_TYPE, airflow_release(with_values(workers=None))),
    ("task-pods-have-limits", RELEASE_TYPE,
     airflow_release(with_values(workers={"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}))),
    ("remote-logging-required", RELEASE_TYPE, airflow_release(with_values(config={}))),
    ("pods-restricted", RELEASE_TYPE, airflow_release(with_values(securityContexts=None))),
    ("pods-restricted", RELEASE_TYPE, airflow_release(with_values(statsd__securityContexts__container={
        "privileged": True}))),
    ("pods-restricted", RELEASE_TYPE, airflow_release(with_values(dags={"gitSync": {
        "enabled": True, "securityContexts": {"container": {**RESTRICTED_CONTAINER, "runAsUser": 0}}}}))),
    ("pods-restricted", RELEASE_TYPE, airflow_release(with_values(scheduler__extraVolumes=[
        {"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]))),
    # Chart 1.19 reads the task pods' context from workers.kubernetes first.
    ("pods-restricted", RELEASE_TYPE, airflow_release(with_values(
        airflowVersion="3.3.2", apiServer={"resources": SIZE}, dagProcessor={"resources": SIZE},
        workers__kubernetes__securityContexts__container={"capabilities": {"drop": ["ALL"]}}), version="1.19.0")),
    ("control-plane-resources", RELEASE_TYPE, airflow_release(with_values(statsd__resources=None))),
    ("control-plane-resources", RELEASE_TYPE, airflow_release(with_values(
        scheduler__logGroomerSidecar__resources={"requests": {"cpu": "10m", "memory": "32Mi"}}))),
    # On Airflow 3 the dag-processor runs whether or not the values mention it.
    ("control-plane-resources", RELEASE_TYPE, airflow_release(with_values(
        airflowVersion="3.3.2", apiServer={"resources": SIZE}), version="1.19.0")),
    ("aks-version-supported", CLUSTER_TYPE, {"kubernetesVersion": "1.32"}),
    ("sso-secret-expiry", SSO_PASSWORD_TYPE, {"endDate": "2026-01-31T00:00:00Z"}),
    ("sso-secret-expiry", SSO_PASSWORD_TYPE, {"displayName": "no end date"}),
    ("aks-spot-pool-scales-to-zero", CLUSTER_TYPE, {"agentPoolProfiles": [
        {"name": "tasks", "scaleSetPriority": "Spot", "enableAutoScaling": True, "minCount": 2}]}),
    ("aks-spot-pool-scales-to-zero", CLUSTER_TYPE, {"agentPoolProfiles": [
        {"name": "tasks", "scaleSetPriority": "Spot", "count": 3}]}),
]


@pytest.mark.parametrize(("rule", "resource_type", "inputs"), FAILING_CASES,
                         ids=[f"{case[0]}-{index}" for index, case in enumerate(FAILING_CASES)])
def test_rule_reports_its_violation(rule: str, resource_type: str, inputs: dict[str, Any]) -> None:
    violations = analyze(single(resource_type, inputs))
    assert found(violations, rule), violations
    expected = {r.level.value for r in RULES if r.name == rule}
    assert {violation.level for violation in found(violations, rule)} == expected


PASSING_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("airflow-no-bundled-postgres", "kubernetes:helm.sh/v3:Release",
     {"chart": "ingress-nginx", "version": "4.11.3", "repositoryOpts": {"repo": "https://kubernetes.github.io"},
      "atomic": True, "timeout": 600, "values": {}}),
    ("helm-chart-version-pinned", "kubernetes:helm.sh/v4:Chart",
     {"chart": "oci://registry-1.docker.io/bitnamicharts/redis", "version": "20.2.1"}),
    ("image-tags-pinned", "kubernetes:apps/v1:Deployment",
     {"spec": {"template": {"spec": {"containers": [{"image": f"nginx@{DIGEST}"},
                                                    {"image": "registry.k8s.io/git-sync/git-sync:v4.3.0"}]}}}}),
    ("image-registry-allowed", "kubernetes:apps/v1:Deployment",
     {"spec": {"template": {"spec": {"containers": [{"image": "quay.io/prometheus/statsd-exporter:v0.28.0"}]}}}}),
    ("airflow-keys-pre-created", RELEASE_TYPE,
     airflow_release(with_values(airflowVersion="3.0.2", images__airflow__tag="3.0.2",
                                 apiSecretKeySecretName="api", jwtSecretName="jwt"), version="1.19.0")),
    ("no-plaintext-secrets-in-values", RELEASE_TYPE,
     airflow_release(with_values(config={"core": {"fernet_key_cmd": "cat /run/fernet"},
                                         "database": {"sql_alchemy_conn_secret": "airflow-db"}},
                                 env=[{"name": "AIRFLOW__CORE__LOAD_EXAMPLES", "value": "False"}]))),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/data/connections/*" {\n  capabilities = ["read"]\n}\n'
                                        'path "airflow/data/connections/admin" {\n  capabilities = ["deny"]\n}'}),
    ("no-plaintext-secrets-in-values", RELEASE_TYPE,
     airflow_release(with_values(secret=[{"envName": "CONN", "secretName": "conn", "secretKey": "uri"}],
                                 dags={"gitSync": {"sshKeySecret": "git-key", "credentialsSecret": "cred"}}))),
    ("airflow-hooks-off-with-wait", RELEASE_TYPE,
     airflow_release(with_values(migrateDatabaseJob=None, createUserJob=None), atomic=False, skipAwait=True)),
    ("postgres-prod-resilience", "azure-native:dbforpostgresql:Server",
     {"backup": {"backupRetentionDays": 7}, "highAvailability": {"mode": "ZoneRedundant"},
      "network": {"publicNetworkAccess": "Disabled", "delegatedSubnetResourceId": "/sub/x"}}),
    ("acr-admin-user-disabled", "azure-native:containerregistry:Registry", {"adminUserEnabled": False}),
    ("acr-no-anonymous-pull", "azure-native:containerregistry:Registry", {"anonymousPullEnabled": False}),
    ("vault-role-least-privilege", VAULT_ROLE_TYPE, GOOD_VAULT_ROLE),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": 'path "airflow/data/connections/*" {\n  capabilities = ["read", "list"]\n}\n'
                                        'path "airflow/data/variables/*" {\n  capabilities = ["read"]\n}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "ci-deployer", "policy": 'path "secret/data/ci/*" {\n  capabilities = ["create", "update"]\n}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": '{"path": {"airflow/data/connections/*": {"capabilities": ["read"]},'
                                        ' "airflow/data/variables/*": {"capabilities": ["read", "list"]}}}'}),
    ("vault-policy-read-only", VAULT_POLICY_TYPE,
     {"name": "airflow-read", "policy": '# Airflow reads connections.\npath "airflow/data/connections/*" {\n'
                                        '  comment = "read only"  // why\n  capabilities = ["read"]\n}'}),
    ("ingress-tls-required", INGRESS_TYPE,
     {"spec": {"tls": [{"hosts": ["a.example.com"], "secretName": "t"}], "rules": [{"host": "a.example.com"}]}}),
    ("webserver-not-public", "kubernetes:core/v1:Service",
     {"metadata": {"name": "grafana"}, "spec": {"type": "LoadBalancer"}}),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     airflow_release(with_values(webserver={"webserverConfig": "X = {'client_secret': os.environ['S']}"}))),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     webserver_config("import os\nREMOTE = dict(client_secret=os.environ.get('S'), client_id='airflow')")),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     webserver_config("from os import getenv\nSECRET = getenv('S', default=None)\nsettings.client_secret = SECRET")),
    ("oidc-no-inline-secret", RELEASE_TYPE,
     webserver_config("import os\nOIDC = {'client_id': 'airflow', 'client_secret': os.environ['S'].strip()}\n"
                      "REMOTE = {'client_secret': OIDC['client_secret']}")),
    ("oidc-no-inline-secret", RELEASE_TYPE, webserver_config(
        "import os\nCLIENT_SECRET_ENV = 'AIRFLOW_SSO_CLIENT_SECRET'\nclient_secret = os.environ[CLIENT_SECRET_ENV]")),
    ("oidc-no-inline-secret", "kubernetes:core/v1:ConfigMap",
     {"data": {"airflow.cfg": "[webserver]\nbase_url = https://airflow.example.com\n"}}),
    ("image-tags-pinned", RELEASE_TYPE, airflow_release(with_values(
        images__airflow__digest=DIGEST, images__airflow__tag="latest",
        images__pod_template={"repository": "apache/airflow", "tag": f"2.10.3-python3.11@{DIGEST}"}))),
    ("pods-restricted", RELEASE_TYPE, airflow_release(with_values(
        dags={"gitSync": {"enabled": True, "securityContexts": {"container": {**RESTRICTED_CONTAINER,
                                                                               "runAsUser": 65533}}}},
        volumes=[{"name": "tmp", "emptyDir": {}}],
        scheduler__extraVolumes=[{"name": "c", "configMap": {"name": "c"}}]))),
    ("pods-restricted", RELEASE_TYPE, airflow_release(with_values(
        airflowVersion="3.3.2", webserver=None, apiServer={"resources": SIZE}), version="1.19.0")),
    ("control-plane-resources", RELEASE_TYPE, airflow_release(with_values(
        statsd={"enabled": False}, scheduler__logGroomerSidecar={"enabled": False}))),
    ("control-plane-resources", RELEASE_TYPE, airflow_release(with_values(
        airflowVersion="3.3.2", webserver=None, apiServer={"resources": SIZE}, dagProcessor={
            "resources": SIZE, "logGroomerSidecar": {"resources": SIZE}}), version="1.19.0")),
    ("remote-logging-required", RELEASE_TYPE,
     airflow_release(with_values(config={"kubernetes_executor": {"delete_worker_pods": "False"}}))),
    ("remote-logging-required", RELEASE_TYPE,
     airflow_release(with_values(config={}, logs={"persistence": {"enabled": True}}))),
    ("aks-spot-pool-scales-to-zero", CLUSTER_TYPE, {"agentPoolProfiles": [
        {"name": "system", "mode": "System", "enableAutoScaling": True, "minCount": 2},
        {"name": "tasks", "scaleSetPriority": "Spot", "enableAutoScaling": True, "minCount": 0}]}),
]


@pytest.mark.parametrize(("rule", "resource_type", "inputs"), PASSING_CASES,
                         ids=[case[0] for case in PASSING_CASES])
def test_rule_passes_a_compliant_resource(rule: str, resource_type: str, inputs: dict[str, Any]) -> None:
    violations = analyze(single(resource_type, inputs), stack_pack_config("prod"))
    assert not found(violations, rule), violations


def test_every_rule_has_a_failing_case() -> None:
    assert {rule.name for rule in RULES} - {case[0] for case in FAILING_CASES} == {
        "image-registry-allowed", "postgres-tls-required", "namespace-default-deny",  # stack rules: below
        "aks-version-expiring", "sso-secret-expiring"}  # depend on the date: their mutations below


POSTGRES_SERVER_PROPS = {"name": "pg1", "backup": {"backupRetentionDays": 14},
                         "highAvailability": {"mode": "ZoneRedundant"},
                         "network": {"publicNetworkAccess": "Disabled", "delegatedSubnetResourceId": "/sub/x"}}


def stack_of(*resources: tuple[str, str, dict[str, Any], list[str]]) -> ProgramRun:
    """A run of several resources: (type, name, props, dependency names)."""
    urn = "urn:pulumi:prod::airflow-on-k8s::{}::{}".format
    recorded = [RecordedResource(type=kind, name=name, urn=urn(kind, name), parent="", custom=True,
                                 inputs=props, outputs=props, dependencies=[urn(k, n) for k, n, _, _ in resources
                                                                            if n in dependencies],
                                 property_dependencies={}, protect=False, provider="", options={})
                for kind, name, props, dependencies in resources]
    return ProgramRun(stack="prod", resources=recorded, outputs={}, invokes=[], state={})


TLS_ON = ("azure-native:dbforpostgresql:Configuration", "tls",
          {"configurationName": "require_secure_transport", "value": "on", "serverName": "pg1"}, ["pg"])


def test_tls_rule_passes_an_enforced_server_and_secure_uris() -> None:
    run = stack_of(("azure-native:dbforpostgresql:Server", "pg", POSTGRES_SERVER_PROPS, []), TLS_ON,
                   ("kubernetes:core/v1:Secret", "conn",
                    {"stringData": {"connection": "postgresql://u:p@h/airflow?sslmode=verify-full"}}, []))
    assert not found(analyze(run), "postgres-tls-required")


@pytest.mark.parametrize("bad", [
    ("azure-native:dbforpostgresql:Configuration", "tls",
     {"configurationName": "require_secure_transport", "value": "OFF", "serverName": "pg1"}, ["pg"]),
    ("kubernetes:core/v1:Secret", "conn", {"data": {"connection": "cG9zdGdyZXNxbDovL3U6cEBoL2FpcmZsb3c="}}, []),
    (RELEASE_TYPE, "release", airflow_release(with_values(data={"metadataConnection": {"host": "h"}})), []),
], ids=["transport-off", "uri-without-sslmode-in-data", "chart-connection-sslmode-default"])
def test_tls_rule_reports(bad: tuple[str, str, dict[str, Any], list[str]]) -> None:
    run = stack_of(("azure-native:dbforpostgresql:Server", "pg", POSTGRES_SERVER_PROPS, []), TLS_ON, bad)
    caught = found(analyze(run), "postgres-tls-required")
    assert [violation.urn for violation in caught] == [run.resources[2].urn]


def test_messages_name_the_value_to_change() -> None:
    violations = analyze(single(RELEASE_TYPE, airflow_release(with_values(postgresql=None, executor=None))))
    messages = {violation.policy: violation.message for violation in violations}
    assert "values.postgresql.enabled: false" in messages["airflow-no-bundled-postgres"]
    assert 'values.executor: "KubernetesExecutor"' in messages["airflow-kubernetes-executor"]


@pytest.mark.parametrize("text", ['path "airflow/data/connections/*" {', '{"path": ',
                                  'path "airflow/*" { policy = "all" }'],
                         ids=["hcl-unclosed", "json-truncated", "unknown-legacy-policy"])
def test_unreadable_policy_is_reported_not_passed(text: str) -> None:
    violations = analyze(single(VAULT_POLICY_TYPE, {"name": "airflow-read", "policy": text}))
    caught = found(violations, "vault-policy-read-only")
    assert ["\nthe policy cannot be checked: " in violation.message for violation in caught] == [True]


def test_registry_allow_list_comes_from_pack_config() -> None:
    deployment = {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/acme/tool:1.2.3"}]}}}}
    assert not found(analyze(single("kubernetes:apps/v1:Deployment", deployment)), "image-registry-allowed")
    violations = analyze(single("kubernetes:apps/v1:Deployment", deployment), stack_pack_config("prod"))
    assert [v.level for v in found(violations, "image-registry-allowed")] == ["advisory"]
    strict = {"image-registry-allowed": {"enforcementLevel": "mandatory", "allowedRegistries": ["myacr.azurecr.io"]}}
    assert [v.level for v in found(analyze(single("kubernetes:apps/v1:Deployment", deployment), strict),
                                   "image-registry-allowed")] == ["mandatory"]


def test_mutable_tags_extend_through_config() -> None:
    deployment = {"spec": {"template": {"spec": {"containers": [{"image": "acme/tool:1.2.3-rc"}]}}}}
    assert not found(analyze(single("kubernetes:apps/v1:Deployment", deployment)), "image-tags-pinned")
    config = {"image-tags-pinned": {"mutableTags": ["1.2.3-rc"]}}
    assert found(analyze(single("kubernetes:apps/v1:Deployment", deployment), config), "image-tags-pinned")


def test_pack_config_the_cli_would_refuse_is_refused() -> None:
    with pytest.raises(PolicyConfigError, match="unknown policies"):
        analyze(single(RELEASE_TYPE, airflow_release(GOOD_AIRFLOW_VALUES)), {"no-such-rule": "mandatory"})
    with pytest.raises(PolicyConfigError, match="allowedRegistries"):
        analyze(single(RELEASE_TYPE, airflow_release(GOOD_AIRFLOW_VALUES)),
                {"image-registry-allowed": {"allowedRegistries": "docker.io"}})


def test_disabled_rule_reports_nothing() -> None:
    run = single(RELEASE_TYPE, airflow_release(with_values(executor="CeleryExecutor")))
    assert not found(analyze(run, {"airflow-kubernetes-executor": "disabled"}), "airflow-kubernetes-executor")


# --- mutations of the real prod stack: each bad change is caught by its rule ---------------------

Mutation = Callable[[dict[str, Any]], None]


def _set_values(path: str, value: Any) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = props["values"]
        for part in parents:
            target = target[part]
        target[last] = value
    return mutate


def _delete_value(key: str) -> Mutation:
    return lambda props: props["values"].pop(key)


def _set_prop(key: str, value: Any) -> Mutation:
    return lambda props: props.__setitem__(key, value)


def _edit_prop(key: str, edit: Callable[[Any], Any]) -> Mutation:
    return lambda props: props.__setitem__(key, edit(props[key]))


def _edit_values(path: str, edit: Callable[[Any], Any]) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = props["values"]
        for part in parents:
            target = target[part]
        target[last] = edit(target[last])
    return mutate


def _replace(old: str, new: str) -> Callable[[str], str]:
    """An edit of the real text; it fails loudly if the program stops writing `old`."""
    def edit(text: str) -> str:
        assert old in text, f"{old!r} is not in the prod text any more"
        return text.replace(old, new, 1)
    return edit


SERVER_TYPE = "azure-native:dbforpostgresql:Server"
REGISTRY_TYPE = "azure-native:containerregistry:Registry"
TLS_CONFIGURATION = ("azure-native:dbforpostgresql:Configuration", "metadata-db-require-secure-transport")
METADATA_SECRET = ("kubernetes:core/v1:Secret", "airflow-metadata-connection")
DEFAULT_DENY = ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "network-airflow-default-deny")
RELEASE = (RELEASE_TYPE, "airflow-release")
SPOT_POOL = ("azure-native:containerservice:AgentPool", "aks-tasks")
SSO_PASSWORD = (SSO_PASSWORD_TYPE, "sso-secret-2027-06-30")
Where = tuple[str, str | None]
READ = 'capabilities = ["read"]'
ENV_SECRET = "os.environ.get('AIRFLOW_SSO_CLIENT_SECRET')"


@dataclass(frozen=True)
class ProdMutation:
    rule: str
    where: Where  # the resource of the real prod plan that is changed
    change: Mutation  # the property the rule guards, made bad
    level: str = "mandatory"  # what the prod pack config makes of the rule
    reported_on: Where | None = None  # the resource the violation names, when not `where` (stack rules)
    pack_config: Mapping[str, Any] = field(default_factory=dict)  # merged over the prod pack config


# One bad change to the real prod stack per line; every rule of the pack has at least one.
MUTATIONS: list[ProdMutation] = [
    ProdMutation("airflow-no-bundled-postgres", RELEASE, _set_values("postgresql.enabled", True)),
    ProdMutation("helm-chart-version-pinned", RELEASE, _set_prop("version", "~1.16")),
    # The digest pins the image whatever the tag says: a moving tag counts only without it.
    ProdMutation("image-tags-pinned", RELEASE, _edit_values(
        "images.airflow", lambda image: {**image, "tag": "latest", "digest": None})),
    ProdMutation("image-tags-pinned", RELEASE, _set_values("images.airflow.digest", "sha256:1234")),
    ProdMutation("image-tags-pinned", RELEASE, _set_values("images.pod_template.tag", "latest")),
    ProdMutation("image-registry-allowed", RELEASE, _set_values("images.airflow.repository", "ghcr.io/acme/airflow"),
                 level="advisory"),
    ProdMutation("airflow-chart-compatible", RELEASE, _set_values("airflowVersion", "3.3.2")),
    ProdMutation("airflow-kubernetes-executor", RELEASE, _set_values("executor", "CeleryExecutor")),
    ProdMutation("airflow-keys-pre-created", RELEASE, _delete_value("fernetKeySecretName")),
    ProdMutation("no-plaintext-secrets-in-values", RELEASE,
                 _set_values("data", {"metadataConnection": {"user": "a", "pass": "pw"}})),
    ProdMutation("helm-release-atomic", RELEASE, _set_prop("atomic", False)),
    ProdMutation("airflow-hooks-off-with-wait", RELEASE, _set_values("migrateDatabaseJob.useHelmHooks", True)),
    ProdMutation("postgres-tls-required", TLS_CONFIGURATION, _set_prop("value", "off")),
    ProdMutation("postgres-tls-required", METADATA_SECRET,
                 _set_prop("stringData", {"connection": "postgresql://u:p@db.example.com:5432/airflow"})),
    ProdMutation("postgres-prod-resilience", (SERVER_TYPE, None), _set_prop("backup", {"backupRetentionDays": 3})),
    ProdMutation("postgres-prod-resilience", (SERVER_TYPE, None), _set_prop("highAvailability", {"mode": "Disabled"})),
    ProdMutation("postgres-prod-resilience", (SERVER_TYPE, None),
                 _set_prop("network", {"publicNetworkAccess": "Enabled"})),
    ProdMutation("acr-admin-user-disabled", (REGISTRY_TYPE, None), _set_prop("adminUserEnabled", True)),
    ProdMutation("acr-no-anonymous-pull", (REGISTRY_TYPE, None), _set_prop("anonymousPullEnabled", True)),
    ProdMutation("vault-role-least-privilege", (VAULT_ROLE_TYPE, None), _set_prop("boundServiceAccountNames", ["*"])),
    ProdMutation("vault-role-least-privilege", (VAULT_ROLE_TYPE, None), _set_prop("tokenTtl", 7200)),
    ProdMutation("vault-policy-read-only", (VAULT_POLICY_TYPE, None),
                 _edit_prop("policy", _replace(READ, 'capabilities = ["read", "delete"]'))),
    # The two evasions of issue 17: rights granted after allowed_parameters, and Vault's JSON form.
    ProdMutation("vault-policy-read-only", (VAULT_POLICY_TYPE, None), _edit_prop("policy", _replace(
        READ, 'allowed_parameters = {\n    "*" = []\n  }\n  capabilities = ["create", "update", "delete", "sudo"]'))),
    ProdMutation("vault-policy-read-only", (VAULT_POLICY_TYPE, None),
                 _set_prop("policy", '{"path": {"airflow-prod/*": {"capabilities": ["sudo", "delete"]}}}')),
    ProdMutation("vault-policy-read-only", (VAULT_POLICY_TYPE, None),
                 _edit_prop("policy", lambda text: text.rstrip().removesuffix("}"))),
    ProdMutation("ingress-tls-required", (INGRESS_TYPE, None), lambda props: props["spec"].pop("tls")),
    ProdMutation("webserver-not-public", RELEASE, _set_values("webserver.service.type", "LoadBalancer")),
    ProdMutation("namespace-default-deny", DEFAULT_DENY, _set_prop(
        "spec", {"podSelector": {"matchLabels": {"component": "worker"}}, "policyTypes": ["Ingress", "Egress"]}),
        reported_on=RELEASE),
    ProdMutation("namespace-default-deny", DEFAULT_DENY,
                 _set_prop("spec", {"podSelector": {}, "policyTypes": ["Ingress"]}), reported_on=RELEASE),
    ProdMutation("namespace-default-deny", DEFAULT_DENY,
                 _set_prop("metadata", {"name": "airflow-default-deny", "namespace": "other"}), reported_on=RELEASE),
    ProdMutation("oidc-no-inline-secret", RELEASE,
                 _edit_values("webserver.webserverConfig", _replace(ENV_SECRET, "'hunter2-client'"))),
    # The third evasion of issue 17: the subscript form, appended to the real config.
    ProdMutation("oidc-no-inline-secret", RELEASE, _edit_values(
        "webserver.webserverConfig", lambda text: text + "OAUTH_PROVIDERS[0]['remote_app']['client_secret'] = 'x'\n")),
    ProdMutation("oidc-no-inline-secret", RELEASE,
                 _edit_values("webserver.webserverConfig", _replace(ENV_SECRET, "f'hunter2-{AUTH_TYPE}'"))),
    ProdMutation("oidc-no-inline-secret", RELEASE,
                 _edit_values("webserver.webserverConfig", _replace("OAUTH_PROVIDERS = [", "OAUTH_PROVIDERS = "))),
    ProdMutation("task-pods-have-limits", RELEASE, _set_values("workers.resources", {"requests": {"cpu": "1"}})),
    ProdMutation("remote-logging-required", RELEASE, _set_values("config.logging.remote_logging", "False")),
    ProdMutation("pods-restricted", RELEASE,
                 _set_values("statsd.securityContexts.container.allowPrivilegeEscalation", True)),
    ProdMutation("pods-restricted", RELEASE, _set_values("dags.gitSync.securityContexts.container.runAsUser", 0)),
    ProdMutation("pods-restricted", RELEASE,
                 _set_values("workers.securityContexts.container.capabilities", {"add": ["SYS_ADMIN"]})),
    ProdMutation("pods-restricted", RELEASE, _edit_values(
        "securityContexts", lambda contexts: {"pod": {"runAsUser": 50000, "fsGroup": 0}})),
    ProdMutation("control-plane-resources", RELEASE, _set_values("statsd.resources", {})),
    ProdMutation("control-plane-resources", RELEASE, _set_values("dags.gitSync.resources.limits", {"cpu": "1"})),
    ProdMutation("control-plane-resources", RELEASE, _set_values("scheduler.logGroomerSidecar.resources", {})),
    ProdMutation("aks-spot-pool-scales-to-zero", SPOT_POOL, _set_prop("minCount", 2), level="advisory"),
    ProdMutation("aks-spot-pool-scales-to-zero", SPOT_POOL, _set_prop("enableAutoScaling", False), level="advisory"),
    ProdMutation("aks-version-supported", (CLUSTER_TYPE, None), _set_prop("kubernetesVersion", "1.32")),
    ProdMutation("aks-version-supported", SPOT_POOL, _set_prop("orchestratorVersion", "1.33")),
    # Judged on a fixed day, so the case does not depend on when the tests run.
    ProdMutation("aks-version-expiring", (CLUSTER_TYPE, None), _set_prop("kubernetesVersion", "1.35"),
                 level="advisory", pack_config={"aks-version-expiring": {"asOf": "2027-01-15"}}),
    ProdMutation("sso-secret-expiry", SSO_PASSWORD, _set_prop("endDate", "2026-11-01T00:00:00Z")),
    # Judged on a fixed day, so the case does not depend on when the tests run.
    ProdMutation("sso-secret-expiring", SSO_PASSWORD, _set_prop("endDate", "2027-01-10T00:00:00Z"),
                 level="advisory", pack_config={"sso-secret-expiring": {"asOf": "2026-12-20"}}),
]


def target(run: ProgramRun, where: Where) -> RecordedResource:
    return run.one(where[0], where[1])


def mutated(run: ProgramRun, mutation: Mutation, where: Where = RELEASE) -> ProgramRun:
    """The run with one resource changed, in its inputs and in the state the engine would keep."""
    copied = copy.deepcopy(run)
    resource = target(copied, where)
    mutation(resource.inputs)
    mutation(resource.outputs)
    return copied


@pytest.fixture(scope="module")
def prod_violations(prod_run: ProgramRun) -> list[Violation]:
    return analyze(prod_run, stack_pack_config("prod"))


@pytest.mark.parametrize("case", MUTATIONS, ids=[f"{case.rule}-{index}" for index, case in enumerate(MUTATIONS)])
def test_prod_mutation_is_caught_by_its_rule(case: ProdMutation, prod_run: ProgramRun,
                                             prod_violations: list[Violation]) -> None:
    assert not found(prod_violations, case.rule)
    caught = found(analyze(mutated(prod_run, case.change, case.where), {**stack_pack_config("prod"),
                                                                          **case.pack_config}), case.rule)
    assert caught
    assert {(violation.level, violation.urn) for violation in caught} == {
        (case.level, target(prod_run, case.reported_on or case.where).urn)}


def test_every_rule_has_a_mutation() -> None:
    # A rule added to the pack without a mutation of the real prod stack fails here.
    assert {case.rule for case in MUTATIONS} == {rule.name for rule in RULES}


def test_namespace_without_network_policies_is_caught() -> None:
    run = stack_of((RELEASE_TYPE, "release", airflow_release(GOOD_AIRFLOW_VALUES, namespace="airflow"), []))
    assert found(analyze(run), "namespace-default-deny")
    denied = stack_of((RELEASE_TYPE, "release", airflow_release(GOOD_AIRFLOW_VALUES, namespace="airflow"), []),
                      ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "deny",
                       {"metadata": {"namespace": "airflow"},
                        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}, []))
    assert not found(analyze(denied), "namespace-default-deny")


def test_resilience_is_advisory_in_dev(dev_run: ProgramRun) -> None:
    levels = {violation.level for violation in found(analyze(dev_run, stack_pack_config("dev")),
                                                     "postgres-prod-resilience")}
    assert levels == {"advisory"}


def test_server_without_tls_configuration_is_caught(prod_run: ProgramRun) -> None:
    copied = copy.deepcopy(prod_run)
    copied.resources = [r for r in copied.resources if r.type != TLS_CONFIGURATION[0]]
    caught = found(analyze(copied, stack_pack_config("prod")), "postgres-tls-required")
    assert [violation.urn for violation in caught] == [prod_run.one(SERVER_TYPE).urn]


def test_atomic_off_is_advisory_in_dev(dev_run: ProgramRun) -> None:
    violations = analyze(mutated(dev_run, _set_prop("atomic", False)), stack_pack_config("dev"))
    assert {violation.level for violation in found(violations, "helm-release-atomic")} == {"advisory"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_stacks_have_no_mandatory_violation(stack: str) -> None:
    violations = analyze(run_stack(stack), stack_pack_config(stack))
    assert [violation for violation in violations if violation.level == "mandatory"] == []


# --- the pack as the CLI runs it ------------------------------------------------------------------

def test_pack_serves_every_rule_when_started_like_the_cli() -> None:
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(POLICY_PACK_DIR)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            info = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert info.name == "airflow-on-k8s"
    served = {policy.name: policy for policy in info.policies}
    assert set(served) == {rule.name for rule in RULES}
    for rule in RULES:
        assert served[rule.name].description == rule.description
        assert served[rule.name].remediation_steps == rule.remediation
    assert served["helm-release-atomic"].enforcementLevel == analyzer_pb2.MANDATORY
    assert served["image-registry-allowed"].enforcementLevel == analyzer_pb2.ADVISORY


def test_readme_lists_every_rule_with_its_level() -> None:
    readme = (POLICY_PACK_DIR.parent / "docs" / "policies.md").read_text()
    for rule in RULES:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{rule.name}` |")), None)
        assert row is not None, rule.name
        assert f"| {rule.level.value}" in row, rule.name
