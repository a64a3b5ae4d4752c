"""`Error`: the base class of every anticipated failure of tf_mmjsd.

Each CLI (tf_mmjsd/cli.py) catches `Error` and prints its message as one
`error: ...` line and exits with the error's `exit_code`: 2 for a
`UsageError` (a flag, flagfile, setting, data file or model_dir the user
gave cannot be used; nothing was changed), 1 for a failure while running
(training went non-finite, a peer worker died, no checkpoint is readable).
`Interrupted` (a signal) is reported the same way. Anything else is a bug
and keeps its traceback.
"""


class Error(Exception):
  """A failure the user can fix; the message names the problem."""

  exit_code = 1


class UsageError(Error):
  """What the user asked for cannot be done as given; nothing was changed."""

  exit_code = 2


class ConfigError(UsageError, ValueError):
  """An experiment setting is invalid; the message names the setting."""


class Interrupted(BaseException):
  """A program stopped on a signal (training after saving its state); the
  exit code is 128 + the signal's number (130 for SIGINT, 143 for
  SIGTERM). Like KeyboardInterrupt it is not an Exception, so that no
  library's `except Exception` swallows it (Keras's saving and tracing
  have such handlers); the CLI reports it like an Error."""

  def __init__(self, message, signum):
    super().__init__(message)
    self.signum = signum
    self.exit_code = 128 + signum


class Failure(Error):
  """A failure while running with a given exit code (e.g. a worker's)."""

  def __init__(self, message, exit_code=1):
    super().__init__(message)
    self.exit_code = exit_code
