"""Read the `swarm:` config of a stack and parse it into a `StackConfig`.

Errors become `StackConfigError`, a `pulumi.RunError`: Pulumi prints its
message without a traceback, and the offline plan prints it as one line per
problem and exits with code 2. Each line names the key, the bad value, what is
allowed and the `pulumi config set` command that fixes it.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from typing import Any, Iterable, Mapping, Optional

import pulumi
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from stacks.config import PLATFORM_SECTIONS, PLATFORMS_WITH_ADMIN_ACCESS, StackConfig
from stacks.config_base import MAX_RESOURCE_PREFIX_LENGTH

NAMESPACE = "swarm"



class StackConfigError(pulumi.RunError):
    """Invalid stack config, with one self-contained line per problem."""


def read_pulumi_config() -> tuple[dict[str, Any], set[str]]:
    """Return every `swarm:` key the Pulumi engine passed to this program, and the secret ones."""
    raw = dict(pulumi.runtime.get_config_env())
    raw.update(pulumi.runtime.config.CONFIG.get())
    prefix = NAMESPACE + ":"
    values = {key[len(prefix) :]: decode_value(value) for key, value in raw.items() if key.startswith(prefix)}
    secret = {key for key in values if pulumi.runtime.is_config_secret(prefix + key)}
    return values, secret


def decode_value(value: Any) -> Any:
    """Decode a config value as the engine hands it over, objects and lists as JSON text.

    Strings nested in objects are decoded too, because `pulumi config set
    --path` stores a JSON object or list given on the command line as a string.
    """
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return decode_value(json.loads(value))
        except json.JSONDecodeError:
            return value
    if isinstance(value, dict):
        return {key: decode_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    return value


def parse_stack_config(
    values: Mapping[str, Any],
    stack_file: str = "Pulumi.<stack>.yaml",
    secret_keys: Iterable[str] = (),
    log_warnings: bool = True,
) -> StackConfig:
    """Validate the `swarm:` keys of one stack, raising `StackConfigError` that lists every problem.

    `secret_keys` are top-level keys whose values must not appear in messages.
    `log_warnings` off keeps a check that runs before the program from
    logging the warnings that the program logs again.
    """
    lines = []
    platform = values.get("platform")
    section = PLATFORM_SECTIONS.get(platform) if isinstance(platform, str) else None
    if section is not None and section not in values:
        lines.append(
            f"missing config key {NAMESPACE}:{section}: it is required when {NAMESPACE}:platform is "
            f"{platform}; add a '{NAMESPACE}:{section}:' object to {stack_file} "
            f"(see the README for its keys)"
        )
    if platform in PLATFORMS_WITH_ADMIN_ACCESS and "adminCidrs" not in values:
        guarded = "the Kubernetes API and node SSH" if platform == "hetzner-k3s" else "the Kubernetes API"
        lines.append(
            f"missing config key {NAMESPACE}:adminCidrs: the addresses that may reach {guarded} "
            f"are required when {NAMESPACE}:platform is {platform}; set it with: "
            f"pulumi config set --path '{NAMESPACE}:adminCidrs[0]' 203.0.113.7/32"
        )

    try:
        config = StackConfig.model_validate(dict(values), by_alias=True, by_name=False)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        missing = {tuple(problem["loc"]) for problem in problems if problem["type"] == "missing"}
        # A misspelt key and the missing key it was meant to be are one
        # problem, so only the misspelt key's line is printed, with the rename.
        renamed = {_meant_key(tuple(problem["loc"])) for problem in problems if problem["type"] == "extra_forbidden"}
        problems = [problem for problem in problems if not (problem["type"] == "missing" and tuple(problem["loc"]) in renamed)]
        problems.sort(key=lambda problem: problem["type"] != "extra_forbidden")
        lines += [_describe(problem, set(secret_keys), missing) for problem in problems]
    if lines:
        raise StackConfigError("\n".join(dict.fromkeys(lines)))

    # Imported here because sizing and the capacity check build on the config models of this package.
    from stacks.capacity import check_capacity
    from stacks.catalog import load_catalog
    from stacks.sizing import SizingError, resolve_auto_sizing

    catalog = load_catalog()
    try:
        config, _ = resolve_auto_sizing(config, catalog)
    except SizingError as error:
        raise StackConfigError(str(error)) from None
    capacity = check_capacity(config, catalog)
    for warning in capacity.warnings if log_warnings else []:
        pulumi.log.warn(warning)
    if capacity.problems:
        raise StackConfigError("\n".join(capacity.problems))
    return config


def _describe(problem: Mapping[str, Any], secret_keys: set[str], missing: set[tuple] = frozenset()) -> str:
    location = tuple(problem["loc"])
    key = _config_path(location)

    if problem["type"] == "extra_forbidden":
        meant = _meant_key(location)
        if meant in missing:
            return (
                f"unknown config key {key}: did you mean {_config_path(meant)}, which is missing? "
                f"rename the key in the stack file, or run: pulumi config rm {_path_flag(key)}{_quote(key)} "
                f"and set {_config_path(meant)}"
            )
        return _describe_unknown_key(location, key)

    example = _example_value(location)
    if problem["type"] == "missing":
        return f"missing config key {key}; set it with: {_set_command(key, example)}"

    message = problem["msg"].removeprefix("Value error, ")
    value = problem.get("input")
    if problem["type"] == "value_error" and isinstance(value, (dict, list)):
        # A rule across several keys: its message names the keys and the fix.
        if message.startswith(f"{NAMESPACE}:"):
            return f"invalid config {message}"
        return f"invalid config {key}: {message}"
    if problem["type"].startswith("literal"):
        description = _field_description(location)
        message += f" ({description})" if description else ""
        allowed = [str(choice) for choice in problem.get("ctx", {}).get("expected_values", [])] or _literal_choices(location)
        nearest = difflib.get_close_matches(str(value).lower(), allowed, n=1, cutoff=0.6)
        if nearest:
            example = nearest[0]
    nearest = re.search(r"nearest: ([A-Za-z0-9._-]*[A-Za-z0-9])", message)
    if nearest:
        example = nearest.group(1)
    displayed = _display_value(value, location, secret_keys)
    return f"invalid config {key} = {displayed}: {message}; fix with: {_set_command(key, example)}"


def _literal_choices(location: tuple) -> list[str]:
    field = _field_at(location)
    annotation = field.annotation if field else None
    return [str(choice) for choice in getattr(annotation, "__args__", ()) if isinstance(choice, (str, int))]


def _display_value(value: Any, location: tuple, secret_keys: set[str]) -> str:
    """Render a bad value for an error line: on one line, cut short, and never a secret."""
    if location and location[0] in secret_keys:
        return "[secret]"
    text = value if isinstance(value, str) else json.dumps(value)
    if "PRIVATE KEY" in text:
        return "[private key, not shown]"
    text = text.replace("\n", "\\n")
    return text if len(text) <= 100 else text[:97] + "..."


def _meant_key(location: tuple) -> Optional[tuple]:
    """Return the location of the valid key nearest to an unknown one, if any is near."""
    try:
        valid = _valid_keys(location[:-1])
    except (KeyError, TypeError):
        return None
    nearest = difflib.get_close_matches(str(location[-1]), valid, n=1, cutoff=0.5)
    return location[:-1] + (nearest[0],) if nearest else None


def _describe_unknown_key(location: tuple, key: str) -> str:
    parent = location[:-1]
    valid = _valid_keys(parent)
    nearest = difflib.get_close_matches(str(location[-1]), valid, n=1, cutoff=0.5)
    hint = f"did you mean {_config_path(parent + (nearest[0],))}? " if nearest else ""
    return (
        f"unknown config key {key}: {hint}valid keys here: {', '.join(valid)}; "
        f"remove it with: pulumi config rm {_path_flag(key)}{_quote(key)}"
    )


def _valid_keys(location: tuple) -> list[str]:
    """List the camelCase keys that the model at `location` accepts."""
    model = _model_at(location)
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(location: tuple) -> type[BaseModel]:
    model: type[BaseModel] = StackConfig
    for part in location:
        if isinstance(part, int):
            continue
        field = model.model_fields[_field_name(model, part)]
        model = _inner_model(field.annotation)
    return model


def _field_at(location: tuple) -> Optional[FieldInfo]:
    names = [part for part in location if not isinstance(part, int)]
    try:
        model = _model_at(tuple(names[:-1]))
        return model.model_fields[_field_name(model, names[-1])]
    except (KeyError, IndexError, TypeError):
        return None


def _field_description(location: tuple) -> str:
    field = _field_at(location)
    return (field.description or "") if field else ""


def _example_value(location: tuple) -> str:
    """Return a value to show in the fix command: the field's first example, or a placeholder."""
    field = _field_at(location)
    if field is None or not field.examples:
        return "<value>"
    example = field.examples[0]
    if isinstance(example, str) and example[:1] in ("[", "{"):
        # Examples of objects and lists are written as JSON text.
        example = json.loads(example)
    if _is_list_field(field.annotation) and not isinstance(location[-1], int):
        # The example of a list field is an item or the whole list; the list is set as JSON.
        return json.dumps(example if isinstance(example, list) else [example])
    return example if isinstance(example, str) else json.dumps(example)


