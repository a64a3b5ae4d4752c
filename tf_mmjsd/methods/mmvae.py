"""MMVAE as the mmJSD paper compares it (Shi, Siddharth, Paige, Torr,
NeurIPS 2019, with the mmJSD paper's objective):

  L = sum_m w_m (-log p(x_m | c, s_m))
      + beta [ mean over present m of KL(q_m || N(0, I))
               + beta_style sum_m b_m KL_m^s ]

with c drawn from the mixture of the present unimodal posteriors.
"""

from tf_mmjsd.methods import Method


def objective(posteriors, present, log_likelihood, settings, noise):
  """{"loss", "rec_<m>", "kl", "kl_style_<m>": [B]} (objectives.py)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import divergences, objectives  # pylint: disable=g-import-not-at-top
  terms = {}
  rec = objectives.unimodal_reconstruction(posteriors, present,
                                           log_likelihood, settings, noise,
                                           terms)
  kls = tf.stack([divergences.kl_to_standard_normal(*posteriors["content"][m])
                  for m in settings.names])
  mask = objectives.presence(present, settings.names)
  kl = objectives.mean_over_present(kls, mask)
  terms["kl"] = kl
  style = objectives.style_terms(posteriors, present, settings, terms)
  terms["loss"] = rec + settings.beta * (kl + settings.beta_style * style)
  return terms


METHOD = Method(
    name="mmvae",
    summary="mixture reconstruction + mean KL of the unimodal posteriors",
    objective=objective, terms=("kl",), product="weighted",
    decoding="mixture")
