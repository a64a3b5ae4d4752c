"""Trains the per-modality classifiers that judge coherence and quality.

  bin/train_classifiers --flagfile=configs/mst.flags \
      --classifier_dir=runs/mst_classifiers

Takes the data flags of bin/train; writes <modality>.keras and
classifiers.json (with each test accuracy) to --classifier_dir (default
<model_dir>/classifiers). bin/evaluate does this itself when none exist.
"""

import sys

from tf_mmjsd import cli, flags as mm_flags, preflight


def define_flags(fv):
  """Declares this program's flags."""
  mm_flags.define_flags(fv)


def main(fv, args):
  """Trains the classifiers of the parsed flags `fv` (args: none)."""
  del args
  cfg = mm_flags.config_from_flags(fv, require_model_dir=False)
  preflight.classifiers(cfg)
  from tf_mmjsd.evaluation import classifiers  # pylint: disable=g-import-not-at-top
  classifiers.run(cfg)


def run():
  """The console-script entry point."""
  cli.run(sys.modules[__name__])


if __name__ == "__main__":
  run()
