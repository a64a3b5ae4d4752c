"""The Laplace likelihood: log p(x | loc, b) = sum_i -|x_i - loc_i| / b_i
- log(2 b_i)."""

import tensorflow as tf

from tf_mmjsd.likelihoods.events import sum_event


def log_prob(x, loc, scale):
  """[B] log-density of x [B, ...] under Laplace(loc, scale), summed; scale
  is a number or a tensor broadcasting against x."""
  values = -tf.abs(x - loc) / scale - tf.math.log(2.0 * scale)
  return sum_event(values, len(x.shape) - 1)


def mean(loc, spec):
  del spec
  return loc
