"""Evaluating a run (bin/evaluate): `run(config)` restores a model_dir's
newest (or a given) checkpoint, runs the suite (suite.py) and writes

  results.json   the EvaluationResult (results.py)
  results.md     its tables (report.py)
  latent_mixture.npz  the Gaussian mixture fitted to the joint posterior
                 means (model/latent_mixture.py; bin/export serves it)
  figures/       a grid per conditioning subset and random samples
  tensorboard/   every number of the tables, and the figures

into the run directory (docs/reference_settings.md, Evaluation).
"""

import os

import keras
import tensorflow as tf

from tf_mmjsd import data as data_lib, files, run_checkpoints, run_dir, run_lock
from tf_mmjsd.errors import UsageError
from tf_mmjsd.evaluation import (classifiers as classifiers_lib,
                                 features as features_lib, figures)
from tf_mmjsd.evaluation.results import RESULTS_SCHEMA, EvaluationResult
from tf_mmjsd.evaluation.suite import Evaluator
from tf_mmjsd.model import MultimodalVAE
from tf_mmjsd.model.latent_mixture import FILE_NAME as MIXTURE_FILE


class EvaluationError(UsageError):
  """The model_dir cannot be evaluated; the message says why."""


def write_outputs(result, images, out_dir, names, writer=None, step=0):
  """results.json, results.md and figures/*.png in out_dir (+ TensorBoard
  scalars and images at `step` with `writer`: a tf.summary writer, or a
  function that makes one, called here, so that a run refused earlier
  gets no events file); returns results.md's text."""
  result.figures = figures.save(images, os.path.join(out_dir, "figures"),
                                out_dir)
  files.write_atomic(os.path.join(out_dir, "results.json"), result.to_json())
  text = result.markdown(names)
  files.write_atomic(os.path.join(out_dir, "results.md"), text)
  if callable(writer):
    writer = writer()
  if writer is not None:
    with writer.as_default(step=step):
      for tag, value in result.scalars().items():
        tf.summary.scalar(tag, value)
    figures.save(images, os.path.join(out_dir, "figures"), out_dir, writer,
                 step, tag="eval")
    writer.flush()
  return text


def evaluate_and_write(model, config, train_split, test_split, out_dir, step,
                       writer=None, log=print, checkpoint=None):
  """Loads (or first trains) the classifiers, runs the suite on `model` and
  writes its outputs to out_dir; returns (EvaluationResult, results.md
  text)."""
  try:
    clfs, meta = classifiers_lib.load_or_train(
        config, train_split, test_split, run_dir.classifier_dir(config),
        config.classifier_epochs, log=log)
  except classifiers_lib.NoLabelsError as e:
    log(f"No classifiers ({e}): coherence is skipped, and sample quality "
        "unless --inception_weights is given; likelihoods and figures need "
        "no labels.")
    clfs, meta = {}, {"skipped": str(e)}
  evaluator = Evaluator(model, config, train_split, test_split, clfs, meta,
                        log=log)
  parts, images = evaluator.evaluate()
  result = EvaluationResult.from_dict(
      {"schema": RESULTS_SCHEMA, "model_dir": config.model_dir,
       "checkpoint": checkpoint, "step": step, **run_dir.header(config),
       **parts})
  if clfs:
    result.classifiers["dir"] = run_dir.classifier_dir(config)
  text = write_outputs(result, images, out_dir, model.names, writer, step)
  mixture_path = os.path.join(out_dir, MIXTURE_FILE)
  if evaluator.fitted_mixture is not None:
    evaluator.fitted_mixture.step = step
    evaluator.fitted_mixture.save(mixture_path)
  elif files.exists(mixture_path):  # --gmm_components=0: none of this step
    files.remove(mixture_path)
  return result, text


def run(config, checkpoint=None, log=print):
  """Evaluates the newest (or the given) checkpoint of config.model_dir.

  Returns:
    the EvaluationResult (also in <model_dir>/results.json).
  """
  if config.inception_weights and not files.isfile(config.inception_weights):
    raise features_lib.FeatureError(
        f"--inception_weights={config.inception_weights}: no such file")
  if not checkpoint:  # a given one is checked when it is restored
    run_dir.check_trained(config.model_dir)
  with run_lock.RunLock(config.model_dir, log=log):
    return _restore_and_evaluate(config, checkpoint, log)


def _restore_and_evaluate(config, checkpoint, log):
  keras.utils.set_random_seed(config.seed)
  train_split, test_split = data_lib.load_splits(config, log=log)
  run_dir.check_data(config, data_lib.fingerprint((train_split, test_split)),
                     log=log)
  model = MultimodalVAE.from_experiment(config)
  try:
    path = run_checkpoints.restore_checkpoint(model, config.model_dir,
                                              checkpoint, log=log)
  except run_dir.RunDirError as e:
    raise EvaluationError(f"{e} (the model of {config.model_dir}/"
                          "config.json)") from e
  step = run_dir.checkpoint_step(path)
  log(f"Evaluating {path} (step {step}).")
  result, text = evaluate_and_write(
      model, config, train_split, test_split, config.model_dir, step,
      lambda: tf.summary.create_file_writer(
          os.path.join(config.model_dir, "tensorboard")), log,
      checkpoint=path)
  log(text)
  log(f"Wrote {os.path.join(config.model_dir, 'results.json')} and "
      "results.md")
  return result
