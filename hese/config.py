"""Load YAML input files safely and validate them against hese's JSON schemas.

Configs are data: ``yaml.safe_load`` only. Every problem becomes one
:class:`~hese.errors.HeseInputError` naming the file, the field, the bad value
and what is allowed.
"""

from __future__ import annotations

import copy
import math
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hese.errors import HeseInputError

if TYPE_CHECKING:
    import jsonschema
    import referencing


@cache
def schema(name: str) -> dict:
    """The JSON schema ``hese/schemas/<name>.schema.yaml``."""
    text = resources.files("hese").joinpath(f"schemas/{name}.schema.yaml").read_text()
    return yaml.safe_load(text)


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file with ``yaml.safe_load``; errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise HeseInputError(f"{path}: cannot read ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise HeseInputError(f"{path}: not a text file in UTF-8 (byte {err.start} is {err.object[err.start]:#04x}); "
                             "save it as UTF-8") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise HeseInputError(f"{path}:{line} malformed YAML: {problem}") from None


def _with_defaults(validator_class):
    """A validator that also fills ``default`` values from the schema."""
    import jsonschema

    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


@cache
def _validation() -> tuple[type, referencing.Registry]:
    """The validator class and the registry of hese's schemas (jsonschema is imported here, when first needed)."""
    import jsonschema
    import referencing

    return _with_defaults(jsonschema.Draft202012Validator), referencing.Registry(retrieve=_retrieve)


def _retrieve(uri: str) -> referencing.Resource:
    """Resolve ``$ref: <name>.schema.yaml`` to hese's own schema of that name.

    Its ``$schema`` key is dropped: with it, jsonschema would switch to the plain validator class
    inside the reference and stop filling defaults there.
    """
    import referencing.jsonschema

    name = uri.rsplit("/", 1)[-1].removesuffix(".schema.yaml")
    contents = {k: v for k, v in schema(name).items() if k != "$schema"}
    return referencing.Resource.from_contents(contents, default_specification=referencing.jsonschema.DRAFT202012)


def validate(data: Any, schema_name: str, source: str | Path) -> Any:
    """Validate ``data`` against a schema, filling defaults in place.

    Raises
    ------
    HeseInputError
        ``<source>: <field>: <problem>`` for the most relevant violation.
    """
    import jsonschema

    check_finite(data, source)
    validator, registry = _validation()
    errors = list(validator(schema(schema_name), registry=registry).iter_errors(data))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        field = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise HeseInputError(f"{source}: {field}: {_describe(err)}")
    return data


def check_finite(data: Any, source: str | Path, path: str = "") -> None:
    """Refuse NaN and infinities anywhere in ``data`` (JSON schemas' bounds let NaN through)."""
    if isinstance(data, float) and not math.isfinite(data):
        raise HeseInputError(f"{source}: {path or '(top level)'}: {data!r} is not a finite number")
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        check_finite(value, source, f"{path}.{key}" if path else str(key))


def _describe(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        allowed = ", ".join(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"unknown key {', '.join(map(repr, extra))}; allowed keys: {allowed}"
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return err.message


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def check_name(value: Any, field: str, source: str | Path = "") -> str:
    """A name that becomes part of a path: no ``/``, no ``..``, no leading dot.

    Allowed: letters, digits and ``_ . + -``, starting with a letter or digit.
    """
    prefix = f"{source}: " if source else ""
    if not isinstance(value, str) or not _NAME.match(value) or ".." in value:
        raise HeseInputError(
            f"{prefix}{field}: {value!r} is not a valid name (letters, digits and _ . + -, "
            f"starting with a letter or digit; no '/', no '..')"
        )
    return value
