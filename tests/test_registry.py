"""A method is one file plus one registry line: the options schema is generated from each
method's dataclass, a test-local method needs no other file, variants keep their own names."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from prunebench import methods
from prunebench.config import load_schema, validate_config
from prunebench.implementations import (
    OPTIONS_SCHEMA_FILE,
    implementation,
    options_blocks,
    render_options_schema,
)
from prunebench.methods import METHODS, SCORES, Method
from prunebench.options import build_options, options_schema
from prunebench.selection.static.run import select_subset

from .conftest import SCHEMA


def test_generated_options_schema_is_up_to_date():
    on_disk = (SCHEMA.parent / OPTIONS_SCHEMA_FILE).read_text()
    assert on_disk == render_options_schema(), "run `prunebench schema` and commit the file"


@pytest.mark.parametrize("name", list(METHODS))
def test_each_method_block_equals_its_options_dataclass(name):
    block = load_schema(SCHEMA)["properties"]["options"]["properties"][name]
    _, cls = implementation(METHODS[name])
    fields = dataclasses.fields(cls)
    assert list(block["properties"]) == [f.name for f in fields]
    for f in fields:
        prop = block["properties"][f.name]
        assert prop["default"] == f.default, (name, f.name)
        assert prop["description"] == f.metadata["help"]
        expected_type = {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}
        if "enum" in prop:
            assert prop["enum"] == list(f.metadata["choices"])
        else:
            assert prop["type"] == expected_type[f.type], (name, f.name)


def test_every_scorer_and_implementation_resolves():
    import importlib

    for spec in SCORES.values():
        assert hasattr(importlib.import_module(spec.module), spec.scorer)
    for name, spec in METHODS.items():
        impl, cls = implementation(spec)
        assert dataclasses.is_dataclass(cls), name
        if spec.kind != "reference":
            assert callable(impl), name


def test_a_test_local_method_needs_no_other_file(monkeypatch):
    entry = Method("static", "tests.local_method.input_sum", "select_lowest", "LowestOptions",
                   "lowest scores first", score="el2n")
    monkeypatch.setitem(methods.METHODS, "lowest", entry)  # the one registry line
    # its options block is generated, so a config may set its options at once
    schema = load_schema(SCHEMA)
    schema["properties"]["options"]["properties"] = options_blocks()
    config = validate_config({
        "experiment": "t", "datasets": {"digits": {"model": "digits_cnn"}},
        "methods": ["lowest"], "fractions": [0.5], "seeds": [0],
        "options": {"lowest": {"lowest": True}}}, schema)
    assert config["options"]["lowest"] == {"lowest": True, "class_balanced": True}
    scores = np.array([5.0, 1.0, 4.0, 2.0])
    labels = np.zeros(4, dtype=np.int64)
    picked = select_subset("lowest", scores, labels, 0.5, np.random.default_rng(0),
                           **config["options"]["lowest"])
    assert picked.tolist() == [1, 3]
    assert build_options(implementation(entry)[1], {}) == implementation(entry)[1](
        lowest=False, class_balanced=True)
    assert options_schema(implementation(entry)[1], "x")["properties"]["lowest"]["type"] == (
        "boolean")
