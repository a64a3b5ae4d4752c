"""Shared test fixtures: quiet TF, a private data cache, tiny configs
(helpers that test modules import are in harness.py)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tf_mmjsd  # pylint: disable=g-import-not-at-top,unused-import  # sets TensorFlow's CPU kernels before any test imports TensorFlow

import pytest  # pylint: disable=g-import-not-at-top


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: end-to-end runs of a minute or more")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
  """A data cache shared by the tests of one session."""
  return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def tiny_config(cache_dir):
  """A factory of small synthetic_mst ExperimentConfigs."""
  from tf_mmjsd.config import ExperimentConfig
  from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs

  def make(**overrides):
    values = dict(modalities=mnist_svhn_text_specs(), dataset="synthetic_mst",
                  data_dir=cache_dir, synthetic_train_size=400,
                  synthetic_test_size=200, data_multiplication=1,
                  batch_size=32, epochs=1, probe_train_examples=200,
                  checkpoint_every_steps=5, num_sample_columns=4)
    values.update(overrides)
    return ExperimentConfig(**values)

  return make


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, cache_dir):
  """A finished tiny bin/train run (harness.TINY, one epoch of 31 steps,
  checkpoints at steps 20 and 31), trained once per session. Tests only
  read it; copy it to change it."""
  from tests.harness import REPO, TINY, run_bin  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path_factory.mktemp("tiny_run") / "run"
  out = run_bin("train", [f"--flagfile={REPO}/configs/base.flags"] + TINY + [
      f"--model_dir={model_dir}", "--epochs=1",
      "--checkpoint_every_steps=20"], cache_dir)
  assert out.returncode == 0, out.stderr[-3000:]
  return model_dir
