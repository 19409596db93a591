"""The inputs pulumi-aws 7.51.1 accepts, read from its own Python SDK (the same version the
program pins in requirements.txt).

Why the SDK and not `schema.json`: the schema lives only in the pulumi-aws repository
(provider/cmd/pulumi-resource-aws/schema.json); the Go module proxy refuses
github.com/pulumi/pulumi-aws/provider/v7 ("not available") and the repository snapshot is too big
to bring here, and CI has neither. The Python SDK on PyPI is generated from exactly that schema by
Pulumi's codegen: each `<Resource>Args` class lists every input (Pulumi name in
`@pulumi.getter(name=...)`), its constructor's parameters without a default are the required
inputs, the annotations give each input's type, and `_enums.py` holds the schema's enums.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import importlib
import inspect
import re
import sys
import typing
from dataclasses import dataclass
from typing import Any, Optional

from pulumi import _types as pulumi_types

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "computed" sentinel


@dataclass(frozen=True)
class Prop:
    kind: str  # str, int, float, bool, list, map, object, any
    item: Optional["Prop"] = None  # list/map element
    fields: Optional[dict[str, "Field"]] = None  # object
    enum_values: Optional[frozenset[str]] = None


@dataclass(frozen=True)
class Field:
    prop: Prop
    required: bool


def _module_namespace(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    package = module.__name__.rsplit(".", 1)[0]
    names: dict[str, Any] = {}
    for sub in ("_enums", "_inputs", "outputs"):
        try:
            names.update(vars(importlib.import_module(f"{package}.{sub}")))
        except ImportError:
            pass
    names.update(vars(module))
    return names


def _prop(annotation: Any, namespace: dict[str, Any]) -> Prop:
    """The schema type behind a generated annotation such as
    `Union[Sequence[Union[str, Awaitable[str], Output[T]]], None, Awaitable[...], Output[T]]`."""
    if isinstance(annotation, typing.ForwardRef):
        name = annotation.__forward_arg__
        if name.startswith("Output["):
            return Prop("any")
        target = namespace.get(name.split(".")[-1])
        if target is None:
            return Prop("any")
        annotation = target
    if isinstance(annotation, str):
        return _prop(typing.ForwardRef(annotation), namespace)
    if annotation in (str,):
        return Prop("str")
    if annotation is bool:
        return Prop("bool")
    if annotation is int:
        return Prop("int")
    if annotation is float:
        return Prop("float")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return Prop("str", enum_values=frozenset(str(m.value) for m in annotation))
    if isinstance(annotation, type) and hasattr(annotation, "__init__") and \
            getattr(annotation, "_pulumi_input_type", False) or \
            (isinstance(annotation, type) and annotation.__name__.endswith("Args")):
        return Prop("object", fields=fields_of(annotation))
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        options = [a for a in args if a is not type(None)
                   and typing.get_origin(a) is not collections.abc.Awaitable
                   and not (isinstance(a, typing.ForwardRef) and a.__forward_arg__.startswith("Output["))]
        props = [_prop(a, namespace) for a in options]
        enums = [p for p in props if p.enum_values]
        plain = [p for p in props if not p.enum_values]
        # `Union[str, SomeEnum]`: the schema's `oneOf [string, enum]`; the enum names the values.
        if enums and all(p.kind == "str" for p in plain):
            return enums[0]
        concrete = [p for p in props if p.kind != "any"]
        if len(concrete) == 1:
            return concrete[0]
        return concrete[0] if concrete else Prop("any")
    if origin in (collections.abc.Sequence, list):
        return Prop("list", item=_prop(args[0], namespace) if args else Prop("any"))
    if origin in (collections.abc.Mapping, dict):
        return Prop("map", item=_prop(args[1], namespace) if len(args) > 1 else Prop("any"))
    return Prop("any")


@functools.lru_cache(maxsize=None)
def fields_of(args_class: type) -> dict[str, Field]:
    """Pulumi (camelCase) input name -> Field, for a generated `...Args` class."""
    namespace = _module_namespace(args_class)
    names = pulumi_types.input_type_py_to_pulumi_names(args_class)
    signature = inspect.signature(args_class.__init__)
    annotations = args_class.__init__.__annotations__
    result = {}
    for py_name, parameter in signature.parameters.items():
        if py_name in ("self", "__self__") or parameter.kind is not parameter.KEYWORD_ONLY:
            continue
        pulumi_name = names.get(py_name, py_name)
        result[pulumi_name] = Field(_prop(annotations.get(py_name), namespace),
                                    required=parameter.default is inspect.Parameter.empty)
    return result


def _module_of(token: str) -> tuple[Any, str]:
    """`aws:ec2/instance:Instance` -> (pulumi_aws.ec2.instance module, "Instance")."""
    match = re.fullmatch(r"aws:([A-Za-z0-9]+)/([A-Za-z0-9]+):([A-Za-z0-9]+)", token)
    if not match:
        raise KeyError(token)
    package, module, name = match.groups()
    package = "" if package == "index" else f".{package}"
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", module).lower()
    return importlib.import_module(f"pulumi_aws{package}.{snake}"), name


@functools.lru_cache(maxsize=None)
def resource_inputs(token: str) -> dict[str, Field]:
    module, name = _module_of(token)
    return fields_of(getattr(module, f"{name}Args"))


@functools.lru_cache(maxsize=None)
def function_inputs(token: str) -> frozenset[str]:
    """The argument names an invoke token takes, as the generated function sends them
    (`__args__['mostRecent'] = most_recent`)."""
    module, name = _module_of(token)
    function = getattr(module, re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())
    return frozenset(re.findall(r"__args__\['(\w+)'\]", inspect.getsource(function)))


def _check_value(path: str, value: Any, prop: Prop, failures: list[tuple[str, str]]) -> None:
    if value is None or value == UNKNOWN or prop.kind == "any":
        return
    kind = prop.kind
    if kind == "str":
        if not isinstance(value, str):
            failures.append((path, f"expected a string, got {type(value).__name__} {value!r}"))
        elif prop.enum_values and value not in prop.enum_values:
            failures.append((path, f"{value!r} is not one of the schema's values: "
                                   f"{', '.join(sorted(prop.enum_values))}"))
    elif kind == "bool":
        if not isinstance(value, bool):
            failures.append((path, f"expected a boolean, got {value!r}"))
    elif kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            failures.append((path, f"expected a number, got {value!r}"))
        elif kind == "int" and float(value) != int(value):
            failures.append((path, f"expected an integer, got {value!r}"))
    elif kind == "list":
        if not isinstance(value, list):
            failures.append((path, f"expected a list, got {type(value).__name__}"))
        else:
            for index, item in enumerate(value):
                _check_value(f"{path}[{index}]", item, prop.item, failures)
    elif kind == "map":
        if not isinstance(value, dict):
            failures.append((path, f"expected a map, got {type(value).__name__}"))
        else:
            for key, item in value.items():
                _check_value(f"{path}.{key}", item, prop.item, failures)
    elif kind == "object":
        if not isinstance(value, dict):
            failures.append((path, f"expected an object, got {type(value).__name__}"))
        else:
            check_object(path + ".", value, prop.fields or {}, failures)


def check_object(prefix: str, values: dict[str, Any], fields: dict[str, Field],
                 failures: list[tuple[str, str]]) -> None:
    for key, value in values.items():
        if key.startswith("__"):
            continue  # engine bookkeeping such as __defaults
        field = fields.get(key)
        if field is None:
            failures.append((prefix + key, "unknown property: pulumi-aws 7.51.1 has no such input "
                                           f"(known: {', '.join(sorted(fields))})"))
            continue
        _check_value(prefix + key, value, field.prop, failures)
    for key, field in fields.items():
        if field.required and key not in values:
            failures.append((prefix + key, "required by pulumi-aws 7.51.1 but missing"))


def check_inputs(token: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """Every way `values` breaks the pulumi-aws 7.51.1 schema of resource `token`."""
    failures: list[tuple[str, str]] = []
    check_object("", values, resource_inputs(token), failures)
    return failures


def check_invoke(token: str, args: dict[str, Any]) -> list[tuple[str, str]]:
    known = function_inputs(token)
    return [(key, f"unknown argument of {token} (known: {', '.join(sorted(known))})")
            for key in args if key not in known]
