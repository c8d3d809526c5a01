"""Config validation: defaults, one-line errors naming the key, and schema == registries."""

from __future__ import annotations

import pytest
import yaml

from prunebench.config import load_schema, read_config_file, validate_config
from prunebench.data import DATASETS
from prunebench.errors import UserError
from prunebench.methods import METHODS
from prunebench.models import MODELS
from prunebench.scores import SCORERS
from prunebench.selection.static import SELECTORS

from .conftest import ROOT, SCHEMA


@pytest.fixture(scope="module")
def schema():
    return load_schema(SCHEMA)


def minimal():
    return {"experiment": "t", "datasets": {"digits": {"model": "digits_cnn"}},
            "methods": ["random"], "fractions": [0.5], "seeds": [0]}


def test_schema_enums_equal_registries(schema):
    props = schema["properties"]
    assert set(props["methods"]["items"]["enum"]) == set(METHODS)
    assert set(props["datasets"]["propertyNames"]["enum"]) == set(DATASETS)
    assert set(schema["definitions"]["dataset"]["properties"]["model"]["enum"]) == set(MODELS)
    assert set(props["proxy"]["properties"]["scores"]["items"]["enum"]) == set(SCORERS)
    assert set(props["selection"]["properties"]["ccs_score"]["enum"]) == set(SCORERS)
    used = {spec["selector"] for spec in METHODS.values() if spec["selector"]}
    assert used <= set(SELECTORS)


def test_every_schema_key_has_description_and_default(schema):
    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            assert "description" in sub, f"{path}.{name} has no description"
            walk(sub, f"{path}.{name}")
    walk(schema, "config")
    walk(schema["definitions"]["dataset"], "dataset")
    for name, sub in schema["properties"].items():
        assert "default" in sub, f"{name} has no default"


def test_defaults_filled_and_full_added(schema):
    config = validate_config(minimal(), schema)
    assert config["methods"][0] == "full"
    assert config["protocol"] == "budget"
    assert config["datasets"]["digits"]["batch_size"] == 128
    assert config["datasets"]["digits"]["augment"] == {"crop_padding": 0, "flip": False}
    assert config["proxy"]["scores"] == list(SCORERS)


def test_default_config_file_is_valid():
    config = read_config_file(ROOT / "config.yaml", SCHEMA)
    assert config["experiment"] == "quickstart"
    assert set(config["datasets"]) == {"digits", "mnist1d"}
    assert set(config["methods"]) == {"full", "random", "el2n", "grand", "forgetting", "ccs",
                                      "random_epoch", "crest"}
    assert config["fractions"] == [0.1, 0.3, 0.5] and config["seeds"] == [0, 1, 2]


@pytest.mark.parametrize("change, expected", [
    (lambda c: c["methods"].append("crestt"), "config key 'methods[1]': 'crestt' is not allowed"),
    (lambda c: c.update(fractions=[1.5]), "config key 'fractions[0]'"),
    (lambda c: c.update(fractions=[0]), "config key 'fractions[0]'"),
    (lambda c: c.update(datasets={"cifar": {"model": "resnet20"}}), "'cifar'"),
    (lambda c: c.update(epochz=3), "unknown key at the top level"),
    (lambda c: c["datasets"]["digits"].update(lr="fast"), "datasets.digits.lr"),
    (lambda c: c.pop("seeds"), "'seeds' is a required property"),
    (lambda c: c["datasets"]["digits"].update(model="vgg"), "choose one of: digits_cnn"),
])
def test_bad_config_is_one_line_naming_the_key(schema, change, expected):
    config = minimal()
    change(config)
    with pytest.raises(UserError) as err:
        validate_config(config, schema)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message


def test_method_needing_an_uncomputed_score_is_refused(schema):
    config = minimal()
    config["methods"] = ["el2n"]
    config["proxy"] = {"scores": ["forgetting"]}
    with pytest.raises(UserError, match="add 'el2n' to proxy.scores"):
        validate_config(config, schema)


def test_score_epoch_after_last_proxy_epoch_is_refused(schema):
    config = minimal()
    config["proxy"] = {"epochs": 3, "score_epoch": 5}
    with pytest.raises(UserError, match="proxy.score_epoch"):
        validate_config(config, schema)


def test_file_that_is_not_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods: [full\n  - : :")
    with pytest.raises(UserError, match="is not valid YAML"):
        read_config_file(bad, SCHEMA)
    listing = tmp_path / "list.yaml"
    listing.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(UserError, match="YAML mapping"):
        read_config_file(listing, SCHEMA)
