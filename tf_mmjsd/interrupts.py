"""SIGTERM and SIGINT as errors that cannot be lost.

A scheduler or a preempted cloud VM sends SIGTERM; Ctrl-C sends SIGINT.
Every program (cli.execute, inside `handled()`) turns both into
`errors.Interrupted` (not an Exception, so no library's `except Exception`
swallows it), raised where Python next runs, so `finally` blocks release
locks and remove temporary files and the program exits with 128 + the
signal's number.

Python drops an exception raised inside a destructor (`__del__`, a weakref
callback such as TensorFlow's) and hands it to `sys.unraisablehook`.
Within `handled()` that hook sends the signal again a moment later
(`REDELIVER_SECONDS`), when Python runs elsewhere. As a last net, a block
of `handled()` that ends normally with a signal pending raises it, and
`check()` raises it at a safe point of a long loop. `deferred()` holds
signals back while a clean-up must finish. Training handles the signals
itself (training.loop.StopRequest: a checkpoint at the next step
boundary).
"""

import contextlib
import os
import signal
import sys
import threading

from tf_mmjsd import errors

SIGNALS = (signal.SIGTERM, signal.SIGINT)
REDELIVER_SECONDS = 0.05
_pending = []  # the signal numbers received since the last clear()
_resend = []  # the timers sending a signal again


def interrupted(signum, what="stopped"):
  """The errors.Interrupted of signal `signum`."""
  name = signal.Signals(signum).name
  return errors.Interrupted(
      f"{what} by {name}; nothing half-written was kept. Rerun the same "
      "command to go on (finished work is reused)", signum)


def _cancel_resends():
  for timer in _resend:
    timer.cancel()
  _resend.clear()


def handle(signum, frame=None):
  """The signal handler: records `signum` and raises its Interrupted."""
  del frame
  _pending.append(signum)
  _cancel_resends()  # raised now: any earlier one was dropped
  raise interrupted(signum)


def _resend_dropped(hook):
  """A sys.unraisablehook that sends again the signal of an Interrupted
  Python dropped (others go to `hook`)."""
  def unraisable(info):
    if not isinstance(info.exc_value, errors.Interrupted):
      hook(info)
      return
    timer = threading.Timer(REDELIVER_SECONDS, os.kill,
                            (os.getpid(), info.exc_value.signum))
    _resend.append(timer)
    timer.start()
  return unraisable


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
  hook, sys.unraisablehook = sys.unraisablehook, _resend_dropped(
      sys.unraisablehook)
  try:
    yield
    check()  # a signal whose exception was dropped
  except errors.Interrupted:
    raise
  except BaseException as e:
    if _pending:
      raise interrupted(_pending[-1]) from e
    raise
  finally:
    clear()  # first: no signal is sent again to the handlers restored
    sys.unraisablehook = hook
    for sig, handler in previous.items():
      signal.signal(sig, handler)


@contextlib.contextmanager
def deferred():
  """Within the block SIGTERM and SIGINT are only recorded (a clean-up
  that must finish); one received is sent again when the block ends, to
  the handler then in place. Outside the main thread it changes
  nothing."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  held = []
  previous = {sig: signal.signal(sig, lambda signum, _: held.append(signum))
              for sig in SIGNALS}
  try:
    yield
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  if held:
    os.kill(os.getpid(), held[-1])


@contextlib.contextmanager
def between_steps():
  """Within the block SIGTERM and SIGINT are recorded and raised by the
  next `check()` (call it at a step boundary, e.g. from a Keras callback),
  not wherever Python runs next: raised while TensorFlow traces a function
  (Keras fit's first steps, its validation), one left the process's graph
  state broken for every later program in it. One still pending when the
  block ends is raised then. Outside the main thread it changes nothing."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = {sig: signal.signal(sig, lambda signum, _: _pending.append(
      signum)) for sig in SIGNALS}
  try:
    yield
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  check()


def pending():
  """The number of the last signal received and not yet forgotten (its
  Interrupted raised, dropped or still to come), or None."""
  return _pending[-1] if _pending else None


def check():
  """Raises errors.Interrupted for a signal received earlier whose
  exception was dropped (see the module docstring)."""
  if _pending:
    _cancel_resends()
    raise interrupted(_pending[-1])


def clear():
  """Forgets the signals received (after one was handled as an error) and
  sends none again."""
  _cancel_resends()
  _pending.clear()
