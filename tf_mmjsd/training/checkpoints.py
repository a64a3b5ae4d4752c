"""A run's checkpoints: restore the newest readable one, and never save a
non-finite state.

At least two checkpoints are kept: the newest one's weights have not been
through a training step yet, so the one before it is the newest whose loss
is known to be finite (guard.py). TF writes a checkpoint completely before
it is recorded as the newest, so a killed run never resumes from a
half-written one.
"""

import os

import tensorflow as tf

from tf_mmjsd import guard, run_checkpoints, run_dir


class Checkpoints:
  """The checkpoints of one run's model and optimizer.

  Args:
    model: the MultimodalVAE (with its optimizer and guard).
    config: the ExperimentConfig (model_dir, keep_checkpoints,
      on_nonfinite, max_consecutive_skips).
    output_dir: where this process writes (the chief: config.model_dir;
      distribution.OutputDir).
    log: prints one line.
  """

  def __init__(self, model, config, output_dir, log=print):
    self.model, self.config, self.log = model, config, log
    self.manager = tf.train.CheckpointManager(
        run_checkpoints.checkpoint_of(model, model.optimizer),
        run_dir.checkpoint_dir(output_dir),
        max_to_keep=max(2, config.keep_checkpoints))
    self.saved_step = None  # the step of the newest checkpoint written
    variables = model.trainable_variables
    self._weights_finite = tf.function(lambda: tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(v)) for v in variables]))

  @property
  def latest(self):
    """The path of the newest checkpoint this process wrote or found."""
    return self.manager.latest_checkpoint

  def restore(self):
    """Restores the chief's newest readable checkpoint, if any (damaged
    ones are reported and skipped); returns its path."""
    latest = run_checkpoints.restore_checkpoint(
        self.model, self.config.model_dir, optimizer=self.model.optimizer,
        required=False, log=self.log)
    if latest:
      self.saved_step = int(self.model.step.numpy())
    return latest

  def check_guard(self):
    """Raises NonFiniteError where the guard stopped training (reads the
    device: call where the loop waits for it anyway)."""
    failure = self.model.guard.failure()
    if failure is not None:
      raise nonfinite_error(self.config, *failure)

  def save(self, step):
    """Checkpoints the current state, never a non-finite one."""
    self.check_guard()
    if not bool(self._weights_finite()):
      raise guard.NonFiniteError(
          f"the weights hold NaN or infinite values at step {step}; no "
          "checkpoint was written. Lower --learning_rate (in a new "
          "--model_dir).")
    try:
      self.manager.save(checkpoint_number=step)
    except BaseException:
      remove_partial_checkpoints(self.manager.directory)
      raise
    self.saved_step = step


def remove_partial_checkpoints(directory):
  """Deletes the temporary folders of a checkpoint whose writing failed
  (TF writes ckpt-N_temp/ first; a full disk can leave one behind)."""
  for path in tf.io.gfile.glob(os.path.join(directory, "*_temp*")):
    if tf.io.gfile.isdir(path):
      tf.io.gfile.rmtree(path)
    else:
      tf.io.gfile.remove(path)


def nonfinite_error(config, bad_step, names):
  """The NonFiniteError of a run the guard stopped at `bad_step` for the
  non-finite terms `names`: what happened, the checkpoint to go back to,
  and what to change."""
  earlier = [p for p in run_dir.checkpoints_newest_first(config.model_dir)
             if run_dir.checkpoint_step(p) < bad_step]
  where = (f"the newest checkpoint from before it is {earlier[0]}"
           if earlier else "there is no checkpoint from before it")
  what = ", ".join(names)
  if config.on_nonfinite == "stop":
    head = (f"training stopped at step {bad_step + 1}: non-finite (NaN or "
            f"infinite) {what}")
    fix = ("lower --learning_rate (in a new --model_dir) or check the "
           "data; --on_nonfinite=skip_batch skips such batches instead")
  else:
    head = (f"training stopped at step {bad_step + 1}: "
            f"{config.max_consecutive_skips} batches in a row had non-finite "
            f"(NaN or infinite) {what} and were skipped")
    fix = "lower --learning_rate (in a new --model_dir) or check the data"
  return guard.NonFiniteError(
      f"{head}. No update was made from it and no checkpoint was written "
      f"after it; {where}. To fix: {fix}.")
