"""Trains a multimodal VAE and writes everything to --model_dir.

  bin/train --flagfile=configs/quickstart.flags   # offline, synthetic data
  bin/train --flagfile=configs/mst.flags          # MNIST-SVHN-Text (paper)

Rerunning the same command resumes from the newest checkpoint.
"""

import sys

from tf_mmjsd import cli, flags as mm_flags, preflight


def define_flags(fv):
  """Declares this program's flags."""
  mm_flags.define_flags(fv)


def main(fv, args):
  """Trains the run of the parsed flags `fv` (args: none)."""
  del args
  cfg = mm_flags.config_from_flags(fv)
  preflight.training(cfg)
  from tf_mmjsd import training  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.evaluation import periodic  # pylint: disable=g-import-not-at-top
  training.run(cfg, flags_text=mm_flags.flags_text(fv),
               callbacks=[periodic.PeriodicEvaluation()])


def run():
  """The console-script entry point."""
  cli.run(sys.modules[__name__])


if __name__ == "__main__":
  run()
