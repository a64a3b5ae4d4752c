"""What every bin/ program shares: one `error: ...` line per failure it
anticipates, and its exit code.

  app.run(cli.main(main), flags_parser=flags.parse_argv)

`main(argv)` raises a `tf_mmjsd.Error` for anything the user can fix; the
wrapper prints `error: <message>` on stderr and returns the error's exit
code: 2 for usage errors (a flag, file, setting or data set that cannot be
used; nothing was changed), 1 for failures while running. A few system
failures are anticipated too (a full disk, no permission, out of memory,
Ctrl-C). `--verbose` prints the traceback as well. Any other exception is a
bug and keeps its traceback.
"""

import sys
import traceback

from absl import flags

from tf_mmjsd import errors

flags.DEFINE_bool("verbose", False, "On an error, also print its traceback.")


def describe(error):
  """(one-line message, exit code) of an anticipated failure; None for a
  bug."""
  if isinstance(error, errors.Error):
    return str(error), error.exit_code
  if isinstance(error, KeyboardInterrupt):
    return ("interrupted; rerun the same command to resume from the newest "
            "checkpoint"), 130
  if isinstance(error, MemoryError):
    return ("out of memory; lower --batch_size (or --eval_batch_size, "
            "--quality_examples)"), 1
  if isinstance(error, OSError) and error.strerror:
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{error.strerror}", 1
  tf = sys.modules.get("tensorflow")
  if tf is not None and isinstance(error, tf.errors.ResourceExhaustedError):
    return ("out of memory on the device; lower --batch_size (or "
            "--eval_batch_size)"), 1
  return None


def report(error):
  """Prints an anticipated failure as one line; returns its exit code, or
  None (nothing printed) for a bug."""
  known = describe(error)
  if known is None:
    return None
  if flags.FLAGS.is_parsed() and flags.FLAGS.verbose:
    traceback.print_exception(error)
  message = " ".join(known[0].split())  # one line
  print(f"error: {message}", file=sys.stderr)
  return known[1]


def main(fn):
  """`fn(argv) -> exit code` with anticipated failures reported (see the
  module docstring)."""

  def wrapped(argv):
    try:
      return fn(argv) or 0
    except (Exception, KeyboardInterrupt) as e:  # pylint: disable=broad-except
      code = report(e)
      if code is None:
        raise
      return code

  return wrapped


def no_arguments(argv):
  """Raises a UsageError for positional arguments (flags need `--`)."""
  if len(argv) > 1:
    raise errors.UsageError(
        f"unexpected arguments {argv[1:]}; flags are written --name=value")
