"""The likelihoods p(x_m | decoder output) a modality can have: one
`Likelihood` entry each in `LIKELIHOODS`, its maths in a module of its
own (imported, with TensorFlow, only when used):

  laplace.py      log p(x | loc, b)  = sum_i -|x_i - loc_i| / b_i - log(2 b_i)
  normal.py       log p(x | loc, s)  = sum_i -(x_i - loc_i)^2 / (2 s_i^2)
                                             - log s_i - log(2 pi) / 2
  bernoulli.py    log p(x | logits)  = sum_i x_i l_i - softplus(l_i)
  categorical.py  log p(x | logits)  = sum_l log_softmax(logits_l)[x_l]

Every log-density is summed over the example's dimensions, giving [B].
The scale b or s is the spec's fixed `likelihood_scale` or, with
`learned_scale`, one learned value per dimension held by the decoder
(`Decoder.likelihood_scale`). The generation mean (`mean`) is the loc
(laplace, normal), sigmoid(logits) (bernoulli) or the one-hot argmax symbol
(categorical).

A new likelihood is one module with `log_prob(x, params, scale)` and
`mean(params, spec)`, plus its entry here. This module imports no
TensorFlow, so that specs can be checked before TensorFlow loads.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Likelihood:
  """What the rest of the package asks of a likelihood.

  Attributes:
    name: the `likelihood` of a ModalitySpec.
    scaled: it has a scale (fixed, or learned per dimension), and the
      decoder output is its loc (to which an activation may apply);
      otherwise the decoder output is logits.
    one_hot: its data are one-hot [length, classes] (or integer tokens
      [length] in a data file), and its mean is the argmax symbol.
    unit_interval: its data lie in [0, 1].
    module: the module of its maths.
  """

  name: str
  scaled: bool = False
  one_hot: bool = False
  unit_interval: bool = False
  module: str = ""

  def _maths(self):
    # The builtin __import__ runs as is inside a tf.function; AutoGraph
    # would try to convert importlib.import_module's frozen code and warn.
    return __import__(self.module, fromlist=["log_prob"])

  def log_prob(self, spec, x, params, scale=None):
    """[B] log p(x | params) of modality `spec`; params is the decoder's
    output, `scale` the decoder's learned scale [*shape] (None: the spec's
    fixed scale, for a scaled likelihood)."""
    if self.scaled and scale is None:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      scale = tf.constant(spec.likelihood_scale, params.dtype)
    return self._maths().log_prob(x, params, scale)

  def mean(self, spec, params):
    """What generation shows, of the decoder's output [B, *shape]."""
    return self._maths().mean(params, spec)


LIKELIHOODS = {entry.name: entry for entry in (
    Likelihood("laplace", scaled=True, module="tf_mmjsd.likelihoods.laplace"),
    Likelihood("normal", scaled=True, module="tf_mmjsd.likelihoods.normal"),
    Likelihood("bernoulli", unit_interval=True,
               module="tf_mmjsd.likelihoods.bernoulli"),
    Likelihood("categorical", one_hot=True,
               module="tf_mmjsd.likelihoods.categorical"),
)}


def of(spec_or_name):
  """The Likelihood of a ModalitySpec (or a likelihood name)."""
  name = getattr(spec_or_name, "likelihood", spec_or_name)
  if name not in LIKELIHOODS:
    raise ValueError(f"likelihood must be one of {tuple(LIKELIHOODS)}, got "
                     f"{name!r}")
  return LIKELIHOODS[name]


def log_prob(spec, x, params, scale=None):
  """[B] log p(x | params) of modality `spec` (see Likelihood.log_prob)."""
  return of(spec).log_prob(spec, x, params, scale)


def mean(spec, params):
  """The generation mean of modality `spec` (see Likelihood.mean)."""
  return of(spec).mean(spec, params)
