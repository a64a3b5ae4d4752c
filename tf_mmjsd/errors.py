"""`Error`: the base class of every anticipated failure of tf_mmjsd.

Each CLI (tf_mmjsd/cli.py) catches `Error` and prints its message as one
`error: ...` line and exits with the error's `exit_code`: 2 for a
`UsageError` (a flag, flagfile, setting, data file or model_dir the user
gave cannot be used; nothing was changed), 1 for a failure while running
(training went non-finite, a peer worker died, no checkpoint is readable).
Anything else is a bug and keeps its traceback.
"""


class Error(Exception):
  """A failure the user can fix; the message names the problem."""

  exit_code = 1


class UsageError(Error):
  """What the user asked for cannot be done as given; nothing was changed."""

  exit_code = 2


class ConfigError(UsageError, ValueError):
  """An experiment setting is invalid; the message names the setting."""
