"""A program's first screen: its own lines, not TensorFlow's start-up notices.

The filter (tf_mmjsd/quiet.py) is checked on TensorFlow's real lines in
this process and, as a process of its own, behind a small Python program
(no TensorFlow: a fraction of a second); the programs that import
TensorFlow run once each as processes on a tiny workload, with what they
print on stdout and stderr in one stream, as a terminal shows it.
"""

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.harness import REPO, TINY
from tf_mmjsd import distribution, quiet

# What TensorFlow printed on a CPU machine before this filter (TensorFlow
# 2.21, bin/train and bin/evaluate of the quick start).
STARTUP = [
    "WARNING: All log messages before absl::InitializeLog() is called are "
    "written to STDERR",
    "I0000 00:00:1796558461.118860    5335 port.cc:153] oneDNN custom "
    "operations are on. You may see slightly different numerical results "
    "due to floating-point round-off errors from different computation "
    "orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796558672.146062    5780 cpu_feature_guard.cc:227] This "
    "TensorFlow binary is optimized to use available CPU instructions in "
    "performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other "
    "operations, rebuild TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1796558474.414902    5335 util.cc:131] oneDNN supports "
    "DT_INT32 only on platforms with AVX-512. Falling back to the default "
    "Eigen-based implementation if present.",
]
NO_GPU = [
    "I0000 00:00:1796558461.119509    5335 cudart_stub.cc:31] Could not find "
    "cuda drivers on your machine, GPU will not be used.",
    "E0000 00:00:1796558462.368696    5335 cuda_platform.cc:52] failed call "
    "to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR "
    "(303)",
]
# Lines that must pass: a real error, a fatal one, one of the program's.
REAL = [
    "E0000 00:00:1796558474.414902    5335 gpu_device.cc:2340] Cannot "
    "dlopen some GPU libraries.",
    "F1206 12:00:00.000000    5335 util.cc:131] oneDNN supports DT_INT32 "
    "only on platforms with AVX-512.",
    "error: --model_dir=runs/x: no such folder",
    "  step 1/5 - loss: 1.964e+04",
]
# A line from TensorFlow, absl or Python's warnings, not from the program.
FOREIGN = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]|^WARNING: All log "
                     r"|^(INFO|WARNING|ERROR):tensorflow:|^To enable the "
                     r"following|\w+Warning: ")


def test_the_start_up_lines_are_dropped_and_real_ones_kept():
  patterns = quiet.harmless_patterns(no_gpu=True)
  for line in STARTUP + NO_GPU:
    assert quiet.is_harmless(line.encode(), patterns), line
  for line in REAL:
    assert not quiet.is_harmless(line.encode(), patterns), line
  # Where a GPU driver is installed, a failing CUDA is news.
  with_gpu = quiet.harmless_patterns(no_gpu=False)
  for line in NO_GPU:
    assert not quiet.is_harmless(line.encode(), with_gpu), line
  assert quiet._no_gpu({"CUDA_VISIBLE_DEVICES": "-1"})  # pylint: disable=protected-access


def test_the_filter_drops_whole_lines_however_they_arrive():
  lines = quiet.LineFilter(quiet.harmless_patterns(no_gpu=True), longest=200)
  pieces = [
      b"first line\n" + STARTUP[0].encode() + b"\n" + NO_GPU[1].encode(),
      b"\nEpoch 1/1 ... ",  # the end of a dropped line, then a piece
      b"5 steps\n" + STARTUP[4].encode() + b"\r\n",  # ... which ends here
      STARTUP[1].encode()[:20], STARTUP[1].encode()[20:] + b"\n10%\r20%\r",
      b"x" * 201,  # too long to wait for its end
      b"last",
  ]
  got = [lines.feed(piece) for piece in pieces] + [lines.flush()]
  assert got == [b"first line\n", b"", b"Epoch 1/1 ... 5 steps\n", b"",
                 b"10%\r20%\r", b"x" * 201, b"", b"last"]


def test_copy_reads_to_the_end_and_survives_a_closed_target():
  source, sink = os.pipe()
  out, target = os.pipe()
  os.write(sink, STARTUP[0].encode() + b"\nkept\n")
  os.close(sink)
  quiet.copy(source, target, quiet.harmless_patterns(no_gpu=True))
  os.close(target)
  assert os.read(out, 1 << 16) == b"kept\n"
  os.close(out)
  source, sink = os.pipe()
  out, target = os.pipe()
  os.close(out)  # nobody reads: the filter drains its input anyway
  os.write(sink, b"lost\n" * 1000)
  os.close(sink)
  quiet.copy(source, target, [])
  os.close(source)
  os.close(target)


