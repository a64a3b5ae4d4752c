"""KL divergences between diagonal Gaussians and the mmJSD JS divergence.

  KL(q || p) = 1/2 sum_d [ log(s_p^2 / s_q^2) + (s_q^2 + (m_q - m_p)^2) / s_p^2
                           - 1 ]
  JS_pi = sum_k pi_k KL(q_k || f)           k over the prior and the M posteriors

with the dynamic prior f one of (methods.mmjsd.DYNAMIC_PRIORS):

  poe  f = prod_k q_k^{pi_k} / Z, Gaussian: the KLs in closed form
  moe  f = sum_k pi_k q_k, a mixture: KL(q_k || f) has no closed form and is
       estimated from L = MOE_SAMPLES reparameterised samples
       z_l ~ q_k as (1/L) sum_l [log q_k(z_l) - log f(z_l)] (unbiased)

All functions take parameter tensors with the latent dimension last and
return per-example values (the latent dimension summed out).
"""

import math

import tensorflow as tf

from tf_mmjsd import fusion

# Monte-Carlo samples per expert of the KL terms of the "moe" dynamic prior.
MOE_SAMPLES = 8


def gaussian_kl(loc_q, scale_q, loc_p, scale_p):
  """KL(N(loc_q, scale_q^2) || N(loc_p, scale_p^2)) summed over the last axis.

  Shapes broadcast; returns the broadcast shape without its last axis.
  """
  var_q, var_p = tf.square(scale_q), tf.square(scale_p)
  return 0.5 * tf.reduce_sum(
      tf.math.log(var_p) - tf.math.log(var_q) +
      (var_q + tf.square(loc_q - loc_p)) / var_p - 1.0, axis=-1)


def kl_to_standard_normal(loc, scale):
  """KL(N(loc, scale^2) || N(0, I)) summed over the last axis."""
  var = tf.square(scale)
  return 0.5 * tf.reduce_sum(var + tf.square(loc) - 1.0 - tf.math.log(var),
                             axis=-1)


def poe_prior_kls(locs, scales, weights, noise=None):
  """KL(q_k || f) [K, B] for the weighted-PoE dynamic prior (closed form).

  Args:
    locs, scales: [K, B, D] experts; weights: [K, B], each column summing
      to 1; noise: unused.
  """
  del noise
  prior_loc, prior_scale = fusion.product_of_experts(locs, scales, weights)
  return gaussian_kl(locs, scales, prior_loc[None], prior_scale[None])


def log_normal(z, loc, scale):
  """log N(z; loc, diag scale^2), summed over the last axis."""
  return -0.5 * tf.reduce_sum(
      tf.square((z - loc) / scale) + 2.0 * tf.math.log(scale)
      + math.log(2.0 * math.pi), axis=-1)


def moe_prior_kls(locs, scales, weights, noise, samples=None):
  """KL(q_k || f) [K, B] for the mixture dynamic prior f = sum_j w_j q_j,
  Monte-Carlo estimates from `samples` (default MOE_SAMPLES)
  reparameterised draws of each q_k (see the module docstring).

  Args:
    locs, scales: [K, B, D] experts; weights: [K, B], each column summing
      to 1 (a zero weight drops an expert from f); noise: noise.Noise.
  """
  samples = samples or MOE_SAMPLES
  k, batch, dim = tf.unstack(tf.shape(locs))
  eps = noise.normal(tf.zeros(tf.stack([batch, samples, k, dim]),
                              locs.dtype))  # [B, L, K, D]
  z = locs + scales * tf.transpose(eps, [1, 2, 0, 3])  # [L, K, B, D]
  log_own = log_normal(z, locs, scales)  # [L, K, B]
  # log q_j(z) of every sample of q_k under every expert j: [L, K, J, B]
  log_each = log_normal(z[:, :, None], locs[None, None], scales[None, None])
  safe = tf.where(weights > 0, weights, tf.ones_like(weights))
  log_w = tf.where(weights > 0, tf.math.log(safe),
                   tf.fill(tf.shape(weights), tf.constant(-math.inf,
                                                          locs.dtype)))
  log_f = tf.reduce_logsumexp(log_w[None, None] + log_each, axis=2)
  return tf.reduce_mean(log_own - log_f, axis=0)


PRIOR_KLS = {"poe": poe_prior_kls, "moe": moe_prior_kls}


def js_divergence(locs, scales, weights, prior_kls=poe_prior_kls, noise=None):
  """JS_pi of K experts with a dynamic prior.

  Args:
    locs, scales: [K, B, D] experts (include the N(0, I) prior as one).
    weights: [K, B] pi, non-negative; renormalised to sum to 1 per example,
      so a zero weight drops an expert (an absent modality).
    prior_kls: fn(locs, scales, weights, noise) -> KL(q_k || f) [K, B], the
      dynamic prior (PRIOR_KLS).
    noise: noise.Noise, for priors without a closed form.

  Returns:
    js [B].
  """
  w = fusion.normalize_weights(weights)
  kl = prior_kls(locs, scales, w, noise)  # [K, B]
  return tf.reduce_sum(tf.where(w > 0, w * kl, tf.zeros_like(kl)), axis=0)
