"""What every program (programs/, bin/, the tf-mmjsd-* commands) shares:
its start-up and one `error: ...` line per failure it anticipates, with its
exit code.

  cli.execute("train", ["train", "--flagfile=configs/quickstart.flags",
                        "--model_dir=runs/q"])   # -> exit code, in process
  cli.run(program_module)                        # a console script

A program is a module of tf_mmjsd/programs with `define_flags(fv)`, which
declares its flags on an absl FlagValues, and `main(fv, args)`, which runs
it (`args`: what follows `--`, for programs that set POSITIONAL; else any
positional argument is a usage error). `execute` parses the command line
into a fresh FlagValues (layered flagfiles: flags.parse_argv), so programs
run one after another in one process; it sets quiet.defaults() and calls
`main` with SIGTERM and SIGINT raising errors.Interrupted (interrupts.py;
exit code 128 + the signal's number; also while the flags are parsed and,
under `run`, from start-up to exit). `main` checks what it can without
TensorFlow first (its pre-flight: settings, paths, the run folder and its
lock, the data's format) and imports TensorFlow only after. It raises a
`tf_mmjsd.Error` for anything the user can fix; `execute` prints `error:
<message>` on stderr and returns the error's exit code: 2 for usage errors
(a flag, file, setting or data set that cannot be used; nothing was
changed), 1 for failures while running. A few system failures are
anticipated too (a full disk, no permission, out of memory). `--verbose`
prints the traceback as well. Any other exception is a bug and keeps its
traceback.
"""

import errno
import os
import sys
import traceback

import importlib

from absl import flags

from tf_mmjsd import errors, interrupts, quiet

HELP = ("--help", "-help", "-h", "--helpshort", "--helpfull")


def describe(error):
  """(one-line message, exit code) of an anticipated failure; None for a
  bug."""
  if isinstance(error, (errors.Error, errors.Interrupted)):
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


def report(error, verbose=False):
  """Prints an anticipated failure as one line (and its traceback where
  `verbose`); returns its exit code, or None (nothing printed) for a bug."""
  known = describe(error)
  if known is None:
    return None
  if verbose:
    traceback.print_exception(error)
  message = " ".join(known[0].split())  # one line
  print(f"error: {message}", file=sys.stderr)
  return known[1]


def no_arguments(args):
  """Raises a UsageError for positional arguments (flags need `--`)."""
  if args:
    raise errors.UsageError(
        f"unexpected arguments {args}; flags are written --name=value")


def program_module(program):
  """The module of `program`: a module, or a name in tf_mmjsd/programs."""
  if isinstance(program, str):
    return importlib.import_module(f"tf_mmjsd.programs.{program}")
  return program


def _help(module, fv):
  print((module.__doc__ or "").strip() + "\n")
  print(fv.get_help())
  return 0


def flag_values(module):
  """A fresh FlagValues with the flags of program `module` (and
  --verbose)."""
  fv = flags.FlagValues()
  flags.DEFINE_bool("verbose", False, "On an error, also print its "
                    "traceback.", flag_values=fv)
  module.define_flags(fv)
  return fv


def parse(program, argv):
  """(FlagValues, positional arguments) of `program`'s command line argv
  (argv[0] names the program); errors.UsageError for a flag that cannot
  be parsed, is out of its bounds or fails the checks every flag shares
  (preflight.check_flags), or a flagfile that cannot be read."""
  from tf_mmjsd import flags as mm_flags  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import preflight  # pylint: disable=g-import-not-at-top
  fv = flag_values(program_module(program))
  args = mm_flags.parse_argv(argv, fv)[1:]  # absl drops the "--"
  preflight.check_flags(fv)
  return fv, args


def execute(program, argv):
  """Runs `program` (see the module docstring) on the command line `argv`
  (argv[0] names the program) in this process; returns its exit code.

  Anticipated failures, usage errors of the flags among them, are printed
  as one `error:` line; a bug raises its exception.
  """
  quiet.defaults()
  module = program_module(program)
  own = argv[1:argv.index("--")] if "--" in argv else argv[1:]
  if any(arg in HELP for arg in own):
    return _help(module, flag_values(module))
  from tf_mmjsd import preflight  # pylint: disable=g-import-not-at-top
  fv = None
  try:
    with interrupts.handled():
      try:
        fv, args = parse(module, argv)
        if not getattr(module, "POSITIONAL", False):
          no_arguments(args)
        return module.main(fv, args) or 0
      finally:
        preflight.release()
  except (Exception, KeyboardInterrupt,  # pylint: disable=broad-except
          errors.Interrupted) as e:
    code = report(e, verbose=fv is not None and fv.verbose)
    if code is None:
      raise
    return code


def run(module):
  """A console script's (and bin/'s) entry point: `execute` on sys.argv
  under absl's app.run (its logging set-up); exits with the exit code."""
  from absl import app  # pylint: disable=g-import-not-at-top

  def global_flags_parsed(argv):
    # The program's flags live in execute's own FlagValues; absl's global
    # ones (app.run's) take no argument.
    flags.FLAGS(argv[:1])
    return argv

  quiet.filter_stderr()
  # Signals before and after `execute` (absl's start-up, the exit) end the
  # program with the same one line and exit code as during it.
  try:
    with interrupts.handled():
      app.run(lambda argv: execute(module, argv),
              flags_parser=global_flags_parsed)
  except errors.Interrupted as e:
    sys.exit(report(e))
