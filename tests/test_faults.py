"""Bad inputs and faults, second table: settings that are not numbers,
damaged run directories, a run directory in use, and full or read-only
disks. Each case asserts the exit code, one `error:` line naming the
problem, no traceback, and that nothing changed (byte for byte)."""

import json
import os
import shutil
import socket
import subprocess

import numpy as np
import pytest

from tests.harness import (REPO, TINY, check_bad_input,
                           check_usage_errors_before_tensorflow, error_line,
                           run_bin, tree)
from tf_mmjsd import run_lock
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data.mst import specs as mst_specs


def _run_dir(tmp, stored=None, text=None, checkpoints=False):
  """A model_dir "run" whose config.json holds `stored` (a dict, written as
  JSON) or `text`; with `checkpoints` a checkpoints/ folder with one
  (fake) checkpoint."""
  run = tmp / "run"
  run.mkdir()
  if stored is None and text is None:
    stored = ExperimentConfig(modalities=mst_specs(),
                              model_dir=str(run)).to_dict()
  (run / "config.json").write_text(text if text is not None else
                                   json.dumps(stored))
  if checkpoints:
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "ckpt-7.index").write_bytes(b"")
    (run / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-7"\n')
  return []


def _edited(edit, checkpoints=False):
  def setup(tmp):
    stored = ExperimentConfig(modalities=mst_specs(),
                              model_dir=str(tmp / "run")).to_dict()
    edit(stored)
    return _run_dir(tmp, stored, checkpoints=checkpoints)
  return setup


def _text(text, checkpoints=False):
  return lambda tmp: _run_dir(tmp, text=text, checkpoints=checkpoints)


def _locked(host=None):
  """A trained-looking run locked by this test's own (live) process, or by
  a process on another host."""
  def setup(tmp):
    _run_dir(tmp, checkpoints=True)
    holder = {"pid": os.getpid(), "host": host or socket.gethostname(),
              "start_ticks": run_lock._start_ticks(os.getpid()),  # pylint: disable=protected-access
              "started": 0, "command": "bin/train --model_dir=run"}
    (tmp / "run" / run_lock.LOCK).write_text(json.dumps(holder))
    return []
  return setup


def _npz_never_b(tmp):
  """Two-modality data whose modality b is absent from every training
  example."""
  rng = np.random.default_rng(0)
  arrays = {}
  for split in ("train", "test"):
    arrays[f"{split}_a"] = rng.random((20, 6)).astype(np.float32)
    arrays[f"{split}_b"] = np.eye(5, dtype=np.float32)[np.zeros((20, 8), int)]
    arrays[f"{split}_labels"] = rng.integers(0, 3, 20)
  arrays["train_mask_b"] = np.zeros(20, bool)
  np.savez(tmp / "data.npz", **arrays)
  return [f"--data_path={tmp}/data.npz"]


def _npz_mask(mask):
  """Two-modality data whose train_mask_b is `mask` (wrong length or
  shape)."""
  def setup(tmp):
    _npz_never_b(tmp)
    with np.load(tmp / "data.npz") as data:
      arrays = dict(data)
    arrays["train_mask_b"] = mask
    np.savez(tmp / "data.npz", **arrays)
    return [f"--data_path={tmp}/data.npz"]
  return setup


def _npz_labels(labels):
  """Two-modality data whose train_labels are `labels`."""
  def setup(tmp):
    _npz_never_b(tmp)
    with np.load(tmp / "data.npz") as data:
      arrays = dict(data)
    arrays.pop("train_mask_b")
    arrays["train_labels"] = labels
    np.savez(tmp / "data.npz", **arrays)
    return [f"--data_path={tmp}/data.npz"]
  return setup


def _manifest(text):
  """A records folder {tmp}/r whose manifest.json is `text` (None: a valid
  one of one vector modality, without shards)."""
  def setup(tmp):
    os.makedirs(tmp / "r")
    if text is None:
      from tf_mmjsd.data import records  # pylint: disable=g-import-not-at-top
      from tf_mmjsd.data.specs import parse_modality  # pylint: disable=g-import-not-at-top
      from tf_mmjsd.data.split import Split  # pylint: disable=g-import-not-at-top
      split = Split(pools={"v": np.zeros((2, 3), np.float32)},
                    indices={"v": np.arange(2)}, labels=np.zeros(2, int))
      records.write((split, split), [parse_modality("v:3:normal:mlp")],
                    str(tmp / "r"), (1, 1), log=lambda *_: None)
    else:
      (tmp / "r" / "manifest.json").write_text(text)
    return []
  return setup


def _classifiers_json(text):
  """A trained-looking run and a classifier folder "c" whose
  classifiers.json holds `text`."""
  def setup(tmp):
    _run_dir(tmp, checkpoints=True)
    (tmp / "c").mkdir()
    (tmp / "c" / "classifiers.json").write_text(text)
    return []
  return setup


def _a_file(tmp):
  (tmp / "afile").write_text("not a folder")
  return []


def _pop(key):
  return lambda stored: stored.pop(key)


def _put(key, value):
  return lambda stored: stored.__setitem__(key, value)


RUN = ["--model_dir={tmp}/run"]
NAN_FLOATS = ("learning_rate", "beta", "beta_style", "prior_weight",
              "missing_rate", "adam_beta1", "adam_beta2", "adam_epsilon",
              "collective_timeout")

# (id, program, args, setup(tmp) -> extra args, exit code, error pattern)
CASES = [
    (f"train {name}=nan", "train", RUN + [f"--{name}=nan"], None, 2,
     rf"{name} must be a finite number, got nan")
    for name in NAN_FLOATS
] + [
    (f"train {name}={value}", "train", RUN + [f"--{name}={value}"], None, 2,
     rf"{name} must be a finite number, got -?inf")
    for name, value in (("learning_rate", "inf"), ("beta", "inf"),
                        ("prior_weight", "-inf"),
                        ("collective_timeout", "inf"), ("beta_style", "-inf"))
] + [
    ("train seed=-1", "train", RUN + ["--seed=-1"], None, 2,
     r"seed must lie in \[0, 2147483647\], got -1"),
    ("train seed=2^31", "train", RUN + ["--seed=2147483648"], None, 2,
     r"seed must lie in \[0, 2147483647\], got 2147483648"),
    ("train adam_beta1=1", "train", RUN + ["--adam_beta1=1"], None, 2,
     r"adam_beta1 must lie in \[0, 1\)"),
    ("train adam_beta2=-0.5", "train", RUN + ["--adam_beta2=-0.5"], None, 2,
     r"adam_beta2 must lie in \[0, 1\)"),
    ("train adam_epsilon=0", "train", RUN + ["--adam_epsilon=0"], None, 2,
     r"adam_epsilon must be > 0"),
    ("compare seeds=-1", "compare", ["--compare_dir={tmp}/cmp",
                                     "--seeds=0,-1"], None, 2,
     r"seed must lie in"),
    ("compare seeds=x", "compare", ["--compare_dir={tmp}/cmp",
                                    "--seeds=x"], None, 2,
     r"--missing_rates or --seeds"),
    ("compare learning_rate=nan", "compare", ["--compare_dir={tmp}/cmp",
                                              "--learning_rate=nan"], None,
     2, r"learning_rate must be a finite number"),
    ("compare missing_rates=nan", "compare", ["--compare_dir={tmp}/cmp",
                                              "--missing_rates=nan"], None,
     2, r"missing_rate must be a finite number"),
    ("benchmark learning_rate=nan", "benchmark", ["--learning_rate=nan"],
     None, 2, r"learning_rate must be a finite number"),
    ("train_classifiers seed=-1", "train_classifiers",
     ["--classifier_dir={tmp}/c", "--seed=-1"], None, 2, r"seed must lie in"),
    ("make_example_data missing_rate=nan", "make_example_data",
     ["--out={tmp}/x.npz", "--missing_rate=nan"], None, 2, r"missing_rate"),
    ("evaluate truncated config.json", "evaluate", RUN,
     _text('{"modalities": [{"name": "mnist", "sha'), 2,
     r"run/config.json is damaged \(not valid JSON"),
    ("evaluate config.json a list", "evaluate", RUN, _text("[1, 2]"), 2,
     r"config.json is damaged \(not a tf_mmjsd config"),
    ("evaluate config.json without modalities", "evaluate", RUN,
     _edited(_pop("modalities")), 2,
     r"config.json is damaged \(KeyError: 'modalities'\)"),
    ("evaluate config.json with NaN", "evaluate", RUN,
     _edited(_put("learning_rate", float("nan"))), 2,
     r"learning_rate must be a finite number, got nan"),
    ("evaluate config.json with an unknown key", "evaluate", RUN,
     _edited(_put("warp_speed", 9)), 2, r"unknown config keys: \['warp_speed'"),
    ("evaluate config.json not text", "evaluate", RUN,
     _text("\udcff" * 0 + "\x00\x9f", checkpoints=True), 2,
     r"config.json is damaged"),
    ("evaluate config.json with a bad modality", "evaluate", RUN,
     _edited(lambda s: s["modalities"][0].update(likelihood="poisson")), 2,
     r"likelihood must be one of"),
    ("export truncated config.json", "export", RUN, _text('{"mod'), 2,
     r"config.json is damaged \(not valid JSON"),
    ("export config.json with an unknown key", "export", RUN,
     _edited(_put("warp_speed", 9)), 2, r"config.json: unknown config keys"),
    ("export config.json a number", "export", RUN, _text("3"), 2,
     r"config.json is damaged \(not a tf_mmjsd config"),
    ("train resumes a damaged config.json", "train", RUN,
     _text('{"modalities": [', checkpoints=True), 2,
     r"config.json is damaged \(not valid JSON"),
    ("train resumes a config.json with a list", "train", RUN,
     _text("[]", checkpoints=True), 2, r"config.json is damaged"),
    ("train on a run in use", "train", RUN, _locked(), 2,
     rf"run is in use by process {os.getpid()} on host"),
    ("evaluate a run in use", "evaluate", RUN, _locked(), 2,
     rf"run is in use by process {os.getpid()}"),
    ("train on a run locked from another host", "train", RUN,
     _locked(host="elsewhere"), 2,
     r"in use by process \d+ on host 'elsewhere'.*delete .*run/\.lock"),
    ("npz modality absent from every training example", "train",
     RUN + ["--dataset=npz", "--modality=a:6:laplace:mlp",
            "--modality=b:8x5:categorical:sequence"], _npz_never_b, 2,
     r"modality 'b' is absent from every example of the train split"),
    ("npz mask of the wrong length", "train",
     RUN + ["--dataset=npz", "--modality=a:6:laplace:mlp",
            "--modality=b:8x5:categorical:sequence"],
     _npz_mask(np.ones(19, bool)), 2,
     r"data.npz: train_mask_b has shape \(19,\), expected \(20,\)"),
    ("npz mask of two dimensions", "train",
     RUN + ["--dataset=npz", "--modality=a:6:laplace:mlp",
            "--modality=b:8x5:categorical:sequence"],
     _npz_mask(np.ones((20, 2), bool)), 2,
     r"train_mask_b has shape \(20, 2\), expected \(20,\): one True"),
    ("npz labels below -1", "train",
     RUN + ["--dataset=npz", "--modality=a:6:laplace:mlp",
            "--modality=b:8x5:categorical:sequence"],
     _npz_labels(np.arange(20) - 5), 2,
     r"train split: labels must be classes 0 to 9999 \(-1: no label\), got "
     r"values from -5 to 14"),
    ("npz labels too large to be classes", "train",
     RUN + ["--dataset=npz", "--modality=a:6:laplace:mlp",
            "--modality=b:8x5:categorical:sequence"],
     _npz_labels(np.arange(20) * 10**6), 2,
     r"got values from 0 to 19000000; number the classes 0, 1"),
    ("train model_dir under a file", "train", ["--model_dir={tmp}/afile/run"],
     _a_file, 2, r"--model_dir=.*/afile/run cannot be made: .*afile is a "
     "file, not a folder"),
    ("export export_dir under a file", "export",
     RUN + ["--export_dir={tmp}/afile/x"], _a_file, 2,
     r"--export_dir=.*afile/x cannot be made: .*afile is a file"),
    ("compare compare_dir under a file", "compare",
     ["--compare_dir={tmp}/afile/c"], _a_file, 2,
     r"--compare_dir=.*afile/c cannot be made"),
    ("train_classifiers classifier_dir under a file", "train_classifiers",
     ["--classifier_dir={tmp}/afile/c"], _a_file, 2,
     r"--classifier_dir=.*afile/c cannot be made"),
    ("make_example_data out under a file", "make_example_data",
     ["--out={tmp}/afile/x.npz"], _a_file, 2,
     r"--out=.*afile/x.npz cannot be made: .*afile is a file"),
    ("make_example_data out a folder", "make_example_data",
     ["--out={tmp}"], None, 2, r"is a folder; name an .npz file"),
    ("modality named labels", "train",
     RUN + ["--dataset=npz", "--data_path={tmp}/none.npz",
            "--modality=labels:6:laplace:mlp"], None, 2,
     r"modality name 'labels' is reserved"),
    ("modality named like a presence input", "train",
     RUN + ["--dataset=npz", "--data_path={tmp}/none.npz",
            "--modality=a:6:laplace:mlp", "--modality=a_present:6:laplace:mlp"],
     None, 2, r"modality name 'a_present' is reserved"),
    ("modality name not ASCII", "train",
     RUN + ["--dataset=npz", "--data_path={tmp}/none.npz",
            "--modality=r\u00f6ntgen:6:laplace:mlp"], None, 2,
     r"must be 1 to 64 ASCII letters"),
    ("modality names differing in case", "train",
     RUN + ["--dataset=npz", "--data_path={tmp}/none.npz",
            "--modality=a:6:laplace:mlp", "--modality=A:6:laplace:mlp"],
     None, 2, r"modality names must be unique, ignoring case"),
    ("make_records without out", "make_records", [], None, 2,
     r"--out=FOLDER is required"),
    ("make_records no shards", "make_records",
     ["--out={tmp}/r", "--train_shards=0"], None, 2,
     r"flag --train_shards=0: 0 is not a positive integer"),
    ("make_records out under a file", "make_records",
     ["--out={tmp}/afile/r"], _a_file, 2, r"--out=.*afile/r cannot be made"),
    ("records without data_path", "train", RUN + ["--dataset=records"], None,
     2, r"--dataset=records needs --data_path=FOLDER"),
    ("records folder without manifest", "train",
     RUN + ["--dataset=records", "--data_path={tmp}"], None, 2,
     r"no manifest.json there; write records with bin/make_records"),
    ("records manifest not JSON", "train",
     RUN + ["--dataset=records", "--data_path={tmp}/r"], _manifest("{"), 2,
     r"r/manifest.json is damaged \(not JSON"),
    ("records manifest of another format", "train",
     RUN + ["--dataset=records", "--data_path={tmp}/r"],
     _manifest('{"format": "other"}'), 2,
     r"is not a tf_mmjsd records manifest \(format is 'other'"),
    ("records with modality flags", "train",
     RUN + ["--dataset=records", "--data_path={tmp}/r",
            "--modality=a:6:laplace:mlp"], _manifest(None), 2,
     r"records defines its own modalities"),
    ("evaluate with damaged classifiers.json", "evaluate",
     RUN + ["--classifier_dir={tmp}/c"], _classifiers_json("{"), 2,
     r"c/classifiers.json is damaged \(Expecting .*\); train the "
     r"classifiers again with bin/train_classifiers"),
    ("evaluate with classifiers.json of a list", "evaluate",
     RUN + ["--classifier_dir={tmp}/c"], _classifiers_json("[]"), 2,
     r"c/classifiers.json is damaged \(not a JSON object\)"),
    ("local cluster worker with a nan setting", "train_local_cluster",
     ["--num_workers=1", "--", "--model_dir={tmp}/run",
      "--learning_rate=nan"], None, 2,
     r"the workers' flags \(after --\): learning_rate must be a finite "
     r"number, got nan"),
]


def test_there_are_at_least_40_cases():
  assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bad_input_gets_one_error_line_and_changes_nothing(
    case, tmp_path, cache_dir):
  check_bad_input(case, tmp_path, cache_dir)


@pytest.mark.process
def test_usage_errors_are_answered_before_tensorflow_loads(tmp_path,
                                                          cache_dir):
  check_usage_errors_before_tensorflow(CASES, tmp_path, cache_dir)


@pytest.mark.slow
def test_evaluate_refuses_a_checkpoint_of_another_model(tiny_run, tmp_path,
                                                       cache_dir):
  import dataclasses  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import run_checkpoints  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data.specs import ModalitySpec  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.model import MultimodalVAE  # pylint: disable=g-import-not-at-top
  run = shutil.copytree(tiny_run, tmp_path / "run")
  config = ExperimentConfig.load(run / "config.json")
  bigger = dataclasses.replace(config, modalities=config.modalities + (
      ModalitySpec("extra", (6,), "laplace", "mlp"),))
  other = MultimodalVAE.from_experiment(bigger)
  path = run_checkpoints.checkpoint_of(other).save(
      str(tmp_path / "other" / "ckpt"))
  before = tree(tmp_path)
  out = run_bin("evaluate", [f"--model_dir={run}", f"--checkpoint={path}"],
                cache_dir)
  assert out.returncode == 2, out.stderr[-3000:]
  line = error_line(out.stderr)
  assert "does not hold this model's weights" in line, line
  assert "belongs to another model" in line and "run/config.json" in line
  assert tree(tmp_path) == before


class _SignalledInDestructor:
  """An object whose destructor receives SIGTERM (Python would print and
  drop an exception raised there)."""

  def __del__(self):
    import signal  # pylint: disable=g-import-not-at-top
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(1000):
      pass


def test_a_signal_that_lands_in_a_destructor_is_sent_again_and_raised():
  import signal  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import errors, interrupts  # pylint: disable=g-import-not-at-top
  previous = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
  start = time.monotonic()
  with pytest.raises(errors.Interrupted, match="stopped by SIGTERM") as e:
    with interrupts.handled():
      _SignalledInDestructor()  # the destructor runs here
      time.sleep(5)  # the signal sent again raises here
  assert e.value.exit_code == 143
  assert time.monotonic() - start < 4
  # The block restores the handlers it replaced and forgets the signal.
  assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == previous
  interrupts.check()


def test_a_block_that_ends_with_a_signal_pending_raises_it(monkeypatch):
  import signal  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import errors, interrupts  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(interrupts, "REDELIVER_SECONDS", 0.5)
  previous = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
  with pytest.raises(errors.Interrupted, match="stopped by SIGTERM"):
    with interrupts.handled():
      _SignalledInDestructor()  # ends before the signal is sent again
  signal.signal(signal.SIGTERM, lambda *_: pytest.fail("sent again after "
                                                       "the block"))
  try:
    time.sleep(1)  # the signal is not sent again: the block cancelled it
  finally:
    signal.signal(signal.SIGTERM, previous[signal.SIGTERM])


def test_between_steps_raises_a_signal_at_the_next_check_only():
  """Keras training (the coherence classifiers) raises a signal at a step
  boundary, never inside a trace, which left the process's graph state
  broken for every later program in it."""
  import signal  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import errors, interrupts  # pylint: disable=g-import-not-at-top
  previous = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
  reached = []
  with pytest.raises(errors.Interrupted, match="stopped by SIGTERM"):
    with interrupts.handled():
      with interrupts.between_steps():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # delivered, and recorded only
        reached.append("after the signal")
        interrupts.check()  # the step boundary
        reached.append("after check")
  assert reached == ["after the signal"]
  assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == previous
  interrupts.check()  # handled() forgot it


@pytest.mark.process
@pytest.mark.parametrize("sig,code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_stops_bin_evaluate_cleanly(sig, code, tiny_run, tmp_path,
                                             cache_dir):
  import signal  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  run = shutil.copytree(tiny_run, tmp_path / "run")
  before = tree(tmp_path)
  env = dict(os.environ, TF_MMJSD_CACHE=cache_dir, TF_CPP_MIN_LOG_LEVEL="2",
             PYTHONUNBUFFERED="1")
  proc = subprocess.Popen(
      [sys.executable, os.path.join(REPO, "bin", "evaluate"),
       f"--model_dir={run}", "--classifier_epochs=1"], env=env, cwd=REPO,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  for line in proc.stdout:  # signalled while it trains the classifiers
    if "Training the mnist classifier" in line:
      break
  proc.send_signal(getattr(signal, sig))
  _, stderr = proc.communicate(timeout=300)
  assert proc.returncode == code, stderr[-3000:]
  assert f"stopped by {sig}; nothing half-written" in error_line(stderr)
  assert "Traceback" not in stderr
  after = tree(tmp_path)  # the lock is gone; only finished files were added
  assert not [p for p in after if p.endswith((".lock", ".tmp", ".tmp.keras"))]
  assert set(before) <= set(after) and "run/results.json" not in after


# --- full and read-only disks (a tmpfs; needs the right to mount) ---------


@pytest.fixture
def small_disk(tmp_path):
  """mount(size) -> a fresh tmpfs folder, unmounted after the test. Skips
  where this user may not mount (not root)."""
  mounted = []

  def mount(size):
    point = tmp_path / f"disk{len(mounted)}"
    point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}",
                           "tmpfs", str(point)], capture_output=True)
    if done.returncode:
      pytest.skip(f"cannot mount a tmpfs here: {done.stderr[-200:]!r}")
    mounted.append(point)
    return point

  yield mount
  for point in mounted:
    subprocess.run(["umount", str(point)], check=False)


