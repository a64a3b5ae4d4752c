"""Per-example log-likelihoods of one modality given decoder outputs.

Every log-density is summed over the example's dimensions, giving [B]:

  laplace:     log p(x | loc, b)    = sum_i -|x_i - loc_i| / b_i - log(2 b_i)
  normal:      log p(x | loc, s)    = sum_i -(x_i - loc_i)^2 / (2 s_i^2)
                                            - log s_i - log(2 pi) / 2
  bernoulli:   log p(x | logits)    = sum_i x_i l_i - softplus(l_i)
  categorical: log p(x | logits)    = sum_l log_softmax(logits_l)[x_l]

The scale b or s is the spec's fixed `likelihood_scale` or, with
`learned_scale`, one learned value per dimension held by the decoder
(`Decoder.likelihood_scale`). Bernoulli data lie in [0, 1] (binary, or
grey values read as probabilities, for which the formula is the usual
cross-entropy rather than a normalised density). The categorical is a proper
categorical on logits with one-hot x [B, L, C] (the original code passed
log-softmax values as probabilities; we do not reproduce that bug).

The generation mean (`mean`) is the loc (laplace, normal), sigmoid(logits)
(bernoulli) or the one-hot argmax symbol (categorical).
"""

import math

import tensorflow as tf


def _sum_event(values, event_rank):
  return tf.reduce_sum(values, axis=list(range(-event_rank, 0)))


def laplace_log_prob(x, loc, scale):
  """[B] log-density of x [B, ...] under Laplace(loc, scale), summed; scale
  is a number or a tensor broadcasting against x."""
  values = -tf.abs(x - loc) / scale - tf.math.log(2.0 * scale)
  return _sum_event(values, len(x.shape) - 1)


def normal_log_prob(x, loc, scale):
  """[B] log-density of x [B, ...] under Normal(loc, scale), summed."""
  z = (x - loc) / scale
  values = (-0.5 * tf.square(z) - tf.math.log(scale)
            - 0.5 * math.log(2.0 * math.pi))
  return _sum_event(values, len(x.shape) - 1)


def bernoulli_log_prob(x, logits):
  """[B] log-probability of x [B, ...] in [0, 1] under Bernoulli(logits)."""
  values = -tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
  return _sum_event(values, len(x.shape) - 1)


def categorical_log_prob(x, logits):
  """[B] log-probability of one-hot x [B, L, C] under categorical(logits)."""
  return tf.reduce_sum(x * tf.nn.log_softmax(logits, axis=-1), axis=[1, 2])


def log_prob(spec, x, params, scale=None):
  """[B] log p(x | params) of a modality; params is the decoder's output,
  `scale` the decoder's learned scale [*shape] (None: the spec's fixed)."""
  if spec.likelihood in ("laplace", "normal"):
    if scale is None:
      scale = tf.constant(spec.likelihood_scale, params.dtype)
    fn = laplace_log_prob if spec.likelihood == "laplace" else normal_log_prob
    return fn(x, params, scale)
  if spec.likelihood == "bernoulli":
    return bernoulli_log_prob(x, params)
  if spec.likelihood == "categorical":
    return categorical_log_prob(x, params)
  raise ValueError(f"unknown likelihood {spec.likelihood!r}")


def mean(spec, params):
  """What generation shows: the loc, sigmoid(logits) (bernoulli) or the
  one-hot argmax symbol (categorical)."""
  if spec.likelihood == "categorical":
    return tf.one_hot(tf.argmax(params, axis=-1), spec.shape[-1],
                      dtype=params.dtype)
  if spec.likelihood == "bernoulli":
    return tf.sigmoid(params)
  return params
