"""`PeriodicEvaluation`: the evaluation suite during training, as a
training callback (callbacks.TrainingCallback).

Every `eval_every_epochs` epochs it evaluates the newest checkpoint on
`periodic_eval_examples` random test examples (at most as many for the
likelihood and sample quality), into <model_dir>/evaluations/step_<N>/ and
TensorBoard. Its cost (without the coherence classifiers' training, done
once before the first) is held to `eval_budget` of the training time: an
evaluation whose expected cost (the last one's) would take the
evaluations past that share is skipped, with a line saying so. The first
always runs (its cost is not known before), and the last epoch's is the
full evaluation, outside the budget.
"""

import os
import time

from tf_mmjsd import callbacks, files, run_dir
from tf_mmjsd.evaluation import classifiers, evaluate


def periodic_config(config):
  """The config of an evaluation during training: `config` with at most
  `periodic_eval_examples` test examples for every part (unchanged where
  that is 0)."""
  cap = config.periodic_eval_examples
  if not cap:
    return config

  def capped(value):
    return min(value, cap) if value else cap

  return config.with_settings(
      eval_examples=capped(config.eval_examples),
      likelihood_examples=capped(config.likelihood_examples),
      quality_examples=max(min(config.quality_examples, cap),
                           config.prd_clusters))


def _train_classifiers(event):
  """Trains the run's coherence classifiers where there are none (the
  evaluation would, inside its timed part); data without labels get
  none, as the evaluation then says."""
  cfg = event.config
  try:
    classifiers.ensure_trained(cfg, event.train_split, event.test_split,
                               run_dir.classifier_dir(cfg),
                               cfg.classifier_epochs, log=event.log)
  except classifiers.NoLabelsError:
    pass


class PeriodicEvaluation:
  """Runs the suite every `config.eval_every_epochs` epochs (see the
  module docstring)."""

  def __init__(self):
    self.train_seconds = 0.0  # training time seen by this process
    self.eval_seconds = 0.0   # of the periodic (subset) evaluations
    self.last_cost = None

  def on_epoch_end(self, event: callbacks.EpochEnd):
    cfg = event.config
    self.train_seconds += event.seconds
    if not cfg.eval_every_epochs:
      return
    last = event.epoch + 1 == cfg.epochs
    if not last and (event.epoch + 1) % cfg.eval_every_epochs:
      return
    if not last and self.last_cost is not None and (
        self.eval_seconds + self.last_cost
        > cfg.eval_budget * self.train_seconds):
      event.log(
          f"Skipping the evaluation at step {event.step}: the evaluations "
          f"during training took {self.eval_seconds:.0f} s of "
          f"{self.train_seconds:.0f} s of training, and one more (about "
          f"{self.last_cost:.0f} s) would pass --eval_budget="
          f"{cfg.eval_budget:g}")
      return
    out_dir = os.path.join(cfg.model_dir, "evaluations", f"step_{event.step}")
    files.makedirs(out_dir)
    _train_classifiers(event)  # once, and not an evaluation's cost
    start = time.time()
    evaluate.evaluate_and_write(event.eval_model(),
                                cfg if last else periodic_config(cfg),
                                event.train_split, event.test_split, out_dir,
                                event.step, event.writer, event.log,
                                checkpoint=event.checkpoint)
    seconds = time.time() - start
    if not last:
      self.eval_seconds += seconds
      self.last_cost = seconds
    event.log(f"{'Full e' if last else 'E'}valuation at step {event.step} "
              f"took {seconds:.0f} s"
              + ("" if last else f" ({cfg.periodic_eval_examples or 'all'} "
                                 "test examples; evaluations so far "
                                 f"{self.eval_seconds:.0f} s, training "
                                 f"{self.train_seconds:.0f} s)")
              + f"; see {os.path.join(out_dir, 'results.md')}")
