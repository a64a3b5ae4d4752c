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
  """log_var where |log_var| <= 15; beyond, sign * (15 + 5 tanh((|log_var|
  - 15) / 5)): inside (-20, 20), continuous with slope 1 at +-15 and a
  gradient sech^2((|log_var| - 15) / 5) > 0 beyond it (a hard clip has
  none, so a head pushed past it could never come back)."""
  excess = tf.abs(log_var) - LOG_VAR_BOUND
  soft = tf.sign(log_var) * (
      LOG_VAR_BOUND + LOG_VAR_SOFT * tf.tanh(excess / LOG_VAR_SOFT))
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
