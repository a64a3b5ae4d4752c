"""Shared test fixtures: quiet TF, a private data cache, tiny configs
(helpers that test modules import are in harness.py)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tf_mmjsd  # pylint: disable=g-import-not-at-top,unused-import  # sets TensorFlow's CPU kernels before any test imports TensorFlow

import pytest  # pylint: disable=g-import-not-at-top


# The tiers, declared here once (the README names their commands):
#   fast      python -m pytest tests -q -m fast   maths, networks, data,
#             settings, the fault tables and short programs, in process
#   the rest  what carries one of MARKERS: longer end-to-end runs and the
#             programs as separate processes
# `python -m pytest tests -q` runs everything (CI does).
MARKERS = {
    "slow": "tests that train or evaluate a model (bin/ programs end to "
            "end, every method, mixed precision): 3 seconds to 2 minutes "
            "each",
    "process": "programs or scripts in their own processes: exit codes, "
               "signals, console scripts, multi-worker clusters, disks",
}


def pytest_configure(config):
  for name, text in MARKERS.items():
    config.addinivalue_line("markers", f"{name}: {text}")
  config.addinivalue_line("markers", "fast: the fast tier (everything "
                          "without " + " or ".join(MARKERS) + "; set by "
                          "conftest.py)")


def pytest_collection_modifyitems(items):
  for item in items:
    if not any(item.get_closest_marker(name) for name in MARKERS):
      item.add_marker(pytest.mark.fast)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
  """A data cache shared by the tests of one session."""
  return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def tiny_config(cache_dir):
  """A factory of small synthetic_mst ExperimentConfigs: make(small=True,
  **settings) gives every modality a one-layer mlp of 32 units (for tests
  of plumbing, not of the paper's networks)."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.config import ExperimentConfig
  from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs

  def make(small=False, **overrides):
    modalities = mnist_svhn_text_specs()
    if small:
      modalities = tuple(dataclasses.replace(m, network="mlp", hidden=(32,))
                         for m in modalities)
    values = dict(modalities=modalities, dataset="synthetic_mst",
                  data_dir=cache_dir, synthetic_train_size=400,
                  synthetic_test_size=200, data_multiplication=1,
                  batch_size=32, epochs=1, probe_train_examples=200,
                  checkpoint_every_steps=5, num_sample_columns=4)
    values.update(overrides)
    return ExperimentConfig.of(**values)

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
