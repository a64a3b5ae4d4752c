"""`run(config)`: train one experiment end to end, resumably.

Everything lands in `config.model_dir`:

  config.json        the resolved ExperimentConfig (written before training)
  flags.txt          a flagfile reproducing the run (from bin/train)
  checkpoints/       tf.train checkpoints every `checkpoint_every_steps`
  tensorboard/       scalars of every loss term, sample images
  samples/           PNG grids: conditional generation from each single
                     modality and each pair, and random samples
  summary.json       test-split loss terms and latent probe accuracies

Rerunning with the same config resumes from the newest checkpoint; TF
writes a checkpoint completely before it is recorded as the newest, so a
killed run never resumes from a half-written one.
"""

import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tf_mmjsd import data as data_lib, distribution, fusion, guard, run_dir
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data import registry
from tf_mmjsd.data.pipeline import Pipeline
from tf_mmjsd.evaluation import figures, latents
from tf_mmjsd.model import MultimodalVAE


def build(config, strategy):
  """The model, its Adam optimizer and its NonFiniteGuard
  (`config.on_nonfinite`), created in the strategy's scope with the
  networks in `config.mixed_precision` (Keras wraps the optimizer in a
  LossScaleOptimizer for mixed_float16). The initial weights depend on
  `config.seed` alone."""
  keras.utils.set_random_seed(config.seed)
  keras.mixed_precision.set_dtype_policy(config.mixed_precision)
  try:
    with strategy.scope():
      model = MultimodalVAE.from_experiment(config)
      optimizer = keras.optimizers.Adam(
          learning_rate=config.learning_rate, beta_1=config.adam_beta1,
          beta_2=config.adam_beta2, epsilon=config.adam_epsilon)
      model.compile(optimizer=optimizer)
      model.optimizer.build(model.trainable_variables)
      model.guard = guard.NonFiniteGuard(
          config.on_nonfinite, list(model.trackers),
          config.max_consecutive_skips,
          check_gradients=config.mixed_precision != "mixed_float16")
  finally:  # the policy applies to the layers built above only
    keras.mixed_precision.set_dtype_policy("float32")
  return model


def make_train_function(model, strategy, jit_compile=False):
  """A tf.function `train(iterator, num_steps)` that runs `num_steps`
  (int32 scalar) steps of model.train_step on each replica's next batches
  in one call; with `jit_compile` each replica's step is compiled by XLA."""
  step = model.train_step
  if jit_compile:
    step = tf.function(step, jit_compile=True)

  def go_on(i, num_steps):  # a guard that stops the run ends the call
    if model.guard is None:
      return i < num_steps
    return tf.logical_and(i < num_steps,
                          tf.logical_not(model.guard.stopped()))

  def train(iterator, num_steps):
    def body(i):
      strategy.run(step, args=(next(iterator),))
      return (i + 1,)

    tf.while_loop(lambda i: go_on(i, num_steps), body, (tf.constant(0),))

  return tf.function(train, autograph=False)


