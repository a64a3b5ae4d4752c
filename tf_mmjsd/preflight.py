"""The checks every program makes before TensorFlow loads (its pre-flight),
so that a mistake in a path, a setting or a run folder is answered in a
fraction of a second and before anything is written.

  preflight.training(config)       # bin/train (and train_local_cluster)
  preflight.evaluation(config, checkpoint)         # bin/evaluate
  preflight.export(model_dir, export_dir, checkpoint)  # bin/export
  preflight.classifiers(config)    # bin/train_classifiers
  preflight.data(config)           # the data alone: compare, benchmark,
                                   # make_records

Before any of them, `check_flags(fv)` (cli.parse runs it on every
program's flags, the workers' of train_local_cluster included) checks
what every flag shares: no control character in any value (a newline in a
path would break the run's own flags.txt), every path flag (path_flags()) on
a file system that can be used here (files.check_remote: a known scheme,
a store that answers within a bounded time and takes the credentials), and
every name flag (NAME_FLAGS) a plain file name. Ranges of the programs'
own numbers are the bounds of their absl flags, checked as they are
parsed; the experiment's settings are checked by ExperimentConfig.

Each raises a UsageError naming the flag and the path: a file or folder
that is missing or of the wrong kind, a folder that cannot be made (under
a file, read-only, not writable), a run folder that holds another run, is
locked by a live process or has no checkpoint, a damaged config.json or
records manifest, and data whose format is wrong (a data set's
`Dataset.preflight`: an .npz's arrays are read and checked with numpy).
A `scheme://` path is asked of its store (TensorFlow loads for that);
what it holds is checked when it is opened. Otherwise nothing here imports
TensorFlow: tests/test_faults.py and
tests/test_reliability.py run every usage error of their tables in a fresh
process and check that TensorFlow was never imported.
"""

import os
import unicodedata

from tf_mmjsd import files, metrics, run_dir, run_lock, tf_config
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data import registry
from tf_mmjsd.errors import UsageError


# Flags that name a file or folder, and flags that name a file to write
# inside a folder given elsewhere, in any program; and the data sets'
# options that name one (path_flags()).
PATH_FLAGS = ("model_dir", "data_path", "data_dir", "inception_weights",
              "classifier_dir", "modalities_file", "out", "export_dir",
              "compare_dir", "checkpoint")


def path_flags():
  """The names of every flag that names a file or folder."""
  return PATH_FLAGS + tuple(
      name for name, (_, option) in {**registry.options(),
                                     **metrics.options()}.items()
      if option.path)
NAME_FLAGS = ("report",)


def _control_character(text):
  """The first control character or line break of `text` (those that
  str.splitlines splits on included), or None."""
  return next((c for c in text if unicodedata.category(c) in
               ("Cc", "Zl", "Zp")), None)


def check_value(flag, value):
  """Raises UsageError where the value of --flag holds a control
  character (a newline, a tab, an escape)."""
  char = _control_character(str(value))
  if char is not None:
    raise UsageError(f"--{flag}={value!r} holds the control character "
                     f"{char!r}; paths, names and settings cannot")


def check_path(flag, path):
  """Raises UsageError unless the path of --flag has no control character
  and, with a scheme, is on a store this machine can use (files.
  check_remote); returns whether a remote path exists (None if local)."""
  check_value(flag, path)
  if not files.is_remote(path):
    return None
  try:
    return files.check_remote(path)
  except files.UnusablePathError as e:
    raise UsageError(f"--{flag}={path}: {e}; nothing was written") from None


def check_flags(fv):
  """The checks every flag of absl FlagValues `fv` shares (see the module
  docstring)."""
  for name in fv:
    value = fv[name].value
    for item in value if isinstance(value, list) else [value]:
      if isinstance(item, str):
        check_value(name, item)
  for name in path_flags():
    if name in fv and fv[name].value:
      check_path(name, fv[name].value)
  for name in NAME_FLAGS:
    if name in fv:
      value = fv[name].value
      if not value or value in (".", "..") or "/" in value or "\\" in value:
        raise UsageError(f"--{name}={value!r} must be a file name (no "
                         "folders): the files are written where the "
                         "program's folder flag says")


def release():
  """Drops what pre-flights kept for the loads that follow them (an .npz
  read once); cli.execute calls it when a program ends."""
  from tf_mmjsd.data import npz  # pylint: disable=g-import-not-at-top
  npz.forget()


