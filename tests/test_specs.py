"""Modality descriptions: flags with key=value fields, JSON files, errors."""

import json

import pytest

from tf_mmjsd.data import specs
from tf_mmjsd.data.specs import ModalitySpec, SpecError, parse_modality


def test_positional_and_named_fields():
  spec = parse_modality("scan:64x64x1:laplace:conv:2.5:sigmoid:width=64")
  assert spec == ModalitySpec("scan", (64, 64, 1), "laplace", "conv",
                              weight=2.5, output_activation="sigmoid",
                              width=64)
  assert spec.network_options == {"width": 64}
  labs = parse_modality("labs:30:normal:mlp:weight=4:scale=learned"
                        ":hidden=128,64:style_weight=2")
  assert (labs.weight, labs.learned_scale, labs.likelihood_scale,
          labs.hidden, labs.style_weight) == (4.0, True, 0.75, (128, 64), 2.0)
  assert labs.network_options == {"hidden_units": [128, 64]}
  assert parse_modality("v:3:normal:mlp:scale=learned@0.1").likelihood_scale \
      == 0.1
  assert parse_modality("v:3:normal:mlp:scale=0.2").learned_scale is False
  assert parse_modality("r:200x40:categorical:sequence").network_options == {
      "width": 128}
  assert parse_modality("v:3:bernoulli:mlp").network_options == {
      "hidden_units": [400]}


def test_text_is_the_old_name_of_the_sequence_family():
  old = ModalitySpec.from_dict({"name": "t", "shape": [8, 71],
                                "likelihood": "categorical",
                                "network": "text", "weight": 384.0})
  assert old.network == "sequence" and old.width == 0
  assert old == parse_modality("t:8x71:categorical:sequence:weight=384")
  assert ModalitySpec.from_dict(old.to_dict()) == old


@pytest.mark.parametrize("text,message", [
    ("a:64x64x1:laplace:conv:widht=3", r"modality 'a': unknown field "
     r"'widht'; the fields are weight, activation, scale"),
    ("a:64x64x1:laplace:conv:width=0", r"'a': field 'width' must be a "
     "positive integer, got '0'"),
    ("a:64:laplace:mlp:hidden=64,x", r"'a': field 'hidden' must be a "
     "positive integer"),
    ("a:6:laplace:mlp:weight=heavy", r"'a': field 'weight' must be a number, "
     "got 'heavy'"),
    ("a:6:laplace:mlp:weight=-1", r"'a': fields 'weight' and 'style_weight' "
     "must be > 0"),
    ("a:6:laplace:mlp:scale=big", r"'a': field 'scale' must be a number"),
    ("a:6:laplace:mlp:scale=learned@x", r"'a': field 'scale' must be a "
     "number, got 'learned@x'"),
    ("a:6:laplace:mlp:2:weight=3", r"field 'weight' is given twice"),
    ("a:6:bernoulli:mlp:activation=sigmoid", r"'activation' applies to the "
     "laplace and normal likelihoods; bernoulli works on logits"),
    ("a:6:laplace:mlp:activation=tanh", r"'activation' must be one of"),
    ("a:6:categorical:mlp", r"categorical modality has shape \[length, "
     r"classes\], got 6"),
    ("a:6:laplace:sequence", r"network 'sequence' takes \[L, C\]"),
    ("a:6x6:laplace:conv", r"network 'conv' takes \[H, W, C\] images, the "
     "shape is 6x6"),
    ("a:6:laplace:sequence:hidden=3", r"network 'sequence' takes"),
    ("a:6:laplace:mlp:width=3", r"field 'width' applies to networks"),
    ("a:6x4:laplace:sequence:hidden=3", r"field 'hidden' applies to network "
     "mlp, not sequence"),
    ("a:6:laplace:transformer", r"network must be one of \('mlp', 'conv', "
     r"'sequence', 'residual_conv', 'residual_sequence'\)"),
    ("a:6:laplace", r"expected name:shape:likelihood:network"),
    ("a:width=3:6:laplace:mlp", r"expected name:shape"),
    ("a:6x:laplace:mlp", r"field 'shape' must look like 64x64x1"),
])
def test_bad_descriptions_name_the_field(text, message):
  with pytest.raises(SpecError, match=message):
    parse_modality(text)


