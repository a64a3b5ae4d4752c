"""What every program (programs/, bin/, the tf-mmjsd-* commands) shares:
its start-up and one `error: ...` line per failure it anticipates, with its
exit code.

  cli.run(main, define_flags)

declares the program's flags, parses the command line with layered
flagfiles (flags.parse_argv), refuses positional arguments (unless the
program takes them), quiets TensorFlow's and absl's logs and calls
`main(argv)`, which raises a `tf_mmjsd.Error` for anything the user can fix; the
wrapper prints `error: <message>` on stderr and returns the error's exit
code: 2 for usage errors (a flag, file, setting or data set that cannot be
used; nothing was changed), 1 for failures while running. A few system
failures are anticipated too (a full disk, no permission, out of memory);
SIGTERM and Ctrl-C stop a program as errors.Interrupted (interrupts.py),
with exit code 128 + the signal's number. `--verbose` prints the traceback as well. Any other exception is a
bug and keeps its traceback.
"""

import errno
import os
import sys
import traceback

from absl import app, flags, logging

from tf_mmjsd import errors, interrupts

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
    return f"{where}{error.strerror}{_fix_of(error.errno)}", 1
  tf = sys.modules.get("tensorflow")
  if tf is not None and isinstance(error, tf.errors.OpError):
    return _describe_tf(tf, error)
  return None


# What to do about a file-system fault, by errno.
_FIXES = {
    errno.ENOSPC: "; free space there or choose another folder",
    errno.EACCES: "; choose a folder you may write to, or fix its "
                  "permissions",
    errno.EROFS: "; the file system is read-only: choose another folder",
    errno.EDQUOT: "; the disk quota is exceeded: free space or choose "
                  "another folder",
}
# How TensorFlow words those faults in the messages of its OpErrors.
_TF_FAULTS = (("No space left on device", errno.ENOSPC),
              ("Read-only file system", errno.EROFS),
              ("Disk quota exceeded", errno.EDQUOT),
              ("Permission denied", errno.EACCES))


def _fix_of(code):
  return _FIXES.get(code, "")


def _describe_tf(tf, error):
  """TensorFlow's errors that are file-system faults read like OSErrors;
  ResourceExhausted without one is the device's memory."""
  message = " ".join(str(error.message).split())
  for text, code in _TF_FAULTS:
    if text.lower() in message.lower():
      return f"{os.strerror(code)}: {message[:300]}{_fix_of(code)}", 1
  if isinstance(error, tf.errors.PermissionDeniedError):
    return f"{message[:300]}{_fix_of(errno.EACCES)}", 1
  if isinstance(error, tf.errors.ResourceExhaustedError):
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


def run(main_fn, define_flags, positional=False):
  """Runs a program: see the module docstring. `positional`: main_fn takes
  the arguments after `--` (argv[1:]); otherwise any is a usage error."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  from tf_mmjsd import flags as mm_flags  # pylint: disable=g-import-not-at-top
  define_flags()
  # --help prints the __main__ module's docstring: the program's, also when
  # started through bin/ or a console script.
  sys.modules["__main__"].__doc__ = sys.modules[main_fn.__module__].__doc__

  def program(argv):
    if not positional:
      no_arguments(argv)
    logging.set_verbosity(logging.WARNING)
    interrupts.install()
    return main_fn(argv)

  app.run(main(program), flags_parser=mm_flags.parse_argv)
