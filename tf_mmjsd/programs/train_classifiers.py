"""Trains the per-modality classifiers that judge coherence and quality.

  bin/train_classifiers --flagfile=configs/mst.flags \
      --classifier_dir=runs/mst_classifiers

Takes the data flags of bin/train; writes <modality>.keras and
classifiers.json (with each test accuracy) to --classifier_dir (default
<model_dir>/classifiers). bin/evaluate does this itself when none exist.
"""


from tf_mmjsd import cli, flags as mm_flags


def define_flags():
  """Declares this program's flags."""
  mm_flags.define_flags()


def main(argv):
  cfg = mm_flags.config_from_flags(require_model_dir=False)
  from tf_mmjsd.evaluation import classifiers  # pylint: disable=g-import-not-at-top
  classifiers.run(cfg)


def run():
  """The console-script entry point."""
  cli.run(main, define_flags)


if __name__ == "__main__":
  run()
