"""The tools' parameters as one definition: each tool method's typed signature and the Args section of
its docstring, from which `arguments_model` builds the pydantic model that the agent's function
schemas and the MCP tool list both come from.

The bounds a parameter states (`Query`, `Seconds`, `Count`, ...) go into its JSON schema but are not
enforced by pydantic: the agent's own calls are clamped inside the tools, and the MCP server checks a
client's arguments against the stated bounds with messages of its own.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Annotated, Any, get_type_hints

from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonDict


def stated(**bounds: float) -> FieldInfo:
    """JSON-schema bounds (minimum, maximum, minLength, maxLength) a parameter states to its callers."""
    extra: JsonDict = dict(bounds)
    info: FieldInfo = Field(json_schema_extra=extra)
    return info


Query = Annotated[str, stated(minLength=1, maxLength=1000)]
Question = Annotated[str, stated(minLength=1, maxLength=2000)]
Script = Annotated[str, stated(minLength=1, maxLength=4000)]
VideoKey = Annotated[str, stated(minLength=1, maxLength=500)]
"""A video's name or id."""
Seconds = Annotated[float, stated(minimum=0, maximum=1e7)]
Count = Annotated[int, stated(minimum=1, maximum=20)]
"""How many results to return."""


def param_docs(doc: str) -> dict[str, str]:
    """`name: description` entries of a Google-style Args section, each starting with a capital."""
    match = re.search(r"Args:\n(.*?)(?:\n\s*\n|\n\s*Returns:|\Z)", doc, re.S)
    if not match:
        return {}
    docs: dict[str, str] = {}
    name = None
    for line in match.group(1).splitlines():
        item = re.match(r"^\s*(\w+): (.+)$", line)
        if item:
            name, docs[item.group(1)] = item.group(1), item.group(2).strip()
        elif name and line.strip():
            docs[name] += " " + line.strip()
    return {k: v[0].upper() + v[1:] for k, v in docs.items()}


def arguments_model(fn: Callable[..., object]) -> type[BaseModel]:
    """A tool's arguments as a pydantic model: the parameters of its signature (a method's `self`
    left out) with their types, defaults and stated bounds, each described by its docstring entry."""
    hints = get_type_hints(fn, include_extras=True)
    docs = param_docs(fn.__doc__ or "")
    # Any: create_model's keywords also take its options (`__config__`, ...), typed one by one
    fields: dict[str, Any] = {}
    for name, param in inspect.signature(fn).parameters.items():
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (hints[name], Field(default, description=docs.get(name)))
    return create_model(fn.__name__, **fields)


__all__ = ["Count", "Query", "Question", "Script", "Seconds", "VideoKey", "arguments_model", "param_docs", "stated"]
