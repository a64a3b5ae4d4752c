"""Fail loud, lose nothing: bad inputs and faults against every CLI.

Each case of CASES runs one bin/ program on a bad input and asserts the exit
code (2: usage error, 1: runtime failure), one `error:` line that names the
problem, no traceback, and that the model_dir it names is as it was. The
faults after it (a diverging run, damaged checkpoints, kill -9) check that
no NaN reaches a checkpoint or summary.json and that a resumed run is the
run it would have been.
"""

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.harness import (REPO, TINY, check_bad_input,
                           check_usage_errors_before_tensorflow, error_line,
                           random_step, run_bin, save_npz, tree,
                           wait_for_step)
from tf_mmjsd import run_lock

NPZ_FLAGS = ["--dataset=npz", "--modality=a:6:laplace:mlp:1:sigmoid",
             "--modality=b:8x5:categorical:text"]


def write_npz(path, n=40, **overrides):
  """A valid two-modality .npz (see NPZ_FLAGS), with arrays replaced or
  added by `overrides` (None removes one)."""
  rng = np.random.default_rng(0)
  arrays = {}
  for split in ("train", "test"):
    labels = rng.integers(0, 5, n)
    arrays[f"{split}_labels"] = labels
    arrays[f"{split}_a"] = rng.random((n, 6)).astype(np.float32)
    arrays[f"{split}_b"] = np.eye(5, dtype=np.float32)[
        np.repeat(labels[:, None], 8, axis=1)]
  return save_npz(path, arrays, **overrides)


def _with(key, edit, n=40):
  """write_npz overrides: array `key` of the valid data after `edit`."""
  rng = np.random.default_rng(0)
  base = {"a": rng.random((n, 6)).astype(np.float32),
          "b": np.eye(5, dtype=np.float32)[np.zeros((n, 8), int)]}
  value = base[key.split("_", 1)[1]].copy()
  edit(value)
  return {key: value}


def _set(index, value):
  def edit(array):
    array[index] = value
  return edit


def _npz(**overrides):
  return lambda tmp: ["--data_path=" + write_npz(tmp / "d.npz", **overrides)]


def _file(name, text):
  def setup(tmp):
    (tmp / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp / name).write_text(text)
    return []
  return setup


def _untrained_run(tmp):
  """A model_dir with a config.json but no checkpoint."""
  from tf_mmjsd.config import ExperimentConfig  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs  # pylint: disable=g-import-not-at-top
  (tmp / "run").mkdir()
  (tmp / "run" / "config.json").write_text(ExperimentConfig(
      modalities=mnist_svhn_text_specs(),
      model_dir=str(tmp / "run")).to_json())
  return []


BAD_JSON = "{'cluster': }"

