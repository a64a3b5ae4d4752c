"""End-to-end runs of bin/train: outputs, resumption, errors."""

import json
import os
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.harness import REPO, TINY, summary as _summary, train


@pytest.mark.slow
def test_tiny_run_writes_everything_and_resumes(tmp_path, cache_dir):
  model_dir = str(tmp_path / "run")
  args = [f"--flagfile={REPO}/configs/base.flags"] + TINY + [
      f"--model_dir={model_dir}"]
  first = train(args + ["--epochs=1"], cache_dir)
  assert first.returncode == 0, first.stderr
  one = _summary(model_dir)
  assert one["steps"] == 31 and one["synthetic"] is True
  for name in ("config.json", "flags.txt", "checkpoints/checkpoint",
               "summary.json"):
    assert os.path.exists(os.path.join(model_dir, name)), name
  assert os.listdir(os.path.join(model_dir, "tensorboard"))
  probe = one["latent_probe"]
  assert probe["train_examples"] == 500 and probe["test_examples"] == 500
  for kind in ("poe", "mixture"):
    assert len(probe[kind]) == 7
    assert all(0.0 <= v <= 1.0 for v in probe[kind].values())
  assert len(one["samples"]) == 7  # 3 singles, 3 pairs, random
  grid = Image.open(os.path.join(model_dir, one["samples"][0]))
  assert grid.width == 4 * 66 + 2  # 4 columns of 64-pixel tiles

  # Same command again: nothing left to train.
  again = train(args + ["--epochs=1"], cache_dir)
  assert again.returncode == 0, again.stderr
  assert "already finished" in again.stdout
  # The rerun keeps the training speed measured by the run that trained.
  assert one["train_examples_per_second"] > 0
  assert _summary(model_dir)["train_examples_per_second"] == (
      one["train_examples_per_second"])
  # More epochs (4 steps per call now): resumes from the last checkpoint
  # and keeps learning.
  more = train(args + ["--epochs=3", "--steps_per_execution=4"], cache_dir)
  assert more.returncode == 0, more.stderr
  assert "Resuming from checkpoint" in more.stdout and "at step 31" in more.stdout
  three = _summary(model_dir)
  assert three["steps"] == 93
  assert three["test_terms"]["loss"] < one["test_terms"]["loss"]
  assert np.isfinite(three["test_terms"]["js"])
  # The same 3 epochs in one go end with bit-identical weights: the data
  # order and the noise follow (seed, step), not the process's history.
  whole = str(tmp_path / "whole")
  again = train([a for a in args if not a.startswith("--model_dir")] + [
      "--epochs=3", f"--model_dir={whole}"], cache_dir)
  assert again.returncode == 0, again.stderr
  resumed, uninterrupted = (
      {k: tf.train.load_variable(d, k) for k, _ in tf.train.list_variables(d)
       if k.startswith(("model/", "state/"))}
      for d in (tf.train.latest_checkpoint(f"{m}/checkpoints")
                for m in (model_dir, whole)))
  assert resumed.keys() == uninterrupted.keys() and len(resumed) > 50
  for key, value in uninterrupted.items():
    np.testing.assert_array_equal(resumed[key], value, err_msg=key)


@pytest.mark.slow
def test_style_warmup_epochs_then_styles(tmp_path, cache_dir):
  model_dir = str(tmp_path / "ms")
  args = [f"--flagfile={REPO}/configs/base.flags"] + TINY + [
      f"--model_dir={model_dir}", "--latent_dim=6", "--style_dim=2",
      "--style_warmup_epochs=1", "--epochs=2"]
  result = train(args, cache_dir)
  assert result.returncode == 0, result.stderr
  assert "Epoch 1/2 (style warm-up: styles from N(0, I))" in result.stdout
  assert "Epoch 2/2\n" in result.stdout
  # After the warm-up the styles are posteriors again: their KLs are > 0.
  terms = _summary(model_dir)["test_terms"]
  assert all(terms[f"kl_style_{m}"] > 1e-3 for m in ("mnist", "svhn", "text"))


def test_unknown_flag_and_missing_flagfile_fail(tmp_path, cache_dir):
  bad = train(["--no_such_flag=1", f"--model_dir={tmp_path}/x"], cache_dir)
  assert bad.returncode != 0 and "no_such_flag" in bad.stderr
  missing = train([f"--flagfile={tmp_path}/none.flags"], cache_dir)
  assert missing.returncode != 0
  assert "flagfile not found" in missing.stderr
  assert not os.path.exists(tmp_path / "x")


def test_other_settings_in_a_used_model_dir_change_nothing(tmp_path,
                                                           cache_dir):
  model_dir = tmp_path / "run"
  (model_dir / "checkpoints").mkdir(parents=True)
  (model_dir / "config.json").write_text(json.dumps({"beta": 1.0}))
  before = (model_dir / "config.json").read_text()
  out = train(TINY + ["--epochs=1", f"--model_dir={model_dir}"], cache_dir)
  assert out.returncode == 2
  assert "other settings" in out.stderr and "beta" in out.stderr
  assert (model_dir / "config.json").read_text() == before
  assert sorted(os.listdir(model_dir)) == ["checkpoints", "config.json"]


def test_mst_offline_fails_fast_with_instructions(tmp_path, cache_dir):
  start = time.time()
  out = train([f"--flagfile={REPO}/configs/mst.flags",
               f"--data_dir={tmp_path}/tfds",
               f"--model_dir={tmp_path}/mst"], cache_dir,
              extra_env={"TF_MMJSD_OFFLINE": "1"})
  assert out.returncode == 2
  assert "--mnist_dir" in out.stderr and "internet" in out.stderr
  assert time.time() - start < 60
