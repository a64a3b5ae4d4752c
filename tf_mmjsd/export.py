"""SavedModel export for TF Serving, and the Keras encoders and decoders.

`export_run(model_dir)` restores a trained run and writes

  <export_dir>/<version>/            TF Serving's layout; version = 1 + the
    saved_model.pb, variables/       largest integer folder already there
    keras/encoder_<m>.keras          each modality's encoder and decoder,
    keras/decoder_<m>.keras          for Keras composition (needs tf_mmjsd)
    tf_mmjsd_export.json             the model, its source and signatures

With the run's latent_mixture.npz (written by bin/evaluate) the export
also serves `sample_mixture`.

It writes into a hidden temporary folder beside the target and renames it
at the end, so a server polling <export_dir> never sees half a version, and
it never touches an existing version.

The signatures are those of serving.py.
"""

import datetime
import errno
import json
import os

import tensorflow as tf

from tf_mmjsd import files, run_checkpoints, run_dir
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data import registry
from tf_mmjsd.data.split import DataError
from tf_mmjsd.errors import UsageError
from tf_mmjsd.model import MultimodalVAE
from tf_mmjsd.model.latent_mixture import FILE_NAME as MIXTURE_FILE, LatentMixture
from tf_mmjsd.serving import write_saved_model

METADATA = "tf_mmjsd_export.json"


class ExportError(UsageError):
  """The export cannot be written; nothing was changed."""


def next_version(export_dir):
  """1 + the largest integer name in export_dir (1 if none): a file named
  like a version takes its number too."""
  versions = [int(n) for n in files.listdir(export_dir)
              if n.isdigit()] if files.isdir(export_dir) else []
  return max(versions, default=0) + 1


def _synthetic(config):
  """Whether the run's data set is synthetic; None where its data (records
  whose manifest says) cannot be read at export time."""
  try:
    return registry.of(config.dataset, config.data_path).synthetic
  except DataError:
    return None


def _publish(tmp, export_dir):
  """Moves the finished export `tmp` to <export_dir>/<next version>/;
  returns that path.

  Locally a rename: atomic, and it fails where another export took the
  number meanwhile (then the next number is tried). An object store has no
  folders to rename: the files are copied with saved_model.pb last, which
  TF Serving waits for, so a server never loads half a version; two
  exports at the same moment are not ordered there.
  """
  if not files.is_remote(export_dir):
    os.chmod(tmp, 0o755)  # local: mkdtemp makes it private
    while True:  # another export may take a version number meanwhile
      target = os.path.join(export_dir, str(next_version(export_dir)))
      try:
        os.rename(tmp, target)  # local: atomic; fails on a non-empty target
        return target
      except OSError as e:
        if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
          raise
  target = os.path.join(export_dir, str(next_version(export_dir)))
  names = sorted(files.walk_files(tmp), key=lambda n: n == "saved_model.pb")
  for name in names:
    files.makedirs(os.path.dirname(os.path.join(target, name)))
    files.copy(os.path.join(tmp, name), os.path.join(target, name))
  files.rmtree(tmp)
  return target


def load_run(model_dir, checkpoint=None, log=print):
  """(model, config, checkpoint path) of a trained run, weights restored
  from `checkpoint` or the newest readable one."""
  path = os.path.join(model_dir, "config.json")
  if not files.isfile(path):
    raise ExportError(f"{model_dir} holds no run (config.json missing); "
                      "train one with bin/train")
  config = ExperimentConfig.load(path)
  model = MultimodalVAE.from_experiment(config)
  ckpt = run_checkpoints.restore_checkpoint(model, model_dir, checkpoint,
                                            log=log)
  return model, config, ckpt


def served_mixture(model_dir, step, log=print):
  """The LatentMixture of <model_dir>/latent_mixture.npz where bin/evaluate
  fitted it to the checkpoint of `step`, else None (saying why)."""
  path = os.path.join(model_dir, MIXTURE_FILE)
  if not files.isfile(path):
    return None
  mixture = LatentMixture.load(path)
  if mixture.step != step:
    log(f"Not serving sample_mixture: {path} was fitted at step "
        f"{mixture.step}, this export is of step {step}; run bin/evaluate on "
        "that checkpoint first.")
    return None
  log(f"Serving sample_mixture from {path} ({mixture.components} "
      "components).")
  return mixture


def export_run(model_dir, export_dir=None, checkpoint=None, log=print):
  """Exports a trained run to <export_dir>/<next version>/.

  Args:
    model_dir: a run written by bin/train.
    export_dir: default saved_models/<basename of model_dir>.
    checkpoint: default the newest in <model_dir>/checkpoints.

  Returns:
    the path of the version folder written.
  """
  export_dir = export_dir or run_dir.default_export_dir(model_dir)
  try:
    run_dir.check_creatable(export_dir, "export_dir")
  except run_dir.RunDirError as e:
    raise ExportError(str(e)) from None
  model, config, ckpt = load_run(model_dir, checkpoint, log)
  tmp = files.make_temp_dir(export_dir, ".tmp-export-")
  try:
    log(f"Exporting {ckpt} (step {run_dir.checkpoint_step(ckpt)}) ...")
    signatures = write_saved_model(
        model, tmp, served_mixture(model_dir, run_dir.checkpoint_step(ckpt),
                                   log))
    keras_dir = os.path.join(tmp, "keras")
    files.makedirs(keras_dir)
    for m in model.names:
      model.encoders[m].save(os.path.join(keras_dir, f"encoder_{m}.keras"))
      model.decoders[m].save(os.path.join(keras_dir, f"decoder_{m}.keras"))
    metadata = {
        "model_dir": (model_dir if files.is_remote(model_dir) else
                      os.path.abspath(model_dir)), "checkpoint": ckpt,
        "step": run_dir.checkpoint_step(ckpt), "dataset": config.dataset,
        "synthetic": _synthetic(config),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "tensorflow": tf.__version__,
        "model": model.get_config(),
        "signatures": signatures}
    files.write_atomic(os.path.join(tmp, METADATA),
                       json.dumps(metadata, indent=2))
    target = _publish(tmp, export_dir)
  except BaseException:
    files.rmtree(tmp)
    raise
  log(f"Wrote {target}")
  return target
