"""Turn YAML mappings into typed, frozen dataclasses, with errors that name file, key and problem.

The rules are driven by the dataclasses' own type hints, so a new setting is a new field, not
new validation code.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration problem, located by file and key path."""

    def __init__(self, file: str | Path, key: str, problem: str):
        self.file, self.key, self.problem = str(file), key, problem
        where = f"{file}: {key}" if key else str(file)
        super().__init__(f"{where}: {problem}")


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate_env(value: str, file: str | Path, key: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` with values from the environment."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(file, key, f"environment variable {name} is not set and has no default")

    return _ENV_REF.sub(substitute, value)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", f"not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", f"expected a mapping at the top level, got {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def _join(key: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{key}[{part}]"
    return f"{key}.{part}" if key else part


def build(cls: type, data: Any, file: str | Path, key: str = "") -> Any:
    """Build ``cls`` (a dataclass) from ``data`` or raise ConfigError naming file and key."""
    return _convert(cls, data, file, key)


def _convert(hint: Any, value: Any, file: str | Path, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)

    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        candidates = [a for a in args if a is not type(None)]
        errors = []
        for candidate in candidates:
            try:
                return _convert(candidate, value, file, key)
            except ConfigError as exc:
                errors.append(exc.problem)
        raise ConfigError(file, key, " or ".join(dict.fromkeys(errors)))
    if origin is typing.Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(file, key, f"must be one of {allowed}, got {value!r}")
        return value
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [value]  # `keys: order_id` reads as naturally as `keys: [order_id]`
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected a list, got {_kind(value)}")
        item = args[0]
        return tuple(_convert(item, v, file, _join(key, i)) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a mapping, got {_kind(value)}")
        return {str(k): _convert(args[1], v, file, _join(key, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return _build_dataclass(hint, value, file, key)
    if hint is str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(file, key, f"expected a string, got {_kind(value)}")
        return interpolate_env(str(value), file, key)
    if hint is bool:
        if isinstance(value, str):
            value = interpolate_env(value, file, key).strip().lower()
            if value in ("true", "yes", "1"):
                return True
            if value in ("false", "no", "0"):
                return False
        if not isinstance(value, bool):
            raise ConfigError(file, key, f"expected true or false, got {_kind(value)}")
        return value
    if hint in (int, float):
        if isinstance(value, str):
            text = interpolate_env(value, file, key)
            try:
                value = hint(text)
            except ValueError:
                raise ConfigError(file, key, f"expected {_kind(hint())}, got {text!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, key, f"expected {_kind(hint())}, got {_kind(value)}")
        if hint is int and not float(value).is_integer():
            raise ConfigError(file, key, f"expected an integer, got {value!r}")
        return hint(value)
    raise TypeError(f"unsupported config type {hint!r} at {key}")


def _build_dataclass(cls: type, value: Any, file: str | Path, key: str) -> Any:
    if hasattr(cls, "from_shorthand") and not isinstance(value, dict):
        value = cls.from_shorthand(value, file, key)
    if not isinstance(value, dict):
        raise ConfigError(file, key, f"expected a mapping, got {_kind(value)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    yaml_names = {f.metadata.get("yaml", name): name for name, f in fields.items()}
    unknown = sorted(set(map(str, value)) - set(yaml_names))
    if unknown:
        known = ", ".join(sorted(yaml_names))
        raise ConfigError(file, _join(key, unknown[0]), f"unknown key (expected one of: {known})")
    kwargs = {}
    for yaml_name, name in yaml_names.items():
        field = fields[name]
        if yaml_name in value:
            kwargs[name] = _convert(hints[name], value[yaml_name], file, _join(key, yaml_name))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(file, _join(key, yaml_name), "required key is missing")
    instance = cls(**kwargs)
    validate = getattr(instance, "validate", None)
    if validate is not None:
        validate(file, key)
    return instance
