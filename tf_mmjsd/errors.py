"""`Error`: the base class of every anticipated failure of tf_mmjsd.

Each CLI catches `Error` alone and prints its message as one `error: ...`
line; anything else is a bug and keeps its traceback.
"""


class Error(Exception):
  """A failure the user can fix; the message names the problem."""
