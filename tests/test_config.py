"""Config validation: defaults, one-line errors naming the key (and the file), variants."""

from __future__ import annotations

import copy

import pytest
import yaml

from prunebench.config import load_schema, read_config_file, science_settings, validate_config
from prunebench.data import DATASETS
from prunebench.errors import UserError
from prunebench.methods import METHODS, SCORES, method_options
from prunebench.models import MODELS

from .conftest import ROOT, SCHEMA


@pytest.fixture(scope="module")
def schema():
    return load_schema(SCHEMA)


def minimal():
    return {"experiment": "t", "datasets": {"digits": {"model": "digits_cnn"}},
            "methods": ["random"], "fractions": [0.5], "seeds": [0]}


def test_schema_enums_equal_registries(schema):
    props = schema["properties"]
    assert set(props["options"]["properties"]) == set(METHODS)
    assert props["variants"]["additionalProperties"]["properties"]["method"]["enum"] == list(
        METHODS)
    assert set(schema["definitions"]["loader"]["enum"]) == set(DATASETS)
    assert set(schema["definitions"]["dataset_options"]["properties"]) == set(DATASETS)
    assert set(schema["definitions"]["dataset"]["properties"]["model"]["enum"]) == set(MODELS)
    assert props["proxy"]["properties"]["scores"]["items"]["enum"] == list(SCORES)


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
    assert config["options"]["ccs"] == {"class_balanced": True, "beta": 0.1, "strata": 50,
                                        "score": "el2n"}
    assert config["options"]["craig"] == {"interval": 1}


def test_default_config_file_is_valid():
    config = read_config_file(ROOT / "config.yaml", SCHEMA)
    assert config["experiment"] == "quickstart"
    assert set(config["datasets"]) == {"digits", "mnist1d"}
    assert {"full", "random", "el2n", "grand", "forgetting", "ccs", "random_epoch",
            "crest"} <= set(config["methods"])
    assert config["fractions"] == [0.1, 0.3, 0.5] and config["seeds"] == [0, 1, 2]


@pytest.mark.parametrize("change, expected", [
    (lambda c: c["methods"].append("crestt"), "config key 'methods[1]': 'crestt' is not allowed"),
    (lambda c: c.update(fractions=[1.5]), "config key 'fractions[0]'"),
    (lambda c: c.update(fractions=[0]), "config key 'fractions[0]'"),
    (lambda c: c.update(fractions=[0.1234567]), "'fractions[0]': 0.1234567 has more than 4"),
    (lambda c: c.update(datasets={"cifar": {"model": "resnet20"}}), "'cifar'"),
    (lambda c: c.update(epochz=3), "unknown key at the top level"),
    (lambda c: c["datasets"]["digits"].update(lr="fast"), "datasets.digits.lr"),
    (lambda c: c.pop("seeds"), "'seeds' is a required property"),
    (lambda c: c["datasets"]["digits"].update(model="vgg"), "choose one of: digits_cnn"),
    (lambda c: c.update(options={"crest": {"tauu": 1}}), "unknown key at options.crest"),
    (lambda c: c.update(options={"ccs": {"beta": 2}}), "config key 'options.ccs.beta'"),
    (lambda c: c.update(options={"nope": {}}), "unknown key at options"),
    (lambda c: c.update(variants={"v": {"method": "nope"}}), "'variants.v.method': 'nope'"),
    (lambda c: c.update(variants={"v": {"method": "ccs", "options": {"beta": -1}}}),
     "config key 'variants.v.options.beta'"),
    (lambda c: c.update(variants={"v": {"method": "ccs", "options": {"betta": 1}}}),
     "unknown key at variants.v.options"),
    (lambda c: c.update(variants={"ccs": {"method": "ccs"}}), "cannot reuse the name"),
])
def test_bad_config_is_one_line_naming_the_key(schema, change, expected):
    config = minimal()
    change(config)
    with pytest.raises(UserError) as err:
        validate_config(config, schema)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message


def test_an_option_larger_than_the_data_is_refused_at_config_time(schema):
    config = minimal()
    config["methods"] = ["crest"]
    config["options"] = {"crest": {"subset_size": 2000}}  # digits has 1,347 training examples
    with pytest.raises(UserError) as err:
        validate_config(config, schema)
    assert "'options.crest.subset_size': 2000 is more than the 1347 training examples of " \
           "'digits'" in str(err.value)
    config["options"] = {"crest": {"subset_size": 0.5}}  # a fraction of N is always fine
    validate_config(config, schema)
    config = minimal()
    config["datasets"] = {"mnist1d": {"model": "mnist1d_cnn", "options": {"train_size": 600}}}
    config["variants"] = {"big": {"method": "crest", "options": {"subset_size": 601}}}
    config["methods"] = ["big"]
    with pytest.raises(UserError, match="'variants.big.options.subset_size': 601 is more than "
                                        "the 600 training examples of 'mnist1d'"):
        validate_config(config, schema)


