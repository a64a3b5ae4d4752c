"""Diagonal-Gaussian posteriors: (loc, scale) tensors <-> tfd distributions.

Encoders emit (loc, log-variance) heads. `scale_from_log_var` is the one
place where a log-variance becomes a scale; it bounds the log-variance so
exp() can neither overflow nor underflow to an exact zero.

Seeded sampling (`per_example_noise`) is stateless and per example: row i depends only on (seeds[i], salt), never on the batch
it came in or on earlier calls, so a served request and its seed always
give the same output.
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


def per_example_noise(seeds, normal_size, uniform_size):
  """Stateless noise per example: row i depends on seeds[i] alone.

  Args:
    seeds: int [B].
    normal_size, uniform_size: sizes of the two draws of each example.

  Returns:
    (standard normal [B, normal_size], uniform in [0, 1) [B, uniform_size]).
  """
  def draw(seed):
    return (tf.random.stateless_normal([normal_size], tf.stack([seed, 0])),
            tf.random.stateless_uniform([uniform_size], tf.stack([seed, 1])))

  return tf.map_fn(draw, tf.cast(seeds, tf.int64), fn_output_signature=(
      tf.TensorSpec([normal_size], tf.float32),
      tf.TensorSpec([uniform_size], tf.float32)))