def _remount_read_only(point):
  subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)


@pytest.mark.slow
def test_a_full_disk_while_checkpointing_is_named_and_leaves_no_parts(
    small_disk, cache_dir):
  disk = small_disk("2m")  # config.json fits; a 3-modality checkpoint not
  out = run_bin("train", [f"--flagfile={REPO}/configs/base.flags"] + TINY + [
      f"--model_dir={disk}/run", "--epochs=1"], cache_dir)
  assert out.returncode == 1, out.stderr[-3000:]
  line = error_line(out.stderr)
  assert "No space left on device" in line and "free space" in line, line
  assert "out of memory" not in line
  left = [p for p in tree(disk) if "_temp" in p or p.endswith(".tmp")]
  assert left == []
  assert not (disk / "run" / run_lock.LOCK).exists()


@pytest.mark.slow
@pytest.mark.parametrize("program", ["train", "evaluate", "export"])
def test_a_read_only_run_is_named_for_what_it_is(program, tiny_run,
                                                 small_disk, cache_dir):
  disk = small_disk("64m")
  run = shutil.copytree(tiny_run, disk / "run")
  _remount_read_only(disk)
  before = tree(disk)
  args = [f"--model_dir={run}"]
  if program == "train":
    args = [f"--flagfile={run}/flags.txt", "--epochs=2"] + args
  if program == "export":
    args.append(f"--export_dir={disk}/exports")
  out = run_bin(program, args, cache_dir)
  # The run folder, or a new --export_dir on it, is refused before
  # anything starts (a usage error).
  assert out.returncode == 2, out.stderr[-3000:]
  line = error_line(out.stderr)
  assert "read-only file system" in line.lower(), line
  assert "choose another" in line, line
  assert tree(disk) == before


