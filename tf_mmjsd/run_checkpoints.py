"""The checkpoints of a run directory (run_dir.py gives their place and
names): a model's tf.train.Checkpoint, and restoring the newest readable
one.

Checkpoints hold the model's variables keyed by their Keras path
(`encoder_svhn/conv_3/kernel`), so a change in the order of `model.weights`
can never restore one variable into another of the same shape, and the
model's training state (`state_variables`: step, style warm-up) apart.
"""

import tensorflow as tf

from tf_mmjsd.errors import Error
from tf_mmjsd.run_dir import (RunDirError, check_checkpoint, checkpoint_dir,
                              checkpoints_newest_first)


class UnreadableCheckpointError(Error):
  """A checkpoint's files cannot be read (truncated, missing, damaged)."""


def restore_checkpoint(model, model_dir, checkpoint=None, optimizer=None,
                       required=True, log=print):
  """Restores `checkpoint`, or else the newest readable checkpoint of the
  run: one that cannot be read (truncated, damaged) is reported through
  `log` and skipped for the next older one.

  Returns:
    the path restored, or None where the run has no checkpoint and not
    `required`.

  Raises:
    RunDirError: the given checkpoint does not exist, there is none and one
      is `required`, or a checkpoint holds another model's weights.
    UnreadableCheckpointError: the given checkpoint, or every checkpoint
      of the run, cannot be read.
  """
  if checkpoint:
    check_checkpoint(checkpoint)
    restore(model, checkpoint, optimizer)
    return checkpoint
  candidates = checkpoints_newest_first(model_dir)
  if not candidates:
    if required:
      raise RunDirError(f"no checkpoint in {checkpoint_dir(model_dir)}; "
                        "train the model first (bin/train)")
    return None
  problems = []
  for path in candidates:
    try:
      restore(model, path, optimizer)
    except UnreadableCheckpointError as e:
      problems.append(str(e))
      log(f"warning: {e}; trying an older checkpoint")
      continue
    if problems:
      log(f"warning: using {path}, the newest readable checkpoint")
    return path
  raise UnreadableCheckpointError(
      f"none of the {len(candidates)} checkpoints in "
      f"{checkpoint_dir(model_dir)} can be read ({problems[0]}); move them "
      "aside to train from scratch")


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


def checkpoint_of(model, optimizer=None, with_state=True, state_names=None):
  """A tf.train.Checkpoint of the model's weights and training state (and
  the optimizer); `state_names` restricts the state to those entries (the
  ones an older checkpoint has).

  Keras 3 models keep sub-models in dicts that tf.train does not traverse,
  so the weights are listed explicitly, keyed by their path.
  """
  items = {"model": variables_by_path(model)}
  state = {k: v for k, v in _state(model).items()
           if state_names is None or k in state_names}
  if with_state and state:
    items["state"] = state
  if optimizer is not None:
    items["optimizer"] = optimizer
  return tf.train.Checkpoint(**items)


def _legacy_checkpoint_of(model, optimizer=None, with_state=False,
                          state_names=None):
  # tf_mmjsd 0.1.0 listed model.weights by position.
  del with_state, state_names
  items = {"weights": list(variables_by_path(model).values())}
  if optimizer is not None:
    items["optimizer"] = optimizer
  return tf.train.Checkpoint(**items)


def is_legacy(path):
  """True for a checkpoint written by tf_mmjsd 0.1.0 (weights by position)."""
  return _legacy_names(_variable_names(path))


def _variable_names(path):
  """The names of the variables in checkpoint `path` (its prefix). Reads
  the index directly: tf.train.list_variables first asks whether the path
  is a folder, which a file system without folders (ram://) answers yes
  for any prefix of a file name."""
  reader = tf.compat.v1.train.NewCheckpointReader(path)
  return sorted(reader.get_variable_to_shape_map())


def _legacy_names(names):
  return any(name.startswith("weights/") for name in names)


def restore(model, path, optimizer=None):
  """Restores the model weights (and optimizer state) of a checkpoint.

  Raises:
    RunDirError: the checkpoint holds other weights than this model's.
    UnreadableCheckpointError: its files cannot be read.
  """
  try:
    names = _variable_names(path)
  except (tf.errors.OpError, OSError, IndexError, ValueError) as e:
    raise _unreadable(path, e) from e
  make = _legacy_checkpoint_of if _legacy_names(names) else checkpoint_of
  # Checkpoints before tf_mmjsd 0.2 have no training state: the step is
  # then the optimizer's count of updates.
  # Entries of the training state newer than the checkpoint keep their
  # initial values (e.g. no batch was skipped).
  state_names = {n.split("/")[1] for n in names if n.startswith("state/")}
  with_state = bool(state_names)
  try:
    status = make(model, optimizer, with_state=with_state,
                  state_names=state_names).restore(path)
    if optimizer is None:
      status = status.expect_partial()
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError) as e:  # missing or misshapen weights
    detail = str(e).split("\n", 1)[0][:300]
    raise RunDirError(f"checkpoint {path} does not hold this model's "
                      f"weights ({detail})") from e
  except (tf.errors.OpError, OSError, IndexError) as e:  # damaged files
    raise _unreadable(path, e) from e
  # A checkpoint of a larger model (say, one more modality) restores every
  # weight this model has; its extra weights show it is another model's.
  root = "weights/" if make is _legacy_checkpoint_of else "model/"
  stored = [n for n in names if n.startswith(root)
            and n.endswith("/.ATTRIBUTES/VARIABLE_VALUE")]
  own = len(variables_by_path(model))
  if len(stored) > own:
    raise RunDirError(f"checkpoint {path} does not hold this model's "
                      f"weights (it has {len(stored)} weights, this model "
                      f"{own}: it belongs to another model)")
  state = _state(model)
  if not with_state and "step" in state and optimizer is not None:
    state["step"].assign(tf.cast(optimizer.iterations, tf.int64))


def _unreadable(path, error):
  detail = " ".join(str(getattr(error, "message", error)).split())[:200]
  return UnreadableCheckpointError(
      f"checkpoint {path} cannot be read ({type(error).__name__}: {detail})")
