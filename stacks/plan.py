"""Offline plan: run the real Pulumi program in-process under Pulumi's mocks.

No Pulumi CLI, provider plugin or cloud credential is involved. The mocks
stand in for the engine of a `pulumi preview` of a new stack. Every resource
keeps its inputs, and every output that a provider computes (ids, addresses,
the kubeconfig) stays unknown, so values derived from them show as unknown,
as in a preview.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pulumi
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import mocks, rpc
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks.config_loader import NAMESPACE, StackConfigError, decode_value, parse_stack_config

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"

SECRET = "[secret]"
UNKNOWN = "[unknown]"

# With this environment variable set, secrets print as "[secret:<tag>]", where
# the tag is an HMAC of the value under that key. Two plans made with the same
# key show whether a secret changed. `python -m stacks diff` uses a key that
# lives for one run only, so the tags are useless for guessing values.
SECRET_TAG_KEY_VARIABLE = "SWARM_PLAN_SECRET_TAG_KEY"

# Credentials that the program reads but the offline plan never uses. A stack
# file contains them encrypted, or not at all, so the plan passes placeholders.
_PLACEHOLDER_SECRETS = {
    "hcloud:token": "offline-plan-placeholder",
    "digitalocean:token": "offline-plan-placeholder",
}


@dataclass
class PlannedResource:
    """One registered resource, with its inputs as a preview would show them."""

    urn: str
    type: str
    name: str
    parent: Optional[str]
    inputs: dict[str, Any]
    # Inputs in the engine's wire form, with secrets unwrapped. Tests use
    # these to validate rendered documents; they are never printed.
    raw_inputs: dict[str, Any] = field(repr=False, default_factory=dict)
    secret_inputs: set[str] = field(default_factory=set)
    # Provider reference, "<provider urn>::<provider id>", or "" for the default provider.
    provider: str = ""
    ignore_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    # URNs of the resources this one waits for: `depends_on` and the owners of its input values.
    dependencies: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    protect: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
            # The resource options that change what an update or a deletion does.
            "options": {
                "protect": self.protect,
                "ignoreChanges": self.ignore_changes,
                "retainOnDelete": self.retain_on_delete,
            },
        }


@dataclass
class Plan:
    """The resources and stack outputs of one offline run of the program."""

    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]

    def of_type(self, resource_type: str) -> list[PlannedResource]:
        return [resource for resource in self.resources if resource.type == resource_type]

    def named(self, name: str) -> PlannedResource:
        for resource in self.resources:
            if resource.name == name:
                return resource
        raise KeyError(f"no resource named {name!r} in the plan of {self.stack}")

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [resource.as_json() for resource in self.resources],
            "outputs": self.outputs,
        }


@dataclass(frozen=True)
class StackFile:
    """A `Pulumi.<stack>.yaml` file, read into the flat key/value form the engine hands a program."""

    path: Path
    stack: str
    project: str
    config: dict[str, str]
    secret_keys: list[str]

    def swarm_values(self) -> dict[str, Any]:
        """Return the `swarm:` keys, decoded from JSON back to objects."""
        prefix = NAMESPACE + ":"
        return {
            key[len(prefix) :]: decode_value(value)
            for key, value in self.config.items()
            if key.startswith(prefix)
        }


    def swarm_secret_keys(self) -> set[str]:
        prefix = NAMESPACE + ":"
        return {key[len(prefix) :] for key in self.secret_keys if key.startswith(prefix)}


def resolve_stack_file(stack_or_path: str) -> Path:
    """Map a stack name to `Pulumi.<stack>.yaml` at the project root; pass paths through."""
    if stack_or_path.endswith((".yaml", ".yml")) or "/" in stack_or_path:
        return Path(stack_or_path)
    return ROOT / f"Pulumi.{stack_or_path}.yaml"


def read_stack_file(path: Path) -> StackFile:
    """Read a stack file and the project name from the Pulumi.yaml beside the program."""
    if not path.is_file():
        raise StackConfigError(
            f"stack file {path} not found: pass a stack name such as 'dev' (for Pulumi.dev.yaml "
            f"at {ROOT}) or the path of a Pulumi.<stack>.yaml file"
        )
    name = path.name
    stack = name.removeprefix("Pulumi.").rsplit(".", 1)[0] if name.startswith("Pulumi.") else path.stem
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]

    try:
        document = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise StackConfigError(f"invalid YAML in {path}{line}: {problem}; fix the file and run again") from None
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise StackConfigError(
            f"invalid stack file {path}: it must be a mapping with a 'config:' mapping of keys such as "
            "swarm:platform, as `pulumi config set` writes it"
        )
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (document.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        value, has_secret = _replace_secure_values(value)
        if has_secret:
            secret_keys.append(full_key)
        config[full_key] = value if isinstance(value, str) else json.dumps(value)
    for key, placeholder in _PLACEHOLDER_SECRETS.items():
        if key not in config:
            config[key] = placeholder
            secret_keys.append(key)
    return StackFile(path, stack, project, config, secret_keys)


def _replace_secure_values(value: Any) -> tuple[Any, bool]:
    """Replace every `{secure: <ciphertext>}` in a config value with a placeholder; tell whether there was one.

    The values are encrypted with the stack's secrets provider, which the
    offline plan cannot reach, so the program gets placeholders, and the whole
    key is marked secret. A placeholder follows its ciphertext, so that a diff
    of two plans detects that the secret changed.
    """
    if isinstance(value, dict) and set(value) == {"secure"}:
        fingerprint = hashlib.sha256(str(value["secure"]).encode()).hexdigest()[:12]
        return f"offline-plan-placeholder-{fingerprint}", True
    if isinstance(value, dict):
        found = False
        replaced = {}
        for key, item in value.items():
            replaced[key], secret = _replace_secure_values(item)
            found = found or secret
        return replaced, found
    if isinstance(value, list):
        items = [_replace_secure_values(item) for item in value]
        return [item for item, _ in items], any(secret for _, secret in items)
    return value, False


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key given twice in one mapping, which PyYAML would overwrite silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


class PreviewMocks(mocks.Mocks):
    """Mocks that return what the engine returns in a preview of a new stack."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[Optional[str], dict]:
        # No id and no computed outputs: both are unknown until a real apply.
        # Inputs built from an unknown invoke result stay unknown as outputs.
        return None, {key: value for key, value in args.inputs.items() if value != UNKNOWN}

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        # Provider functions read the cloud API during a real preview. Mocks
        # cannot return an unknown invoke result (the SDK turns it into None),
        # so the offline plan returns the marker that it prints for unknowns.
        if args.token == "digitalocean:index/getKubernetesVersions:getKubernetesVersions":
            return {"latestVersion": UNKNOWN, "validVersions": [UNKNOWN], "versionPrefix": args.args.get("versionPrefix")}, []
        return {}, []


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that records each registration with its parent and its secret markers."""

    def __init__(self, mock_engine: mocks.Mocks) -> None:
        super().__init__(mock_engine)
        self.planned: list[PlannedResource] = []
        self.stack_urn: Optional[str] = None

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack out of a child's type chain, so
        # top-level resources get the same URNs here as in a real preview.
        if parent == self.stack_urn:
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response

        displayed: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        secret_inputs: set[str] = set()
        for key, value in request.object.items():
            if key.startswith("__"):
                continue
            displayed[key] = _render(value)
            raw[key] = _render(value, reveal_secrets=True)
            if _contains_secret(value):
                secret_inputs.add(key)
        parent = request.parent if request.parent and request.parent != self.stack_urn else None
        self.planned.append(
            PlannedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=parent,
                inputs=displayed,
                raw_inputs=raw,
                secret_inputs=secret_inputs,
                provider=request.provider,
                ignore_changes=list(request.ignoreChanges),
                additional_secret_outputs=list(request.additionalSecretOutputs),
                dependencies=list(request.dependencies),
                retain_on_delete=request.retainOnDelete,
                protect=request.protect,
            )
        )
        return response


def program_order(resources: list[PlannedResource], sequence: dict[tuple[str, str], int]) -> list[PlannedResource]:
    """Order resources as the program constructs them, which is the same on every run.

    Registration itself runs asynchronously, so its order depends on when each
    input resolves. The constructor calls run in program order, which reads as
    the order of provisioning: network, then servers, then workloads.
    """
    last = len(sequence)
    return sorted(resources, key=lambda resource: (sequence.get((resource.type, resource.name), last), resource.urn))


def _render(value: Any, reveal_secrets: bool = False) -> Any:
    """Convert a wire value to plain data, unknowns as [unknown] and secrets as [secret] unless revealed."""
    if isinstance(value, struct_pb2.Struct):
        if rpc._special_sig_key in value:
            signature = value[rpc._special_sig_key]
            if signature == rpc._special_secret_sig:
                return _render(value["value"], reveal_secrets) if reveal_secrets else _secret_marker(value["value"])
            if signature == rpc._special_resource_sig:
                return value["urn"]
            return UNKNOWN
        return {key: _render(item, reveal_secrets) for key, item in value.items()}
    if isinstance(value, (struct_pb2.ListValue, list)):
        return [_render(item, reveal_secrets) for item in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _secret_marker(value: Any) -> str:
    key = os.environ.get(SECRET_TAG_KEY_VARIABLE)
    if not key:
        return SECRET
    plain = json.dumps(_render(value, reveal_secrets=True), sort_keys=True)
    if UNKNOWN in plain:
        # Not known before apply, so no plan can tell whether it changes.
        return SECRET
    tag = hmac.new(key.encode(), plain.encode(), hashlib.sha256).hexdigest()[:12]
    return f"[secret:{tag}]"


def _contains_secret(value: Any) -> bool:
    if isinstance(value, struct_pb2.Struct):
        if rpc._special_sig_key in value and value[rpc._special_sig_key] == rpc._special_secret_sig:
            return True
        return any(_contains_secret(item) for item in value.values())
    if isinstance(value, struct_pb2.ListValue):
        return any(_contains_secret(item) for item in value)
    return False


def run_plan(
    stack_or_path: str,
    engine: Optional[mocks.Mocks] = None,
    monitor: Optional[mocks.MockMonitor] = None,
    check_config_first: bool = True,
) -> Plan:
    """Run the program for one stack file under mocks and return what it registers.

    `engine` defaults to mocks that behave like a preview. Tests pass mocks
    that fill in computed outputs, as an apply would. With
    `check_config_first` off, the program meets the config unchecked, as it
    does under `pulumi up`.
    """
    stack_file = read_stack_file(resolve_stack_file(stack_or_path))
    # Validate first, so a bad config fails with its one-line message before
    # the Pulumi runtime is set up.
    if check_config_first:
        parse_stack_config(
            stack_file.swarm_values(), stack_file.path.name, stack_file.swarm_secret_keys(), log_warnings=False
        )

    engine = engine or PreviewMocks()
    monitor = monitor or RecordingMonitor(engine)
    # A fresh root stack for every run, so that runs in one process (the
    # tests) do not share outputs.
    pulumi.runtime.settings.ROOT.set(None)
    mocks.set_mocks(
        engine,
        project=stack_file.project,
        stack=stack_file.stack,
        preview=isinstance(engine, PreviewMocks),
        monitor=monitor,
    )
    pulumi.runtime.set_all_config(stack_file.config, stack_file.secret_keys)

    # Stack transformations run synchronously in each resource's constructor,
    # so they see resources in program order.
    sequence: dict[tuple[str, str], int] = {}

    def record_order(args: pulumi.ResourceTransformationArgs) -> None:
        sequence.setdefault((args.type_, args.name), len(sequence))

    pulumi.runtime.register_stack_transformation(record_order)
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(PROGRAM), run_name="__pulumi_main__")))

    outputs = {}
    root = get_root_resource()
    if root is not None:
        outputs = {key: _describe_output(value) for key, value in sorted(root.outputs.items())}
    return Plan(stack_file.stack, program_order(monitor.planned, sequence), outputs)


def _describe_output(value: Any) -> Any:
    # Pulumi resolves Outputs nested in exported dicts and lists one by one,
    # so an unknown address leaves the rest of the value known.
    if isinstance(value, dict):
        return {key: _describe_output(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_describe_output(item) for item in value]
    if not isinstance(value, pulumi.Output):
        return value
    is_known = _sync_await(value.is_known())
    if _sync_await(value.is_secret()):
        return SECRET
    if not is_known:
        return UNKNOWN
    return _sync_await(value.future())
