"""The SavedModel signatures of a MultimodalVAE, for TF Serving.

Every signature but `sample` and `sample_mixture` takes each modality m as its own input
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
  sample_mixture   (exported where the run holds latent_mixture.npz) as
                      `sample`, with c from the Gaussian mixture fitted to
                      the training examples' posterior means

Seeds are per example (TF Serving's row format has no scalars): example i's
noise depends on (seed_i, the example) alone. The graph holds only
TensorFlow ops, so `tf.saved_model.load` needs neither tf_mmjsd nor Keras
objects. An example with no modality present, or non-finite values, fails
with a message that says so; a wrong shape is refused by the signature.
"""

import keras
import tensorflow as tf

from tf_mmjsd.data import text as text_lib

SIGNATURES = ("serving_default", "encode", "generate", "reconstruct",
              "sample")


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


def serving_functions(model, mixture=None):
  """{signature name: (function of one dict of tensors, its input spec)}.

  The functions call the model's tensor-in/tensor-out methods, which the
  Python API shares. With `mixture` (a LatentMixture) also
  "sample_mixture": `sample` with c from the fitted mixture.
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

  def sample_mixture(request):
    return _with_strings(model, model.sample(seed=request["seed"],
                                             prior=mixture))

  data = _data_spec(model)
  out = {
      "serving_default": (serving_default, data),
      "encode": (encode, data),
      "generate": (generate, {**data, "seed": _seed_spec()}),
      "reconstruct": (reconstruct, data),
      "sample": (sample, {"seed": _seed_spec()}),
  }
  if mixture is not None:
    out["sample_mixture"] = (sample_mixture, {"seed": _seed_spec()})
  return out


def write_saved_model(model, path, mixture=None):
  """Writes `model` as a SavedModel with the signatures of this module
  (`sample_mixture` too with a LatentMixture `mixture`).

  Returns:
    {signature: {"inputs": {key: [dtype, shape]}, "outputs": {...}}}.
  """
  archive = keras.export.ExportArchive()
  archive.track(model)
  described = {}
  for name, (fn, spec) in serving_functions(model, mixture).items():
    traced = archive.add_endpoint(name, fn, input_signature=[spec])
    outputs = traced.get_concrete_function(spec).structured_outputs
    described[name] = {"inputs": _describe(spec), "outputs": _describe(outputs)}
  archive.write_out(path, verbose=False)
  return described


def _describe(specs):
  return {k: [v.dtype.name, [-1 if d is None else d for d in v.shape.as_list()]]
          for k, v in specs.items()}