# (id, program, args ({tmp} is the test's folder), setup(tmp) -> more args,
#  exit code, regex the error line must match)
CASES = [
    ("unknown flag", "train", ["--no_such_flag=1"], None, 2,
     r"no_such_flag"),
    ("bad flag value", "train", ["--epochs=abc"], None, 2, r"epochs"),
    ("positional argument", "train", ["epochs"], None, 2,
     r"unexpected arguments \['epochs'\]; flags are written --name=value"),
    ("missing flagfile", "train", ["--flagfile={tmp}/none.flags"], None, 2,
     r"flagfile not found: .*none\.flags"),
    ("flagfile line without --", "train", ["--flagfile={tmp}/bad.flags"],
     _file("bad.flags", "# tiny\nepochs 3\n"), 2,
     r"bad\.flags, line 2: 'epochs 3' is not a flag; write one --name=value"),
    ("unknown flag in a flagfile", "train", ["--flagfile={tmp}/bad.flags"],
     _file("bad.flags", "--epochs=1\n\n--epoks=3\n"), 2,
     r"epoks.*\(from .*bad\.flags, line 3\)"),
    ("flagfile includes itself", "train", ["--flagfile={tmp}/loop.flags"],
     _file("loop.flags", "--flagfile=loop.flags\n"), 2, r"includes itself"),
    ("no model_dir", "train", [], None, 2, r"--model_dir is required"),
    ("model_dir is a file", "train", ["--model_dir={tmp}/file"],
     _file("file", "not a folder"), 2, r"is a file, not a folder"),
    ("model_dir not empty", "train", ["--model_dir={tmp}/other"],
     _file("other/notes.txt", "mine"), 2,
     r"not empty and holds no config\.json"),
    ("unknown method", "train", ["--model_dir={tmp}/run", "--method=vae"],
     None, 2, r"method must be one of"),
    ("batch size 0", "train", ["--model_dir={tmp}/run", "--batch_size=0"],
     None, 2, r"batch_size must be >= 1, got 0"),
    ("prior weight 1.5", "train", ["--model_dir={tmp}/run",
                                   "--prior_weight=1.5"], None, 2,
     r"prior_weight must lie in \(0, 1\)"),
    ("negative learning rate", "train", ["--model_dir={tmp}/run",
                                         "--learning_rate=-1"], None, 2,
     r"learning_rate must be > 0"),
    ("warm-up without styles", "train", ["--model_dir={tmp}/run",
                                         "--style_warmup_epochs=1"], None, 2,
     r"style_warmup_epochs needs style codes"),
    ("unknown on_nonfinite", "train", ["--model_dir={tmp}/run",
                                       "--on_nonfinite=ignore"], None, 2,
     r"on_nonfinite must be one of"),
    ("npz without modalities", "train", ["--model_dir={tmp}/run",
                                         "--dataset=npz"], None, 2,
     r"--dataset=npz needs one --modality"),
    ("modality for a built-in data set", "train",
     ["--model_dir={tmp}/run", "--modality=a:6:laplace:mlp"], None, 2,
     r"--modality and --modalities_file describe your arrays \(a data set "
     r"without modalities of its own, e.g. npz\); synthetic_mst defines its "
     r"own modalities"),
    ("bad modality shape", "train", ["--model_dir={tmp}/run",
                                     "--dataset=npz",
                                     "--modality=a:6y:laplace:mlp"], None, 2,
     r"modality 'a': field 'shape' must look like 64x64x1.*'6y'"),
    ("unknown likelihood", "train", ["--model_dir={tmp}/run",
                                     "--dataset=npz",
                                     "--modality=a:6:gauss:mlp"], None, 2,
     r"likelihood must be one of"),
    ("conv modality of vectors", "train",
     ["--model_dir={tmp}/run", "--dataset=npz",
      "--modality=scan:64:laplace:conv"], None, 2,
     r"network 'conv' takes \[H, W, C\] images, the shape is 64"),
    ("sequence modality of images", "train",
     ["--model_dir={tmp}/run", "--dataset=npz",
      "--modality=notes:16x71x2:normal:sequence"], None, 2,
     r"network 'sequence' takes \[L, C\] sequences, the shape is 16x71x2"),
    ("unknown modality field", "train",
     ["--model_dir={tmp}/run", "--dataset=npz",
      "--modality=scan:64x64x1:laplace:conv:widht=64"], None, 2,
     r"modality 'scan': unknown field 'widht'; the fields are weight, "),
    ("bad width", "train",
     ["--model_dir={tmp}/run", "--dataset=npz",
      "--modality=scan:64x64x1:laplace:conv:width=wide"], None, 2,
     r"modality 'scan': field 'width' must be a positive integer, got "
     r"'wide'"),
    ("width of an mlp", "train",
     ["--model_dir={tmp}/run", "--dataset=npz",
      "--modality=labs:30:normal:mlp:width=64"], None, 2,
     r"modality 'labs': field 'width' applies to networks \('conv', "
     r"'sequence', 'residual_conv', 'residual_sequence'\), not mlp"),
    ("learned scale of a bernoulli", "train",
     ["--model_dir={tmp}/run", "--dataset=npz",
      "--modality=flags:12:bernoulli:mlp:scale=learned"], None, 2,
     r"modality 'flags': field 'scale' applies to the laplace and normal "
     r"likelihoods, not bernoulli"),
    ("modalities file missing", "train",
     ["--model_dir={tmp}/run", "--dataset=npz",
      "--modalities_file={tmp}/none.json"], None, 2,
     r"--modalities_file=.*none\.json: no such file"),
    ("modalities file entry without a shape", "train",
     ["--model_dir={tmp}/run", "--dataset=npz",
      "--modalities_file={tmp}/m.json"],
     _file("m.json", '[{"name": "labs", "likelihood": "normal", '
           '"network": "mlp"}]'), 2,
     r"m\.json, modality 0: missing field\(s\) shape"),
    ("modalities file with a bad field", "train",
     ["--model_dir={tmp}/run", "--dataset=npz",
      "--modalities_file={tmp}/m.json"],
     _file("m.json", '[{"name": "labs", "shape": [30], "likelihood": '
           '"normal", "network": "mlp", "hidden": "wide"}]'), 2,
     r"m\.json, modality 'labs': field 'hidden' must be a positive "
     r"integer, got 'wide'"),
    ("npz file missing", "train",
     ["--model_dir={tmp}/run", "--data_path={tmp}/none.npz"] + NPZ_FLAGS,
     None, 2, r"--data_path=.*none\.npz: no such file"),
    ("npz not a zip", "train",
     ["--model_dir={tmp}/run", "--data_path={tmp}/bad.npz"] + NPZ_FLAGS,
     _file("bad.npz", "not an archive"), 2, r"is not a readable \.npz file"),
    ("npz lacks an array", "train", ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(test_b=None), 2, r"lacks arrays \['test_b'\]"),
    ("npz with a NaN", "train", ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(**_with("train_a", _set((7, 2), np.nan))), 2,
     r"modality 'a', train split: 1 example have NaN or infinite values.*"
     r"the first is example 7"),
    ("npz with infinities", "train", ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(**_with("test_a", _set((slice(3, 6), 0), np.inf))), 2,
     r"modality 'a', test split: 3 examples have NaN or infinite values.*"
     r"the first is example 3"),
    ("npz with strings", "train", ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(train_a=np.array([["x"] * 6] * 40)), 2,
     r"train_a has dtype <U1; expected bool or integer or unsigned or float"),
    ("npz text not one-hot", "train", ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(**_with("train_b", _set((4, 2, 1), 1.0))), 2,
     r"modality 'b', train split: 1 example are not one-hot.*example 4"),
    ("npz outside the sigmoid's range", "train",
     ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(**_with("train_a", _set((9, 0), 1.5))), 2,
     r"modality 'a', train split: 1 example lie outside \[0, 1\].*example 9"),
    ("npz empty test split", "train", ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(test_a=np.zeros((0, 6), np.float32),
          test_b=np.zeros((0, 8, 5), np.float32),
          test_labels=np.zeros(0, int)), 2, r"the test split has no examples"),
    ("npz wrong example shape", "train", ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(train_a=np.zeros((40, 7), np.float32)), 2,
     r"modality 'a' of the train split has examples of shape \(7,\)"),
    ("npz string labels", "train", ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(train_labels=np.array(["cat"] * 40)), 2,
     r"train_labels has dtype <U3"),
    ("npz example with no modality", "train",
     ["--model_dir={tmp}/run"] + NPZ_FLAGS,
     _npz(train_mask_a=np.arange(40) != 5, train_mask_b=np.arange(40) != 5),
     2, r"example 5 has no modality present"),
    ("malformed TF_CONFIG", "train",
     ["--model_dir={tmp}/run", "--distribution=multi_worker"], None, 2,
     r"TF_CONFIG is not valid JSON"),
    ("evaluate a folder without a run", "evaluate", ["--model_dir={tmp}/x"],
     None, 2, r"holds no run \(config\.json missing\)"),
    ("evaluate a run without checkpoints", "evaluate",
     ["--model_dir={tmp}/run"], _untrained_run, 2,
     r"no checkpoint in .*checkpoints; train the model first"),
    ("evaluate a fixed setting", "evaluate",
     ["--model_dir={tmp}/run", "--beta=1"], _untrained_run, 2,
     r"cannot change after training: --beta=1"),
    ("export without model_dir", "export", [], None, 2,
     r"--model_dir is required"),
    ("export a folder without a run", "export", ["--model_dir={tmp}/x"], None,
     2, r"holds no run"),
    ("train_classifiers with an argument", "train_classifiers", ["now"], None,
     2, r"unexpected arguments \['now'\]"),
    ("serving benchmark without export", "benchmark", ["--mode=serving"],
     None, 2, r"--mode=serving needs --export_dir"),
    ("local cluster of no workers", "train_local_cluster",
     ["--num_workers=0", "--", "--model_dir={tmp}/run"], None, 2,
     r"flag --num_workers=0: 0 is not a positive integer"),
]


