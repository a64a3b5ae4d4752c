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

from tf_mmjsd import data as data_lib, fusion, run_dir
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data.pipeline import Pipeline
from tf_mmjsd.evaluation import figures, latents
from tf_mmjsd.model import MultimodalVAE


def make_strategy(name):
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  return tf.distribute.get_strategy()


def build(config, strategy):
  """The model and its Adam optimizer, created in the strategy's scope."""
  with strategy.scope():
    model = MultimodalVAE.from_experiment(config)
    optimizer = keras.optimizers.Adam(
        learning_rate=config.learning_rate, beta_1=config.adam_beta1,
        beta_2=config.adam_beta2, epsilon=config.adam_epsilon)
    model.compile(optimizer=optimizer)
    optimizer.build(model.trainable_variables)
  return model


def make_train_function(model, strategy, styles_from_prior=False):
  """A tf.function running model.train_step on each replica's batch."""

  def train_step(batch):
    strategy.run(model.train_step, args=(batch,),
                 kwargs={"styles_from_prior": styles_from_prior})

  return tf.function(train_step, autograph=False)


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

  Args:
    config: the ExperimentConfig.
    log: prints one line.
    callbacks: objects with `on_epoch_end(trainer, epoch)`, called after
      each epoch's checkpoint (e.g. evaluation.evaluate.PeriodicEvaluation).
  """

  def __init__(self, config, log=print, callbacks=()):
    self.config = config
    self.log = log
    self.callbacks = list(callbacks)
    self.strategy = make_strategy(config.distribution)
    keras.utils.set_random_seed(config.seed)
    self.train_split, self.test_split = data_lib.load_splits(config, log=log)
    self.train_pipe = Pipeline(self.train_split, config.modalities)
    self.test_pipe = Pipeline(self.test_split, config.modalities)
    self.steps_per_epoch = (config.steps_per_epoch or
                            len(self.train_split) // config.batch_size)
    if self.steps_per_epoch < 1:
      raise data_lib.DataError(
          f"{len(self.train_split)} training examples make no batch of "
          f"{config.batch_size}")
    self.total_steps = self.steps_per_epoch * config.epochs
    self.model = build(config, self.strategy)
    self.checkpoint = run_dir.checkpoint_of(self.model, self.model.optimizer)
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, run_dir.checkpoint_dir(config.model_dir),
        max_to_keep=config.keep_checkpoints)
    self.writer = tf.summary.create_file_writer(
        os.path.join(config.model_dir, "tensorboard"))

  @property
  def step(self):
    return int(self.model.optimizer.iterations.numpy())

  def restore(self):
    latest = self.manager.latest_checkpoint
    if latest:
      run_dir.restore(self.model, latest, self.model.optimizer)
      self.log(f"Resuming from checkpoint {latest} at step {self.step} "
               f"of {self.total_steps}.")
    return latest

  def _log_scalars(self, prefix, values, step):
    with self.writer.as_default(step=step):
      for name, value in values.items():
        tf.summary.scalar(f"{prefix}/{name}", value)

  def train(self):
    """Trains from the current step to the last; returns examples/second."""
    cfg = self.config
    # styles_from_prior -> step; each tf.function traces on first call only.
    train_steps = {w: make_train_function(self.model, self.strategy, w)
                   for w in (False, True)}
    names = list(self.model.trackers)
    start_step, start_time = self.step, time.time()
    log_every = max(1, min(50, self.steps_per_epoch // 10))
    for epoch in range(self.step // self.steps_per_epoch, cfg.epochs):
      done = self.step - epoch * self.steps_per_epoch
      dataset = self.train_pipe.train_dataset(
          cfg.batch_size, self.steps_per_epoch, cfg.seed, epoch,
          skip_steps=done)
      for tracker in self.model.metrics:
        tracker.reset_state()
      warmup = epoch < cfg.style_warmup_epochs
      train_step = train_steps[warmup]
      self.log(f"Epoch {epoch + 1}/{cfg.epochs}" + (
          " (style warm-up: styles from N(0, I))" if warmup else ""))
      bar = Progress(self.steps_per_epoch, names, self.log, start=done)
      for batch in self.strategy.experimental_distribute_dataset(dataset):
        train_step(batch)
        step = self.step
        in_epoch = step - epoch * self.steps_per_epoch
        if in_epoch % log_every == 0 or in_epoch == self.steps_per_epoch:
          values = {k: float(t.result()) for k, t in
                    self.model.trackers.items()}
          bar.update(in_epoch, values)
          self._log_scalars("train", values, step)
        if step % cfg.checkpoint_every_steps == 0:
          self.manager.save(checkpoint_number=step)
      if self.manager.latest_checkpoint != self._checkpoint_name(self.step):
        self.manager.save(checkpoint_number=self.step)
      for callback in self.callbacks:
        callback.on_epoch_end(self, epoch)
    seconds = time.time() - start_time
    trained = self.step - start_step
    return trained * cfg.batch_size / seconds if trained else None

  def _checkpoint_name(self, step):
    return os.path.join(self.manager.directory, f"ckpt-{step}")

  def test_terms(self):
    """Mean loss terms over the test split."""
    for tracker in self.model.metrics:
      tracker.reset_state()
    test_step = tf.function(self.model.test_step)
    for batch in self.test_pipe.eval_dataset(self.config.batch_size):
      test_step(batch)
    return {k: float(t.result()) for k, t in self.model.trackers.items()}

  def probes(self):
    """Latent probe accuracies of every subset on the test split."""
    return latents.run_probe(self.model, self.train_pipe, self.test_pipe,
                         self.config.probe_train_examples, self.config.seed)

  def sample_figures(self):
    """PNG grids under samples/ and as TensorBoard images; returns paths."""
    cfg = self.config
    out_dir = os.path.join(cfg.model_dir, "samples")
    os.makedirs(out_dir, exist_ok=True)
    images = {}
    rows = figures.columns(self.test_split, cfg.num_sample_columns)
    if len(rows):  # columns are test examples with every modality
      batch = next(iter(self.test_pipe.eval_dataset(len(rows), rows)))
      inputs = {m: v.numpy() for m, v in batch["inputs"].items()}
      for subset in fusion.subsets(self.model.names):
        if len(subset) <= 2:
          images["cond_" + latents.subset_key(subset)] = (
              figures.conditional_grid(self.model, inputs, subset))
    images["random"] = figures.random_grid(self.model, cfg.num_sample_columns)
    paths = []
    with self.writer.as_default(step=self.step):
      for name, image in images.items():
        path = os.path.join(out_dir, f"{name}.png")
        image.save(path)
        paths.append(os.path.relpath(path, cfg.model_dir))
        tf.summary.image(f"samples/{name}", np.asarray(image)[None])
    return paths


def run(config: ExperimentConfig, log=print, flags_text=None, callbacks=()):
  """Trains (or resumes) the experiment and writes summary.json.

  `callbacks` reach the Trainer (see there).

  Returns:
    the summary dict.
  """
  run_dir.prepare_model_dir(config, flags_text)
  trainer = Trainer(config, log=log, callbacks=callbacks)
  trainer.restore()
  if trainer.step >= trainer.total_steps:
    log(f"Training already finished ({trainer.step} steps).")
  speed = trainer.train()
  log("Evaluating on the test split ...")
  summary = {
      "dataset": config.dataset,
      "synthetic": config.dataset == "synthetic_mst",
      "method": config.method,
      "steps": trainer.step,
      "epochs": config.epochs,
      "steps_per_epoch": trainer.steps_per_epoch,
      "train_examples": len(trainer.train_split),
      "test_examples": len(trainer.test_split),
      "train_examples_per_second": speed,
      "test_terms": trainer.test_terms(),
      "latent_probe": trainer.probes(),
      "samples": trainer.sample_figures(),
  }
  trainer._log_scalars("test", summary["test_terms"], trainer.step)  # pylint: disable=protected-access
  trainer.writer.flush()
  run_dir.write_atomic(os.path.join(config.model_dir, "summary.json"),
               json.dumps(summary, indent=2))
  poe = summary["latent_probe"].get("poe")
  if poe:
    log("Latent probe accuracy (PoE, test split): " +
        ", ".join(f"{k} {v:.3f}" for k, v in poe.items()))
  log(f"Wrote {os.path.join(config.model_dir, 'summary.json')}")
  return summary