def _is_list_field(annotation: Any) -> bool:
    """Tell whether an annotation is a list, or an Optional list."""
    if getattr(annotation, "__origin__", None) is list:
        return True
    arguments = [argument for argument in getattr(annotation, "__args__", ()) if argument is not type(None)]
    return len(arguments) == 1 and getattr(arguments[0], "__origin__", None) is list


def _field_name(model: type[BaseModel], alias: str) -> str:
    for name, field in model.model_fields.items():
        if field.alias == alias or name == alias:
            return name
    raise KeyError(alias)


def _inner_model(annotation: Any) -> type[BaseModel]:
    """Find the model inside an annotation such as `Optional[list[WorkerPool]]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        try:
            return _inner_model(argument)
        except TypeError:
            continue
    raise TypeError(f"no model in {annotation!r}")


def _config_path(location: tuple) -> str:
    """Render a pydantic error location as a Pulumi config path, such as swarm:swarms[0].cpu."""
    path = NAMESPACE
    for index, part in enumerate(location):
        if isinstance(part, int):
            path += f"[{part}]"
        elif index == 0:
            path += f":{part}"
        else:
            path += f".{part}"
    return path


def _path_flag(key: str) -> str:
    return "--path " if ("." in key or "[" in key) else ""


def _quote(key: str) -> str:
    return f"'{key}'" if ("[" in key or "." in key) else key


def _set_command(key: str, value: str) -> str:
    quoted = value if value == "<value>" else shlex.quote(value)
    return f"pulumi config set {_path_flag(key)}{_quote(key)} {quoted}"


def resource_prefix(project: str, stack: str) -> str:
    """Derive the prefix of every resource name, `<project>-<stack>`, as a valid DNS label.

    Hetzner server names become node hostnames, so the prefix is lowercased
    and any character other than a letter, digit or '-' becomes '-'.
    """
    prefix = re.sub(r"[^a-z0-9-]", "-", f"{project}-{stack}".lower()).strip("-")
    if len(prefix) > MAX_RESOURCE_PREFIX_LENGTH:
        raise StackConfigError(
            f"invalid stack name {stack}: the resource prefix {prefix} is {len(prefix)} characters, "
            f"at most {MAX_RESOURCE_PREFIX_LENGTH} keep the names of servers, clusters and Kubernetes objects within their limits; "
            "rename the stack with: pulumi stack rename <shorter-name>"
        )
    return prefix