def test_there_are_at_least_30_cases():
  assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bad_input_gets_one_error_line_and_changes_nothing(
    case, tmp_path, cache_dir):
  env = _env(case)
  check_bad_input(case, tmp_path, cache_dir, env, process=bool(env))


def _env(case):
  return ({"TF_CONFIG": BAD_JSON} if "--distribution=multi_worker" in case[2]
          else {})


@pytest.mark.process
def test_usage_errors_are_answered_before_tensorflow_loads(tmp_path,
                                                          cache_dir):
  check_usage_errors_before_tensorflow(CASES, tmp_path, cache_dir, _env)


def test_verbose_adds_the_traceback(tmp_path, cache_dir):
  out = run_bin("train", [f"--model_dir={tmp_path}/run", "--verbose",
                          "--dataset=npz", f"--data_path={tmp_path}/none.npz"]
                + NPZ_FLAGS[1:], cache_dir)
  assert out.returncode == 2
  assert "Traceback" in out.stderr and "DataUnavailableError" in out.stderr
  assert out.stderr.rstrip().splitlines()[-1].startswith("error: ")


# --- faults while running ----------------------------------------------------

def _all_finite(checkpoint):
  reader = tf.train.load_checkpoint(checkpoint)
  return all(np.all(np.isfinite(reader.get_tensor(name)))
             for name, _ in tf.train.list_variables(checkpoint)
             if reader.get_variable_to_dtype_map()[name].is_floating)


