"""YAML files in, models out; pydantic's complaints out as ``ConfigError``: the file, the key
path (``source.kafka.topic``, ``expectations[2].kwargs``) and what is allowed, in our words."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

# libyaml's parser when PyYAML was built with it: reading the YAML is most of a load.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration problem, located by file and key path."""

    def __init__(self, file: str | Path, key: str, problem: str):
        self.file, self.key, self.problem = str(file), key, problem
        where = f"{file}: {key}" if key else str(file)
        super().__init__(f"{where}: {problem}")


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_LOADER)
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", f"not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", f"expected a mapping at the top level, got {kind(data)}")
    return data


def load(cls: type[M], path: Path) -> M:
    return parse(cls, read_yaml(path), path)


def parse(cls: type[M], data: Any, file: str | Path, key: str = "") -> M:
    """``cls`` from ``data`` (read from ``file``, at ``key`` in it), or ConfigError."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, file, key) from None


def config_error(exc: ValidationError, file: str | Path, key: str = "") -> ConfigError:
    """The first of pydantic's errors, located and worded for the person editing ``file``."""
    error = exc.errors(include_url=False)[0]
    for part in error["loc"]:
        # union members' tags (`<query>`) and dict keys' own errors (`[key]`) are no YAML keys
        if not (isinstance(part, str) and (part.startswith("<") or part == "[key]")):
            key = join(key, part)
    at = (error.get("ctx") or {}).get("at")
    if at:
        key = f"{key}.{at}" if key else at
    return ConfigError(file, key, wording(error))


def join(key: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{key}[{part}]"
    return f"{key}.{part}" if key else part


def kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def _got(value: Any) -> str:
    """A scalar as written, anything else by its kind."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return repr(value)
    return kind(value)


_EXPECTED = {
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def wording(error: Any) -> str:
    kind_of, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind_of == "missing":
        return "required key is missing"
    if kind_of in _EXPECTED:
        expected = _EXPECTED[kind_of]
        got = kind(value) if expected in ("a mapping", "a list") else _got(value)
        return f"expected {expected}, got {got}"
    if kind_of == "literal_error":
        # pydantic lists them as "'a', 'b' or 'c'"
        allowed = ", ".join(ctx["expected"].rsplit(" or ", 1))
        return f"must be one of {allowed}, got {value!r}"
    if kind_of in _BOUNDS:
        bound, words = _BOUNDS[kind_of]
        return f"must be {words} {ctx[bound]} (got {value})"
    if kind_of == "value_error":
        return str(ctx["error"])
    return ctx.get("problem") or error["msg"]
