"""What the tests share (imported by test modules; no test module imports
another): the repository root, running bin/ programs, the tiny training
flags, reading a run's summary, writing .npz data and random batches,
the commands a markdown page prints."""

import contextlib
import hashlib
import io
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# bin/train flags of a run that takes seconds (31 steps an epoch).
TINY = ["--dataset=synthetic_mst", "--synthetic_train_size=2000",
        "--synthetic_test_size=500", "--data_multiplication=1",
        "--batch_size=64", "--probe_train_examples=500",
        "--checkpoint_every_steps=10", "--num_sample_columns=4"]


# What only a separate process honours: run with process=True.
_PROCESS_ENV = ("TF_CONFIG", "TF_ENABLE_ONEDNN_OPTS")


def run_bin(name, args, cache_dir, timeout=600, extra_env=None,
            process=False):
  """Runs program `name` (bin/<name>) with args; returns a
  CompletedProcess (returncode, stdout, stderr).

  By default in this process (cli.execute, with the environment, working
  directory and output streams of a separate run); with `process` as
  bin/<name> in a subprocess, for what only a process shows: its exit
  status, signals, start-up, TF_CONFIG. A bug raises here as it would
  print its traceback there; `timeout` bounds only a subprocess.
  """
  env = {"TF_MMJSD_CACHE": cache_dir, "TF_CPP_MIN_LOG_LEVEL": "2",
         **(extra_env or {})}
  if process:
    return subprocess.run([sys.executable, os.path.join(REPO, "bin", name)]
                          + args, env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)
  special = sorted(set(env) & set(_PROCESS_ENV))
  assert not special, f"{special} need run_bin(..., process=True)"
  from tf_mmjsd import cli  # pylint: disable=g-import-not-at-top
  out, err = io.StringIO(), io.StringIO()
  with _environment(env), _cwd(REPO), contextlib.redirect_stdout(
      out), contextlib.redirect_stderr(err):
    code = cli.execute(name, [os.path.join("bin", name)] + list(args))
  return subprocess.CompletedProcess([name] + list(args), code,
                                     out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _environment(values):
  """os.environ with `values` set, restored after."""
  before = {k: os.environ.get(k) for k in values}
  os.environ.update(values)
  try:
    yield
  finally:
    for k, v in before.items():
      if v is None:
        os.environ.pop(k, None)
      else:
        os.environ[k] = v


@contextlib.contextmanager
def _cwd(path):
  before = os.getcwd()
  os.chdir(path)
  try:
    yield
  finally:
    os.chdir(before)


def train(args, cache_dir, timeout=600, extra_env=None, process=False):
  """bin/train with args (see run_bin)."""
  return run_bin("train", args, cache_dir, timeout, extra_env, process)


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


def trained_step(log_text):
  """The global step of the last progress line ('  step K/S - ...' under
  'Epoch E/N') of a training log; 0 before the first."""
  step = epoch = 0
  for line in log_text.splitlines():
    started = re.search(r"Epoch (\d+)/\d+", line)
    if started:
      epoch = int(started[1]) - 1
    done = re.search(r"^\s*step (\d+)/(\d+) - ", line)
    if done:
      step = epoch * int(done[2]) + int(done[1])
  return step


def wait_for_step(log, step, procs, stderr=None, timeout=300):
  """Waits until the training log file `log` (its program's stdout, written
  unbuffered) reaches global `step` (trained_step), asserting meanwhile
  that every process of `procs` still runs (else showing the end of `log`
  and of the file `stderr`)."""
  deadline = time.time() + timeout
  while trained_step(pathlib.Path(log).read_text()) < step:
    if any(p.poll() is not None for p in procs):
      tails = [pathlib.Path(f).read_text()[-2000:] for f in (log, stderr)
               if f is not None]
      raise AssertionError("a process exited early:\n" + "\n".join(tails))
    assert time.time() < deadline, f"step {step} not reached: {log}"
    time.sleep(0.02)


def random_step(per_epoch, epochs, after, rng, log_every=3, margin=7):
  """A random step with a progress line, past step `after`, in an epoch
  before the last and at least `margin` steps before its end: a signal
  sent when its line is printed arrives while the epoch trains, or if
  late, while a later one does."""
  return int(rng.choice([
      e * per_epoch + k for e in range(epochs - 1)
      for k in range(log_every, per_epoch - margin + 1, log_every)
      if e * per_epoch + k > after]))


def _case_args(case, folder):
  """The command line of a bad-input case, its setup done in `folder`."""
  _, _, args, setup, _, _ = case
  args = [a.replace("{tmp}", str(folder)) for a in args]
  if setup is not None:
    args += setup(folder) or []
  return args


def check_bad_input(case, tmp_path, cache_dir, extra_env=None,
                    process=False):
  """Runs one case (id, program, args, setup(tmp) -> extra args or None,
  exit code, error pattern) of a bad-input table: args may name {tmp}. The
  program must exit with the code, print one `error:` line matching the
  pattern and no traceback, and leave tmp_path as it was, byte for byte.
  In this process unless `process` (see run_bin)."""
  import re  # pylint: disable=g-import-not-at-top
  _, program, _, _, code, pattern = case
  args = _case_args(case, tmp_path)
  before = tree(tmp_path)
  env = {"TF_MMJSD_OFFLINE": "1", **(extra_env or {})}
  out = run_bin(program, args, cache_dir, timeout=300, extra_env=env,
                process=process)
  assert out.returncode == code, (out.returncode, out.stderr[-3000:])
  assert re.search(pattern, error_line(out.stderr)), out.stderr[-3000:]
  assert tree(tmp_path) == before  # nothing made, nothing changed


# Runs [id, program, args, environment] rows (JSON on stdin) through
# cli.execute in one fresh process; prints [id, exit code, TensorFlow
# loaded?, stderr] rows.
_BEFORE_TENSORFLOW = """
import contextlib, io, json, os, sys
from tf_mmjsd import cli
rows = []
for name, program, args, env in json.load(sys.stdin):
  err = io.StringIO()
  os.environ.update(env)
  with contextlib.redirect_stderr(err), contextlib.redirect_stdout(
      io.StringIO()):
    code = cli.execute(program, [program] + args)
  for key in env:
    del os.environ[key]
  rows.append([name, code, "tensorflow" in sys.modules, err.getvalue()])
  if "tensorflow" in sys.modules:
    break  # the rows after it could not show whether they load it
print(json.dumps(rows))
"""


def check_usage_errors_before_tensorflow(cases, tmp_root, cache_dir,
                                         env_of=lambda case: {}):
  """Runs every usage-error case (exit code 2) of a bad-input table in one
  fresh process (with the environment variables env_of(case)) and asserts
  each gave its exit code, its one error line and no change to its folder
  before TensorFlow was imported (the programs' pre-flight)."""
  import re  # pylint: disable=g-import-not-at-top
  usage = [c for c in cases if c[4] == 2]
  rows, folders = [], {}
  for number, case in enumerate(usage):
    folder = tmp_root / f"case{number}"
    folder.mkdir()
    rows.append([case[0], case[1], _case_args(case, folder), env_of(case)])
    folders[case[0]] = (folder, tree(folder), case[5])
  env = dict(os.environ, TF_MMJSD_CACHE=cache_dir, TF_MMJSD_OFFLINE="1")
  done = subprocess.run([sys.executable, "-c", _BEFORE_TENSORFLOW],
                        input=json.dumps(rows), capture_output=True,
                        text=True, timeout=300, env=env, cwd=REPO)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(done.stdout.splitlines()[-1])
  for name, code, loaded, stderr in results:
    assert code == 2, (name, code, stderr[-2000:])
    assert not loaded, f"{name!r} imported TensorFlow: {stderr[-2000:]}"
    folder, before, pattern = folders[name]
    assert re.search(pattern, error_line(stderr)), (name, stderr[-2000:])
    assert tree(folder) == before, name
  assert len(results) == len(usage) >= 1


# The commands of a markdown page (tests/test_doc_commands.py).
_PROGRAM = r"(?:\./)?(bin/\w+|tf-mmjsd-[\w-]+)(?=\s|$)"
# A command: optional `$ ` prompt, `VAR=value` prefixes, `python`/`time`.
_START = re.compile(r"^(?:\$\s+)?(?:\w+=(?:'[^']*'|\"[^\"]*\"|\S*)\s+)*"
                    r"(?:(?:python3?|time)\s+)?" + _PROGRAM)
# A program named anywhere on a line (to find lines _START misses).
MENTION = re.compile(r"(?:^|[\s;&|(])" + _PROGRAM)
_FENCE = re.compile(r"^([ \t]*)(```|~~~)[^\n]*\n(.*?)^[ \t]*\2",
                    re.M | re.S)
_SPAN = re.compile(r"(?<!`)(`+)((?:\./)?(?:bin/\w+|tf-mmjsd-[\w-]+)"
                   r"(?:(?!\1).)*?)\1(?!`)", re.S)


def program_of(word):
  """The program module name of `bin/<name>` or `tf-mmjsd-<name>`."""
  word = word.removeprefix("./")
  return word[4:] if word.startswith("bin/") else word[9:].replace("-", "_")


def code_lines(text):
  """[(line number, line)] of the fenced code blocks of markdown `text`
  (``` or ~~~, indented too), a line ending in a backslash joined with the
  next."""
  out = []
  for block in _FENCE.finditer(text):
    first = text.count("\n", 0, block.start(3)) + 1
    lines = block.group(3).split("\n")
    k = 0
    while k < len(lines):
      line, start = lines[k].strip(), k
      while line.endswith("\\") and k + 1 < len(lines):
        k += 1
        line = line[:-1] + " " + lines[k].strip()
      k += 1
      out.append((first + start, line))
  return out


def commands(text, spans=True):
  """[(line, argv)] of every command in markdown `text`: code blocks' lines
  (`$ ` prompts, `VAR=value` prefixes, `python bin/...`, chains with `&&`,
  `||` or `;`, and `# comments` allowed) and, with `spans`, inline code
  spans. argv[0] is `bin/<name>` or `tf-mmjsd-<name>`."""
  found = []
  for number, line in code_lines(text):
    for part in re.split(r"&&|\|\||;", line):
      match = _START.match(part.strip())
      if match:
        found.append((number, _argv(part.strip()[match.start(1):], number)))
  for span in _SPAN.finditer(text if spans else ""):
    number = text.count("\n", 0, span.start()) + 1
    found.append((number, _argv(" ".join(span.group(2).split()), number)))
  return found


def _argv(command, number):
  try:
    argv = shlex.split(command, comments=True)
  except ValueError as e:
    raise ValueError(f"line {number}: {command!r}: {e}") from None
  argv[0] = argv[0].removeprefix("./")
  return argv