@pytest.mark.parametrize("mode,message", [
    ("stop", r"training stopped at step \d+: non-finite \(NaN or infinite\) "
             r"loss.*no checkpoint was written after it"),
    ("skip_batch", r"training stopped at step \d+: 3 batches in a row had "
                   r"non-finite .* and were skipped")])
def test_a_diverging_run_stops_and_writes_no_nan(mode, message, tmp_path,
                                                 cache_dir):
  model_dir = tmp_path / "run"
  out = run_bin("train", [f"--flagfile={REPO}/configs/base.flags"] + TINY + [
      f"--model_dir={model_dir}", "--learning_rate=1e6", "--epochs=2",
      "--checkpoint_every_steps=1", f"--on_nonfinite={mode}",
      "--max_consecutive_skips=3"], cache_dir)
  assert out.returncode == 1, out.stderr[-3000:]
  assert re.search(message, error_line(out.stderr)), (
      out.stderr)
  assert not (model_dir / "summary.json").exists()
  checkpoints = tf.train.get_checkpoint_state(str(model_dir / "checkpoints"))
  for path in (checkpoints.all_model_checkpoint_paths if checkpoints else []):
    assert _all_finite(path), path


@pytest.fixture
def trained(tiny_run):
  """A tiny finished run with checkpoints at steps 20 and 31 (read only)."""
  return tiny_run


def _copy_run(source, target):
  subprocess.run(["cp", "-r", str(source), str(target)], check=True)
  return target


def _truncate(checkpoint):
  data = checkpoint + ".data-00000-of-00001"
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)


@pytest.mark.slow
def test_a_truncated_newest_checkpoint_is_skipped_by_evaluate_and_export(
    trained, tmp_path, cache_dir):
  run = _copy_run(trained, tmp_path / "run")
  _truncate(str(run / "checkpoints" / "ckpt-31"))
  out = run_bin("export", [f"--model_dir={run}",
                           f"--export_dir={tmp_path}/export"], cache_dir)
  assert out.returncode == 0, out.stderr[-3000:]
  assert "ckpt-31 cannot be read" in out.stdout
  assert "using " + str(run / "checkpoints" / "ckpt-20") in out.stdout
  with open(tmp_path / "export" / "1" / "tf_mmjsd_export.json") as f:
    assert json.load(f)["step"] == 20
  # Every checkpoint damaged: a runtime error naming them, nothing written.
  _truncate(str(run / "checkpoints" / "ckpt-20"))
  before = tree(run)
  out = run_bin("evaluate", [f"--model_dir={run}", "--eval_examples=100",
                             "--likelihood_samples=2"], cache_dir)
  assert out.returncode == 1, out.stderr[-3000:]
  assert "none of the 2 checkpoints in" in error_line(out.stderr)
  assert tree(run) == before


