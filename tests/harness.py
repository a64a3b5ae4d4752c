"""What the tests share (imported by test modules; no test module imports
another): the repository root, running bin/ programs, the tiny training
flags, reading a run's summary, writing .npz data and random batches."""

import json
import os
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# bin/train flags of a run that takes seconds (31 steps an epoch).
TINY = ["--dataset=synthetic_mst", "--synthetic_train_size=2000",
        "--synthetic_test_size=500", "--data_multiplication=1",
        "--batch_size=64", "--probe_train_examples=500",
        "--checkpoint_every_steps=10", "--num_sample_columns=4"]


def run_bin(name, args, cache_dir, timeout=600, extra_env=None):
  """Runs bin/<name> with args in a subprocess; returns CompletedProcess."""
  env = dict(os.environ, TF_MMJSD_CACHE=cache_dir, TF_CPP_MIN_LOG_LEVEL="2",
             **(extra_env or {}))
  return subprocess.run([sys.executable, os.path.join(REPO, "bin", name)]
                        + args, env=env, capture_output=True, text=True,
                        timeout=timeout, cwd=REPO)


def train(args, cache_dir, timeout=600, extra_env=None):
  """bin/train with args (see run_bin)."""
  return run_bin("train", args, cache_dir, timeout, extra_env)


def summary(model_dir):
  """The summary.json of a finished run."""
  with open(os.path.join(model_dir, "summary.json")) as f:
    return json.load(f)


def save_npz(path, arrays, **overrides):
  """Writes `arrays` with some replaced or added by `overrides` (None
  removes one) as an .npz file; returns its path as a string."""
  arrays = dict(arrays)
  for key, value in overrides.items():
    if value is None:
      del arrays[key]
    else:
      arrays[key] = value
  np.savez(path, **arrays)
  return str(path)


def random_batch(specs, batch, masks=None, seed=0):
  """A training batch {"inputs", "masks", "labels"} of random data that
  fit the specs (data.specs.random_examples); masks default to present."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data.specs import random_examples  # pylint: disable=g-import-not-at-top
  inputs = random_examples(specs, batch, np.random.default_rng(seed))
  masks = masks or {s.name: np.ones(batch, bool) for s in specs}
  return {"inputs": {m: tf.constant(x) for m, x in inputs.items()},
          "masks": {m: tf.constant(v) for m, v in masks.items()},
          "labels": tf.zeros([batch], tf.int32)}
