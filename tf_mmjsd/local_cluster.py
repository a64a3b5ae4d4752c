"""Multi-worker training on one machine: N processes of bin/train on
127.0.0.1, each with its own TF_CONFIG, as N hosts would run it.

Worker 0 is the chief (it writes `model_dir`); every line a worker prints
comes out prefixed with `[worker i]`. When one worker fails, the others get
`grace` seconds to fail on their own (their collectives notice the missing
peer) and are then stopped, so the launcher never hangs.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from tf_mmjsd import errors, interrupts
from tf_mmjsd.errors import UsageError


class ClusterError(UsageError):
  """The local cluster cannot be started as asked."""


def free_ports(count, host="127.0.0.1"):
  """`count` distinct TCP ports that were free a moment ago."""
  sockets = []
  try:
    for _ in range(count):
      s = socket.socket()
      s.bind((host, 0))
      sockets.append(s)
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def tf_configs(ports, host="127.0.0.1"):
  """The TF_CONFIG (a JSON string) of each worker of a cluster on `ports`."""
  cluster = {"worker": [f"{host}:{p}" for p in ports]}
  return [json.dumps({"cluster": cluster,
                      "task": {"type": "worker", "index": i}})
          for i in range(len(ports))]


def _pump(index, stream, out):
  for line in stream:
    out.write(f"[worker {index}] {line}")
    out.flush()


def run(num_workers, command, grace=60.0, out=None, poll=0.2):
  """Runs `command` (argv of one worker, e.g. [python, bin/train, flags...])
  as `num_workers` local workers; returns the exit code (0 if all succeed,
  else the first failure's code, or 1 for a worker stopped by a signal).

  Raises:
    ClusterError: num_workers < 1, or the command asks for another strategy.
  """
  out = out or sys.stdout  # the workers' lines (default: this program's)
  if num_workers < 1:
    raise ClusterError(f"--num_workers must be >= 1, got {num_workers}")
  other = [a for a in command if a.startswith("--distribution=")
           and a != "--distribution=multi_worker"]
  if other:
    raise ClusterError(f"{other[0]}: a local cluster trains with "
                       "--distribution=multi_worker; leave the flag out")
  command = list(command) + ["--distribution=multi_worker"]
  procs, pumps = [], []
  failed_at, code = None, 0
  try:  # a signal while starting them stops those already started
    for i, tf_config in enumerate(tf_configs(free_ports(num_workers))):
      env = dict(os.environ, TF_CONFIG=tf_config, PYTHONUNBUFFERED="1")
      proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
      procs.append(proc)
      pumps.append(threading.Thread(target=_pump,
                                    args=(i, proc.stdout, out), daemon=True))
      pumps[-1].start()
    out.write(f"Started {num_workers} workers on 127.0.0.1 (worker 0 is "
              "the chief).\n")
    while any(p.poll() is None for p in procs):
      failures = [p for p in procs if p.poll() not in (None, 0)]
      if failures and failed_at is None:
        failed_at = time.time()
        code = _code(failures[0].returncode)
        out.write(f"worker {procs.index(failures[0])} exited with code "
                  f"{failures[0].returncode}; waiting up to {grace:.0f} s "
                  "for the others\n")
      if failed_at is not None and time.time() - failed_at > grace:
        _stop(procs, out)
        break
      time.sleep(poll)
  except (KeyboardInterrupt, errors.Interrupted):  # SIGINT, SIGTERM
    with interrupts.deferred():  # a second signal cannot cut the stopping
      _stop(procs, out)
    raise
  for pump in pumps:
    pump.join(timeout=5)
  for p in procs:
    if p.returncode and not code:
      code = _code(p.returncode)
  return code


def _code(returncode):
  return returncode if returncode > 0 else 1


def _stop(procs, out):
  for i, p in enumerate(procs):
    if p.poll() is None:
      out.write(f"stopping worker {i}\n")
      os.killpg(p.pid, signal.SIGTERM)
  deadline = time.time() + 10
  for p in procs:
    try:
      p.wait(timeout=max(0.1, deadline - time.time()))
    except subprocess.TimeoutExpired:
      os.killpg(p.pid, signal.SIGKILL)
      p.wait()
