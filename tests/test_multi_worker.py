"""Multi-worker training on 127.0.0.1: faults, resumption, the chief's files.

The reference is one process training the same global batches; the two
workers split each batch and draw the same stateless noise, so their run
matches it to float rounding (the all-reduce sums in another order).
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.harness import (REPO, TINY, error_line, random_step, run_bin,
                           summary as _summary, wait_for_step)
from tf_mmjsd import local_cluster

# Every test here starts processes: workers, or bin/train with TF_CONFIG.
pytestmark = pytest.mark.process

ARGS = [f"--flagfile={REPO}/configs/base.flags"] + TINY + ["--epochs=2"]


def _start_workers(model_dir, cache_dir, tmp, logs, args=ARGS):
  procs = []
  for i, tf_config in enumerate(
      local_cluster.tf_configs(local_cluster.free_ports(2))):
    env = dict(os.environ, TF_MMJSD_CACHE=cache_dir, TF_CONFIG=tf_config,
               TMPDIR=tmp, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    log = open(os.path.join(logs, f"worker{i}.log"), "w")
    procs.append(subprocess.Popen(
        [sys.executable, os.path.join(REPO, "bin", "train")] + args + [
            f"--model_dir={model_dir}", "--distribution=multi_worker"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True))
  return procs


@pytest.mark.slow
def test_a_killed_worker_stops_the_other_and_a_rerun_matches_one_process(
    tmp_path, cache_dir):
  one = str(tmp_path / "one")
  ref = run_bin("train", ARGS + [f"--model_dir={one}"], cache_dir)
  assert ref.returncode == 0, ref.stderr

  two, tmp = str(tmp_path / "two"), str(tmp_path / "tmp")
  os.makedirs(tmp)
  procs = _start_workers(two, cache_dir, tmp, str(tmp_path))
  state = os.path.join(two, "checkpoints", "checkpoint")
  deadline = time.time() + 300
  while time.time() < deadline and not os.path.exists(state):
    assert all(p.poll() is None for p in procs), "a worker exited early"
    time.sleep(0.2)
  assert os.path.exists(state), "no checkpoint before the kill"
  procs[1].send_signal(signal.SIGKILL)
  killed = time.time()
  try:
    code = procs[0].wait(timeout=120)
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  waited = time.time() - killed
  chief_log = (tmp_path / "worker0.log").read_text()
  assert code == 1, chief_log[-3000:]  # a runtime failure
  assert waited < 120
  assert "error: training stopped: another worker of the cluster died" in (
      chief_log), chief_log[-3000:]
  assert "Rerun every worker" in chief_log and "Traceback" not in chief_log
  assert not os.path.exists(os.path.join(two, "summary.json"))

  # Every worker again, through the local launcher: resumes and finishes.
  left_behind = sorted(os.listdir(tmp))  # the killed worker's temp folder
  rerun = run_bin("train_local_cluster", ["--num_workers=2", "--"] + ARGS + [
      f"--model_dir={two}"], cache_dir, extra_env={"TMPDIR": tmp})
  assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
  assert "[worker 0] Resuming from checkpoint" in rerun.stdout
  assert "[worker 1] Resuming" not in rerun.stdout  # only the chief logs
  assert sorted(os.listdir(tmp)) == left_behind  # workers clean up

  # Only the chief wrote the run directory, and it matches one process.
  assert sorted(os.listdir(two)) == sorted(os.listdir(one))
  a, b = _summary(one), _summary(two)
  assert b["steps"] == a["steps"] == 62 and b["replicas"] == 2
  for term, value in a["test_terms"].items():
    assert b["test_terms"][term] == pytest.approx(value, rel=1e-3, abs=1e-3)
  for kind in ("poe", "mixture"):
    for subset, accuracy in a["latent_probe"][kind].items():
      assert abs(b["latent_probe"][kind][subset] - accuracy) <= 0.02


def test_a_malformed_tf_config_fails_before_anything_starts(tmp_path,
                                                            cache_dir):
  model_dir = tmp_path / "run"
  out = run_bin("train", ARGS + [f"--model_dir={model_dir}",
                                 "--distribution=multi_worker"], cache_dir,
                extra_env={"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}'},
                process=True)
  assert out.returncode == 2
  assert "error: TF_CONFIG is not valid JSON" in out.stderr
  assert "Traceback" not in out.stderr
  assert not model_dir.exists()


def test_the_launcher_refuses_another_strategy(tmp_path, cache_dir):
  out = run_bin("train_local_cluster", ["--", "--distribution=mirrored",
                                        f"--model_dir={tmp_path}/x"],
                cache_dir)
  assert out.returncode == 2
  assert "trains with --distribution=multi_worker" in out.stderr


def _lone_worker(ports, index=0):
  return local_cluster.tf_configs(ports)[index]


def test_a_worker_whose_peer_never_starts_stops_within_the_bound(tmp_path,
                                                                 cache_dir):
  ports = local_cluster.free_ports(2)
  model_dir = tmp_path / "run"
  start = time.time()
  out = run_bin("train", ARGS + [f"--model_dir={model_dir}",
                                 "--distribution=multi_worker",
                                 "--startup_timeout=4"], cache_dir,
                timeout=120, extra_env={"TF_CONFIG": _lone_worker(ports)},
                process=True)
  assert out.returncode == 1, out.stderr[-3000:]
  assert time.time() - start < 60
  line = error_line(out.stderr)
  assert (f"the cluster did not form: after 4 s this worker (worker 0, "
          f"127.0.0.1:{ports[0]}) could not reach worker 1 "
          f"(127.0.0.1:{ports[1]})") in line, line
  assert "Traceback" not in out.stderr and not model_dir.exists()


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143),
                                      (signal.SIGINT, 130)])
def test_a_worker_waiting_for_its_peers_stops_on_a_signal(sig, code,
                                                          tmp_path,
                                                          cache_dir):
  env = dict(os.environ, TF_MMJSD_CACHE=cache_dir, TF_CPP_MIN_LOG_LEVEL="2",
             TF_CONFIG=_lone_worker(local_cluster.free_ports(2), 1),
             PYTHONUNBUFFERED="1")
  proc = subprocess.Popen(
      [sys.executable, os.path.join(REPO, "bin", "train")] + ARGS + [
          f"--model_dir={tmp_path}/run", "--distribution=multi_worker"],
      env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True)
  for line in proc.stdout:
    if line.startswith("Waiting for 1 peer(s)"):
      break
  time.sleep(1)
  proc.send_signal(sig)
  _, stderr = proc.communicate(timeout=30)
  assert proc.returncode == code, stderr[-3000:]
  assert f"stopped by {signal.Signals(sig).name}" in error_line(stderr)
  assert not (tmp_path / "run").exists()


def test_a_port_taken_by_another_program_is_named(tmp_path, cache_dir):
  import socket  # pylint: disable=g-import-not-at-top
  ports = local_cluster.free_ports(2)
  with socket.socket() as taken:
    taken.bind(("127.0.0.1", ports[0]))
    taken.listen(1)
    out = run_bin("train", ARGS + [f"--model_dir={tmp_path}/run",
                                   "--distribution=multi_worker"], cache_dir,
                  timeout=120, extra_env={"TF_CONFIG": _lone_worker(ports)},
                  process=True)
  assert out.returncode == 2, out.stderr[-3000:]
  assert (f"the address 127.0.0.1:{ports[0]}, but its port is in use by "
          "another program") in error_line(out.stderr)


@pytest.mark.slow
@pytest.mark.parametrize("data", ["in_memory", "records"])
def test_sigterm_to_one_worker_checkpoints_every_worker_at_one_step(
    data, tmp_path, cache_dir):
  """A preemption notice (SIGTERM) to worker 1 at a random step: both
  workers save that step and exit 143; rerun, the run ends bit-identical to
  an uninterrupted two-worker run. With records, each worker reads only its
  own shards (the shards it names are disjoint), fixed by the seed."""
  args = ARGS
  if data == "records":
    shards = str(tmp_path / "shards")
    made = run_bin("make_records", TINY + [f"--out={shards}",
                                           "--train_shards=5"], cache_dir)
    assert made.returncode == 0, made.stderr
    args = ARGS + ["--dataset=records", f"--data_path={shards}"]
  ref = str(tmp_path / "ref")
  out = run_bin("train_local_cluster", ["--num_workers=2", "--"] + args + [
      f"--model_dir={ref}"], cache_dir)
  assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
  if data == "records":
    read = [re.search(rf"\[worker {i}\] Input pipeline {i} of 2 reads train "
                      r"shards (.*)\.", out.stdout)[1].split(", ")
            for i in range(2)]
    assert sorted(read[0] + read[1]) == [
        f"train-0000{i}-of-00005.tfrecord" for i in range(5)], read

  two, tmp = str(tmp_path / "two"), str(tmp_path / "tmp")
  os.makedirs(tmp)
  procs = _start_workers(two, cache_dir, tmp, str(tmp_path), args)
  # A random step after the first checkpoint (10), sent when the chief
  # prints its progress line: a wall-clock delay could land after training.
  at = random_step(31, 2, after=10, rng=np.random.default_rng())
  try:
    wait_for_step(tmp_path / "worker0.log", at, procs)
  except AssertionError:
    for p in procs:
      p.kill()
    raise
  procs[1].send_signal(signal.SIGTERM)
  try:
    codes = [p.wait(timeout=120) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
  assert codes == [143, 143], [log[-2000:] for log in logs]
  steps = []
  for i, log in enumerate(logs):
    line = error_line(log)
    who = ("this worker (worker 1) received SIGTERM" if i == 1 else
           "another worker of the cluster received SIGTERM")
    assert who in line and "Rerun every worker" in line, line
    steps.append(int(re.search(r"stopped at step (\d+) of 62", line)[1]))
    assert "Traceback" not in log
  # Worker 1 may be a step behind the chief's line when the signal comes.
  assert steps[0] == steps[1] and at - 1 <= steps[0] < 62, (at, steps)
  assert os.path.exists(os.path.join(two, "checkpoints",
                                     f"ckpt-{steps[0]}.index"))
  assert not os.path.exists(os.path.join(two, "summary.json"))

  rerun = run_bin("train_local_cluster", ["--num_workers=2", "--"] + args + [
      f"--model_dir={two}"], cache_dir, extra_env={"TMPDIR": tmp})
  assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
  assert f"ckpt-{steps[0]}" in rerun.stdout
  assert sorted(os.listdir(tmp)) == []  # every worker cleaned up
  a, b = _summary(ref), _summary(two)
  assert b["steps"] == 62 and b["test_terms"] == a["test_terms"]
  assert b["latent_probe"] == a["latent_probe"]
