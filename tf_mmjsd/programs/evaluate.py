"""Evaluates a trained model: probes, coherence, log-likelihoods, PRD/FID.

  bin/evaluate --model_dir=runs/quickstart
  bin/evaluate --model_dir=runs/mst --classifier_dir=runs/mst_classifiers

Reads the run's config.json; evaluation flags given here (e.g.
--likelihood_samples, --eval_examples) override it. Writes results.json,
results.md, figures/ and TensorBoard summaries into --model_dir. Coherence
classifiers are trained first if --classifier_dir holds none.
"""

from absl import flags

from tf_mmjsd import cli, flags as mm_flags


def define_flags():
  """Declares this program's flags."""
  mm_flags.define_flags()
  flags.DEFINE_string("checkpoint", "", "Checkpoint to evaluate (default: the "
                      "newest in <model_dir>/checkpoints).")


def main(argv):
  cfg = mm_flags.config_from_model_dir()
  from tf_mmjsd.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  evaluate.run(cfg, checkpoint=flags.FLAGS.checkpoint or None)


def run():
  """The console-script entry point."""
  cli.run(main, define_flags)


if __name__ == "__main__":
  run()
