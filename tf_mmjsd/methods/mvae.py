"""MVAE (Wu and Goodman, NeurIPS 2018): the joint ELBO under
q = PoE(N(0, I), q_m for every present m) plus one ELBO per modality under
PoE(N(0, I), q_m).

Each ELBO carries the style KLs of the modalities it reconstructs, as in
both reference implementations: modality m's KL(q(s_m|x_m) || N(0, I))
counts in the joint ELBO and again in m's own ELBO, twice in all.
"""

from tf_mmjsd.methods import Method


def objective(posteriors, present, log_likelihood, settings, noise):
  """{"loss", "rec_<m>", "kl", "kl_style_<m>": [B]} (objectives.py)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import divergences, fusion, objectives, posteriors as post  # pylint: disable=g-import-not-at-top
  terms = {}
  names = settings.names
  locs, scales = objectives.stack_content(posteriors, names)
  prior_loc, prior_scale = post.standard_normal_like(locs[:1])
  mask = objectives.presence(present, names)
  all_locs = tf.concat([prior_loc, locs], 0)
  all_scales = tf.concat([prior_scale, scales], 0)
  styles = {m: noise.reparameterized_sample(*p)
            for m, p in posteriors.get("style", {}).items()}

  def elbo_terms(weights, decode):
    loc, scale = fusion.product_of_experts(all_locs, all_scales, weights)
    kl = divergences.kl_to_standard_normal(loc, scale)
    log_lik = log_likelihood(noise.reparameterized_sample(loc, scale), styles,
                             decode)
    return kl, log_lik

  ones = tf.ones_like(mask[:1])
  kl_joint, log_lik = elbo_terms(tf.concat([ones, mask], 0), names)
  rec = 0.0
  for m in names:
    nll = -log_lik[m] * present[m]
    terms[f"rec_{m}"] = nll
    rec += settings.rec_weights[m] * nll
  kl_total = kl_joint
  for i, m in enumerate(names):
    single = tf.concat([ones, tf.one_hot(i, len(names))[:, None] * mask], 0)
    kl_m, log_lik_m = elbo_terms(single, (m,))
    rec += -log_lik_m[m] * present[m]
    kl_total += kl_m * present[m]
  terms["kl"] = kl_total
  style = objectives.style_terms(posteriors, present, settings, terms)
  # The joint ELBO's style KLs, and each present modality's again in its
  # own ELBO (style_terms already zeroes absent ones).
  terms["loss"] = rec + settings.beta * (
      kl_total + settings.beta_style * 2.0 * style)
  return terms


METHOD = Method(
    name="mvae",
    summary="joint ELBO (plain PoE with the prior) + one ELBO per modality",
    objective=objective, terms=("kl",), product="plain", decoding="poe")
