"""Trains a multimodal VAE and writes everything to --model_dir.

  bin/train --flagfile=configs/quickstart.flags   # offline, synthetic data
  bin/train --flagfile=configs/mst.flags          # MNIST-SVHN-Text (paper)

Rerunning the same command resumes from the newest checkpoint.
"""


from tf_mmjsd import cli, flags as mm_flags


def define_flags():
  """Declares this program's flags."""
  mm_flags.define_flags()


def main(argv):
  cfg = mm_flags.config_from_flags()
  from tf_mmjsd import training  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.evaluation import periodic  # pylint: disable=g-import-not-at-top
  training.run(cfg, flags_text=mm_flags.flags_text(),
               callbacks=[periodic.PeriodicEvaluation()])


def run():
  """The console-script entry point."""
  cli.run(main, define_flags)


if __name__ == "__main__":
  run()
