"""SIGTERM and SIGINT as errors that cannot be lost.

A scheduler or a preempted cloud VM sends SIGTERM; Ctrl-C sends SIGINT.
Every program (cli.execute, inside `handled()`) turns both into
`errors.Interrupted`, raised where
Python next runs, so `finally` blocks release locks and remove temporary
files and the program exits with 128 + the signal's number. Python drops an
exception raised inside a destructor (`__del__`, e.g. of a TensorFlow
object) after printing it; the signal therefore stays pending, and `check()`
at the next safe point raises it again. Training handles the signals itself
(training.loop.StopRequest: a checkpoint at the next step boundary).
"""

import contextlib
import signal
import threading

from tf_mmjsd import errors

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_pending = []  # the signal numbers received and not yet raised


def interrupted(signum, what="stopped"):
  """The errors.Interrupted of signal `signum`."""
  name = signal.Signals(signum).name
  return errors.Interrupted(
      f"{what} by {name}; nothing half-written was kept. Rerun the same "
      "command to go on (finished work is reused)", signum)


def handle(signum, frame=None):
  """The signal handler: records `signum` and raises its Interrupted."""
  del frame
  _pending.append(signum)
  raise interrupted(signum)


@contextlib.contextmanager
def handled():
  """Within the block SIGTERM and SIGINT raise errors.Interrupted; the
  handlers it replaced are restored after it, and signals left pending are
  forgotten. An exception leaving the block after a signal was received
  leaves it as that signal's Interrupted: libraries re-raise what a signal
  raised inside their calls as exceptions of their own (Keras: a
  RuntimeError from a layer's call). Outside the main thread (where Python
  cannot set handlers) it changes nothing."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = {sig: signal.signal(sig, handle) for sig in SIGNALS}
  try:
    yield
  except errors.Interrupted:
    raise
  except BaseException as e:
    if _pending:
      raise interrupted(_pending[-1]) from e
    raise
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
    clear()


def check():
  """Raises errors.Interrupted for a signal received earlier whose
  exception was dropped (see the module docstring)."""
  if _pending:
    raise interrupted(_pending[-1])


def clear():
  """Forgets the signals received (after one was handled as an error)."""
  _pending.clear()
