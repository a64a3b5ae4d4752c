"""What a program shows of TensorFlow's own start-up logging.

TensorFlow logs from C++ through absl, which writes every message to stderr
until absl::InitializeLog is called (TensorFlow never calls it), whatever
TF_CPP_MIN_LOG_LEVEL says, and once for each of TensorFlow's shared
libraries that logs. On a machine without a GPU a program's first screen
would be seven such lines before its own, two of them marked E ("failed
call to cuInit: ... CUDA error", later "oneDNN supports DT_INT32 only on
platforms with AVX-512"), none of them a problem.

By default (`defaults()`, before TensorFlow is imported):
  - TensorFlow's C++ INFO and WARNING lines are not shown
    (TF_CPP_MIN_LOG_LEVEL=2) and absl's Python logging shows warnings and
    errors;
  - a console program (`filter_stderr`, called by cli.run) sends its stderr
    through a small filter process that drops the lines in HARMLESS and
    passes everything else unchanged, errors included.

TF_CPP_MIN_LOG_LEVEL=0 (or 1) set by the user shows all of TensorFlow's
logging, unfiltered, with absl's Python logging at INFO (0) or WARNING (1).
A level of 2 or 3 set by the user is kept, and the filter stays.

This file also runs as the filter itself (`python -I -S quiet.py`): it
imports nothing of tf_mmjsd.
"""

import atexit
import os
import re
import select
import signal
import subprocess
import sys

# (source file, message) of lines that are never a problem; any severity
# but fatal.
HARMLESS = (
    # oneDNN kernels are on (tf_mmjsd/__init__.py turns them on).
    (rb"port\.cc", rb"oneDNN custom operations are on"),
    # The oneDNN kernels fall back to Eigen for some integer types.
    (rb"util\.cc", rb"oneDNN supports DT_\w+ only on platforms with AVX-512"),
    # Instructions TensorFlow was not compiled for.
    (rb"cpu_feature_guard\.cc", rb"This TensorFlow binary is optimized"),
)
# Only where the machine has no NVIDIA driver or the GPUs are hidden
# (CUDA_VISIBLE_DEVICES empty or -1): elsewhere a failing CUDA is news.
NO_GPU_HARMLESS = (
    (rb"cudart_stub\.cc", rb"Could not find cuda drivers"),
    (rb"cuda_\w+\.cc", rb"failed call to cuInit"),
)
# Lines without the log prefix: absl's notice before its initialisation,
# and the second line of the cpu_feature_guard message.
_PLAIN_HARMLESS = (
    rb"^WARNING: All log messages before absl::InitializeLog\(\) is called "
    rb"are written to STDERR$",
    rb"^To enable the following instructions: .* rebuild TensorFlow with "
    rb"the appropriate compiler flags\.$",
)


def _no_gpu(environ=os.environ):
  visible = environ.get("CUDA_VISIBLE_DEVICES")
  return (not os.path.exists("/proc/driver/nvidia")  # local: this host
          or (visible is not None and visible.strip() in ("", "-1")))


def harmless_patterns(no_gpu=None):
  """The compiled patterns of lines the filter drops (NO_GPU_HARMLESS too
  where `no_gpu`, by default: this machine has no usable NVIDIA GPU)."""
  no_gpu = _no_gpu() if no_gpu is None else no_gpu
  pairs = HARMLESS + (NO_GPU_HARMLESS if no_gpu else ())
  # TensorFlow's C++ log lines: severity, date (or 0000), time, thread,
  # source file and line, message.
  logged = [re.compile(rb"^[IWE]\d{4} [\d:.]+ +\d+ " + source + rb":\d+\] "
                       + message) for source, message in pairs]
  return logged + [re.compile(p) for p in _PLAIN_HARMLESS]


def is_harmless(line, patterns):
  """Whether `line` (bytes, without its line break) matches a pattern."""
  return any(p.search(line) for p in patterns)


class LineFilter:
  """Drops the lines that match `patterns` from a stream fed in pieces. A
  line ends at a line feed or a carriage return (progress bars pass as they
  are redrawn); a piece of a line waits for its end (or `flush`), unless it
  grows past `longest` bytes, when it passes unfiltered."""

  def __init__(self, patterns, longest=1 << 16):
    self.patterns, self.longest = patterns, longest
    self.pending = b""

  def feed(self, data):
    """What passes of the stream up to the next piece `data` (bytes)."""
    data = self.pending + data
    end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
    self.pending = data[end:]
    out = [line for line in _LINES.findall(data[:end])
           if not is_harmless(line.rstrip(b"\r\n"), self.patterns)]
    if len(self.pending) > self.longest:
      out.append(self.flush())
    return b"".join(out)

  def flush(self):
    """The piece of a line that waits for its end."""
    rest, self.pending = self.pending, b""
    return rest


# A line and its end.
_LINES = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")


def copy(source, target, patterns):
  """Copies file descriptor `source` to `target` until its end through a
  LineFilter. Where `target` fails (closed, not only full), the rest is
  read and dropped, so the writer never blocks."""
  lines, failed = LineFilter(patterns), False
  while not failed:
    data = os.read(source, 1 << 16)
    passed = lines.feed(data) if data else lines.flush()
    try:
      _write_all(target, passed)
    except OSError:
      failed = True
    if not data:
      return
  while os.read(source, 1 << 16):
    pass


def _write_all(fd, data):
  """Writes all of `data`, waiting where `fd` is non-blocking and full."""
  view = memoryview(data)
  while view:
    try:
      view = view[os.write(fd, view):]
    except BlockingIOError:
      select.select([], [fd], [], 1.0)


def defaults(environ=os.environ):
  """Sets what TensorFlow reads at its import (TF_CPP_MIN_LOG_LEVEL, unless
  set) and absl's Python log level; returns whether the user asked for
  all of TensorFlow's logging (TF_CPP_MIN_LOG_LEVEL of 0 or 1)."""
  from absl import logging  # pylint: disable=g-import-not-at-top
  level = environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2").strip()
  verbose = level in ("0", "1")
  logging.set_verbosity(logging.INFO if level == "0" else logging.WARNING)
  return verbose


def filter_stderr():
  """Sends this process's stderr (file descriptor 2, so C++ and child
  processes too) through the filter (this file, run by the same Python),
  which writes what passes to the stderr of before. Does nothing where the
  user asked for all of TensorFlow's logging, off POSIX, or where stderr
  is closed. At exit, stderr is given back and the filter drained."""
  if os.name != "posix" or defaults():
    return
  try:
    sys.stderr.flush()
    saved = os.dup(2)
  except (OSError, ValueError, AttributeError):
    return
  try:
    # Its own session: Ctrl-C at the terminal reaches the program, and the
    # filter passes on the program's last words, then ends with its input.
    proc = subprocess.Popen([sys.executable, "-I", "-S", __file__],
                            stdin=subprocess.PIPE, stdout=2, stderr=2,
                            start_new_session=True)
  except OSError:
    os.close(saved)
    return
  os.dup2(proc.stdin.fileno(), 2)
  proc.stdin.close()
  atexit.register(_give_back, saved, proc)


def _give_back(saved, proc):
  try:
    sys.stderr.flush()
  except (OSError, ValueError):
    pass
  os.dup2(saved, 2)  # the filter's input ends with the last writer
  os.close(saved)
  try:
    proc.wait(timeout=5)
  # A child process still holding it, or a signal at exit: the filter
  # passes the rest on by itself.
  except BaseException:  # pylint: disable=broad-except
    pass


if __name__ == "__main__":
  for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, signal.SIG_IGN)
  copy(0, 1, harmless_patterns())
