"""KL divergences between diagonal Gaussians and the mmJSD JS divergence.

  KL(q || p) = 1/2 sum_d [ log(s_p^2 / s_q^2) + (s_q^2 + (m_q - m_p)^2) / s_p^2
                           - 1 ]
  f = prod_k q_k^{pi_k}                     (dynamic prior, weighted PoE)
  JS_pi = sum_k pi_k KL(q_k || f)           k over the prior and the M posteriors

All functions take parameter tensors with the latent dimension last and
return per-example values (the latent dimension summed out).
"""

import tensorflow as tf

from tf_mmjsd import fusion


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


def js_divergence(locs, scales, weights):
  """JS_pi of K experts with the weighted-PoE dynamic prior.

  Args:
    locs, scales: [K, B, D] experts (include the N(0, I) prior as one).
    weights: [K, B] pi, non-negative; renormalised to sum to 1 per example,
      so a zero weight drops an expert (an absent modality).

  Returns:
    (js [B], (prior_loc [B, D], prior_scale [B, D])).
  """
  w = fusion.normalize_weights(weights)
  prior_loc, prior_scale = fusion.product_of_experts(locs, scales, w)
  kl = gaussian_kl(locs, scales, prior_loc[None], prior_scale[None])  # [K, B]
  js = tf.reduce_sum(tf.where(w > 0, w * kl, tf.zeros_like(kl)), axis=0)
  return js, (prior_loc, prior_scale)
