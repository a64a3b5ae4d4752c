"""The normal likelihood: log p(x | loc, s) = sum_i -(x_i - loc_i)^2 /
(2 s_i^2) - log s_i - log(2 pi) / 2."""

import math

import tensorflow as tf

from tf_mmjsd.likelihoods.events import sum_event


def log_prob(x, loc, scale):
  """[B] log-density of x [B, ...] under Normal(loc, scale), summed."""
  z = (x - loc) / scale
  values = (-0.5 * tf.square(z) - tf.math.log(scale)
            - 0.5 * math.log(2.0 * math.pi))
  return sum_event(values, len(x.shape) - 1)


def mean(loc, spec):
  del spec
  return loc
