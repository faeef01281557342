"""Run the real Pulumi program under Pulumi's mock runtime and record what it registers.

Used by the offline plan (`make plan`) and the tests. The mock engine behaves like the real one
where the program can tell the difference: it returns realistic outputs per resource type,
marks `additional_secret_outputs` as secret, keeps outputs of resources whose inputs did not
change when given the previous run's state (as the engine keeps a random key), and refuses
any invoke it does not know.

Placeholder "random" values (random strings, bytes, passwords, SSH keys) derive from a seed and
the resource's URN, so two runs with the same inputs record the same values and two plans can be
diffed; a different seed stands for a fresh stack, where a real engine would draw new keys.
"""

import asyncio
import base64
import concurrent.futures
import contextlib
import copy
import functools
import hashlib
import json
import runpy
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import pulumi
from pulumi import resource as sdk_resource
from pulumi.runtime import mocks, rpc
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from airflow_on_k8s.config import PROJECT
from tools import PROJECT_DIR as PROJECT_DIR  # where the tests and tools read it

PROGRAM = PROJECT_DIR / "__main__.py"


class UnknownInvokeError(Exception):
    """The program called a provider function the offline engine has no answer for."""


@dataclass
class RecordedResource:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    provider: str
    options: dict[str, Any]


@dataclass
class ProgramRun:
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]  # secret outputs keep Pulumi's secret marker
    invokes: list[tuple[str, dict[str, Any]]]
    state: dict[str, tuple[str, dict[str, Any]]] = field(repr=False)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [resource for resource in self.resources if resource.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> RecordedResource:
        matches = [resource for resource in self.of_type(type_token)
                   if name is None or resource.name == name]
        if len(matches) != 1:
            raise LookupError(f"expected one {type_token} {name or ''}, found {len(matches)}")
        return matches[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise LookupError(urn)


def _fingerprint(inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


# The seed of the offline plan: fixed, so the same inputs give the same plan, byte for byte.
DEFAULT_SEED = "airflow-on-k8s-offline"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _stable_bytes(seed: str, urn: str, length: int) -> bytes:
    """Placeholder randomness: unpredictable-looking, but a function of the seed and the URN."""
    return hashlib.shake_256(f"{seed}\0{urn}".encode()).digest(length)


def _random_text(seed: str, urn: str, length: int) -> str:
    return "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in _stable_bytes(seed, urn, length))


def _placeholder_ed25519(seed: str, urn: str) -> tuple[str, str]:
    """An OpenSSH-shaped key pair; offline, nobody connects with it."""
    body = base64.b64encode(b"openssh-key-v1\x00" + _stable_bytes(seed, urn, 200)).decode()
    private = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n"
    return private, _public_key_for(private)


def _public_key_for(private_key: str) -> str:
    digest = hashlib.sha256(private_key.encode()).digest()
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + digest
    return f"ssh-ed25519 {base64.b64encode(blob).decode()}\n"


def _plain(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value)


def plain(value: Any) -> Any:
    """A value with every Pulumi secret marker removed, recursively."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


OFFLINE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
# The input that names an Azure resource, per type; without it the provider generates a name.
_AZURE_NAME_INPUTS = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:dbforpostgresql:Server": "serverName",
    "azure-native:dbforpostgresql:Database": "databaseName",
    "azure-native:dbforpostgresql:Configuration": "configurationName",
    "azure-native:dbforpostgresql:FirewallRule": "firewallRuleName",
    "azure-native:containerregistry:Registry": "registryName",
    "azure-native:authorization:RoleAssignment": "roleAssignmentName",
    "azure-native:containerservice:ManagedCluster": "resourceName",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:managedidentity:UserAssignedIdentity": "resourceName",
    "azure-native:managedidentity:FederatedIdentityCredential": "federatedIdentityCredentialResourceName",
}


def _azure_outputs(type_token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    suffix = hashlib.sha1(name.encode()).hexdigest()[:8]
    azure_name = _plain(inputs.get(_AZURE_NAME_INPUTS.get(type_token, ""))) or f"{name}{suffix}"
    group = _plain(inputs.get("resourceGroupName")) or azure_name
    provider_type = type_token.split(":")[1]
    outputs: dict[str, Any] = {
        "name": azure_name,
        "id": f"/subscriptions/{OFFLINE_SUBSCRIPTION}/resourceGroups/{group}/providers/"
              f"Microsoft.{provider_type}/{type_token.split(':')[2]}/{azure_name}",
    }
    if type_token == "azure-native:resources:ResourceGroup":
        outputs["id"] = f"/subscriptions/{OFFLINE_SUBSCRIPTION}/resourceGroups/{azure_name}"
    elif type_token == "azure-native:dbforpostgresql:Server":
        outputs["fullyQualifiedDomainName"] = f"{azure_name}.postgres.database.azure.com"
    elif type_token == "azure-native:containerregistry:Registry":
        outputs["loginServer"] = f"{azure_name.lower()}.azurecr.io"
    elif type_token == "azure-native:containerservice:ManagedCluster":
        outputs["oidcIssuerProfile"] = {"enabled": True,
                                        "issuerURL": f"https://westeurope.oic.prod-aks.azure.com/offline/{suffix}/"}
        outputs["identityProfile"] = {"kubeletidentity": {
            "objectId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"kubelet/{name}")),
            "clientId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"kubelet-client/{name}")),
            "resourceId": f"/subscriptions/{OFFLINE_SUBSCRIPTION}/resourceGroups/{group}/providers/"
                          f"Microsoft.ManagedIdentity/userAssignedIdentities/{azure_name}-agentpool"}}
        outputs["fqdn"] = f"{azure_name}-{suffix}.hcp.westeurope.azmk8s.io"
        identity = _plain(inputs.get("identity")) or {}
        if isinstance(identity.get("userAssignedIdentities"), list):
            # Azure answers the list of identity ids with a map: id -> its principal and client ids.
            outputs["identity"] = {**identity, "userAssignedIdentities": {
                _plain(identity_id): {"principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal/{identity_id}")),
                                      "clientId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"client/{identity_id}"))}
                for identity_id in identity["userAssignedIdentities"]}}
    elif type_token == "azure-native:managedidentity:UserAssignedIdentity":
        outputs["clientId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"client/{name}"))
        outputs["principalId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal/{name}"))
    return outputs


def _simulated_outputs(type_token: str, name: str, inputs: dict[str, Any], *, seed: str, urn: str
                       ) -> dict[str, Any]:
    """Outputs a provider would compute, for the types this program creates."""
    outputs = copy.deepcopy(inputs)
    if type_token.startswith("azure-native:"):
        outputs.update(_azure_outputs(type_token, name, inputs))
    elif type_token == "azuread:index/application:Application":
        object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"application/{name}"))
        outputs.update(id=f"/applications/{object_id}", objectId=object_id,
                       clientId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"application-client/{name}")))
    elif type_token == "azuread:index/servicePrincipal:ServicePrincipal":
        outputs["objectId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"service-principal/{name}"))
    elif type_token == "azuread:index/applicationPassword:ApplicationPassword":
        outputs.update(keyId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"password/{name}")), value=_random_text(seed, urn, 40))
    elif type_token == "docker-build:index:Image":
        tags = _plain(inputs.get("tags")) or []
        digest = "sha256:" + hashlib.sha256(json.dumps(tags).encode()).hexdigest()
        outputs.update(digest=digest, ref=f"{tags[0]}@{digest}" if tags else digest)
    elif type_token == "random:index/randomString:RandomString":
        outputs["result"] = _random_text(seed, urn, int(_plain(inputs["length"]))).lower()
    elif type_token == "random:index/randomBytes:RandomBytes":
        raw = _stable_bytes(seed, urn, int(_plain(inputs["length"])))
        outputs.update(base64=base64.b64encode(raw).decode(), hex=raw.hex())
    elif type_token == "random:index/randomPassword:RandomPassword":
        outputs["result"] = _random_text(seed, urn, int(_plain(inputs["length"])))
    elif type_token == "tls:index/privateKey:PrivateKey":
        private, public = _placeholder_ed25519(seed, urn)
        outputs.update(privateKeyOpenssh=private, publicKeyOpenssh=public,
                       privateKeyPem=private, publicKeyPem=public)
    elif type_token.startswith("kubernetes:") and isinstance(inputs.get("metadata"), dict):
        metadata = dict(inputs["metadata"])
        metadata.setdefault("name", f"{name}-offline")
        metadata.setdefault("uid", hashlib.sha1(name.encode()).hexdigest())
        outputs["metadata"] = metadata
    if type_token == "kubernetes:core/v1:Secret" and inputs.get("type") == "kubernetes.io/service-account-token":
        # The token controller fills these in after creation.
        jwt = "eyJhbGciOiJSUzI1NiJ9.offline-service-account-token.signature"
        ca = "-----BEGIN CERTIFICATE-----\nb2ZmbGluZS1jbHVzdGVyLWNh\n-----END CERTIFICATE-----\n"
        outputs["data"] = {"token": base64.b64encode(jwt.encode()).decode(),
                           "ca.crt": base64.b64encode(ca.encode()).decode()}
    if type_token == "kubernetes:helm.sh/v3:Release":
        outputs["status"] = {"name": _plain(inputs.get("name")), "status": "deployed",
                             "namespace": _plain(inputs.get("namespace")), "revision": 1}
    return outputs


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """The event loop's default executor for a mock run: runs each call at once, in the calling
    thread. Pulumi sends every registration and invoke to the monitor through
    `run_in_executor`; with the mock monitor in this process, a thread pool adds only hand-offs
    of the GIL between the loop and its workers (~3% of a plan's wall time here)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> "concurrent.futures.Future[Any]":
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # the awaiting coroutine gets it, as from a worker thread
            future.set_exception(error)
        return future


@functools.cache
def _stack_frame(filename: str, line: int | None) -> source_pb2.StackFrame:
    """Pulumi's own frame message for a file and line (built from a frame without its source
    text), once per file and line: a StackTrace copies the frames it is given."""
    frame = traceback.FrameSummary(filename, line, "", lookup_line=False)
    return source_pb2.StackFrame(pc=runtime_resource._get_source_position_for_frame(frame))


def stack_trace_without_source_text() -> source_pb2.StackTrace:
    """What pulumi.runtime.resource._get_stack_trace (pulumi 3.272) sends with a registration,
    built from the frames themselves. Pulumi's goes through `traceback.extract_stack()`, which
    reads and caches the source text of every frame's line (linecache) only to throw it away:
    the request carries file URIs and line numbers. Per resource that is ~0.4 ms in the plan's
    CLI and more under pytest, whose frames sit below the program's. A test holds the two
    equal.

    As Pulumi's: the frames outside the third `__init__` from the top of the stack (Resource,
    then Custom/ComponentResource, then the concrete class), innermost first; none when there
    is no frame outside it."""
    frame: FrameType | None = sys._getframe(1)
    inits = 0
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            inits += 1
            if inits == 3:
                break
        frame = frame.f_back
    if frame is None or frame.f_back is None:
        return source_pb2.StackTrace()
    frames = []
    caller: FrameType | None = frame.f_back
    while caller is not None:
        frames.append(_stack_frame(caller.f_code.co_filename, caller.f_lineno))
        caller = caller.f_back
    return source_pb2.StackTrace(frames=frames)


@contextlib.contextmanager
def _registrations_without_source_text() -> Iterator[None]:
    original = runtime_resource._get_stack_trace
    runtime_resource._get_stack_trace = stack_trace_without_source_text
    try:
        yield
    finally:
        runtime_resource._get_stack_trace = original


@dataclass(frozen=True)
class DeferredAliasUrn:
    """What `Resource.__init__` keeps in `_aliases` during an offline run: the arguments of the
    alias URN it would build, built only when something asks for them.

    Pulumi (3.272) collapses every alias of every resource to a URN output at construction
    (`Resource._aliases`), yet its only reader is `all_aliases`, which runs for an engine
    without alias specs. The mock monitor supports them, as the CLI's engine does, so the
    ~560 alias URNs of the azure-native resources here (one per API version a type had),
    each an `Output.all(...).apply(...)` chain, were built and thrown away: ~2,300 applies and
    ~15,000 event-loop callbacks, about a fifth of a plan. The aliases a registration sends are
    built from the resource options as before; a test holds both kinds of request equal to
    Pulumi's own."""

    alias: Any
    name: str
    type_: str
    parent: Any

    def urn(self) -> "pulumi.Output[str]":
        return _pulumis_collapse_alias_to_urn(self.alias, self.name, self.type_, self.parent)


_pulumis_collapse_alias_to_urn = runtime_resource.collapse_alias_to_urn
_pulumis_all_aliases = runtime_resource.all_aliases


def _all_aliases_of_deferred_parents(child_aliases: Any, child_name: str, child_type: str, parent: Any) -> Any:
    """Pulumi's all_aliases, once the parent's deferred alias URNs are built."""
    if parent is not None and any(isinstance(alias, DeferredAliasUrn) for alias in parent._aliases):
        parent._aliases = [alias.urn() if isinstance(alias, DeferredAliasUrn) else alias
                           for alias in parent._aliases]
    return _pulumis_all_aliases(child_aliases, child_name, child_type, parent)


@contextlib.contextmanager
def _alias_urns_on_demand() -> Iterator[None]:
    # Resource.__init__ calls the name pulumi.resource imported from pulumi.runtime.resource.
    if vars(sdk_resource)["collapse_alias_to_urn"] is not _pulumis_collapse_alias_to_urn:
        raise RuntimeError("pulumi.resource.collapse_alias_to_urn is not Pulumi's: is another run in progress?")
    vars(sdk_resource)["collapse_alias_to_urn"] = DeferredAliasUrn
    runtime_resource.all_aliases = _all_aliases_of_deferred_parents
    try:
        yield
    finally:
        vars(sdk_resource)["collapse_alias_to_urn"] = _pulumis_collapse_alias_to_urn
        runtime_resource.all_aliases = _pulumis_all_aliases


class OfflineEngine(mocks.Mocks):
    """Mocks with memory: answers registrations and invokes, and records every one."""

    def __init__(self, previous_state: Mapping[str, tuple[str, dict[str, Any]]] | None = None,
                 extra_invokes: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None,
                 seed: str = DEFAULT_SEED, listener: Callable[[RecordedResource], None] | None = None) -> None:
        """`listener` hears of each resource as it is recorded (the plan streams them to its pack)."""
        self.previous_state = dict(previous_state or {})
        self.listener = listener
        self.seed = seed
        self.state: dict[str, tuple[str, dict[str, Any]]] = {}
        self.resources: list[RecordedResource] = []
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        self._invoke_handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "tls:index/getPublicKey:getPublicKey": self._get_public_key,
            "vault:kv/getSecretV2:getSecretV2": self._get_kv_secret,
            "azure-native:containerservice:listManagedClusterUserCredentials": self._cluster_credentials,
            "azure-native:network:getSubnet": self._get_subnet,
            "azuread:index/getClientConfig:getClientConfig": self._azuread_client_config,
            **(extra_invokes or {}),
        }
        self._local = threading.local()
        self._lock = threading.Lock()

    @staticmethod
    def _get_public_key(args: dict[str, Any]) -> dict[str, Any]:
        private = _plain(args.get("privateKeyOpenssh") or args.get("privateKeyPem"))
        if not private:
            raise UnknownInvokeError("getPublicKey needs privateKeyOpenssh or privateKeyPem")
        public = _public_key_for(private)
        return {"algorithm": "ED25519", "publicKeyOpenssh": public, "publicKeyPem": public,
                "publicKeyFingerprintMd5": "", "publicKeyFingerprintSha256": "", "id": "offline"}

    @staticmethod
    def _cluster_credentials(args: dict[str, Any]) -> dict[str, Any]:
        kubeconfig = (f"apiVersion: v1\nkind: Config\nclusters:\n- name: {args.get('resourceName')}\n"
                      "  cluster: {server: 'https://offline.invalid:443'}\ncontexts: []\nusers: []\n")
        return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}]}

    @staticmethod
    def _azuread_client_config(_: dict[str, Any]) -> dict[str, Any]:
        """Who runs `pulumi up`: a fixed, plainly offline principal."""
        return {"clientId": str(uuid.uuid5(uuid.NAMESPACE_URL, "offline-deployer-client")),
                "objectId": str(uuid.uuid5(uuid.NAMESPACE_URL, "offline-deployer")),
                "tenantId": OFFLINE_SUBSCRIPTION, "id": "offline"}

    @staticmethod
    def _get_subnet(args: dict[str, Any]) -> dict[str, Any]:
        """An existing subnet: a private /24 derived from its name, so each subnet gets its own range."""
        group, network, subnet = (str(args.get(key)) for key in ("resourceGroupName", "virtualNetworkName",
                                                                     "subnetName"))
        third_octet = int(hashlib.sha1(f"{group}/{network}/{subnet}".encode()).hexdigest(), 16) % 250
        return {"id": f"/subscriptions/{OFFLINE_SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Network/"
                      f"virtualNetworks/{network}/subnets/{subnet}",
                "name": subnet, "addressPrefix": f"10.250.{third_octet}.0/24", "provisioningState": "Succeeded"}

    @staticmethod
    def _get_kv_secret(args: dict[str, Any]) -> dict[str, Any]:
        """A KV v2 read: every key a program may ask for holds a labelled placeholder."""
        data = {"client_secret": f"offline-vault-placeholder:{args.get('mount')}/{args.get('name')}"}
        return {"data": data, "dataJson": json.dumps(data), "mount": args.get("mount"), "name": args.get("name"),
                "path": f"{args.get('mount')}/data/{args.get('name')}", "customMetadata": {}, "id": "offline"}

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        handler = self._invoke_handlers.get(args.token)
        if handler is None:
            raise UnknownInvokeError(
                f"the offline engine does not know the invoke {args.token}; "
                "add a realistic answer for it in tools/offline.py")
        with self._lock:
            self.invokes.append((args.token, dict(args.args)))
        return handler(dict(args.args)), []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        request = self._local.request
        urn = self._local.urn
        fingerprint = _fingerprint(args.inputs)
        kept = self.previous_state.get(urn)
        if kept is not None and kept[0] == fingerprint:
            outputs = dict(kept[1])
        else:
            outputs = _simulated_outputs(args.typ, args.name, args.inputs, seed=self.seed, urn=urn)
        for key in request.additionalSecretOutputs:
            if key in outputs:
                outputs[key] = rpc.wrap_rpc_secret(outputs[key])
        record = RecordedResource(
            type=args.typ,
            name=args.name,
            urn=urn,
            parent=request.parent,
            custom=bool(args.custom),
            inputs=args.inputs,
            outputs=outputs,
            dependencies=list(request.dependencies),
            property_dependencies={key: list(deps.urns)
                                   for key, deps in request.propertyDependencies.items()},
            protect=bool(request.protect),
            provider=request.provider,
            options={
                "additionalSecretOutputs": list(request.additionalSecretOutputs),
                "retainOnDelete": bool(request.retainOnDelete),
                "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                "ignoreChanges": list(request.ignoreChanges),
                "replaceOnChanges": list(request.replaceOnChanges),
                "customTimeouts": {
                    "create": request.customTimeouts.create,
                    "update": request.customTimeouts.update,
                    "delete": request.customTimeouts.delete,
                } if request.HasField("customTimeouts") else None,
            },
        )
        with self._lock:
            self.resources.append(record)
            self.state[urn] = (fingerprint, outputs)
        if self.listener is not None:
            self.listener(record)
        # Azure ids are ARM paths that programs parse (e.g. the subscription for a role definition).
        resource_id = (str(outputs.get("id") or f"{args.name}-id")) if args.custom else None
        return resource_id, outputs


