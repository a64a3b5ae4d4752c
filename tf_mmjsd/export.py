"""SavedModel export for TF Serving, and the Keras encoders and decoders.

`export_run(model_dir)` restores a trained run and writes

  <export_dir>/<version>/            TF Serving's layout; version = 1 + the
    saved_model.pb, variables/       largest integer folder already there
    keras/encoder_<m>.keras          each modality's encoder and decoder,
    keras/decoder_<m>.keras          for Keras composition (needs tf_mmjsd)
    tf_mmjsd_export.json             the model, its source and signatures

It writes into a hidden temporary folder beside the target and renames it
at the end, so a server polling <export_dir> never sees half a version, and
it never touches an existing version.

The signatures are those of serving.py.
"""

import datetime
import errno
import json
import os
import shutil
import tempfile

import tensorflow as tf

from tf_mmjsd import run_dir
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data import registry
from tf_mmjsd.errors import UsageError
from tf_mmjsd.model import MultimodalVAE
from tf_mmjsd.serving import write_saved_model

METADATA = "tf_mmjsd_export.json"


class ExportError(UsageError):
  """The export cannot be written; nothing was changed."""


def next_version(export_dir):
  """1 + the largest integer folder name in export_dir (1 if none)."""
  versions = [int(n) for n in os.listdir(export_dir)
              if n.isdigit() and os.path.isdir(os.path.join(export_dir, n))
              ] if os.path.isdir(export_dir) else []
  return max(versions, default=0) + 1


def default_export_dir(model_dir):
  """saved_models/<run name>, the run name being model_dir's last part."""
  name = os.path.basename(os.path.normpath(model_dir))
  return os.path.join("saved_models", name)


def load_run(model_dir, checkpoint=None, log=print):
  """(model, config, checkpoint path) of a trained run, weights restored
  from `checkpoint` or the newest readable one."""
  path = os.path.join(model_dir, "config.json")
  if not os.path.isfile(path):
    raise ExportError(f"{model_dir} holds no run (config.json missing); "
                      "train one with bin/train")
  config = ExperimentConfig.load(path)
  model = MultimodalVAE.from_experiment(config)
  ckpt = run_dir.restore_checkpoint(model, model_dir, checkpoint, log=log)
  return model, config, ckpt


def export_run(model_dir, export_dir=None, checkpoint=None, log=print):
  """Exports a trained run to <export_dir>/<next version>/.

  Args:
    model_dir: a run written by bin/train.
    export_dir: default saved_models/<basename of model_dir>.
    checkpoint: default the newest in <model_dir>/checkpoints.

  Returns:
    the path of the version folder written.
  """
  export_dir = export_dir or default_export_dir(model_dir)
  try:
    run_dir.check_creatable(export_dir, "export_dir")
  except run_dir.RunDirError as e:
    raise ExportError(str(e)) from None
  model, config, ckpt = load_run(model_dir, checkpoint, log)
  os.makedirs(export_dir, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=".tmp-export-", dir=export_dir)
  try:
    log(f"Exporting {ckpt} (step {run_dir.checkpoint_step(ckpt)}) ...")
    signatures = write_saved_model(model, tmp)
    keras_dir = os.path.join(tmp, "keras")
    os.makedirs(keras_dir)
    for m in model.names:
      model.encoders[m].save(os.path.join(keras_dir, f"encoder_{m}.keras"))
      model.decoders[m].save(os.path.join(keras_dir, f"decoder_{m}.keras"))
    metadata = {
        "model_dir": os.path.abspath(model_dir), "checkpoint": ckpt,
        "step": run_dir.checkpoint_step(ckpt), "dataset": config.dataset,
        "synthetic": registry.get(config.dataset).synthetic,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "tensorflow": tf.__version__,
        "model": model.get_config(),
        "signatures": signatures}
    run_dir.write_atomic(os.path.join(tmp, METADATA),
                         json.dumps(metadata, indent=2))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private
    while True:  # another export may take a version number meanwhile
      target = os.path.join(export_dir, str(next_version(export_dir)))
      try:
        os.rename(tmp, target)  # atomic; fails if target is not empty
        break
      except OSError as e:
        if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
          raise
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  log(f"Wrote {target}")
  return target
