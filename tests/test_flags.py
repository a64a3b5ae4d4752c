"""Flags, layered flagfiles and the config they build."""

import json

import pytest

from tf_mmjsd import flags as mm_flags
from tf_mmjsd.config import ConfigError, ExperimentConfig
from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs
from tests.harness import REPO


def test_nested_flagfiles_resolve_relative_to_their_file(tmp_path):
  (tmp_path / "sub").mkdir()
  (tmp_path / "sub" / "base.flags").write_text("--beta=1.0\n--seed=3\n")
  (tmp_path / "top.flags").write_text(
      "# comment\n--flagfile=sub/base.flags\n--beta=2.0\n")
  argv = mm_flags.expand_flagfiles([f"--flagfile={tmp_path}/top.flags",
                                    "--seed=4"])
  assert argv == ["--beta=1.0", "--seed=3", "--beta=2.0", "--seed=4"]


def test_missing_and_cyclic_flagfiles(tmp_path):
  with pytest.raises(mm_flags.FlagfileError, match="not found.*nope.flags"):
    mm_flags.expand_flagfiles([f"--flagfile={tmp_path}/nope.flags"])
  (tmp_path / "a.flags").write_text("--flagfile=a.flags\n")
  with pytest.raises(mm_flags.FlagfileError, match="includes itself"):
    mm_flags.expand_flagfiles([f"--flagfile={tmp_path}/a.flags"])


def test_mst_flags_match_the_design():
  argv = mm_flags.expand_flagfiles([f"--flagfile={REPO}/configs/mst.flags"])
  values = dict(a[2:].split("=", 1) for a in argv)
  assert values["dataset"] == "mnist_svhn_text"
  assert values["data_multiplication"] == "20"
  assert float(values["beta"]) == 2.5 and float(values["prior_weight"]) == 0.25
  assert float(values["learning_rate"]) == 5e-4
  assert float(values["adam_epsilon"]) == 1e-8
  assert values["batch_size"] == "256" and values["epochs"] == "100"
  assert values["latent_dim"] == "20" and values["method"] == "mmjsd"


def test_config_round_trips_through_json():
  cfg = ExperimentConfig(modalities=mnist_svhn_text_specs(), style_dim=4,
                         model_dir="/tmp/x")
  again = ExperimentConfig.from_dict(json.loads(cfg.to_json()))
  assert again == cfg
  assert again.modalities[2].weight == 384.0
  assert again.modalities[0].weight == pytest.approx(3072 / 784)


@pytest.mark.parametrize("field,value,message", [
    ("method", "vae", "method must be one of"),
    ("prior_weight", 1.5, "prior_weight"),
    ("batch_size", 0, "batch_size"),
    ("mnist_dir", "/x", "--svhn_dir"),
    ("style_warmup_epochs", 2, "style_warmup_epochs needs style codes"),
    ("style_warmup_epochs", -1, "style_warmup_epochs must be >= 0"),
])
def test_invalid_settings_are_named(field, value, message):
  values = dict(modalities=mnist_svhn_text_specs(), dataset="mnist_svhn_text")
  values[field] = value
  with pytest.raises(ConfigError, match=message):
    ExperimentConfig.of(**values)


def test_a_style_warmup_must_end_before_training_does():
  values = dict(modalities=mnist_svhn_text_specs(), style_dim=4, epochs=8)
  assert ExperimentConfig(**values, style_warmup_epochs=7).epochs == 8
  with pytest.raises(ConfigError, match=r"style_warmup_epochs \(8\) must be "
                     r"smaller than epochs \(8\)"):
    ExperimentConfig(**values, style_warmup_epochs=8)


def test_a_flagfile_line_that_is_not_a_flag_names_the_file_and_line(
    tmp_path):
  (tmp_path / "bad.flags").write_text("# settings\n\n--beta=1\nepochs 3\n")
  with pytest.raises(mm_flags.FlagfileError,
                     match=r"bad\.flags, line 4: 'epochs 3' is not a flag"):
    mm_flags.expand_flagfiles([f"--flagfile={tmp_path}/bad.flags"])
