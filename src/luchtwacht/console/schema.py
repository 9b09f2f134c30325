"""JSON Schemas of the console's answers, derived from the picture's own dataclasses.

The API sends picture objects as :func:`~luchtwacht.console.server.jsonable` makes them: a
dataclass as an object of its fields, an enum by its lower-case name, a non-finite float as
null, tuples and sets as arrays. :func:`json_schema` gives the schema of exactly that form from
the type hints, so the OpenAPI document says what each answer holds and can never drift from the
code (the schema tests check every answer against it). Hand-written pydantic copies of twenty
dataclasses would drift.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

__all__ = ["json_schema", "ok"]


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def json_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of ``tp`` in the form the console sends it."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [json_schema(a) for a in args]}
    if tp is type(None):
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": ["number", "null"]}  # a non-finite value is sent as null
    if tp is str:
        return {"type": "string"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [m.name.lower() for m in tp]}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        fields = [f.name for f in dataclasses.fields(tp)]
        return {
            "type": "object",
            "title": tp.__name__,
            "properties": {name: json_schema(hints[name]) for name in fields},
            "required": fields,
        }
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": json_schema(args[0])}
        kinds = [json_schema(a) for a in args]  # a fixed tuple: its length, each item one of
        unique = [k for i, k in enumerate(kinds) if k not in kinds[:i]]
        items = unique[0] if len(unique) == 1 else {"anyOf": unique}
        return {"type": "array", "items": items, "minItems": len(args), "maxItems": len(args)}
    if origin in (list, frozenset, set):
        return {"type": "array", "items": json_schema(args[0])}
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return {"type": "object", "additionalProperties": json_schema(args[1])}
    if tp is object or tp is Any:
        return {}
    raise TypeError(f"no JSON Schema for {tp!r}")


def ok(schema: dict[str, Any], description: str = "OK") -> dict[int | str, dict[str, Any]]:
    """A FastAPI ``responses`` entry documenting a 200 answer with ``schema``."""
    return {200: {"description": description, "content": {"application/json": {"schema": schema}}}}