class _RecordingMonitor(mocks.MockMonitor):
    """Hands each registration request to the engine, which the Mocks API alone does not see."""

    def __init__(self, engine: OfflineEngine) -> None:
        super().__init__(engine)
        self._engine = engine

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        local = self._engine._local
        local.request = request
        local.urn = self.make_urn(request.parent, request.type, request.name)
        try:
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        finally:
            local.request = None


async def _resolve_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in outputs.items():
        output = pulumi.Output.from_input(value)
        plain = await output.future(with_unknowns=True)
        resolved[key] = rpc.wrap_rpc_secret(plain) if await output.is_secret() else plain
    return resolved


def run_program(
    stack: str,
    config: Mapping[str, str],
    secret_keys: frozenset[str] = frozenset(),
    *,
    previous_state: Mapping[str, tuple[str, dict[str, Any]]] | None = None,
    program: Callable[[], object] | None = None,
    preview: bool = False,
    engine: OfflineEngine | None = None,
    seed: str = DEFAULT_SEED,
) -> ProgramRun:
    """Run `program` (default: the project's __main__.py) with short-key config under mocks."""
    engine = engine or OfflineEngine(previous_state, seed=seed)
    loop = asyncio.new_event_loop()
    loop.set_default_executor(InlineExecutor())
    asyncio.set_event_loop(loop)
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    try:
        runtime_settings.reset_options(project=PROJECT, stack=stack, preview=preview)
        mocks.set_mocks(engine, project=PROJECT, stack=stack, preview=preview,
                        monitor=_RecordingMonitor(engine))
        pulumi.runtime.set_all_config(
            {f"{PROJECT}:{key}": value for key, value in config.items()},
            [f"{PROJECT}:{key}" for key in secret_keys],
        )
        def body() -> None:
            if program is None:
                runpy.run_path(str(PROGRAM), run_name="__main__")
            else:
                program()

        with _registrations_without_source_text(), _alias_urns_on_demand():
            _sync_await(run_pulumi_func(body))
        root = runtime_settings.get_root_resource()
        exported = getattr(root, "outputs", {})
        outputs = loop.run_until_complete(_resolve_outputs(exported))
    finally:
        runtime_settings.reset_options()
        pulumi.runtime.set_all_config({}, [])
        loop.close()
        asyncio.set_event_loop(None)
    return ProgramRun(stack=stack, resources=engine.resources, outputs=outputs,
                      invokes=engine.invokes, state=engine.state)