def test_defaults_keep_what_the_user_set():
  from absl import logging  # pylint: disable=g-import-not-at-top
  before = logging.get_verbosity()
  try:
    environ = {}
    assert not quiet.defaults(environ)
    assert environ == {"TF_CPP_MIN_LOG_LEVEL": "2"}
    assert logging.get_verbosity() == logging.WARNING
    assert not quiet.defaults({"TF_CPP_MIN_LOG_LEVEL": "3"})
    assert quiet.defaults({"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert logging.get_verbosity() == logging.INFO
  finally:
    logging.set_verbosity(before)


# A program that prints as TensorFlow does, then its own lines, then ends
# as `how` says (without importing TensorFlow).
_FAKE = """
import os, sys
from tf_mmjsd import quiet
quiet.filter_stderr()
os.write(2, b"%s")
print("own line", flush=True)
print("error: a real problem", file=sys.stderr, flush=True)
if sys.argv[1] == "abort":
  os.write(2, b"F0000 00:00:1.0 1 check.cc:1] Check failed\\n")
  os.abort()
"""


@pytest.mark.parametrize("how", ["exit", "abort"])
def test_a_process_shows_its_own_lines_and_real_errors(how, tmp_path):
  noise = "".join(line + "\\n" for line in STARTUP + NO_GPU)
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["CUDA_VISIBLE_DEVICES"] = "-1"
  got = subprocess.run([sys.executable, "-c", _FAKE % noise, how], env=env,
                       cwd=tmp_path, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
  lines = got.stdout.splitlines()
  expected = ["own line", "error: a real problem"]
  if how == "abort":  # the filter outlives a crash and passes its message
    expected.append("F0000 00:00:1.0 1 check.cc:1] Check failed")
  assert sorted(lines) == sorted(expected), got.stdout
  # TF_CPP_MIN_LOG_LEVEL=0: everything, unfiltered.
  got = subprocess.run([sys.executable, "-c", _FAKE % noise, "exit"],
                       env=dict(env, TF_CPP_MIN_LOG_LEVEL="0"), cwd=tmp_path,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
  assert len(got.stdout.splitlines()) == len(STARTUP + NO_GPU) + 2


def test_settings_that_expect_a_gpu_say_so_without_one():
  assert distribution.device_notes("mirrored", "float32", gpus=1) == []
  assert distribution.device_notes("default", "float32", gpus=0) == []
  notes = distribution.device_notes("mirrored", "mixed_float16", gpus=0)
  assert len(notes) == 2 and "mirrored found no GPU" in notes[0]
  assert "float16" in notes[1]
  bf16 = ["mixed_bfloat16"]
  assert distribution.device_notes("default", *bf16, gpus=0,
                                   flags={"avx512_bf16", "fma"}) == []
  assert "without bfloat16 instructions" in distribution.device_notes(
      "default", *bf16, gpus=0, flags={"avx2", "fma"})[0]
  assert distribution.device_notes("default", *bf16, gpus=0) == []  # unknown


EVAL = ["--eval_examples=100", "--likelihood_examples=50",
        "--likelihood_samples=2", "--quality_examples=50", "--prd_runs=1",
        "--prd_clusters=5", "--figure_rows=1", "--classifier_epochs=1"]


def _first_screen(program, args, env, stop_after_first_line):
  """(exit code, lines) of bin/<program> as a terminal shows them (stdout
  and stderr in one stream); SIGTERM after its first line where
  `stop_after_first_line`."""
  proc = subprocess.Popen(
      [sys.executable, os.path.join(REPO, "bin", program)] + args, env=env,
      cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  try:
    first = proc.stdout.readline()
    if stop_after_first_line:
      proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=600)
  finally:
    proc.kill()
  return proc.returncode, (first + rest).splitlines()


@pytest.mark.process
def test_each_programs_first_line_is_its_own(tmp_path, cache_dir):
  """make_records and a quick-start-like tiny training run to their end
  without a line marked E or W; the others (on that run) stop after their
  first line."""
  run = f"--model_dir={tmp_path}/run"
  commands = [  # in order: the others use the run
      ("make_records", TINY + [f"--out={tmp_path}/records"], False),
      ("train", TINY + [run, "--epochs=1", "--steps_per_epoch=2"], False),
      ("evaluate", [run] + EVAL, True),
      ("export", [run, f"--export_dir={tmp_path}/export"], True),
      ("benchmark", TINY + ["--steps=1", "--repeats=1", "--warmup=1"], True),
      ("compare", TINY + [f"--compare_dir={tmp_path}/compare",
                          "--methods=mmjsd", "--styles=off", "--epochs=1",
                          "--steps_per_epoch=1"] + EVAL, True),
  ]
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["TF_MMJSD_CACHE"] = cache_dir
  for program, args, stop in commands:
    code, lines = _first_screen(program, args, env, stop)
    assert code == (128 + signal.SIGTERM if stop else 0), (program, lines)
    assert lines and not FOREIGN.search(lines[0]), (program, lines[:10])
    marked = [ln for ln in lines if re.match(r"[EW]\d{4} ", ln)
              or FOREIGN.search(ln)]
    assert not marked, (program, marked)
