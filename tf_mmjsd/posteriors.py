"""Diagonal-Gaussian posteriors: (loc, scale) tensors <-> tfd distributions.

Encoders emit (loc, log-variance) heads. `scale_from_log_var` is the one
place where a log-variance becomes a scale; it bounds the log-variance so
exp() can neither overflow nor underflow to an exact zero.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

LOG_VAR_BOUND = 15.0


def scale_from_log_var(log_var):
  """scale = exp(log_var / 2) with log_var clipped to [-15, 15]."""
  return tf.exp(0.5 * tf.clip_by_value(log_var, -LOG_VAR_BOUND, LOG_VAR_BOUND))


def approx_posterior(loc, scale):
  """tfd.MultivariateNormalDiag with batch shape [B], event shape [D]."""
  return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)


def standard_normal_like(loc):
  """(zeros, ones) of the shape of `loc`: the N(0, I) prior as parameters."""
  return tf.zeros_like(loc), tf.ones_like(loc)
