"""MVTCAE (Hwang, Kim, Hong, Kim, NeurIPS 2021): multi-view total
correlation, as the authors' code trains it.

The joint posterior is the unweighted product of the present unimodal
posteriors, without N(0, I): q(c | X) = PoE(q_m for present m). With
alpha = the option `tc_ratio` and M the number of modalities:

  L = (M - alpha) / M * sum_m w_m (-log p(x_m | c, s_m)),  c ~ q(c | X)
      + beta [ alpha / M * sum over present m of KL(q(c | X) || q_m)
               + (1 - alpha) * KL(q(c | X) || N(0, I))
               + beta_style sum_m b_m KL_m^s ]

Terms: "kl" = KL(q(c | X) || N(0, I)), "kl_views" = the sum of
KL(q(c | X) || q_m) over the present m, each [B]. An absent modality
leaves the product, the sum and the reconstruction, and M stays the
number of modalities (MultiVae's generalisation to missing data; the
authors train on complete data). The authors' code computes style KLs but
adds none to this loss; here they count as in every method (none without
--style_dim). docs/reference_settings.md cites both codes.
"""

from tf_mmjsd.methods import Method, Option


def objective(posteriors, present, log_likelihood, settings, noise):
  """{"loss", "rec_<m>", "kl", "kl_views", "kl_style_<m>": [B]}."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import divergences, fusion, objectives  # pylint: disable=g-import-not-at-top
  names = settings.names
  alpha = settings.options["tc_ratio"]
  num = float(len(names))
  locs, scales = objectives.stack_content(posteriors, names)
  mask = objectives.presence(present, names)
  loc, scale = fusion.product_of_experts(locs, scales, mask)  # [B, D]
  styles = {m: noise.reparameterized_sample(*p)
            for m, p in posteriors.get("style", {}).items()}
  log_lik = log_likelihood(noise.reparameterized_sample(loc, scale), styles,
                           names)
  terms = {}
  rec = objectives.reconstruction(log_lik, present, settings, terms)
  terms["kl"] = divergences.kl_to_standard_normal(loc, scale)
  terms["kl_views"] = tf.reduce_sum(
      divergences.gaussian_kl(loc[None], scale[None], locs, scales) * mask, 0)
  style = objectives.style_terms(posteriors, present, settings, terms)
  terms["loss"] = (num - alpha) / num * rec + settings.beta * (
      alpha / num * terms["kl_views"] + (1.0 - alpha) * terms["kl"]
      + settings.beta_style * style)
  return terms


def product(locs, scales, mask, names, num_modalities, prior_weight):
  """The "poe" posterior of inference (fusion.method_product): the
  unweighted product of the present q_m, never with N(0, I)."""
  del names, num_modalities, prior_weight
  from tf_mmjsd import fusion  # pylint: disable=g-import-not-at-top
  return fusion.product_of_experts(locs, scales, mask)


METHOD = Method(
    name="mvtcae",
    summary="total correlation: PoE reconstruction, KLs of the PoE to each "
            "posterior and to the prior",
    objective=objective, terms=("kl", "kl_views"), product=product,
    decoding="poe",
    options=(Option(
        "tc_ratio", 5.0 / 6.0,
        "mvtcae's alpha: weights (M - alpha)/M the reconstruction, alpha/M "
        "the KLs to each posterior and 1 - alpha the KL to the prior "
        "(the authors' PolyMNIST setting: 5/6).",
        check=lambda v: None if 0.0 <= v <= 1.0 else "must lie in [0, 1]",
        invalid=(-0.1, 1.5)),))
