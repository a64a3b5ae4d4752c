"""A run directory (`model_dir`) on disk: its layout and the checks that
come before anything is written. Imports no TensorFlow, so every program
runs these checks before TensorFlow loads (its pre-flight); reading and
writing the checkpoints themselves is run_checkpoints.py.

Training, evaluation and export all import this module; it imports none of
them. Layout of a run:

  config.json     the resolved ExperimentConfig
  flags.txt       a flagfile reproducing the run
  data.json       the fingerprint of the data it was trained on (so the
                  data may move: a new --data_path with the same data)
  checkpoints/    ckpt-<step>.index / .data-*, and TF's `checkpoint` state

"""

import json
import os

from tf_mmjsd import files, run_lock
from tf_mmjsd import config as config_lib
from tf_mmjsd.data import registry
from tf_mmjsd.errors import UsageError

CHECKPOINTS = "checkpoints"
DATA_RECORD = "data.json"


class RunDirError(UsageError):
  """The model_dir cannot be used as asked; nothing was changed."""


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


def check_writable(path, flag):
  """Raises RunDirError where the existing local folder `path` cannot be
  written (a read-only file system, or no permission); writes nothing."""
  if files.is_remote(path) or not os.path.isdir(path):  # local
    return
  if not os.access(path, os.W_OK | os.X_OK):  # local
    why = ("is on a read-only file system"
           if os.statvfs(path).f_flag & os.ST_RDONLY else  # local
           "is not writable by this user")
    raise RunDirError(f"--{flag}={path} {why}; choose another folder")


def check_model_dir(config):
  """Raises RunDirError unless config.model_dir can hold this run; writes
  nothing.

  A run that has checkpoints may only be resumed with the same settings
  (but for config.resumable() ones); one that failed before its first
  checkpoint
  may be rerun with corrected settings.
  """
  if not config.model_dir:
    raise RunDirError("model_dir is required")
  check_creatable(config.model_dir, "model_dir")
  path = os.path.join(config.model_dir, "config.json")
  started = files.isdir(checkpoint_dir(config.model_dir))
  if files.exists(path) and started:
    old = config_lib.read_stored(path)
    new = config.to_dict()
    # A setting newer than the stored run counts as its default there, and
    # an option of another method or data set (older runs stored them all)
    # as its default here.
    defaults = config_lib.defaults()
    movable = config_lib.resumable() + (("data_path",) if has_data_record(
        config.model_dir) else ())  # check_data compares the data
    diff = sorted(k for k in set(old) | set(new) if k not in movable
                  and old.get(k, defaults.get(k)) != new.get(
                      k, defaults.get(k)))
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


CLASSIFIERS = "classifiers.json"  # the metadata of a classifier folder


def read_classifiers(folder):
  """The metadata dict of the classifier folder `folder` (its
  classifiers.json); RunDirError where it is not a readable JSON
  object."""
  path = files.join(folder, CLASSIFIERS)
  try:
    meta = json.loads(files.read_text(path))
  except (ValueError, UnicodeDecodeError) as e:
    meta = e
  if not isinstance(meta, dict):
    why = meta if isinstance(meta, Exception) else "not a JSON object"
    raise RunDirError(f"{path} is damaged ({why}); train the classifiers "
                      "again with bin/train_classifiers or give another "
                      "--classifier_dir")
  return meta


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


def check_checkpoint(checkpoint):
  """Raises RunDirError unless the checkpoint prefix `checkpoint`
  (`.../ckpt-<step>`) has its index file."""
  if not files.exists(checkpoint + ".index"):
    raise RunDirError(f"checkpoint {checkpoint} does not exist (no "
                      f"{checkpoint}.index)")


def check_trained(model_dir, checkpoint=None):
  """Raises RunDirError unless `checkpoint` exists (when given) or the run
  in model_dir has a checkpoint."""
  if checkpoint:
    check_checkpoint(checkpoint)
  elif not checkpoints_newest_first(model_dir):
    raise RunDirError(f"no checkpoint in {checkpoint_dir(model_dir)}; "
                      "train the model first (bin/train)")


def default_export_dir(model_dir):
  """saved_models/<run name>, the run name being model_dir's last part."""
  name = os.path.basename(os.path.normpath(model_dir))
  return os.path.join("saved_models", name)
