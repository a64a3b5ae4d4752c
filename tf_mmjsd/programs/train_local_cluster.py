"""Multi-worker training on this machine: N local bin/train processes.

  bin/train_local_cluster --num_workers=2 -- --flagfile=configs/quickstart.flags \\
      --model_dir=runs/two_workers

Everything after `--` goes to each worker's bin/train (or bin/benchmark with
--program=benchmark), which runs with --distribution=multi_worker and its
own TF_CONFIG on 127.0.0.1. Worker 0 is the chief and writes --model_dir.
Rerun the same command to resume.
"""

import dataclasses
import sys

from absl import flags

from tf_mmjsd import cli, errors, flags as mm_flags, preflight

POSITIONAL = True  # the workers' flags follow `--`


def define_flags(fv):
  """Declares this program's flags."""
  flags.DEFINE_integer("num_workers", 2, "Worker processes to start.",
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_enum("program", "train", ["train", "benchmark"],
                    "The bin/ program each worker runs.", flag_values=fv)
  flags.DEFINE_float("grace_seconds", 60.0, "After one worker fails, how long "
                     "the others may take to fail before they are stopped.",
                     lower_bound=0, flag_values=fv)


def check_workers(program, args, num_workers):
  """The workers' flags `args` parse and their settings, run folder and
  data pass the pre-flight (what each worker would refuse, refused once
  before any starts), the train shards of records included: enough for
  `num_workers`, and each as its manifest says."""
  try:
    worker, _ = cli.parse(program, [program] + args)
    config = mm_flags.config_from_flags(worker,
                                        require_model_dir=program == "train")
  except errors.UsageError as e:
    raise errors.UsageError(f"the workers' flags (after --): {e}") from None
  # Checked as the chief will check them; TF_CONFIG is the workers', not
  # this process's.
  # The launcher checks the input of every worker: their pipelines.
  config = dataclasses.replace(config, distribution="default",
                               stream_records=config.dataset == "records")
  pipelines = [(i, num_workers) for i in range(num_workers)]
  if program == "train":
    preflight.training(config, pipelines)
  else:
    preflight.data(config, pipelines)


def main(fv, args):
  """Starts the workers of the parsed flags `fv`; `args` are theirs."""
  check_workers(fv.program, args, fv.num_workers)
  from tf_mmjsd import local_cluster  # pylint: disable=g-import-not-at-top
  program = f"tf_mmjsd.programs.{fv.program}"
  code = local_cluster.run(fv.num_workers,
                           [sys.executable, "-m", program] + args,
                           grace=fv.grace_seconds)
  if code:
    raise errors.Failure(
        f"a worker exited with code {code}; its own error is in the "
        "[worker N] lines above", exit_code=code)
  return 0


def run():
  """The console-script entry point."""
  cli.run(sys.modules[__name__])


if __name__ == "__main__":
  run()
