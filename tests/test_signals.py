"""A signal at any moment of any program: SIGTERM or SIGINT at a random
moment of each third of a program's run (start-up, work, finalising or its
final evaluation) must end it with 128 + the signal's number, one `error:`
line, no run lock and no partial file left. bin/compare and bin/benchmark,
which run the same training and evaluation, get one signal at a random
moment of their first seconds.

The programs run in this process (cli.execute, as harness.run_bin does), so
a run costs no TensorFlow start-up; a timer thread sends the signal to this
process. Each program first runs once without a signal to time it.
tests/test_faults.py and tests/test_multi_worker.py send signals to
separate processes (start-up of Python and TensorFlow, several workers).
"""

import contextlib
import json
import os
import re
import signal
import threading
import time
import zlib

import numpy as np
import pytest

from tests.harness import TINY, error_line, run_bin
from tf_mmjsd import run_lock

# Settings that keep each evaluation to seconds.
EVAL = ["--eval_examples=100", "--likelihood_examples=50",
        "--likelihood_samples=2", "--quality_examples=50", "--prd_runs=1",
        "--prd_clusters=5", "--figure_rows=1", "--classifier_epochs=1",
        "--clustering_runs=1", "--gmm_components=2"]
# Leftovers of a write cut short: temporary files and folders.
PARTIAL = re.compile(r"\.partial$|\.tmp|^tmp|_temp|^\.tmp-")


@pytest.fixture(name="workspace", scope="module")
def _workspace(tmp_path_factory, cache_dir):
  """A finished run and coherence classifiers every program below shares
  (read only)."""
  root = tmp_path_factory.mktemp("signals")
  classifiers = str(root / "classifiers")
  done = run_bin("train", TINY + [f"--model_dir={root}/run", "--epochs=1"],
                 cache_dir)
  assert done.returncode == 0, done.stderr[-2000:]
  done = run_bin("train_classifiers", TINY + [
      f"--classifier_dir={classifiers}", "--classifier_epochs=1"], cache_dir)
  assert done.returncode == 0, done.stderr[-2000:]
  return str(root / "run"), classifiers


def _commands(workspace, out):
  """{program: its arguments}, every output under folder `out`."""
  run, classifiers = workspace
  shared = [f"--classifier_dir={classifiers}"]
  return {
      "train": TINY + [f"--model_dir={out}/run", "--epochs=1",
                       "--steps_per_epoch=4", "--eval_every_epochs=1"]
               + shared + EVAL,
      "evaluate": [f"--model_dir={out}/run"] + shared + EVAL,
      "export": [f"--model_dir={out}/run", f"--export_dir={out}/export"],
      "make_records": TINY + [f"--out={out}/records"],
      "make_example_data": [f"--out={out}/data.npz",
                            "--train_size=20000"],
      "train_classifiers": TINY + [f"--classifier_dir={out}/classifiers",
                                   "--classifier_epochs=1"],
      "benchmark": TINY + ["--steps=3", "--repeats=3", "--warmup=1"],
      "compare": TINY + [f"--compare_dir={out}/compare", "--methods=mmjsd",
                         "--styles=off", "--steps_per_epoch=2",
                         "--epochs=1"] + shared + EVAL,
  }


def _prepare(program, workspace, out):
  """evaluate and export work on a copy of the finished run."""
  if program in ("evaluate", "export"):
    import shutil  # pylint: disable=g-import-not-at-top
    shutil.copytree(workspace[0], os.path.join(out, "run"))


@contextlib.contextmanager
def _signal_after(seconds, sig):
  """Sends `sig` to this process after `seconds`; a signal that arrives
  after the program returned meets a handler that ignores it."""
  previous = {s: signal.signal(s, lambda *_: None)
              for s in (signal.SIGTERM, signal.SIGINT)}
  timer = threading.Timer(seconds, os.kill, (os.getpid(), sig))
  timer.start()
  try:
    yield
  finally:
    timer.cancel()
    timer.join()
    for s, handler in previous.items():
      signal.signal(s, handler)


def _left_behind(folder):
  """(run locks, partial files, unreadable JSON files) under folder."""
  locks, partial, broken = [], [], []
  for root, dirs, names in os.walk(folder):
    for name in names + dirs:
      path = os.path.join(root, name)
      if name == run_lock.LOCK:
        locks.append(path)
      if PARTIAL.search(name):
        partial.append(path)
      if name.endswith(".json") and os.path.isfile(path):
        try:
          json.load(open(path))
        except ValueError:
          broken.append(path)
  return locks, partial, broken


def _check_interrupted(got, sig, out, what):
  assert got.returncode == 128 + sig, (what, got.stderr[-3000:])
  assert re.search(r"(stopped|interrupted) by SIG(TERM|INT)|interrupted;",
                   error_line(got.stderr)), (what, got.stderr[-3000:])
  locks, partial, broken = _left_behind(out)
  assert not locks, (what, locks)
  assert not partial, (what, partial)
  assert not broken, (what, broken)