@pytest.mark.slow
def test_a_truncated_newest_checkpoint_is_skipped_on_resume(
    trained, tmp_path, cache_dir):
  run = _copy_run(trained, tmp_path / "run")
  _truncate(str(run / "checkpoints" / "ckpt-31"))
  out = run_bin("train", [f"--flagfile={REPO}/configs/base.flags"] + TINY + [
      f"--model_dir={run}", "--epochs=1", "--checkpoint_every_steps=20"],
                cache_dir)
  assert out.returncode == 0, out.stderr[-3000:]
  assert "ckpt-31 cannot be read" in out.stdout
  assert "Resuming from checkpoint" in out.stdout and "at step 20" in (
      out.stdout)
  # It trained steps 21..31 again: the same weights as the first time.
  reference = tf.train.load_checkpoint(str(trained / "checkpoints/ckpt-31"))
  again = tf.train.load_checkpoint(str(run / "checkpoints/ckpt-31"))
  names = [n for n, _ in tf.train.list_variables(
      str(trained / "checkpoints/ckpt-31")) if n.startswith("model/")]
  assert len(names) == 50
  for name in names:
    np.testing.assert_array_equal(again.get_tensor(name),
                                  reference.get_tensor(name), err_msg=name)


KILL_ARGS = [f"--flagfile={REPO}/configs/base.flags"] + TINY + [
    "--epochs=3", "--checkpoint_every_steps=7"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cache_dir):
  """The final checkpoint of the run of KILL_ARGS, trained in one go."""
  whole = tmp_path_factory.mktemp("whole") / "run"
  out = run_bin("train", KILL_ARGS + [f"--model_dir={whole}"], cache_dir)
  assert out.returncode == 0, out.stderr[-3000:]
  return tf.train.latest_checkpoint(str(whole / "checkpoints"))


@pytest.mark.process
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM],
                         ids=["kill_9", "sigterm"])
def test_a_signal_at_a_random_step_then_resume_is_bit_identical(
    sig, uninterrupted, tmp_path, cache_dir):
  """kill -9 loses the steps since the last checkpoint; SIGTERM (what a
  scheduler or a preempted VM sends) checkpoints the step it arrived at and
  exits 143 saying so. Either way the resumed run ends as the one run in
  one go."""
  model_dir = tmp_path / "killed"
  env = dict(os.environ, TF_MMJSD_CACHE=cache_dir, TF_CPP_MIN_LOG_LEVEL="2",
             PYTHONUNBUFFERED="1")
  # A random step after the first checkpoint (7), sent when its progress
  # line is printed: a wall-clock delay could land after training.
  at = random_step(31, 3, after=7, rng=np.random.default_rng())
  log, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
  with open(log, "w") as out, open(err, "w") as errors_out:
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "bin", "train")] + KILL_ARGS + [
            f"--model_dir={model_dir}"], env=env, cwd=REPO,
        stdout=out, stderr=errors_out, text=True)
    try:
      wait_for_step(log, at, [proc], stderr=err)
      proc.send_signal(sig)
      proc.wait(timeout=300)
    finally:
      if proc.poll() is None:
        proc.kill()
  stderr = err.read_text()
  state = model_dir / "checkpoints" / "checkpoint"
  assert state.exists(), "no checkpoint was written before the signal"
  assert not (model_dir / "summary.json").exists()
  if sig == signal.SIGTERM:
    assert proc.returncode == 143, stderr[-3000:]
    stopped = re.search(r"stopped by SIGTERM at step (\d+) of 93; "
                        r"checkpoint (\S+) holds it", error_line(stderr))
    assert stopped, stderr[-3000:]
    step = int(stopped.group(1))
    assert at <= step < 93, (at, step)
    assert stopped.group(2).endswith(f"ckpt-{step}")
    assert tf.train.latest_checkpoint(str(model_dir / "checkpoints")) == (
        stopped.group(2))
  assert not (model_dir / run_lock.LOCK).exists() or sig == signal.SIGKILL
  rerun = run_bin("train", KILL_ARGS + [f"--model_dir={model_dir}"],
                  cache_dir)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert "Resuming from checkpoint" in rerun.stdout
  if sig == signal.SIGTERM:
    assert f"ckpt-{step} at step {step} of 93" in rerun.stdout
  else:  # the lock of the killed process was taken over
    assert "no longer running; taking it over" in rerun.stdout
  final = [uninterrupted,
           tf.train.latest_checkpoint(str(model_dir / "checkpoints"))]
  assert final[0].endswith("ckpt-93") and final[1].endswith("ckpt-93")
  names = [n for n, _ in tf.train.list_variables(final[0])
           if n.startswith(("model/", "state/", "optimizer/"))]
  readers = [tf.train.load_checkpoint(p) for p in final]
  assert len(names) > 100
  for name in names:
    np.testing.assert_array_equal(readers[1].get_tensor(name),
                                  readers[0].get_tensor(name), err_msg=name)