def test_embedding_methods_are_charged_the_embeddings(schema):
    from prunebench.plan import ExperimentPlan

    config = minimal()
    config["methods"] = ["kcenter", "el2n", "random"]
    config["proxy"] = {"scores": ["el2n", "embeddings"]}
    plan = ExperimentPlan(validate_config(config, schema))
    assert plan.charged_score("kcenter") == "embeddings"
    assert plan.charged_score("el2n") == "el2n" and plan.charged_score("random") is None
    assert plan.selection_values("digits", "kcenter").endswith("/seed0/embeddings_e2.npy")


def test_expected_train_sizes_match_the_prepared_data(digits_dir):
    import json

    from prunebench.train_sizes import expected_train_size

    meta = json.loads((digits_dir / "meta.json").read_text())
    assert expected_train_size("digits", {}) == meta["n_train"] == 1347
    assert expected_train_size("mnist1d", {"train_size": 400}) == 400


def test_variant_runs_its_method_with_the_method_block_then_its_own(schema):
    config = minimal()
    config["options"] = {"ccs": {"beta": 0.2, "strata": 10}}
    config["variants"] = {"ccs_b05": {"method": "ccs", "options": {"beta": 0.05}}}
    config["methods"] = ["ccs", "ccs_b05"]
    config = validate_config(config, schema)
    assert method_options("ccs", config)["beta"] == 0.2
    variant = method_options("ccs_b05", config)
    assert variant["beta"] == 0.05 and variant["strata"] == 10 and variant["score"] == "el2n"


def test_proxy_scores_add_what_the_methods_need(schema):
    from prunebench.plan import ExperimentPlan

    config = minimal()  # no proxy section: the default list, then what the methods need
    config["methods"] = ["uncertainty_entropy", "el2n"]
    scores = validate_config(config, schema)["proxy"]["scores"]
    default = schema["properties"]["proxy"]["properties"]["scores"]["default"]
    assert scores == [*default, "uncertainty_entropy"]
    config = minimal()  # the listed extras first, in their order; variants and CCS's option
    config["variants"] = {"ccs_f": {"method": "ccs", "options": {"score": "uncertainty_lc"}}}
    config["methods"] = ["ccs_f", "kcenter", "el2n"]
    config["proxy"] = {"scores": ["forgetting", "el2n"]}
    checked = validate_config(config, schema)
    assert checked["proxy"]["scores"] == ["forgetting", "el2n", "embeddings", "uncertainty_lc"]
    plan = ExperimentPlan(checked)  # both come from the proxy runs' saved state at k = 2
    assert plan.state_arrays() == {"embeddings_e2": "embeddings",
                                   "uncertainty_lc_e2": "uncertainty_lc"}
    assert "state_e2.pt" in plan.proxy_files()
    config["proxy"] = {"scores": []}  # only what the methods need
    assert validate_config(config, schema)["proxy"]["scores"] == [
        "el2n", "embeddings", "uncertainty_lc"]


def test_a_config_listing_its_scores_keeps_its_list_and_proxy_key(schema):
    from prunebench.plan import ExperimentPlan

    config = minimal()
    config["methods"] = ["el2n", "ccs"]
    config["proxy"] = {"scores": ["grand", "el2n"]}
    plan = ExperimentPlan(validate_config(copy.deepcopy(config), schema))
    assert plan.proxy["scores"] == ["grand", "el2n"]
    again = validate_config(validate_config(config, schema), schema)  # validating is stable
    assert ExperimentPlan(again).proxy_key("digits") == plan.proxy_key("digits")


def test_a_method_ranking_by_a_non_score_is_refused(schema):
    config = minimal()
    config["variants"] = {"ccs_f": {"method": "ccs", "options": {"score": "embeddings"}}}
    config["methods"] = ["ccs_f"]
    with pytest.raises(UserError, match="'ccs_f' ranks by score 'embeddings', which is not a "
                                        "score"):
        validate_config(config, schema)


def test_score_epoch_after_last_proxy_epoch_is_refused(schema):
    config = minimal()
    config["proxy"] = {"epochs": 3, "score_epoch": 5}
    with pytest.raises(UserError, match="proxy.score_epoch"):
        validate_config(config, schema)


def test_science_settings_leave_out_operations(schema):
    config = validate_config(minimal(), schema)
    science = science_settings(config)
    assert "wandb" not in science and "speed" not in science and "device" not in science
    assert "checkpoint_every" not in science and "grand_chunk" not in science["proxy"]
    assert science["experiment"] == "t" and science["proxy"]["epochs"] == 10


@pytest.mark.parametrize("text, expected", [
    ("", "is empty"),
    ("5\n", "holds a int, not a YAML mapping"),
    ("- a\n- b\n", "holds a list, not a YAML mapping"),
    ("methods: [full\n  - : :", "is not valid YAML"),
    ("experiment: t\n", "'datasets' is a required property"),
])
def test_config_file_problems_name_the_file(tmp_path, text, expected):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        read_config_file(path, SCHEMA)
    message = str(err.value)
    assert str(path) in message and expected in message and "\n" not in message


def test_every_experiment_file_is_valid():
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        config = read_config_file(path, SCHEMA)
        assert config["experiment"], path
    assert yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())["experiment"] == "tiny"
