"""Diagonal-Gaussian posteriors: (loc, scale) tensors <-> tfd distributions.

Encoders emit (loc, log-variance) heads. `scale_from_log_var` is the one
place where a log-variance becomes a scale; it bounds the log-variance
softly (`bounded_log_var`) so exp() can neither overflow nor underflow to
an exact zero, and a head pushed past the bound still has a gradient.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

# Log-variances in [-LOG_VAR_BOUND, LOG_VAR_BOUND] pass unchanged; beyond,
# they approach +-(LOG_VAR_BOUND + LOG_VAR_SOFT) smoothly.
LOG_VAR_BOUND = 15.0
LOG_VAR_SOFT = 5.0


def bounded_log_var(log_var):
  """log_var where |log_var| <= 15; beyond, sign * (15 + 5 y / (1 + y))
  with y = (|log_var| - 15) / 5: inside (-20, 20), continuous with slope 1
  at +-15, and a gradient 1 / (1 + y)^2 > 0 at every finite value (a hard
  clip has none past the bound, so a head pushed there could never come
  back; tanh's saturates to an exact 0 in float32 past |log_var| ~ 60)."""
  excess = tf.maximum(tf.abs(log_var) - LOG_VAR_BOUND, 0.0) / LOG_VAR_SOFT
  soft = tf.sign(log_var) * (
      LOG_VAR_BOUND + LOG_VAR_SOFT * excess / (1.0 + excess))
  return tf.where(excess > 0, soft, log_var)


def scale_from_log_var(log_var):
  """scale = exp(bounded_log_var(log_var) / 2), same shape as log_var."""
  return tf.exp(0.5 * bounded_log_var(log_var))


def approx_posterior(loc, scale):
  """tfd.MultivariateNormalDiag with batch shape [B], event shape [D]."""
  return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)


def standard_normal_like(loc):
  """(zeros, ones) of the shape of `loc`: the N(0, I) prior as parameters."""
  return tf.zeros_like(loc), tf.ones_like(loc)
