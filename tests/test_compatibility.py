"""Artifacts written before the package was restructured still work: the
run directory, checkpoint and export of tests/fixtures/v0_2/ (made by
tf_mmjsd 0.2; see make.py there) load and give the outputs they gave then."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import REPO, run_bin
from tf_mmjsd import export

FIXTURE = os.path.join(REPO, "tests", "fixtures", "v0_2")
EXPECTED = dict(np.load(os.path.join(FIXTURE, "expected.npz")))
NAMES = ("img", "txt", "vec")


@pytest.fixture
def run_copy(tmp_path):
  """The fixture's run and data in tmp_path, config.json pointing at the
  copied data (what a user who moved both would do)."""
  run = str(tmp_path / "run")
  shutil.copytree(os.path.join(FIXTURE, "run"), run)
  data = shutil.copy(os.path.join(FIXTURE, "data.npz"), tmp_path)
  path = os.path.join(run, "config.json")
  with open(path) as f:
    config = json.load(f)
  config["data_path"], config["model_dir"] = data, run
  with open(path, "w") as f:
    json.dump(config, f)
  return run


def _inputs():
  return ({m: tf.constant(EXPECTED[f"input/{m}"]) for m in NAMES},
          {m: tf.constant(EXPECTED[f"mask/{m}"]) for m in NAMES})


def test_the_old_checkpoint_restores_to_the_same_posteriors(run_copy):
  model, config, _ = export.load_run(run_copy, log=lambda *_: None)
  assert config.style_dim == 2 and model.names == NAMES
  out = model.posterior_parameters(*_inputs())
  keys = [k for k in EXPECTED if k.startswith("posterior_")]
  assert len(keys) == 16
  for key in keys:
    np.testing.assert_allclose(out[key[len("posterior_"):]], EXPECTED[key],
                               rtol=1e-5, atol=1e-6, err_msg=key)


def test_the_old_export_serves_the_same_outputs():
  loaded = tf.saved_model.load(os.path.join(FIXTURE, "export", "1"))
  inputs, masks = _inputs()
  request = dict(inputs, **{f"{m}_present": masks[m] for m in NAMES})
  for signature in ("serving_default", "encode", "reconstruct", "generate"):
    extra = ({"seed": tf.constant([1, 2, 3, 4], tf.int64)}
             if signature == "generate" else {})
    out = loaded.signatures[signature](**request, **extra)
    keys = [k for k in EXPECTED if k.startswith(signature + "/")]
    assert keys, signature
    for key in keys:
      np.testing.assert_allclose(out[key.split("/", 1)[1]], EXPECTED[key],
                                 rtol=1e-5, atol=1e-6, err_msg=key)


def test_the_old_keras_encoders_load_with_the_current_classes():
  inputs, _ = _inputs()
  for m in NAMES:
    encoder = keras.saving.load_model(
        os.path.join(FIXTURE, "export", "1", "keras", f"encoder_{m}.keras"))
    params = encoder(inputs[m])
    np.testing.assert_allclose(params["content_loc"],
                               EXPECTED[f"encode/content_loc_{m}"],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_the_old_run_resumes_and_evaluates(run_copy, cache_dir):
  """bin/train continues the old run for one more epoch and bin/evaluate
  reads it (bin/export reads a run as load_run does, tested above)."""
  with open(os.path.join(run_copy, "flags.txt")) as f:
    flags = [ln.strip() for ln in f if ln.strip()]
  flags = [f for f in flags if not f.startswith(("--data_path=", "--model_dir=",
                                                 "--epochs="))]
  with open(os.path.join(run_copy, "config.json")) as f:
    data = json.load(f)["data_path"]
  train = run_bin("train", flags + [f"--data_path={data}",
                                    f"--model_dir={run_copy}", "--epochs=2"],
                  cache_dir)
  assert train.returncode == 0, train.stderr
  assert "Resuming from checkpoint" in train.stdout
  with open(os.path.join(run_copy, "summary.json")) as f:
    assert json.load(f)["steps"] == 8  # 4 steps an epoch, 4 of them new
  evaluate = run_bin("evaluate", [f"--model_dir={run_copy}"], cache_dir)
  assert evaluate.returncode == 0, evaluate.stderr
  assert os.path.isfile(os.path.join(run_copy, "results.json"))
