"""The rules. Each is a `Rule`: name, description, remediation, level, and a check that yields
one message per violation. Adding a rule is adding one `Rule(...)` to `RULES`.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyConfigSchema

from .aks_versions import DEFAULT_WARN_DAYS, expiring_findings, unsupported_findings
from .azure import StackResource, registry_flag_findings, resilience_findings, tls_findings
from .chart_lines import chart_compatibility_findings
from .compute import remote_logging_findings, spot_scale_to_zero_findings, task_limits_findings
from .pods import control_plane_resources_findings, pods_restricted_findings
from .resources import (
    EXACT_VERSION,
    HELM_RELEASE_V3,
    ImageReference,
    airflow_helm,
    chart_airflow_major,
    dig,
    helm_resource,
    helm_value_images,
    image_problem,
    plaintext_secrets,
    registry_of,
    workload_images,
)
from .sso_secrets import DEFAULT_WARN_DAYS as SSO_WARN_DAYS
from .sso_secrets import expired_findings as sso_secret_expired
from .sso_secrets import expiring_findings as sso_secret_expiring
from .vault import policy_findings, role_findings
from .web import default_deny_findings, ingress_tls_findings, inline_secret_findings, webserver_public_findings

Check = Callable[[str, Mapping[str, Any], Mapping[str, Any]], Iterator[str]]
# (every resource of the stack, policy config) -> (urn, message) per violation
StackCheck = Callable[[Sequence[StackResource], Mapping[str, Any]], Iterator[tuple[str, str]]]
MIN_RELEASE_TIMEOUT_SECONDS = 600
_AS_OF_SCHEMA: dict[str, dict[str, Any]] = {"asOf": {
    "type": "string", "default": "", "description": "Judge versions as of this date (YYYY-MM-DD); empty: today."}}


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    remediation: str
    check: Check | None = None  # per resource: (type, properties, policy config) -> messages
    stack_check: StackCheck | None = None  # over the whole stack, for rules that relate resources
    level: EnforcementLevel = EnforcementLevel.MANDATORY
    config_schema: dict[str, dict[str, Any]] = field(default_factory=dict)

    def schema(self) -> PolicyConfigSchema | None:
        return PolicyConfigSchema(properties=self.config_schema) if self.config_schema else None


def _no_bundled_postgres(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm and dig(helm.values, "postgresql.enabled", True) is not False:
        yield ("values.postgresql.enabled is not false, so the chart installs its own PostgreSQL. "
               "Set values.postgresql.enabled: false and values.data.metadataSecretName to the "
               "Secret holding the managed database's connection.")


def _chart_version_pinned(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = helm_resource(resource_type, props)
    if helm is None:
        return
    if not EXACT_VERSION.match(helm.version.strip()):
        yield (f"chart {helm.chart!r} has version {helm.version!r}. Set `version` to an exact "
               "X.Y.Z release such as \"1.16.0\" (no ranges, 'latest' or '>=').")
    if not helm.repository and not helm.chart.startswith("oci://"):
        yield (f"chart {helm.chart!r} has no explicit repository. Set repository_opts.repo "
               "(e.g. \"https://airflow.apache.org\") or use an oci:// chart reference.")


def _images(resource_type: str, props: Mapping[str, Any]) -> Iterator[ImageReference]:
    helm = helm_resource(resource_type, props)
    if helm is not None:
        yield from helm_value_images(helm)
    yield from workload_images(resource_type, props)


def _image_tags_pinned(resource_type: str, props: Mapping[str, Any],
                       config: Mapping[str, Any]) -> Iterator[str]:
    extra = frozenset(tag.lower() for tag in config.get("mutableTags") or [])
    for image in _images(resource_type, props):
        problem = image_problem(image, extra)
        if problem:
            yield (f"{image.where} ({image.repository or '?'}) {problem}. Set its tag to an "
                   "immutable version (e.g. \"2.10.3-python3.11\") or pin a sha256 digest.")


def _image_registry_allowed(resource_type: str, props: Mapping[str, Any],
                            config: Mapping[str, Any]) -> Iterator[str]:
    allowed = [str(registry) for registry in config.get("allowedRegistries") or []]
    if not allowed:
        return
    for image in _images(resource_type, props):
        registry = registry_of(image.repository) if image.repository else ""
        if registry and not any(fnmatchcase(registry, pattern) for pattern in allowed):
            yield (f"{image.where} pulls from {registry}, which is not in "
                   f"allowedRegistries {allowed}. Mirror the image into an allowed registry or add "
                   "the registry to the pack config.")


def _kubernetes_executor(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm:
        executor = dig(helm.values, "executor", "CeleryExecutor (chart default)")
        if executor != "KubernetesExecutor":
            yield (f"values.executor is {executor!r}; every task must run in its own pod. "
                   "Set values.executor: \"KubernetesExecutor\".")


def _keys_pre_created(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm is None:
        return
    required = ["fernetKeySecretName", "data.metadataSecretName"]
    if chart_airflow_major(helm) >= 3:
        required += ["apiSecretKeySecretName", "jwtSecretName"]
    else:
        required += ["webserverSecretKeySecretName"]
    for path in required:
        if not dig(helm.values, path):
            yield (f"values.{path} is not set, so the chart generates that key itself and a new one "
                   f"on upgrade. Create the Secret in the program and set values.{path} to its name.")


def _no_plaintext_secrets(resource_type: str, props: Mapping[str, Any],
                          _: Mapping[str, Any]) -> Iterator[str]:
    helm = helm_resource(resource_type, props)
    if helm is None:
        return
    for finding in plaintext_secrets(helm.values):
        yield (f"{finding}. Move the value into a Kubernetes Secret created by the program and "
               "reference it by name (e.g. data.metadataSecretName, fernetKeySecretName).")


def _release_atomic(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    if resource_type != HELM_RELEASE_V3:
        return
    if props.get("atomic") is not True:
        yield "atomic is not true: a failed upgrade stays half-applied. Set atomic=True on the Release."
    timeout = props.get("timeout")
    if not isinstance(timeout, (int, float)) or timeout < MIN_RELEASE_TIMEOUT_SECONDS:
        yield (f"timeout is {timeout!r} (Helm's default is 300 s). Set timeout="
               f"{MIN_RELEASE_TIMEOUT_SECONDS} or more: migrations and image pulls need it.")


def _release_waits(props: Mapping[str, Any]) -> bool:
    return props.get("atomic") is True or props.get("skipAwait") is not True


def _hooks_off_with_wait(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm is None or not helm.is_release or not _release_waits(props):
        return
    jobs = ["migrateDatabaseJob"]
    create_user_off = (dig(helm.values, "webserver.defaultUser.enabled") is False
                       or dig(helm.values, "createUserJob.enabled") is False)
    if not create_user_off:
        jobs.append("createUserJob")
    for job in jobs:
        if dig(helm.values, f"{job}.useHelmHooks", True) is not False:
            yield (f"values.{job}.useHelmHooks is not false while the Release waits: the job would "
                   "be a post-install hook and every pod waits for it, so the install deadlocks. "
                   f"Set values.{job}.useHelmHooks: false and values.{job}.applyCustomEnv: false.")


RULES: tuple[Rule, ...] = (
    Rule("airflow-no-bundled-postgres",
         "The Airflow chart must not install its bundled PostgreSQL; the metadata DB is managed.",
         "Set values.postgresql.enabled: false and values.data.metadataSecretName.",
         check=_no_bundled_postgres),
    Rule("helm-chart-version-pinned",
         "Helm charts are installed at an exact X.Y.Z version from an explicit repository.",
         "Set version to an exact release (e.g. 1.16.0) and repository_opts.repo.",
         check=_chart_version_pinned),
    Rule("image-tags-pinned",
         "Images are pinned: a full version tag or a sha256 digest, never latest or a moving tag.",
         "Set the image tag to an immutable version such as 2.10.3-python3.11, or pin a digest.",
         check=_image_tags_pinned,
         config_schema={"mutableTags": {"type": "array", "items": {"type": "string"}, "default": []}}),
    Rule("image-registry-allowed",
         "Images come only from the registries the platform trusts (pack config allowedRegistries).",
         "Mirror the image into an allowed registry or extend allowedRegistries.",
         check=_image_registry_allowed,
         level=EnforcementLevel.ADVISORY,
         config_schema={"allowedRegistries": {
             "type": "array", "items": {"type": "string"}, "default": [],
             "description": "Registry hosts; shell patterns such as *.azurecr.io match."}}),
    Rule("airflow-chart-compatible",
         "The Airflow chart runs the Airflow version it is paired with (chart 1.16.0: 2.10.3; 1.19.0: 3.3.2).",
         "Set chartVersion and airflowVersion to a supported pair.",
         check=chart_compatibility_findings),
    Rule("airflow-kubernetes-executor",
         "Airflow runs every task in its own pod: the executor is KubernetesExecutor.",
         "Set values.executor: KubernetesExecutor.",
         check=_kubernetes_executor),
    Rule("airflow-keys-pre-created",
         "Airflow's keys and DB connection come from Secrets the program creates, so upgrades keep them.",
         "Set fernetKeySecretName, data.metadataSecretName and webserverSecretKeySecretName "
         "(Airflow 3: apiSecretKeySecretName and jwtSecretName).",
         check=_keys_pre_created),
    Rule("no-plaintext-secrets-in-values",
         "Helm values hold no literal password, token, key or credentialed URI; only Secret names.",
         "Put the value in a Kubernetes Secret and reference it by name.",
         check=_no_plaintext_secrets),
    Rule("helm-release-atomic",
         "Helm releases are atomic with a timeout of at least 600 s, so a failed upgrade rolls back.",
         "Set atomic=True and timeout=600 on the Release.",
         check=_release_atomic),
    Rule("airflow-hooks-off-with-wait",
         "A waiting Airflow release runs its migrate and create-user jobs without Helm hooks.",
         "Set useHelmHooks: false and applyCustomEnv: false on migrateDatabaseJob and createUserJob.",
         check=_hooks_off_with_wait),
    Rule("postgres-tls-required",
         "Airflow reaches PostgreSQL over TLS only: servers enforce require_secure_transport and every "
         "Airflow connection URI asks for sslmode=require or stricter.",
         "Add the require_secure_transport = on Configuration and ?sslmode=require to the connection.",
         stack_check=lambda resources, _: tls_findings(resources)),
    Rule("postgres-prod-resilience",
         "The metadata database survives a zone outage and keeps a week of backups: zone-redundant HA, "
         "backup retention of at least 7 days, no public network access (advisory in dev).",
         "Set postgresHighAvailability ZoneRedundant, postgresBackupRetentionDays >= 7, postgresNetwork private.",
         check=resilience_findings,
         config_schema={"minBackupRetentionDays": {"type": "integer", "minimum": 7, "maximum": 35, "default": 7}}),
    Rule("acr-admin-user-disabled",
         "Container registries keep the shared admin user off; pushes and pulls use Entra identities.",
         "Set admin_user_enabled=False on the Registry.",
         check=lambda resource_type, props, _: registry_flag_findings(
             resource_type, props, "adminUserEnabled", "Set admin_user_enabled=False on the Registry.")),
    Rule("acr-no-anonymous-pull",
         "Container registries never serve images to anonymous clients.",
         "Set anonymous_pull_enabled=False on the Registry.",
         check=lambda resource_type, props, _: registry_flag_findings(
             resource_type, props, "anonymousPullEnabled", "Set anonymous_pull_enabled=False on the Registry.")),
    Rule("vault-role-least-privilege",
         "Vault Kubernetes auth roles bind exact ServiceAccounts in exact namespaces, with short-lived "
         "tokens (config maxTokenTtlSeconds, default 1 h).",
         "List the chart's ServiceAccounts and the Airflow namespace; set vaultTokenTtl to 1h or less.",
         check=role_findings,
         config_schema={"maxTokenTtlSeconds": {"type": "integer", "minimum": 60, "default": 3600}}),
    Rule("vault-policy-read-only",
         "Vault policies for Airflow grant read (or list) on the connections and variables folders only.",
         "Set capabilities = [\"read\"] on <mount>/data/<connections path>/* and <mount>/data/<variables path>/*.",
         check=policy_findings,
         config_schema={"airflowMarkers": {"type": "array", "items": {"type": "string"}, "default": ["airflow"],
                                           "description": "A policy whose name or paths contain one of "
                                                          "these is an Airflow policy."}}),
    Rule("ingress-tls-required",
         "Ingresses serve TLS for every host, so UI sessions and SSO redirects never travel in clear.",
         "Add spec.tls with the host (ingressClusterIssuer or ingressTlsSecretName).",
         check=ingress_tls_findings),
    Rule("webserver-not-public",
         "The Airflow webserver Service is ClusterIP: the UI is reachable only through the TLS Ingress.",
         "Set webserver.service.type: ClusterIP.",
         check=webserver_public_findings),
    Rule("namespace-default-deny",
         "The Airflow namespace denies all traffic by default; NetworkPolicies then allow what is needed.",
         "Enable networkPoliciesEnabled (a default-deny policy plus allow-lists).",
         stack_check=default_deny_findings),
    Rule("oidc-no-inline-secret",
         "The webserver config never holds the OIDC client secret: it reads it from an env var fed by a Secret.",
         "Use os.environ[...] in webserver_config.py and a secretKeyRef env var.",
         check=inline_secret_findings),
    Rule("task-pods-have-limits",
         "Every task pod has CPU and memory requests and limits, so one task cannot starve or OOM the others.",
         "Set workers.resources requests and limits for cpu and memory.",
         check=task_limits_findings),
    Rule("pods-restricted",
         "Every pod the Airflow chart renders (control plane, Jobs, task pods) satisfies the restricted Pod "
         "Security Standard: non-root, RuntimeDefault seccomp, no privilege escalation, all capabilities dropped.",
         "Set securityContexts.pod/containers (and the git-sync, StatsD and task pod contexts) to the restricted "
         "profile.",
         check=pods_restricted_findings),
    Rule("control-plane-resources",
         "Every Airflow container that is not a task pod (scheduler, webserver/api-server, triggerer, "
         "dag-processor, log groomers, StatsD, git-sync, the migration Job) has CPU and memory requests and limits.",
         "Set the <component>Resources config keys (cpu=<request>/<limit> memory=<request>/<limit>).",
         check=control_plane_resources_findings),
    Rule("remote-logging-required",
         "When task pods are deleted after they finish, their logs go to remote storage first.",
         "Enable taskLogs (config.logging.remote_logging 'True'), or keep failed pods.",
         check=remote_logging_findings),
    Rule("aks-spot-pool-scales-to-zero",
         "The spot task pool autoscales down to zero nodes between batch windows.",
         "Set the spot pool's enable_auto_scaling=True and min_count=0.",
         check=spot_scale_to_zero_findings,
         level=EnforcementLevel.ADVISORY),
    # One concern, two levels: a pulumi-policy rule has a single enforcement level.
    Rule("aks-version-supported",
         "AKS clusters and node pools run a Kubernetes version that has not reached its AKS end of life "
         "(pack config asOf, default today).",
         "Set clusterKubernetesVersion to a version AKS still supports (airflow_on_k8s/aks_versions.py).",
         check=unsupported_findings,
         config_schema=_AS_OF_SCHEMA),
    Rule("aks-version-expiring",
         "AKS clusters and node pools are upgraded before their version's end of life: warns warnDays "
         "(60) ahead.",
         "Plan the upgrade of clusterKubernetesVersion to a newer minor version.",
         check=expiring_findings,
         level=EnforcementLevel.ADVISORY,
         config_schema={**_AS_OF_SCHEMA, "warnDays": {"type": "integer", "minimum": 1,
                                                      "default": DEFAULT_WARN_DAYS}}),
    Rule("sso-secret-expiry",
         "The SSO application's client secrets have an end date that has not passed (pack config asOf, default "
         "today): an expired secret stops every login.",
         "Rotate: add a later date to ssoClientSecretExpiries, switch ssoClientSecretActive, remove the old date.",
         check=sso_secret_expired,
         config_schema=_AS_OF_SCHEMA),
    Rule("sso-secret-expiring",
         "The SSO application's client secrets are rotated before they expire: warns warnDays (30) ahead.",
         "Rotate: add a later date to ssoClientSecretExpiries, switch ssoClientSecretActive, remove the old date.",
         check=sso_secret_expiring,
         level=EnforcementLevel.ADVISORY,
         config_schema={**_AS_OF_SCHEMA, "warnDays": {"type": "integer", "minimum": 1, "default": SSO_WARN_DAYS}}),
)
