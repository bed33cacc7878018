import pytest

from hese.config import check_name, load_yaml, validate
from hese.errors import HeseInputError


@pytest.mark.parametrize("bad", ["a/b", "..", "../x", ".hidden", "", "a b", None, 3])
def test_names_that_become_paths_are_checked(bad):
    with pytest.raises(HeseInputError, match="name: .* is not a valid name"):
        check_name(bad, "name", "f.yaml")


@pytest.mark.parametrize("good", ["he-dme", "li2zncl4_9h2o", "run.1", "T298+seed2"])
def test_good_names_pass(good):
    assert check_name(good, "name") == good


def test_malformed_yaml_names_file_and_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\ncomposition: {counts: {LiCl: 1}\n")
    with pytest.raises(HeseInputError, match=r"bad.yaml: line \d+ malformed YAML"):
        load_yaml(f)


def test_yaml_is_data_not_code(tmp_path):
    f = tmp_path / "evil.yaml"
    f.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(HeseInputError, match="malformed YAML"):
        load_yaml(f)


def test_schema_errors_name_the_field_and_allowed_values():
    with pytest.raises(HeseInputError, match=r"s.yaml: force_field.family: 'ionic' is not one of organic, aqueous"):
        validate({"name": "x", "composition": {"counts": {"LiCl": 1}}, "force_field": {"family": "ionic"}}, "system", "s.yaml")
    with pytest.raises(HeseInputError, match=r"composition: unknown key 'molarityy'; allowed keys: molarity, molality, ratio, counts"):
        validate({"name": "x", "composition": {"counts": {"LiCl": 1}, "molarityy": {}}}, "system", "s.yaml")


def test_schema_fills_defaults():
    data = validate({"name": "x", "composition": {"counts": {"LiCl": 1}}}, "system", "s.yaml")
    assert data["force_field"]["family"] == "organic"
    assert data["force_field"]["cutoff_nm"] == 1.0
    assert data["size"] == {}
    assert data["composition"]["solvent_basis"] == "mole"


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    import os

    from hese.io import atomic_write

    mask = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "x.txt", "data")
    finally:
        os.umask(mask)
    assert path.read_text() == "data" and (path.stat().st_mode & 0o777) == 0o644


def test_schemas_use_only_json_schema_keywords():
    """A comma in an unquoted YAML flow mapping splits a description into stray keys; catch it."""
    from hese.config import schema

    keywords = {"$schema", "$id", "$ref", "$defs", "title", "description", "type", "enum", "const", "default",
                "properties", "additionalProperties", "required", "items", "minItems", "maxItems", "uniqueItems",
                "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minProperties", "maxProperties",
                "pattern", "patternProperties", "propertyNames", "oneOf", "anyOf", "allOf", "not", "examples",
                "minLength", "maxLength", "format", "if", "then", "else", "dependentRequired"}

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if where.endswith(("properties", "$defs", "patternProperties")):
                    walk(value, f"{where}.{key}")
                    continue
                assert key in keywords, f"{where}: {key!r} is not a JSON Schema keyword"
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for name in ("study", "system", "simulate", "analysis"):
        walk(schema(name), name)
