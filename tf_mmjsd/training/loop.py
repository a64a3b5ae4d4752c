"""The training loop of one run: epochs of compiled steps, progress,
TensorBoard scalars, checkpoints and callbacks.

Under `multi_worker` every worker builds a Trainer; only the chief writes
`model_dir` (distribution.OutputDir), and every worker resumes from the
chief's newest checkpoint.
"""

import contextlib
import os
import signal
import sys
import time

import keras
import tensorflow as tf

from tf_mmjsd import callbacks as callbacks_lib, distribution, run_dir
from tf_mmjsd import errors, interrupts, run_lock
from tf_mmjsd.training import checkpoints as checkpoints_lib, task


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


class StopRequest:
  """SIGTERM (what a scheduler or a preempted VM sends) and SIGINT (Ctrl-C)
  during training: the loop saves a checkpoint at the next step boundary
  and stops (errors.Interrupted). A second Ctrl-C stops at once, and so
  does any signal within `immediate()` (the callbacks, e.g. an
  evaluation, which have no step boundary to wait for; the loop still
  names the step and its checkpoint)."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.signum = None
    self._previous = {}
    self._immediate = False

  def _handle(self, signum, frame):
    if self._immediate:
      interrupts.handle(signum, frame)
    if self.signum is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.signum = signum

  @contextlib.contextmanager
  def immediate(self):
    """Within the block a signal (or one received before it) raises
    errors.Interrupted at once."""
    if self.signum is not None:
      interrupts.handle(self.signum)
    self._immediate = True
    try:
      yield
    finally:
      self._immediate = False

  def __enter__(self):
    self.signum = None
    for sig in self.SIGNALS:
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous = {}
    return False


class Trainer:
  """Owns the model, its checkpoints and the training loop of one run.

  Args:
    config: the ExperimentConfig.
    log: prints one line.
    callbacks: `callbacks.TrainingCallback`s, called on the chief after
      each epoch's checkpoint (e.g. evaluation.periodic.PeriodicEvaluation).
    flags_text: written as flags.txt.

  Attributes:
    data: the task.TrainingData (loaded and checked before anything is
      written).
    model: the MultimodalVAE in the strategy's scope.
    checkpoints: its checkpoints.Checkpoints.
  """

  def __init__(self, config, log=print, callbacks=(), flags_text=None):
    self.config = config
    self.strategy = distribution.make_strategy(
        config.distribution, config.collective_timeout,
        config.startup_timeout, log=log,
        mixed_precision=config.mixed_precision)
    distribution.check_batch(config.batch_size, self.strategy)
    self.chief = distribution.is_chief(self.strategy)
    if self.chief:
      run_dir.check_model_dir(config)
      run_lock.RunLock(config.model_dir).check()  # in use: refused at once
    self.log = log if self.chief else (lambda *_: None)
    self._log_every_worker, self._shards_read = log, []
    self.callbacks = list(callbacks) if self.chief else []
    self.data = task.load_data(config, log=self.log)
    self.steps_per_epoch = self.data.steps_per_epoch
    if self.chief:
      run_dir.check_data(config, self.data.fingerprint, log=self.log)
    self.lock = self.output = None
    try:  # a failure or a signal while starting gives up the lock
      if self.chief:  # the one writer of model_dir, from here on
        self.lock = run_lock.RunLock(config.model_dir, log=self.log).acquire()
        run_dir.prepare_model_dir(config, flags_text)
        run_dir.write_data_record(config, self.data.fingerprint)
      self.output = distribution.OutputDir(config.model_dir, self.strategy)
      self.total_steps = self.steps_per_epoch * config.epochs
      self.model = task.build(config, self.strategy)
      self.checkpoints = checkpoints_lib.Checkpoints(
          self.model, config, self.output.path, log=self.log)
      self.writer = tf.summary.create_file_writer(
          os.path.join(self.output.path, "tensorboard"))
      self._eval_model = None
      self.stop = StopRequest()
      self.preemption = None  # a distribution.Preemption while training
      self._skipped_logged = int(self.model.guard.skipped.numpy())
    except BaseException:
      if self.output is not None:
        self.output.cleanup()
      self.release()
      raise

  def release(self):
    """Gives up model_dir (its run_lock), at the end of the run."""
    if self.lock is not None:
      self.lock.release()

  @property
  def step(self):
    """Training steps taken (reads the device: not inside the loop)."""
    return int(self.model.step.numpy())

  def restore(self):
    """Restores the newest readable checkpoint, if any; returns its path."""
    latest = self.checkpoints.restore()
    if latest:
      self.log(f"Resuming from checkpoint {latest} at step {self.step} "
               f"of {self.total_steps}.")
    return latest

  def log_scalars(self, prefix, values, step):
    """TensorBoard scalars <prefix>/<name> at `step`."""
    with self.writer.as_default(step=step):
      for name, value in values.items():
        tf.summary.scalar(f"{prefix}/{name}", value)

  def _dataset(self, epoch, done):
    cfg = self.config

    def make(pipeline, num_pipelines, replica_batch):
      stream = self.data.train_split.stream
      if stream is not None and not self._shards_read:
        self._shards_read = [os.path.basename(p) for p in stream.shards_of(
            cfg.seed, pipeline, num_pipelines)]
        self._log_every_worker(
            f"Input pipeline {pipeline} of {num_pipelines} reads train "
            f"shards {', '.join(self._shards_read)}.")
      return self.data.train_pipe.train_dataset(
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
      # Under multi_worker, SIGTERM to any worker stops every worker after
      # the same step (TensorFlow's preemption handler); Ctrl-C stops its
      # own worker, which the others see as a peer failure.
      if multi_worker:
        with distribution.Preemption(self.strategy, self._save_once,
                                     self._preempted) as self.preemption:
          return self._train()
      with self.stop:
        speed = self._train()
      if self.stop.signum is not None:  # received after the last boundary
        interrupts.handle(self.stop.signum)
      return speed
    except tf.errors.DataLossError as e:  # a shard read per worker
      stream = self.data.train_split.stream
      if stream is None:
        raise
      raise errors.Failure(
          f"a train shard of {stream.manifest.folder} is damaged "
          f"({e.message.splitlines()[0]}); this worker reads "
          + ", ".join(self._shards_read)
          + "; write the records again with bin/make_records") from None
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
    iterator = None
    for epoch in range(step // per_epoch, cfg.epochs):
      epoch_start = time.time()
      done = step - epoch * per_epoch
      # The last epoch's input pipeline goes first: built while it was
      # still alive, the next one stalled for ~4 s in some epochs.
      iterator = None
      iterator = iter(self._dataset(epoch, done))
      for tracker in self.model.metrics:
        tracker.reset_state()
      warmup = epoch < cfg.style_warmup_epochs
      self.model.styles_from_prior.assign(warmup)
      self.model.epoch.assign(epoch)
      self.log(f"Epoch {epoch + 1}/{cfg.epochs}" + (
          " (style warm-up: styles from N(0, I))" if warmup else ""))
      bar = Progress(per_epoch, names, self.log, start=done)
      while done < per_epoch:
        n = min(cfg.steps_per_execution, per_epoch - done)
        train(iterator, tf.constant(n))
        step, done = step + n, done + n
        if done // log_every > (done - n) // log_every or done == per_epoch:
          self.checkpoints.check_guard()
          values = {k: float(t.result()) for k, t in
                    self.model.trackers.items()}
          bar.update(done, values)
          self.log_scalars("train", values, step)
          self._log_skipped(step)
        every = cfg.checkpoint_every_steps
        if step // every > (step - n) // every:
          self.checkpoints.save(step)
        if self.stop.signum is not None:
          self._stop_on_signal(step, self.stop.signum)
        if self.preemption is not None:
          self.preemption.after(step)
      self._save_once(step)
      event = callbacks_lib.EpochEnd(
          config=cfg, epoch=epoch, step=step,
          checkpoint=self.checkpoints.latest,
          seconds=time.time() - epoch_start, eval_model=self.eval_model,
          train_split=self.data.train_split,
          test_split=self.data.test_split, writer=self.writer, log=self.log)
      try:
        with self.stop.immediate():
          for callback in self.callbacks:
            callback.on_epoch_end(event)
      except BaseException as e:  # Keras re-raises a signal as its own
        signum = interrupts.pending()
        if signum is None:
          raise
        self._stop_on_signal(step, signum, e, during=(
            f" The signal came at the end of epoch {epoch + 1}, whose "
            "callbacks (e.g. its evaluation) the resumed run does not "
            "repeat."))
    seconds = time.time() - start_time
    trained = step - start_step
    return trained * cfg.batch_size / seconds if trained else None

  def _stop_on_signal(self, step, signum, cause=None, during=""):
    """Checkpoints `step` and raises the errors.Interrupted of `signum`
    (from `cause`)."""
    self._save_once(step)
    name = signal.Signals(signum).name
    raise errors.Interrupted(
        f"stopped by {name} at step {step} of {self.total_steps}; "
        f"checkpoint {self.checkpoints.latest} holds it.{during} Rerun the "
        "same command to resume from there.", signum) from cause

  def _save_once(self, step):
    """Checkpoints `step` unless the newest checkpoint holds it."""
    if self.checkpoints.saved_step != step:
      self.checkpoints.save(step)

  def _preempted(self, step, own):
    """The errors.Interrupted message of a multi_worker preemption."""
    task_type, index = distribution.task(self.strategy)
    what = (f"this worker ({task_type} {index}) received SIGTERM" if own
            else "another worker of the cluster received SIGTERM")
    where = os.path.join(run_dir.checkpoint_dir(self.config.model_dir),
                         f"ckpt-{step}")
    return (f"stopped at step {step} of {self.total_steps}: {what}, and "
            f"every worker checkpointed that step ({where}). Rerun every "
            "worker with the same command to resume from there.")

  def _log_skipped(self, step):
    if self.config.on_nonfinite != "skip_batch":
      return
    skipped = int(self.model.guard.skipped.numpy())
    self.log_scalars("train", {"skipped_batches": skipped}, step)
    if skipped > self._skipped_logged:
      names = self.model.guard.names_of(self.model.guard.bad_terms.numpy())
      newest = int(self.model.guard.bad_step.numpy()) + 1
      self.log(f"  warning: {skipped} batch(es) skipped so far for "
               f"non-finite {', '.join(names)} (newest at step {newest})")
    self._skipped_logged = skipped

  def eval_model(self):
    """The model to evaluate on this process alone: the trained one, or
    under a distribution strategy its copy outside it (task.
    evaluation_copy) with the current weights."""
    if self.strategy is tf.distribute.get_strategy():
      return self.model
    self._eval_model = task.evaluation_copy(self.model, self.config,
                                            self._eval_model)
    return self._eval_model

  def test_terms(self):
    """Mean loss terms over the test split."""
    model = self.eval_model()
    for tracker in model.metrics:
      tracker.reset_state()
    test_step = tf.function(model.test_step)
    for batch in self.data.test_pipe.eval_dataset(self.config.batch_size):
      test_step(batch)
    return {k: float(t.result()) for k, t in model.trackers.items()}
