"""Per-example log-likelihoods of one modality given decoder outputs.

  laplace:     log p(x | loc) = sum_i [ -|x_i - loc_i| / b - log(2 b) ], b fixed
  categorical: log p(x | logits) = sum_l log_softmax(logits_l)[x_l], x one-hot

The categorical is a proper categorical on logits (the original code passed
log-softmax values as probabilities; we do not reproduce that bug).
"""

import math

import tensorflow as tf


def _sum_event(values, event_rank):
  return tf.reduce_sum(values, axis=list(range(-event_rank, 0)))


def laplace_log_prob(x, loc, scale):
  """[B] log-density of x [B, ...] under Laplace(loc, scale), summed."""
  values = -tf.abs(x - loc) / scale - math.log(2.0 * scale)
  return _sum_event(values, len(x.shape) - 1)


def categorical_log_prob(x, logits):
  """[B] log-probability of one-hot x [B, L, C] under categorical(logits)."""
  return tf.reduce_sum(x * tf.nn.log_softmax(logits, axis=-1), axis=[1, 2])


def log_prob(spec, x, params):
  """[B] log p(x | params) of a modality; params is the decoder's output."""
  if spec.likelihood == "laplace":
    return laplace_log_prob(x, params, spec.likelihood_scale)
  if spec.likelihood == "categorical":
    return categorical_log_prob(x, params)
  raise ValueError(f"unknown likelihood {spec.likelihood!r}")


def mean(spec, params):
  """What generation shows: the Laplace loc, or the one-hot argmax symbol."""
  if spec.likelihood == "categorical":
    return tf.one_hot(tf.argmax(params, axis=-1), spec.shape[-1])
  return params