class Progress:
  """A Keras progress bar on a terminal; otherwise a line per ~10% of epoch."""

  def __init__(self, target, names, log, start=0):
    self.target, self.log = target, log
    self.bar = None
    if sys.stdout.isatty():
      self.bar = keras.utils.Progbar(target, stateful_metrics=names)
      self.bar.update(start)
    self.every = max(1, target // 10)
    self.next = (start // self.every + 1) * self.every

  def update(self, current, values):
    if self.bar is not None:
      self.bar.update(current, values=list(values.items()))
    elif current >= self.next or current == self.target:
      self.next = (current // self.every + 1) * self.every
      self.log(f"  step {current}/{self.target} - " + " - ".join(
          f"{k}: {v:.4g}" for k, v in values.items()))


class Trainer:
  """Owns the model, its checkpoints and the training loop of one run.

  Under `multi_worker` every worker builds a Trainer; only the chief writes
  `model_dir` (distribution.OutputDir), and every worker resumes from the
  chief's newest checkpoint.

  Args:
    config: the ExperimentConfig.
    log: prints one line.
    callbacks: objects with `on_epoch_end(trainer, epoch)`, called on the
      chief after each epoch's checkpoint (e.g.
      evaluation.evaluate.PeriodicEvaluation).
  """

  def __init__(self, config, log=print, callbacks=(), flags_text=None):
    self.config = config
    self.strategy = distribution.make_strategy(config.distribution,
                                               config.collective_timeout)
    distribution.check_batch(config.batch_size, self.strategy)
    self.chief = distribution.is_chief(self.strategy)
    if self.chief:
      run_dir.check_model_dir(config)
    self.log = log if self.chief else (lambda *_: None)
    self.callbacks = list(callbacks) if self.chief else []
    # The data are checked before anything is written.
    self.train_split, self.test_split = data_lib.load_splits(config,
                                                             log=self.log)
    # Training may drop modalities (--missing_rate); probes and
    # evaluation use the data as they are.
    self.train_pipe = Pipeline(self.train_split.with_missing(
        config.missing_rate, config.seed, config.modality_names),
                               config.modalities)
    self.probe_pipe = Pipeline(self.train_split, config.modalities)
    self.test_pipe = Pipeline(self.test_split, config.modalities)
    self.steps_per_epoch = (config.steps_per_epoch or
                            len(self.train_split) // config.batch_size)
    if self.steps_per_epoch < 1:
      raise data_lib.DataError(
          f"{len(self.train_split)} training examples make no batch of "
          f"{config.batch_size}")
    if self.chief:
      run_dir.prepare_model_dir(config, flags_text)
    self.output = distribution.OutputDir(config.model_dir, self.strategy)
    self.total_steps = self.steps_per_epoch * config.epochs
    self.model = build(config, self.strategy)
    self.checkpoint = run_dir.checkpoint_of(self.model, self.model.optimizer)
    # At least two are kept: the newest checkpoint's weights have not been
    # through a training step yet, so the one before it is the newest whose
    # loss is known to be finite (guard.py).
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, run_dir.checkpoint_dir(self.output.path),
        max_to_keep=max(2, config.keep_checkpoints))
    self.writer = tf.summary.create_file_writer(
        os.path.join(self.output.path, "tensorboard"))
    self._eval_model = None
    self._saved_step = None  # the step of the newest checkpoint written
    self._skipped_logged = int(self.model.guard.skipped.numpy())
    variables = self.model.trainable_variables
    self._weights_finite = tf.function(lambda: tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(v)) for v in variables]))

  @property
  def step(self):
    """Training steps taken (reads the device: not inside the loop)."""
    return int(self.model.step.numpy())

  def restore(self):
    """Restores the chief's newest readable checkpoint, if any (damaged
    ones are reported and skipped); returns its path."""
    latest = run_dir.restore_checkpoint(
        self.model, self.config.model_dir, optimizer=self.model.optimizer,
        required=False, log=self.log)
    if latest:
      self._saved_step = self.step
      self.log(f"Resuming from checkpoint {latest} at step {self.step} "
               f"of {self.total_steps}.")
    return latest

  def _log_scalars(self, prefix, values, step):
    with self.writer.as_default(step=step):
      for name, value in values.items():
        tf.summary.scalar(f"{prefix}/{name}", value)

  def _dataset(self, epoch, done):
    cfg = self.config

    def make(pipeline, num_pipelines, replica_batch):
      return self.train_pipe.train_dataset(
          cfg.batch_size, self.steps_per_epoch, cfg.seed, epoch,
          skip_steps=done, pipeline=pipeline, num_pipelines=num_pipelines,
          replica_batch=replica_batch)

    return distribution.distribute(self.strategy, cfg.batch_size, make)

  def train(self):
    """Trains from the current step to the last; returns examples/second.

    The host waits for the device only where it logs (about every tenth
    of an epoch) and checkpoints; both fall on the boundaries of
    `steps_per_execution`.
    """
    multi_worker = isinstance(self.strategy,
                              tf.distribute.MultiWorkerMirroredStrategy)
    try:
      return self._train()
    except distribution.PEER_ERRORS as e:
      if not multi_worker:
        raise
      raise distribution.peer_failure(
          e, tf.train.latest_checkpoint(
              run_dir.checkpoint_dir(self.config.model_dir))) from e

  def _train(self):
    cfg = self.config
    train = make_train_function(self.model, self.strategy, cfg.jit_compile)
    names = list(self.model.trackers)
    step = start_step = self.step
    start_time = time.time()
    per_epoch = self.steps_per_epoch
    log_every = max(1, min(50, per_epoch // 10))
    for epoch in range(step // per_epoch, cfg.epochs):
      done = step - epoch * per_epoch
      iterator = iter(self._dataset(epoch, done))
      for tracker in self.model.metrics:
        tracker.reset_state()
      warmup = epoch < cfg.style_warmup_epochs
      self.model.styles_from_prior.assign(warmup)
      self.log(f"Epoch {epoch + 1}/{cfg.epochs}" + (
          " (style warm-up: styles from N(0, I))" if warmup else ""))
      bar = Progress(per_epoch, names, self.log, start=done)
      while done < per_epoch:
        n = min(cfg.steps_per_execution, per_epoch - done)
        train(iterator, tf.constant(n))
        step, done = step + n, done + n
        if done // log_every > (done - n) // log_every or done == per_epoch:
          self._check_guard()
          values = {k: float(t.result()) for k, t in
                    self.model.trackers.items()}
          bar.update(done, values)
          self._log_scalars("train", values, step)
          self._log_skipped(step)
        every = cfg.checkpoint_every_steps
        if step // every > (step - n) // every:
          self._save(step)
      if self._saved_step != step:
        self._save(step)
      for callback in self.callbacks:
        callback.on_epoch_end(self, epoch)
    seconds = time.time() - start_time
    trained = step - start_step
    return trained * cfg.batch_size / seconds if trained else None

  def _check_guard(self):
    """Raises NonFiniteError where the guard stopped training (reads the
    device: call where the loop waits for it anyway)."""
    failure = self.model.guard.failure()
    if failure is not None:
      raise self._nonfinite_error(*failure)

  def _nonfinite_error(self, bad_step, names):
    cfg = self.config
    earlier = [p for p in run_dir.checkpoints_newest_first(cfg.model_dir)
               if run_dir.checkpoint_step(p) < bad_step]
    where = (f"the newest checkpoint from before it is {earlier[0]}"
             if earlier else "there is no checkpoint from before it")
    what = ", ".join(names)
    if cfg.on_nonfinite == "stop":
      head = (f"training stopped at step {bad_step + 1}: non-finite (NaN or "
              f"infinite) {what}")
      fix = ("lower --learning_rate (in a new --model_dir) or check the "
             "data; --on_nonfinite=skip_batch skips such batches instead")
    else:
      head = (f"training stopped at step {bad_step + 1}: "
              f"{cfg.max_consecutive_skips} batches in a row had non-finite "
              f"(NaN or infinite) {what} and were skipped")
      fix = "lower --learning_rate (in a new --model_dir) or check the data"
    return guard.NonFiniteError(
        f"{head}. No update was made from it and no checkpoint was written "
        f"after it; {where}. To fix: {fix}.")

  def _log_skipped(self, step):
    if self.config.on_nonfinite != "skip_batch":
      return
    skipped = int(self.model.guard.skipped.numpy())
    self._log_scalars("train", {"skipped_batches": skipped}, step)
    if skipped > self._skipped_logged:
      names = self.model.guard.names_of(self.model.guard.bad_terms.numpy())
      newest = int(self.model.guard.bad_step.numpy()) + 1
      self.log(f"  warning: {skipped} batch(es) skipped so far for "
               f"non-finite {', '.join(names)} (newest at step {newest})")
    self._skipped_logged = skipped

  def _save(self, step):
    """Checkpoints the current state, never a non-finite one."""
    self._check_guard()
    if not bool(self._weights_finite()):
      raise guard.NonFiniteError(
          f"the weights hold NaN or infinite values at step {step}; no "
          "checkpoint was written. Lower --learning_rate (in a new "
          "--model_dir).")
    self.manager.save(checkpoint_number=step)
    self._saved_step = step

  def eval_model(self):
    """The model to evaluate on this process alone: the trained one, or
    under a distribution strategy a copy outside it with its current
    weights (the strategy's metrics and variables may need collectives
    that other workers no longer join)."""
    if self.strategy is tf.distribute.get_strategy():
      return self.model
    if self._eval_model is None:
      keras.mixed_precision.set_dtype_policy(self.config.mixed_precision)
      try:
        self._eval_model = MultimodalVAE.from_experiment(self.config)
      finally:
        keras.mixed_precision.set_dtype_policy("float32")
    source = run_dir.variables_by_path(self.model)
    for path, variable in run_dir.variables_by_path(self._eval_model).items():
      variable.assign(source[path].value)
    self._eval_model.step.assign(self.model.step.value)
    return self._eval_model

  def test_terms(self):
    """Mean loss terms over the test split."""
    model = self.eval_model()
    for tracker in model.metrics:
      tracker.reset_state()
    test_step = tf.function(model.test_step)
    for batch in self.test_pipe.eval_dataset(self.config.batch_size):
      test_step(batch)
    return {k: float(t.result()) for k, t in model.trackers.items()}

  def probes(self):
    """Latent probe accuracies of every subset on the test split."""
    return latents.run_probe(self.eval_model(), self.probe_pipe,
                             self.test_pipe, self.config.probe_train_examples,
                             self.config.seed)

  def sample_figures(self):
    """PNG grids under samples/ and as TensorBoard images; returns paths."""
    cfg, model = self.config, self.eval_model()
    out_dir = os.path.join(cfg.model_dir, "samples")
    os.makedirs(out_dir, exist_ok=True)
    images = {}
    rows = figures.columns(self.test_split, cfg.num_sample_columns)
    if len(rows):  # columns are test examples with every modality
      batch = next(iter(self.test_pipe.eval_dataset(len(rows), rows)))
      inputs = {m: v.numpy() for m, v in batch["inputs"].items()}
      for subset in fusion.subsets(model.names):
        if len(subset) <= 2:
          images["cond_" + latents.subset_key(subset)] = (
              figures.conditional_grid(model, inputs, subset))
    images["random"] = figures.random_grid(model, cfg.num_sample_columns)
    paths = []
    with self.writer.as_default(step=self.step):
      for name, image in images.items():
        path = os.path.join(out_dir, f"{name}.png")
        image.save(path)
        paths.append(os.path.relpath(path, cfg.model_dir))
        tf.summary.image(f"samples/{name}", np.asarray(image)[None])
    return paths


def _previous_speed(model_dir, step):
  """train_examples_per_second of the summary.json of the same step, if
  there is a readable one (a rerun of a finished run trains nothing)."""
  try:
    with open(os.path.join(model_dir, "summary.json")) as f:
      previous = json.load(f)
  except (OSError, ValueError):
    return None
  if previous.get("steps") != step:
    return None
  return previous.get("train_examples_per_second")


def run(config: ExperimentConfig, log=print, flags_text=None, callbacks=()):
  """Trains (or resumes) the experiment; the chief then writes summary.json.

  `callbacks` reach the Trainer (see there); `flags_text` is written as
  flags.txt.

  Returns:
    the summary dict (None on a worker other than the chief).
  """
  trainer = Trainer(config, log=log, callbacks=callbacks,
                    flags_text=flags_text)
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
  summary = {
      "dataset": config.dataset,
      "synthetic": registry.get(config.dataset).synthetic,
      "method": config.method,
      "steps": trainer.step,
      "epochs": config.epochs,
      "steps_per_epoch": trainer.steps_per_epoch,
      "replicas": trainer.strategy.num_replicas_in_sync,
      "train_examples": len(trainer.train_split),
      "test_examples": len(trainer.test_split),
      "train_examples_per_second": speed,
      "test_terms": test_terms,
      "skipped_batches": int(trainer.model.guard.skipped.numpy()),
      "latent_probe": trainer.probes(),
      "samples": trainer.sample_figures(),
  }
  trainer._log_scalars("test", summary["test_terms"], trainer.step)  # pylint: disable=protected-access
  trainer.writer.flush()
  run_dir.write_atomic(os.path.join(config.model_dir, "summary.json"),
                       json.dumps(summary, indent=2))
  poe = summary["latent_probe"].get("poe")
  if poe:
    metric = ("mean average precision" if summary["latent_probe"].get(
        "metric") == "mean_ap" else "accuracy")
    log(f"Latent probe {metric} (PoE, test split): " +
        ", ".join(f"{k} {v:.3f}" for k, v in poe.items()))
  log(f"Wrote {os.path.join(config.model_dir, 'summary.json')}")
  return summary
