"""The base of every YAML block: a frozen pydantic model that refuses unknown keys, and the
field types that read ``${VAR}`` and the shorthands people write.

    class ErasureSpec(ConfigModel):
        column: Text
        expr: Text = "subject_id"

A cross-field rule raises ``problem(key, text)``: the key is relative to the block, and
``reading.parse`` turns it into ``ConfigError(file, key path, text)``.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# What an editor accepts where a value may come from the environment.
ENV_REF_SCHEMA = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"}


def problem(key: str, text: str) -> PydanticCustomError:
    """A configuration problem at ``key`` (dotted, relative to the block being validated;
    empty for the block itself)."""
    return PydanticCustomError("config", "{problem}", {"problem": text, "at": key})


def expand_env(value: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` with values from the environment."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise problem("", f"environment variable {name} is not set and has no default")

    return _ENV_REF.sub(substitute, value)


class _FromEnv:
    """A value that may be written as ``${VAR}``: expanded before validation. ``numbers``: a
    number is read as its text (``partitions: 4`` for a string setting); ``schema_numbers``:
    the JSON Schema says so too (settings passed on to Spark and connectors)."""

    def __init__(self, numbers: bool = False, schema_numbers: bool = False):
        self.numbers, self.schema_numbers = numbers, schema_numbers

    def _expand(self, value: Any) -> Any:
        if isinstance(value, str):
            return expand_env(value)
        if self.numbers and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_before_validator_function(self._expand, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        inner = handler(schema)
        if self.schema_numbers:
            return {**inner, "type": ["string", "number"]}
        if self.numbers:
            return inner  # any string may hold ${VAR}
        return {"anyOf": [inner, ENV_REF_SCHEMA]}


class _OneOrMany:
    """A list that may be written as its one item: ``keys: order_id``."""

    @staticmethod
    def _listed(value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_before_validator_function(self._listed, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        many = handler(schema)
        return {"anyOf": [many["items"], many]}


Text = Annotated[str, _FromEnv(numbers=True)]
# A setting passed on as text (Spark, reader and connector options): `partitions: 4` is "4".
Setting = Annotated[str, _FromEnv(numbers=True, schema_numbers=True)]
Flag = Annotated[bool, _FromEnv()]
Int = Annotated[int, _FromEnv()]
Number = Annotated[float, _FromEnv()]
Names = Annotated[tuple[Text, ...], _OneOrMany()]


def within(kind: type, **bounds: float) -> Any:
    """``int`` or ``float`` within bounds (``ge=1``, ``lt=1``), from the environment too."""
    return Annotated[kind, Field(**bounds), _FromEnv()]


def tag(name: str) -> Tag:
    """A union member's tag; in brackets, so that error locations can leave it out."""
    return Tag(f"<{name}>")


class ConfigModel(BaseModel):
    """A block of YAML: unknown keys refused with the known ones listed, frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The field a bare value fills: `email: hash` reads as `email: {action: hash}`.
    shorthand: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand_and_known_keys(cls, data: Any) -> Any:
        if cls.shorthand and isinstance(data, str):
            return {cls.shorthand: data}
        if isinstance(data, dict):
            unknown = sorted(set(map(str, data)) - set(cls.model_fields))
            if unknown:
                known = ", ".join(sorted(cls.model_fields))
                raise problem(unknown[0], f"unknown key (expected one of: {known})")
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        json_schema = handler(schema)
        if not cls.shorthand:
            return json_schema
        whole = handler.resolve_ref_schema(json_schema)
        bare = whole["properties"][cls.shorthand]
        bare = {k: v for k, v in bare.items() if k not in ("title", "default", "description")}
        return {"anyOf": [bare, json_schema]}
