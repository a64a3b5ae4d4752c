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

Every signature but `sample` takes each modality m as its own input
(float32 [B, *shape_m], zeros where absent) plus `<m>_present` (bool [B]),
so one signature serves any subset of modalities, different per example:

  serving_default  -> loc, scale [B, D]: the PoE subset posterior
  encode           -> content_loc_<m>, content_scale_<m> (and style_*_<m>)
                      of every modality, poe_loc, poe_scale, mixture_mean,
                      mixture_stddev of the present subset (the
                      method's own PoE and mixture: for MoPoE N(0, I) joins
                      the PoE only when every modality is present, and the
                      mixture is that of its subset PoEs)
  generate  (+ seed int64 [B])  -> <m> [B, *shape_m] for every modality,
                      from one sample of the subset posterior; styles from
                      N(0, I); `<m>_string` [B] for text modalities
  reconstruct      -> <m> (and <m>_string) decoded from the posterior means
  sample    (seed int64 [N] only) -> <m>, <m>_string: one unconditional
                      sample per seed

Seeds are per example (TF Serving's row format has no scalars): example i's
noise depends on (seed_i, the example) alone. The graph holds only
TensorFlow ops, so `tf.saved_model.load` needs neither tf_mmjsd nor Keras
objects. An example with no modality present, or non-finite values, fails
with a message that says so; a wrong shape is refused by the signature.
"""

import datetime
import errno
import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from tf_mmjsd import run_dir
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data import registry, text as text_lib
from tf_mmjsd.errors import UsageError
from tf_mmjsd.model import MultimodalVAE

SIGNATURES = ("serving_default", "encode", "generate", "reconstruct",
              "sample")
METADATA = "tf_mmjsd_export.json"


class ExportError(UsageError):
  """The export cannot be written; nothing was changed."""


def present_key(name):
  """The signature input that marks where modality `name` is present."""
  return f"{name}_present"


def string_key(name):
  return f"{name}_string"


def _data_spec(model):
  out = {}
  for s in model.specs:
    out[s.name] = tf.TensorSpec((None,) + s.shape, tf.float32, name=s.name)
    out[present_key(s.name)] = tf.TensorSpec([None], tf.bool,
                                             name=present_key(s.name))
  return out


def _seed_spec():
  return tf.TensorSpec([None], tf.int64, name="seed")


def _with_strings(model, generated):
  """Adds `<m>_string` [B] (the decoded symbols) for text modalities."""
  out = dict(generated)
  alphabet = tf.constant(list(text_lib.ALPHABET))
  for spec in model.specs:
    if text_lib.is_text(spec):
      symbols = tf.gather(alphabet, tf.argmax(generated[spec.name], -1))
      out[string_key(spec.name)] = tf.strings.reduce_join(symbols, axis=-1)
  return out


def _checked(model, request):
  """The request's tensors, asserting each modality's example shape and one
  batch size for all inputs (a served signature does not check shapes)."""
  batch = tf.shape(request[model.names[0]])[0]
  out = {}
  for key, value in request.items():
    checks = [tf.debugging.assert_equal(
        tf.shape(value)[0], batch, message=f"input {key}: its batch size "
        f"differs from that of {model.names[0]}")]
    if key in model.spec_of:
      expected = model.spec_of[key].shape
      checks.append(tf.debugging.assert_equal(
          tf.shape(value)[1:], tf.constant(expected),
          message=f"input {key}: expected examples of shape {expected}"))
    with tf.control_dependencies(checks):
      out[key] = tf.identity(value)
  return out


def serving_functions(model):
  """{signature name: (function of one dict of tensors, its input spec)}.

  The functions call the model's tensor-in/tensor-out methods, which the
  Python API shares.
  """

  def split(request):
    request = _checked(model, request)
    inputs = {m: request[m] for m in model.names}
    masks = {m: request[present_key(m)] for m in model.names}
    return inputs, masks

  def serving_default(request):
    return model.representation(*split(request))

  def encode(request):
    return model.posterior_parameters(*split(request))

  def generate(request):
    inputs, masks = split(request)
    return _with_strings(model, model.generate(inputs, masks,
                                               seed=request["seed"]))

  def reconstruct(request):
    return _with_strings(model, model.reconstruct(*split(request)))

  def sample(request):
    return _with_strings(model, model.sample(seed=request["seed"]))

  data = _data_spec(model)
  return {
      "serving_default": (serving_default, data),
      "encode": (encode, data),
      "generate": (generate, {**data, "seed": _seed_spec()}),
      "reconstruct": (reconstruct, data),
      "sample": (sample, {"seed": _seed_spec()}),
  }


def write_saved_model(model, path):
  """Writes `model` as a SavedModel with the signatures of this module.

  Returns:
    {signature: {"inputs": {key: [dtype, shape]}, "outputs": {...}}}.
  """
  archive = keras.export.ExportArchive()
  archive.track(model)
  described = {}
  for name, (fn, spec) in serving_functions(model).items():
    traced = archive.add_endpoint(name, fn, input_signature=[spec])
    outputs = traced.get_concrete_function(spec).structured_outputs
    described[name] = {"inputs": _describe(spec), "outputs": _describe(outputs)}
  archive.write_out(path, verbose=False)
  return described


def _describe(specs):
  return {k: [v.dtype.name, [-1 if d is None else d for d in v.shape.as_list()]]
          for k, v in specs.items()}


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
  with open(path) as f:
    config = ExperimentConfig.from_dict(json.load(f))
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
  model, config, ckpt = load_run(model_dir, checkpoint, log)
  export_dir = export_dir or default_export_dir(model_dir)
  if os.path.exists(export_dir) and not os.path.isdir(export_dir):
    raise ExportError(f"--export_dir={export_dir} is a file, not a folder")
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
