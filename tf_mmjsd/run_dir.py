"""A run directory (`model_dir`) on disk: config, atomic writes, checkpoints.

Training, evaluation and export all import this module; it imports none of
them. Layout of a run:

  config.json     the resolved ExperimentConfig
  flags.txt       a flagfile reproducing the run
  data.json       the fingerprint of the data it was trained on (so the
                  data may move: a new --data_path with the same data)
  checkpoints/    ckpt-<step>.index / .data-*, and TF's `checkpoint` state

Checkpoints hold the model's variables keyed by their Keras path
(`encoder_svhn/conv_3/kernel`), so a change in the order of `model.weights`
can never restore one variable into another of the same shape, and the
model's training state (`state_variables`: step, style warm-up) apart.
"""

import dataclasses
import json
import os

import tensorflow as tf

from tf_mmjsd import files, run_lock
from tf_mmjsd.config import RESUMABLE, read_stored
from tf_mmjsd.data import registry
from tf_mmjsd.errors import Error, UsageError

CHECKPOINTS = "checkpoints"
DATA_RECORD = "data.json"


class RunDirError(UsageError):
  """The model_dir cannot be used as asked; nothing was changed."""


class UnreadableCheckpointError(Error):
  """A checkpoint's files cannot be read (truncated, missing, damaged)."""


def header(config):
  """The fields that open summary.json and results.json: the data set,
  whether it is a synthetic stand-in, and the method."""
  return {"dataset": config.dataset,
          "synthetic": registry.of(config.dataset,
                                   config.data_path).synthetic,
          "method": config.method}


def prepare_model_dir(config, flags_text=None):
  """Checks model_dir (check_model_dir) and writes config.json (and
  flags.txt, a flagfile that reproduces the run, when given)."""
  check_model_dir(config)
  path = os.path.join(config.model_dir, "config.json")
  files.makedirs(config.model_dir)
  files.write_atomic(path, config.to_json())
  if flags_text:
    files.write_atomic(os.path.join(config.model_dir, "flags.txt"),
                       flags_text)


def check_creatable(path, flag):
  """Raises RunDirError unless the folder `path` exists or can be made: its
  nearest existing ancestor is a folder this process may write in, on a
  writable file system. Writes nothing; remote paths (scheme://) are left
  to their first write."""
  if files.is_remote(path):
    return
  if os.path.exists(path):  # local: remote paths returned above
    if not os.path.isdir(path):  # local
      raise RunDirError(f"--{flag}={path} is a file, not a folder; name a "
                        "new folder")
    return
  above = os.path.dirname(os.path.abspath(path))
  while not os.path.exists(above):  # local
    above = os.path.dirname(above)
  if not os.path.isdir(above):  # local
    raise RunDirError(f"--{flag}={path} cannot be made: {above} is a file, "
                      "not a folder")
  if not os.access(above, os.W_OK | os.X_OK):  # local
    why = ("is on a read-only file system"
           if os.statvfs(above).f_flag & os.ST_RDONLY else  # local
           "is not writable by this user")
    raise RunDirError(f"--{flag}={path} cannot be made: {above} {why}; "
                      "choose another folder")


def check_model_dir(config):
  """Raises RunDirError unless config.model_dir can hold this run; writes
  nothing.

  A run that has checkpoints may only be resumed with the same settings
  (but for RESUMABLE ones); one that failed before its first checkpoint
  may be rerun with corrected settings.
  """
  if not config.model_dir:
    raise RunDirError("model_dir is required")
  check_creatable(config.model_dir, "model_dir")
  path = os.path.join(config.model_dir, "config.json")
  started = files.isdir(checkpoint_dir(config.model_dir))
  if files.exists(path) and started:
    old = read_stored(path)
    new = config.to_dict()
    # A setting newer than the stored run counts as its default there.
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    movable = RESUMABLE + (("data_path",) if has_data_record(
        config.model_dir) else ())  # check_data compares the data
    diff = sorted(k for k in set(old) | set(new) if k not in movable
                  and old.get(k, defaults.get(k)) != new.get(k))
    if diff:
      details = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}"
                          for k in diff)
      raise RunDirError(
          f"{config.model_dir} holds a run with other settings ({details}). "
          "Use a new --model_dir; nothing was changed.")
  elif not files.exists(path) and files.isdir(config.model_dir) and [
      n for n in files.listdir(config.model_dir) if n != run_lock.LOCK]:
    raise RunDirError(f"{config.model_dir} is not empty and holds no "
                      "config.json; use a new --model_dir")


def has_data_record(model_dir):
  """True where the run records the fingerprint of its data (data.json)."""
  return files.isfile(os.path.join(model_dir, DATA_RECORD))


def check_data(config, digest, log=print):
  """Raises RunDirError where the run in config.model_dir was trained on
  other data than those of fingerprint `digest` (data.split.fingerprint);
  says so where the same data now come from another --data_path. A run
  without data.json (before tf_mmjsd 0.3.1) or without a checkpoint is not
  checked. Writes nothing."""
  path = os.path.join(config.model_dir, DATA_RECORD)
  if not files.isfile(path):
    return
  try:
    record = json.loads(files.read_text(path))
    stored = record["fingerprint"]
  except (ValueError, UnicodeDecodeError, KeyError, TypeError) as e:
    raise RunDirError(f"{path} is damaged ({type(e).__name__}); delete it "
                      "to resume without checking the data") from None
  before = record.get("data_path", "")
  if stored == digest:
    if before != config.data_path:
      log(f"The data moved: {before} -> {config.data_path} holds the same "
          f"data (fingerprint {digest}); the run now reads them there.")
    return
  if not files.isdir(checkpoint_dir(config.model_dir)):
    return  # nothing trained yet: a rerun may use other data
  where = (f"--data_path={config.data_path} holds" if config.data_path else
           f"data set {config.dataset} now gives")
  raise RunDirError(
      f"{where} other data than the run in {config.model_dir} was trained on "
      f"(fingerprint {digest}; the run's is {stored}"
      + (f", from {before}" if before else "") + "). Point --data_path at "
      "the run's data, or use a new --model_dir")


def write_data_record(config, digest):
  """Writes data.json: the fingerprint of the run's data and their place."""
  files.write_atomic(os.path.join(config.model_dir, DATA_RECORD), json.dumps(
      {"fingerprint": digest, "dataset": config.dataset,
       "data_path": config.data_path}, indent=2))


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


def checkpoints_newest_first(model_dir):
  """Paths `<model_dir>/checkpoints/ckpt-<step>` that have an index file,
  the highest step first (TF's `checkpoint` state file is not needed)."""
  paths = []
  for index in files.glob(os.path.join(checkpoint_dir(model_dir),
                                       "ckpt-*.index")):
    path = index[:-len(".index")]
    try:
      paths.append((checkpoint_step(path), path))
    except RunDirError:
      continue  # not one of ours
  return [path for _, path in sorted(paths, reverse=True)]


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
    if not tf.io.gfile.exists(checkpoint + ".index"):
      raise RunDirError(f"checkpoint {checkpoint} does not exist (no "
                        f"{checkpoint}.index)")
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
