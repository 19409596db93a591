"""Which declared properties a provider's own schema (GetSchema) does not define.

The bridge's Check accepts a property no schema declares and drops it silently (checked with
random 4.21.4: `lenght` passes Check without a word), so a misspelt or stale input would never
reach the API. Here every key of the inputs, at any depth, must be a property of the type the
schema gives at that place (`$ref` types, arrays' `items`, maps' `additionalProperties`).
"""

from __future__ import annotations

from typing import Any


def unknown_properties(schema: dict, properties: dict, inputs: dict, path: str = "") -> list[str]:
    found = []
    for key, value in inputs.items():
        where = f"{path}.{key}" if path else key
        spec = properties.get(key)
        if spec is None:
            found.append(f"{where}: not a property in the provider's schema")
            continue
        found += _value(schema, spec, value, where)
    return found


def _value(schema: dict, spec: dict, value: Any, where: str) -> list[str]:
    if "$ref" in spec:
        ref = spec["$ref"]
        if not ref.startswith("#/types/"):
            return []  # pulumi.json#/Any, /Archive, /Asset: anything goes
        target = schema["types"][ref.removeprefix("#/types/")]
        if isinstance(value, dict) and target.get("type") == "object":
            return unknown_properties(schema, target.get("properties", {}), value, where)
        return []
    if spec.get("type") == "array" and isinstance(value, list):
        return [problem for n, item in enumerate(value)
                for problem in _value(schema, spec["items"], item, f"{where}[{n}]")]
    if spec.get("type") == "object" and isinstance(value, dict) and "additionalProperties" in spec:
        return [problem for key, item in value.items()
                for problem in _value(schema, spec["additionalProperties"], item, f"{where}.{key}")]
    return []
