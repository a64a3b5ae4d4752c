"""mmJSD (Sutter, Daunhawer, Vogt, NeurIPS 2020).

  L = sum_m w_m (-log p(x_m | c, s_m))
      + beta [ JS_pi(q_0 = N(0, I), q_1..q_M) + beta_style sum_m b_m KL_m^s ]

with c drawn from the mixture of the present unimodal posteriors (every
decoder decodes it) and the JS taken to the dynamic prior f of the option
`dynamic_prior` (divergences.PRIOR_KLS):

  poe  f = the pi-weighted geometric mean of N(0, I) and the present q_m
       (the paper's; closed-form KLs)
  moe  f = their pi-weighted arithmetic mean (a mixture; Monte-Carlo KLs)

pi_0 = prior_weight; the present modalities share the rest equally.
"""

from tf_mmjsd.methods import Method, Option

DYNAMIC_PRIORS = ("poe", "moe")


def objective(posteriors, present, log_likelihood, settings, noise):
  """{"loss", "rec_<m>", "js", "kl_style_<m>": [B]} (objectives.py)."""
  from tf_mmjsd import divergences, fusion, objectives  # pylint: disable=g-import-not-at-top  # TensorFlow
  terms = {}
  rec = objectives.unimodal_reconstruction(posteriors, present,
                                           log_likelihood, settings, noise,
                                           terms)
  locs, scales = objectives.stack_content(posteriors, settings.names)
  mask = objectives.presence(present, settings.names)
  js = divergences.js_divergence(
      *fusion.with_prior(locs, scales, mask, settings.prior_weight,
                         len(settings.names)),
      prior_kls=divergences.PRIOR_KLS[settings.options["dynamic_prior"]],
      noise=noise)
  terms["js"] = js
  style = objectives.style_terms(posteriors, present, settings, terms)
  terms["loss"] = rec + settings.beta * (js + settings.beta_style * style)
  return terms


METHOD = Method(
    name="mmjsd",
    summary="mixture reconstruction + JS divergence to a dynamic prior",
    objective=objective, terms=("js",), product="weighted",
    decoding="mixture",
    options=(Option(
        "dynamic_prior", "poe",
        "mmjsd's dynamic prior: poe (geometric mean, the paper's) or moe "
        "(arithmetic mean with N(0, I) as a component, Monte-Carlo KLs; "
        "not the original code's moe switch, which is --method=mmvae).",
        choices=DYNAMIC_PRIORS, invalid=("mean",)),))