def _run(program, workspace, out, cache_dir, at=None, sig=None):
  """(the program's result, seconds it took), with `sig` sent after `at`
  seconds."""
  out.mkdir()
  _prepare(program, workspace, str(out))
  start = time.monotonic()
  with (_signal_after(at, sig) if sig else contextlib.nullcontext()):
    got = run_bin(program, _commands(workspace, out)[program], cache_dir)
  return got, time.monotonic() - start


# Programs whose phases are timed (a run without a signal first); the
# others (compositions of these) get one signal in their first seconds.
PHASED = ("train", "evaluate", "export", "make_records", "make_example_data",
          "train_classifiers")


@pytest.mark.slow
@pytest.mark.parametrize("program", PHASED)
def test_a_signal_in_each_phase_ends_cleanly(program, workspace, tmp_path,
                                             cache_dir):
  done, seconds = _run(program, workspace, tmp_path / "timed", cache_dir)
  assert done.returncode == 0, done.stderr[-2000:]
  if seconds < 3:  # a short program: time it again, warm
    seconds = min(seconds, _run(program, workspace, tmp_path / "again",
                                cache_dir)[1])
  rng = np.random.default_rng(zlib.crc32(program.encode()))
  interrupted = 0
  for third, sig in enumerate((signal.SIGTERM, signal.SIGINT,
                               signal.SIGTERM)):
    # A run that finished before its signal was faster than the estimate
    # (a first run pays for lazy imports and tracing): it is tried again
    # with its own duration as the estimate.
    for attempt in range(3):
      at = seconds * rng.uniform(third / 3 + 0.02, (third + 1) / 3 - 0.02)
      out = tmp_path / f"third{third}_{attempt}"
      got, took = _run(program, workspace, out, cache_dir, at, sig)
      what = (f"{program}, {signal.Signals(sig).name} at {at:.2f} s of "
              f"{seconds:.2f} s")
      if got.returncode != 0:
        break
      assert took <= at, (what, f"lost: exit 0 after {took:.2f} s")
      seconds = took
    else:
      continue
    interrupted += 1
    _check_interrupted(got, sig, out, what)
  # Where a run takes under a second its duration varies too much to hit
  # each third; every run that exits 0 has finished before its signal.
  assert interrupted >= (2 if seconds > 3 else 1), (program, seconds)


@pytest.mark.slow
@pytest.mark.parametrize("program,sig", [("compare", signal.SIGTERM),
                                         ("benchmark", signal.SIGINT)])
def test_a_signal_early_in_a_composite_program_ends_cleanly(
    program, sig, workspace, tmp_path, cache_dir):
  at = np.random.default_rng(zlib.crc32(program.encode())).uniform(0.3, 3)
  out = tmp_path / "run"
  got, _ = _run(program, workspace, out, cache_dir, at, sig)
  _check_interrupted(got, sig, out, f"{program} at {at:.2f} s")


class _SignalOnEpochEnd:
  """A training callback that receives SIGTERM while it works, as a
  periodic evaluation would: `between_steps` as the coherence classifiers'
  training (the signal is raised at the next check), else anywhere."""

  def __init__(self, between_steps):
    self.between_steps = between_steps
    self.epochs = []

  def on_epoch_end(self, event):
    from tf_mmjsd import interrupts  # pylint: disable=g-import-not-at-top
    self.epochs.append(event.epoch)
    with (interrupts.between_steps() if self.between_steps
          else contextlib.nullcontext()):
      os.kill(os.getpid(), signal.SIGTERM)
      time.sleep(0.5 if self.between_steps else 5)  # a handler raises here
      interrupts.check()  # a step boundary
    self.epochs.append("not stopped")


@pytest.mark.parametrize("between_steps", [False, True],
                         ids=["anywhere", "between_steps"])
def test_a_signal_during_the_epoch_callbacks_names_the_checkpoint_to_resume(
    between_steps, tiny_config, tmp_path):
  """A signal in an epoch's callbacks (e.g. its evaluation) stops at once,
  and the error still names the step and the checkpoint that holds it; a
  rerun goes on from there, with the next epoch."""
  from tf_mmjsd import errors, interrupts, training  # pylint: disable=g-import-not-at-top
  config = tiny_config(small=True, epochs=2, steps_per_epoch=3,
                       latent_dim=4, model_dir=str(tmp_path / "run"))
  callback = _SignalOnEpochEnd(between_steps)
  trainer = training.Trainer(config, log=lambda *_: None,
                             callbacks=[callback])
  try:
    with pytest.raises(errors.Interrupted) as stopped:
      with interrupts.handled():
        trainer.train()
  finally:
    trainer.release()
  assert callback.epochs == [0]
  assert stopped.value.signum == signal.SIGTERM
  checkpoint = str(tmp_path / "run" / "checkpoints" / "ckpt-3")
  assert str(stopped.value) == (
      f"stopped by SIGTERM at step 3 of 6; checkpoint {checkpoint} holds "
      "it. The signal came at the end of epoch 1, whose callbacks (e.g. its "
      "evaluation) the resumed run does not repeat. Rerun the same command "
      "to resume from there.")
  interrupts.check()  # handled() forgot the signal
  again = training.Trainer(config, log=lambda *_: None)
  try:
    assert again.restore() == checkpoint and again.step == 3
    again.train()
    assert again.step == 6
  finally:
    again.release()