def _fill(disk, leave=64 << 10):
  """Fills the tmpfs at `disk` but `leave` bytes."""
  stat = os.statvfs(disk)
  free = stat.f_bavail * stat.f_frsize
  with open(disk / "filler", "wb") as f:
    f.write(b"\0" * max(0, free - leave))


@pytest.mark.slow
@pytest.mark.parametrize("program", ["evaluate", "export"])
def test_a_full_disk_under_evaluate_and_export_is_named_and_leaves_no_parts(
    program, tiny_run, small_disk, cache_dir):
  disk = small_disk("256m")
  run = shutil.copytree(tiny_run, disk / "run")
  _fill(disk)
  before = tree(disk)
  args = [f"--model_dir={run}"]
  if program == "evaluate":
    args.append("--classifier_epochs=1")
  else:
    args.append(f"--export_dir={disk}/exports")
  out = run_bin(program, args, cache_dir)
  assert out.returncode == 1, out.stderr[-3000:]
  line = error_line(out.stderr)
  assert "No space left on device" in line and "free space" in line, line
  after = tree(disk)
  left = [p for p in after if ".tmp" in p or "_temp" in p or p.endswith(
      run_lock.LOCK)]
  assert left == []
  assert not [p for p in after if p.startswith("exports/1")]
  assert "run/results.json" not in after and set(after) >= set(before)
