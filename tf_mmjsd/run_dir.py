"""A run directory (`model_dir`) on disk: config, atomic writes, checkpoints.

Training, evaluation and export all import this module; it imports none of
them. Layout of a run:

  config.json     the resolved ExperimentConfig
  flags.txt       a flagfile reproducing the run
  checkpoints/    ckpt-<step>.index / .data-*, and TF's `checkpoint` state

Checkpoints hold the model's variables keyed by their Keras path
(`encoder_svhn/conv_3/kernel`), so a change in the order of `model.weights`
can never restore one variable into another of the same shape, and the
model's training state (`state_variables`: step, style warm-up) apart.
"""

import dataclasses
import json
import os
import tempfile

import tensorflow as tf

from tf_mmjsd.config import RESUMABLE
from tf_mmjsd.errors import Error

CHECKPOINTS = "checkpoints"


class RunDirError(Error):
  """The model_dir cannot be used as asked; nothing was changed."""


def write_atomic(path, text):
  """Writes text to path via a temporary file and a rename."""
  directory = os.path.dirname(path) or "."
  fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
  with os.fdopen(fd, "w") as f:
    f.write(text)
  os.replace(tmp, path)


def prepare_model_dir(config, flags_text=None):
  """Checks model_dir against an earlier run there and writes config.json
  (and flags.txt, a flagfile that reproduces the run, when given).

  A run that has checkpoints may only be resumed with the same settings
  (but for RESUMABLE ones); one that failed before its first checkpoint
  (bad data, say) may be rerun with corrected settings.
  """
  if not config.model_dir:
    raise RunDirError("model_dir is required")
  path = os.path.join(config.model_dir, "config.json")
  started = os.path.isdir(checkpoint_dir(config.model_dir))
  if os.path.exists(path) and started:
    with open(path) as f:
      old = json.load(f)
    new = config.to_dict()
    # A setting newer than the stored run counts as its default there.
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    diff = sorted(k for k in set(old) | set(new) if k not in RESUMABLE
                  and old.get(k, defaults.get(k)) != new.get(k))
    if diff:
      details = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}"
                          for k in diff)
      raise RunDirError(
          f"{config.model_dir} holds a run with other settings ({details}). "
          "Use a new --model_dir; nothing was changed.")
  elif not os.path.exists(path) and os.path.isdir(
      config.model_dir) and os.listdir(config.model_dir):
    raise RunDirError(f"{config.model_dir} is not empty and holds no "
                      "config.json; use a new --model_dir")
  os.makedirs(config.model_dir, exist_ok=True)
  write_atomic(path, config.to_json())
  if flags_text:
    write_atomic(os.path.join(config.model_dir, "flags.txt"), flags_text)


def checkpoint_dir(model_dir):
  return os.path.join(model_dir, CHECKPOINTS)


def classifier_dir(config):
  """Where the coherence classifiers of a run live."""
  return config.classifier_dir or os.path.join(config.model_dir,
                                               "classifiers")


def checkpoint_step(path):
  """The training step of a checkpoint path `.../ckpt-<step>`."""
  try:
    return int(os.path.basename(path).rsplit("-", 1)[1])
  except (IndexError, ValueError) as e:
    raise RunDirError(f"checkpoint {path}: the name does not end in "
                      "-<step>") from e


def checkpoint_to_restore(model_dir, checkpoint=None):
  """The given checkpoint, or the newest in <model_dir>/checkpoints.

  Raises:
    RunDirError: there is none, or the given one does not exist.
  """
  if checkpoint:
    if not tf.io.gfile.exists(checkpoint + ".index"):
      raise RunDirError(f"checkpoint {checkpoint} does not exist (no "
                        f"{checkpoint}.index)")
    return checkpoint
  latest = tf.train.latest_checkpoint(checkpoint_dir(model_dir))
  if not latest:
    raise RunDirError(f"no checkpoint in {checkpoint_dir(model_dir)}; train "
                      "the model first (bin/train)")
  return latest


def _state(model):
  return dict(getattr(model, "state_variables", {}))


def variables_by_path(model):
  """{variable.path: variable} of every model weight but the training state;
  paths must be unique."""
  state = {id(v) for v in _state(model).values()}
  weights = [v for v in model.weights if id(v) not in state]
  out = {v.path: v for v in weights}
  if len(out) != len(weights):
    raise ValueError("the model has variables with the same path")
  return out


def checkpoint_of(model, optimizer=None, with_state=True):
  """A tf.train.Checkpoint of the model's weights and training state (and
  the optimizer).

  Keras 3 models keep sub-models in dicts that tf.train does not traverse,
  so the weights are listed explicitly, keyed by their path.
  """
  items = {"model": variables_by_path(model)}
  if with_state and _state(model):
    items["state"] = _state(model)
  if optimizer is not None:
    items["optimizer"] = optimizer
  return tf.train.Checkpoint(**items)


def _legacy_checkpoint_of(model, optimizer=None, with_state=False):
  # tf_mmjsd 0.1.0 listed model.weights by position.
  del with_state
  items = {"weights": list(variables_by_path(model).values())}
  if optimizer is not None:
    items["optimizer"] = optimizer
  return tf.train.Checkpoint(**items)


def is_legacy(path):
  """True for a checkpoint written by tf_mmjsd 0.1.0 (weights by position)."""
  return any(name.startswith("weights/")
             for name, _ in tf.train.list_variables(path))


def restore(model, path, optimizer=None):
  """Restores the model weights (and optimizer state) of a checkpoint.

  Raises:
    RunDirError: the checkpoint holds other weights than this model's.
  """
  make = _legacy_checkpoint_of if is_legacy(path) else checkpoint_of
  names = [name for name, _ in tf.train.list_variables(path)]
  # Checkpoints before tf_mmjsd 0.2 have no training state: the step is
  # then the optimizer's count of updates.
  with_state = any(n.startswith("state/") for n in names)
  try:
    status = make(model, optimizer, with_state=with_state).restore(path)
    if optimizer is None:
      status = status.expect_partial()
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError) as e:  # missing or misshapen weights
    detail = str(e).split("\n", 1)[0][:300]
    raise RunDirError(f"checkpoint {path} does not hold this model's "
                      f"weights ({detail})") from e
  state = _state(model)
  if not with_state and "step" in state and optimizer is not None:
    state["step"].assign(tf.cast(optimizer.iterations, tf.int64))