def readable(path, flag, kind="file"):
  """Raises UsageError unless local `path` is an existing `kind` ("file"
  or "folder") that this process may read; remote paths pass."""
  if not path or files.is_remote(path):
    return
  if not os.path.exists(path):  # local
    raise UsageError(f"--{flag}={path}: no such {kind}")
  is_folder = os.path.isdir(path)  # local
  if kind == "folder" and not is_folder:
    raise UsageError(f"--{flag}={path} is a file, not a folder")
  if kind == "file" and is_folder:
    raise UsageError(f"--{flag}={path} is a folder, not a file")
  mode = os.R_OK | (os.X_OK if is_folder else 0)
  if not os.access(path, mode):  # local
    raise UsageError(f"--{flag}={path} is not readable by this user")


def input_pipelines(config):
  """[(pipeline, number of pipelines)]: the input pipelines of training
  this process runs: under multi_worker this worker's (from TF_CONFIG; none
  for an evaluator), else one."""
  if config.distribution != "multi_worker":
    return [(0, 1)]
  mine = tf_config.input_pipeline(*tf_config.parse_tf_config(
      os.environ.get("TF_CONFIG", "")))
  return [mine] if mine else []


def data(config, pipelines=()):
  """The data a run reads: the data set's own check of its files (raw
  downloads, an .npz, a records manifest and the train shards that the
  input `pipelines` of training stream: see `input_pipelines`; none for a
  program that does not train) and the data cache."""
  dataset = registry.of(config.dataset, config.data_path)
  if config.data_dir:
    run_dir.check_creatable(config.data_dir, "data_dir")
  if dataset.preflight is not None:
    dataset.preflight(config, pipelines)


def training(config, pipelines=None):
  """bin/train: TF_CONFIG of a multi-worker run, the run folder (creatable,
  the same run, not locked; on the chief only, its one writer), the
  classifier folder of periodic evaluations, and the data (`data`, with
  the input `pipelines` of this process: default `input_pipelines`)."""
  if pipelines is None:
    pipelines = input_pipelines(config)
  if config.distribution == "multi_worker":
    cluster, task_type, index = tf_config.parse_tf_config(
        os.environ.get("TF_CONFIG", ""))
    if not tf_config.is_chief_task(cluster, task_type, index):
      data(config, pipelines)
      return
  run_dir.check_model_dir(config)
  run_dir.check_writable(config.model_dir, "model_dir")
  run_lock.RunLock(config.model_dir).check()
  if config.eval_every_epochs:
    classifier_folder(config)
    readable(config.inception_weights, "inception_weights")
  data(config, pipelines)


def classifier_folder(config):
  """The coherence classifiers an evaluation uses: a readable
  classifiers.json, or a folder where they can be trained."""
  folder = run_dir.classifier_dir(config)
  if files.isfile(os.path.join(folder, run_dir.CLASSIFIERS)):
    run_dir.read_classifiers(folder)
  else:
    run_dir.check_creatable(folder, "classifier_dir")


def classifiers(config):
  """bin/train_classifiers: the classifier folder can be made, and the
  data."""
  if not (config.classifier_dir or config.model_dir):
    raise UsageError("give --classifier_dir (or --model_dir)")
  run_dir.check_creatable(run_dir.classifier_dir(config), "classifier_dir")
  data(config)


def evaluation(config, checkpoint=None):
  """bin/evaluate: the run can be written (its results), is not locked
  and has the checkpoint, the classifier folder holds classifiers or can
  be made, and the data."""
  run_dir.check_writable(config.model_dir, "model_dir")
  run_lock.RunLock(config.model_dir).check()
  run_dir.check_trained(config.model_dir, checkpoint)
  classifier_folder(config)
  readable(config.inception_weights, "inception_weights")
  data(config)


def export(model_dir, export_dir, checkpoint=None):
  """bin/export: the run's config.json and checkpoint, and the export
  folder. Returns the run's ExperimentConfig."""
  run_dir.check_creatable(export_dir, "export_dir")
  path = os.path.join(model_dir, "config.json")
  if not files.isfile(path):
    raise UsageError(f"{model_dir} holds no run (config.json missing); "
                     "train one with bin/train")
  config = ExperimentConfig.load(path)
  run_dir.check_trained(model_dir, checkpoint)
  return config
