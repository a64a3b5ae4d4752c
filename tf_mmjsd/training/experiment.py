"""`run(config)`: train one experiment end to end, resumably, and write its
summary.json (see the package docstring for the run directory)."""

import json
import os

import numpy as np

from tf_mmjsd import files, fusion, guard, run_dir
from tf_mmjsd.evaluation import figures, latents
from tf_mmjsd.training.loop import Trainer


def _previous_speed(model_dir, step):
  """train_examples_per_second of the summary.json of the same step, if
  there is a readable one (a rerun of a finished run trains nothing)."""
  try:
    previous = json.loads(files.read_text(os.path.join(model_dir,
                                                       "summary.json")))
  except (OSError, ValueError):
    return None
  if previous.get("steps") != step:
    return None
  return previous.get("train_examples_per_second")


def sample_figures(trainer):
  """Conditional grids from each single modality and each pair, and random
  samples, under <model_dir>/samples/ and in TensorBoard; returns their
  paths relative to model_dir."""
  cfg, model, data = trainer.config, trainer.eval_model(), trainer.data
  images = {}
  inputs = figures.column_inputs(data.test_split, data.test_pipe,
                                 cfg.num_sample_columns)
  if inputs is not None:  # columns are test examples with every modality
    for subset in fusion.subsets(model.names):
      if len(subset) <= 2:
        images["cond_" + latents.subset_key(subset)] = (
            figures.conditional_grid(model, inputs, subset))
  images["random"] = figures.random_grid(model, cfg.num_sample_columns)
  return figures.save(images, os.path.join(cfg.model_dir, "samples"),
                      cfg.model_dir, trainer.writer, trainer.step)


def run(config, log=print, flags_text=None, callbacks=()):
  """Trains (or resumes) the experiment; the chief then writes summary.json:
  the test split's mean loss terms, the latent probe accuracies of every
  subset and the sample grids.

  Args:
    config: the ExperimentConfig.
    log: prints one line.
    flags_text: written as flags.txt.
    callbacks: callbacks.TrainingCallback objects (on the chief).

  Returns:
    the summary dict (None on a worker other than the chief).
  """
  trainer = None
  try:
    trainer = Trainer(config, log=log, callbacks=callbacks,
                      flags_text=flags_text)
    return _train_and_summarise(trainer, config, log)
  finally:
    if trainer is not None:
      trainer.release()


def _train_and_summarise(trainer, config, log):
  try:
    trainer.restore()
    if trainer.step >= trainer.total_steps:
      log(f"Training already finished ({trainer.step} steps).")
    speed = trainer.train()
  finally:
    trainer.output.cleanup()
  if speed is None:  # nothing trained now: keep the speed measured before
    speed = _previous_speed(config.model_dir, trainer.step)
  if not trainer.chief:
    return None
  log("Evaluating on the test split ...")
  test_terms = trainer.test_terms()
  bad = sorted(k for k, v in test_terms.items() if not np.isfinite(v))
  if bad:
    raise guard.NonFiniteError(
        f"the trained model (step {trainer.step}) gives non-finite test "
        f"terms {bad}; summary.json was not written. Check the test data, "
        "or evaluate an earlier checkpoint with bin/evaluate --checkpoint")
  data = trainer.data
  summary = {
      **run_dir.header(config),
      "steps": trainer.step,
      "epochs": config.epochs,
      "steps_per_epoch": trainer.steps_per_epoch,
      "replicas": trainer.strategy.num_replicas_in_sync,
      "train_examples": data.train_examples,
      "test_examples": len(data.test_split),
      "train_examples_per_second": speed,
      "test_terms": test_terms,
      "skipped_batches": int(trainer.model.guard.skipped.numpy()),
      "latent_probe": latents.run_probe(
          trainer.eval_model(), data.probe_pipe, data.test_pipe,
          config.probe_train_examples, config.seed),
      "samples": sample_figures(trainer),
  }
  trainer.log_scalars("test", summary["test_terms"], trainer.step)
  trainer.writer.flush()
  files.write_atomic(os.path.join(config.model_dir, "summary.json"),
                     json.dumps(summary, indent=2))
  poe = summary["latent_probe"].get("poe")
  if poe:
    metric = ("mean average precision" if summary["latent_probe"].get(
        "metric") == "mean_ap" else "accuracy")
    log(f"Latent probe {metric} (PoE, test split): " +
        ", ".join(f"{k} {v:.3f}" for k, v in poe.items()))
  log(f"Wrote {os.path.join(config.model_dir, 'summary.json')}")
  return summary
