"""Multi-worker training on this machine: N local bin/train processes.

  bin/train_local_cluster --num_workers=2 -- --flagfile=configs/quickstart.flags \\
      --model_dir=runs/two_workers

Everything after `--` goes to each worker's bin/train (or bin/benchmark with
--program=benchmark), which runs with --distribution=multi_worker and its
own TF_CONFIG on 127.0.0.1. Worker 0 is the chief and writes --model_dir.
Rerun the same command to resume.
"""

import sys

from absl import flags

from tf_mmjsd import cli, errors


def define_flags():
  """Declares this program's flags."""
  flags.DEFINE_integer("num_workers", 2, "Worker processes to start.")
  flags.DEFINE_enum("program", "train", ["train", "benchmark"],
                    "The bin/ program each worker runs.")
  flags.DEFINE_float("grace_seconds", 60.0, "After one worker fails, how long "
                     "the others may take to fail before they are stopped.")


def main(argv):
  from tf_mmjsd import local_cluster  # pylint: disable=g-import-not-at-top
  program = f"tf_mmjsd.programs.{flags.FLAGS.program}"
  code = local_cluster.run(flags.FLAGS.num_workers,
                           [sys.executable, "-m", program] + argv[1:],
                           grace=flags.FLAGS.grace_seconds)
  if code:
    raise errors.Failure(
        f"a worker exited with code {code}; its own error is in the "
        "[worker N] lines above", exit_code=code)
  return 0


def run():
  """The console-script entry point."""
  cli.run(main, define_flags, positional=True)


if __name__ == "__main__":
  run()
