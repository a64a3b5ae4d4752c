"""What the tests share (imported by test modules; no test module imports
another): the repository root, running bin/ programs, the tiny training
flags, reading a run's summary, writing .npz data and random batches."""

import hashlib
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


def tree(path):
  """{relative path: sha1 of the content (None for a folder)} under path:
  compare two to see that nothing changed, byte for byte."""
  out = {}
  for root, dirs, files in os.walk(path):
    for d in dirs:
      out[os.path.relpath(os.path.join(root, d), path)] = None
    for f in files:
      full = os.path.join(root, f)
      with open(full, "rb") as fh:
        out[os.path.relpath(full, path)] = hashlib.sha1(fh.read()).hexdigest()
  return out


def error_line(stderr):
  """The one `error: ` line of a program's stderr (asserting there is one
  and no traceback)."""
  lines = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
  assert len(lines) == 1, stderr[-3000:]
  assert "Traceback" not in stderr, stderr[-3000:]
  return lines[0]


def check_bad_input(case, tmp_path, cache_dir, extra_env=None):
  """Runs one case (id, program, args, setup(tmp) -> extra args or None,
  exit code, error pattern) of a bad-input table: args may name {tmp}. The
  program must exit with the code, print one `error:` line matching the
  pattern and no traceback, and leave tmp_path as it was, byte for byte."""
  import re  # pylint: disable=g-import-not-at-top
  _, program, args, setup, code, pattern = case
  args = [a.replace("{tmp}", str(tmp_path)) for a in args]
  if setup is not None:
    args += setup(tmp_path) or []
  before = tree(tmp_path)
  env = {"TF_MMJSD_OFFLINE": "1", **(extra_env or {})}
  out = run_bin(program, args, cache_dir, timeout=300, extra_env=env)
  assert out.returncode == code, (out.returncode, out.stderr[-3000:])
  assert re.search(pattern, error_line(out.stderr)), out.stderr[-3000:]
  assert tree(tmp_path) == before  # nothing made, nothing changed
