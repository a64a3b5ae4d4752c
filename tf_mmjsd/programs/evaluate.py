"""Evaluates a trained model: probes, coherence, log-likelihoods, PRD/FID.

  bin/evaluate --model_dir=runs/quickstart
  bin/evaluate --model_dir=runs/mst --classifier_dir=runs/mst_classifiers

Reads the run's config.json; evaluation flags given here (e.g.
--likelihood_samples, --eval_examples) override it. Writes results.json,
results.md, figures/ and TensorBoard summaries into --model_dir. Coherence
classifiers are trained first if --classifier_dir holds none.
"""

import sys

from absl import flags

from tf_mmjsd import cli, flags as mm_flags, preflight


def define_flags(fv):
  """Declares this program's flags."""
  mm_flags.define_flags(fv)
  flags.DEFINE_string("checkpoint", "", "Checkpoint to evaluate (default: the "
                      "newest in <model_dir>/checkpoints).", flag_values=fv)


def main(fv, args):
  """Evaluates the run of the parsed flags `fv` (args: none)."""
  del args
  cfg = mm_flags.config_from_model_dir(fv)
  preflight.evaluation(cfg, fv.checkpoint or None)
  from tf_mmjsd.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  evaluate.run(cfg, checkpoint=fv.checkpoint or None)


def run():
  """The console-script entry point."""
  cli.run(sys.modules[__name__])


if __name__ == "__main__":
  run()
