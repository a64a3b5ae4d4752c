"""MoPoE (Sutter, Daunhawer, Vogt, ICLR 2021).

The joint posterior is the uniform mixture over the non-empty subsets S of
the present modalities of q_S = PoE(q_m for m in S), with N(0, I) as one
more expert of the subset of all M modalities only (the authors' code; the
paper's q_S has no prior expert); c is drawn from it and decoded by every
decoder, and its KL to N(0, I) is bounded by the mean of
KL(q_S || N(0, I)):

  L = sum_m w_m (-log p(x_m | c, s_m))
      + beta [ mean over S of KL(q_S || N(0, I))
               + beta_style sum_m b_m KL_m^s ]
"""

from tf_mmjsd.methods import Method


def objective(posteriors, present, log_likelihood, settings, noise):
  """{"loss", "rec_<m>", "kl", "kl_style_<m>": [B]} (objectives.py)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import divergences, fusion, objectives  # pylint: disable=g-import-not-at-top
  terms = {}
  names = settings.names
  locs, scales = objectives.stack_content(posteriors, names)
  mask = objectives.presence(present, names)
  locs_s, scales_s, available = fusion.subset_products(
      locs, scales, mask,
      fusion.prior_in_full_product(len(names), len(names)))  # [2^M-1, B, D]
  rec = objectives.mixture_reconstruction(
      locs_s, scales_s, available, posteriors, present, log_likelihood,
      settings, noise, terms)
  weights = tf.cast(available, locs.dtype)
  kls = divergences.kl_to_standard_normal(locs_s, scales_s)  # [2^M - 1, B]
  kl = objectives.mean_over_present(kls, weights)
  terms["kl"] = kl
  style = objectives.style_terms(posteriors, present, settings, terms)
  terms["loss"] = rec + settings.beta * (kl + settings.beta_style * style)
  return terms


METHOD = Method(
    name="mopoe",
    summary="mixture of the PoEs of every non-empty subset: reconstruction "
            "from it, mean KL of the subset PoEs",
    objective=objective, terms=("kl",), product="subset", decoding="poe",
    mixture="subsets")
