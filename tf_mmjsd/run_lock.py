"""One writer per run directory: `RunLock(model_dir)`.

The process that trains (the chief, under multi_worker) or evaluates into
a run holds <model_dir>/.lock, a file created exclusively that names its
process, host, start and command (O_EXCL, which shared file systems
honour; an object store has no exclusive create, so there the lock is
written unless present and read back: best effort). A second program on
the same folder is refused at once with a message naming the first. A lock
whose process is gone (killed with kill -9, or its machine lost) is stale:
on the same host that is checked and the lock is taken over with a
warning; from another host it cannot be checked, and the message says how
to clear it.
"""

import json
import os
import socket
import sys
import time

from tf_mmjsd import files
from tf_mmjsd.errors import UsageError

LOCK = ".lock"


class RunLockedError(UsageError):
  """Another process writes to this run directory."""


def _start_ticks(pid):
  """The start time of process `pid` (Linux clock ticks since boot), or
  None where it cannot be read; tells a reused pid from the original."""
  try:
    with open(f"/proc/{pid}/stat") as f:  # local: this host's processes
      return int(f.read().rsplit(")", 1)[1].split()[19])
  except (OSError, IndexError, ValueError):
    return None


def _alive(holder):
  """True where the lock's process still runs (on this host)."""
  pid = holder.get("pid")
  if not isinstance(pid, int):
    return False
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True  # someone else's process
  ticks = holder.get("start_ticks")
  return ticks is None or _start_ticks(pid) in (None, ticks)


class RunLock:
  """The exclusive lock of one run directory (a context manager).

  Args:
    model_dir: the run directory (created if missing).
    log: prints one line (the warning when a stale lock is taken over).
  """

  def __init__(self, model_dir, log=print):
    self.model_dir, self.log = model_dir, log
    self.path = os.path.join(model_dir, LOCK)
    self.held = False

  def _describe(self, holder):
    started = holder.get("started")
    when = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float)) else "an unknown time")
    return (f"process {holder.get('pid')} on host {holder.get('host')!r} "
            f"(started {when}: {holder.get('command', '?')})")

  def _refusal(self, holder, my_host):
    """The RunLockedError for a live holder; None for a stale one."""
    same_host = holder.get("host") == my_host
    if same_host and not _alive(holder):
      return None
    where = ("" if same_host else " It may also be a lock left by a "
             "program on that host that is no longer running; if so, "
             f"delete {self.path} and rerun.")
    return RunLockedError(
        f"{self.model_dir} is in use by {self._describe(holder)}; wait for "
        f"it to finish or use another --model_dir.{where}")

  def check(self):
    """Raises RunLockedError where a live process holds the lock; writes
    nothing (call it before the checks that precede any write)."""
    holder = self._holder()
    if holder:
      refusal = self._refusal(holder, socket.gethostname())
      if refusal is not None:
        raise refusal

  def acquire(self):
    """Takes the lock; RunLockedError naming the holder where another live
    process has it. Returns self."""
    files.makedirs(self.model_dir)
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "start_ticks": _start_ticks(os.getpid()), "started": time.time(),
          "command": " ".join(os.path.basename(a) if i == 0 else a
                              for i, a in enumerate(sys.argv))[:300]}
    for _ in range(50):
      try:
        files.create_exclusive(self.path, json.dumps(me))
      except FileExistsError:
        holder = self._holder()
        if holder is None:
          continue  # released meanwhile
        if not holder and self._age() < 10.0:
          time.sleep(0.2)  # being written by a program starting now
          continue
        refusal = self._refusal(holder, me["host"])
        if refusal is not None:
          raise refusal from None
        self.log(f"warning: {self.path} was left by "
                 f"{self._describe(holder)}, which is no longer running; "
                 "taking it over")
        self._remove()
        continue
      self.held = True
      return self
    raise RunLockedError(f"could not take {self.path}: it keeps changing; "
                         "is another program starting on this folder?")

  def _holder(self):
    try:
      holder = json.loads(files.read_text(self.path))
      return holder if isinstance(holder, dict) else {}
    except FileNotFoundError:
      return None
    except (OSError, ValueError):
      return {}  # unreadable: its process cannot be checked

  def _age(self):
    try:
      return time.time() - files.getmtime(self.path)
    except OSError:
      return 0.0

  def _remove(self):
    try:
      files.remove(self.path)
    except FileNotFoundError:
      pass

  def release(self):
    """Removes the lock if this process holds it."""
    if self.held:
      holder = self._holder() or {}
      if holder.get("pid") == os.getpid():
        self._remove()
      self.held = False

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()
    return False