@pytest.mark.parametrize("name,message", [
    ("", "1 to 64 ASCII letters"),
    ("1st", "starting with a letter"),
    ("_a", "starting with a letter"),
    ("caf\u00e9", "ASCII"),
    ("a-b", "ASCII letters, digits and underscores"),
    ("a" * 65, "1 to 64"),
    ("labels", "is reserved"),
    ("Labels", "is reserved"),
    ("seed", "is reserved"),
    ("mask_a", "is reserved: .* start with mask_"),
    ("a_present", "is reserved: .* end with _present, _string"),
    ("a_string", "is reserved"),
])
def test_modality_names_that_would_collide_or_not_name_a_file(name,
                                                              message):
  with pytest.raises(SpecError, match=message):
    ModalitySpec(name, (6,), "laplace", "mlp")


def test_good_modality_names():
  for name in ("a", "ECG_lead2", "x" * 64, "presence", "masked", "string"):
    assert ModalitySpec(name, (6,), "laplace", "mlp").name == name


def test_modality_names_differing_only_in_case_are_refused():
  from tf_mmjsd.config import ConfigError, ExperimentConfig  # pylint: disable=g-import-not-at-top
  specs = (ModalitySpec("Scan", (6,), "laplace", "mlp"),
           ModalitySpec("scan", (6,), "laplace", "mlp"))
  with pytest.raises(ConfigError, match="unique, ignoring case"):
    ExperimentConfig(modalities=specs)


def test_modalities_file(tmp_path):
  path = tmp_path / "m.json"
  path.write_text(json.dumps([
      {"name": "scan", "shape": [64, 64, 3], "likelihood": "laplace",
       "network": "conv", "width": 16, "activation": "sigmoid"},
      {"name": "report", "shape": "200x40", "likelihood": "categorical",
       "network": "sequence", "weight": 15.36},
      {"name": "labs", "shape": [30], "likelihood": "normal",
       "network": "mlp", "scale": "learned", "hidden": [64, 32]}]))
  got = specs.load_modalities_file(str(path))
  assert got == (
      parse_modality("scan:64x64x3:laplace:conv:width=16:activation=sigmoid"),
      parse_modality("report:200x40:categorical:sequence:weight=15.36"),
      parse_modality("labs:30:normal:mlp:scale=learned:hidden=64,32"))


@pytest.mark.parametrize("content,message", [
    ("{", r"not readable JSON"),
    ('{"name": "a"}', r"expected a non-empty JSON list"),
    ('[]', r"expected a non-empty JSON list"),
    ('["a:6:laplace:mlp"]', r"modality 0: expected an object"),
    ('[{"name": "a", "shape": [6], "network": "mlp"}]',
     r"modality 0: missing field\(s\) likelihood"),
    ('[{"name": "a", "shape": [6], "likelihood": "normal", "network": "mlp",'
     ' "depth": 3}]', r"m\.json, modality 'a': unknown field 'depth'"),
    ('[{"name": "a", "shape": [6], "likelihood": "normal", "network": "conv"}]',
     r"m\.json: modality 'a': network 'conv' takes \[H, W, C\]"),
])
def test_bad_modalities_files_name_the_entry_and_field(tmp_path, content,
                                                       message):
  path = tmp_path / "m.json"
  path.write_text(content)
  with pytest.raises(SpecError, match=message):
    specs.load_modalities_file(str(path))
  with pytest.raises(SpecError, match="no such file"):
    specs.load_modalities_file(str(tmp_path / "none.json"))
