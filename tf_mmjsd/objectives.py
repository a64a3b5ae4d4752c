"""Training objectives: mmJSD and its baselines, one signature, per-example.

Every objective has the signature

  objective(posteriors, present, log_likelihood, settings, noise)
      -> {term: [B]}

  posteriors:     {"content": {m: (loc [B, D], scale [B, D])},
                   "style":   {m: (loc [B, S], scale [B, S])}}  (may be empty)
  present:        {m: float32 [B]}, 1 where modality m is observed
  log_likelihood: fn(content [B, D], styles {m: [B, S]}, names) -> {m: [B]},
                  decodes one latent sample and scores the named modalities
  settings:       ObjectiveSettings
  noise:          noise.Noise, the source of every random draw

and returns per-example terms: "loss" (minimised), "rec_<m>" (negative
log-likelihood of modality m, unweighted), a divergence term and
"kl_style_<m>". Nothing is reduced over the batch here; `train_step` does it.

mmJSD:
  L = sum_m w_m (-log p(x_m | c, s_m))
      + beta [ JS_pi(q_0 = N(0, I), q_1..q_M) + beta_style sum_m b_m KL_m^s ]
  with c drawn from the mixture of the present unimodal posteriors and the
  JS taken to the dynamic prior of `settings.dynamic_prior`.

MVAE (Wu and Goodman, 2018): the joint ELBO under q = PoE(N(0, I), q_m
for every present m) plus one ELBO per modality under PoE(N(0, I), q_m);
each ELBO has the style KLs of the modalities it reconstructs.

MoPoE (Sutter, Daunhawer, Vogt, ICLR 2021): the joint posterior is the
uniform mixture over the non-empty subsets S of the present modalities of
q_S = PoE(q_m for m in S), with N(0, I) as one more expert of the subset of
all M modalities only (the authors' code; the paper's q_S has no prior
expert); c is drawn from it and decoded by every decoder, and its KL to
N(0, I) is bounded by the mean of KL(q_S || N(0, I)).

An example with no present modality is an error in every method.

Each function here is the `objective` of the method of the same name in
methods.py, the registry that says which terms and posteriors it has.
"""

import dataclasses

import tensorflow as tf

from tf_mmjsd import divergences, fusion, methods, posteriors as post


@dataclasses.dataclass(frozen=True)
class ObjectiveSettings:
  """Weights of the objective terms (built by MultimodalVAE)."""
  names: tuple
  rec_weights: dict
  style_weights: dict
  beta: float
  beta_style: float
  prior_weight: float
  dynamic_prior: str = "poe"


def _mask(present, names):
  """float [M, B] presence, asserting every example has a present modality
  (the one presence check of every method)."""
  mask = tf.stack([present[m] for m in names])
  with tf.control_dependencies([fusion.check_some_present(mask > 0)]):
    return tf.identity(mask)


def _stack(posteriors, names):
  locs = tf.stack([posteriors["content"][m][0] for m in names])
  scales = tf.stack([posteriors["content"][m][1] for m in names])
  return locs, scales


def _style_terms(posteriors, present, settings, terms):
  """Adds kl_style_<m> [B] terms; returns their weighted sum [B] (or 0)."""
  total = 0.0
  for m, (loc, scale) in posteriors.get("style", {}).items():
    kl = divergences.kl_to_standard_normal(loc, scale) * present[m]
    terms[f"kl_style_{m}"] = kl
    total += settings.style_weights[m] * kl
  return total


def _mixture_reconstruction(locs, scales, available, posteriors, present,
                            log_likelihood, settings, noise, terms):
  """Decodes one sample of a uniform mixture of K Gaussian components by
  every decoder; each example's component is chosen by
  fusion.mixture_assignment among its available ones (equal contiguous
  blocks of a complete global batch). Each decoder gets its own modality's
  style sample.

  Args:
    locs, scales: [K, B, D] components; available: bool [K, B].

  Returns the weighted negative log-likelihood [B] of the present modalities.
  """
  assign = fusion.mixture_assignment(available,
                                     *noise.positions(tf.shape(locs)[1]))
  assign = tf.cast(assign, locs.dtype)
  loc = tf.reduce_sum(assign[..., None] * locs, axis=0)
  scale = tf.reduce_sum(assign[..., None] * scales, axis=0)
  content = noise.reparameterized_sample(loc, scale)
  styles = {m: noise.reparameterized_sample(*p)
            for m, p in posteriors.get("style", {}).items()}
  log_lik = log_likelihood(content, styles, settings.names)
  total = 0.0
  for m in settings.names:
    nll = -log_lik[m] * present[m]
    terms[f"rec_{m}"] = nll
    total += settings.rec_weights[m] * nll
  return total


def _unimodal_reconstruction(posteriors, present, log_likelihood, settings,
                             noise, terms):
  """The mixture reconstruction over the present unimodal posteriors."""
  locs, scales = _stack(posteriors, settings.names)
  available = _mask(present, settings.names) > 0
  return _mixture_reconstruction(locs, scales, available, posteriors, present,
                                 log_likelihood, settings, noise, terms)


def mmjsd(posteriors, present, log_likelihood, settings, noise):
  """mmJSD: the JS divergence to the dynamic prior `settings.dynamic_prior`
  ("poe": weighted geometric mean, the paper's; "moe": the mixture)."""
  terms = {}
  rec = _unimodal_reconstruction(posteriors, present, log_likelihood,
                                 settings, noise, terms)
  locs, scales = _stack(posteriors, settings.names)
  present_stack = _mask(present, settings.names)
  js = divergences.js_divergence(
      *fusion.with_prior(locs, scales, present_stack, settings.prior_weight,
                         len(settings.names)),
      prior_kls=divergences.PRIOR_KLS[settings.dynamic_prior], noise=noise)
  terms["js"] = js
  style = _style_terms(posteriors, present, settings, terms)
  terms["loss"] = rec + settings.beta * (js + settings.beta_style * style)
  return terms


def mmvae(posteriors, present, log_likelihood, settings, noise):
  """MMVAE as compared in the paper: the mixture reconstruction with the
  regulariser beta * mean over present m of KL(q_m || N(0, I))."""
  terms = {}
  rec = _unimodal_reconstruction(posteriors, present, log_likelihood,
                                 settings, noise, terms)
  kls = tf.stack([divergences.kl_to_standard_normal(*posteriors["content"][m])
                  for m in settings.names])
  mask = _mask(present, settings.names)
  kl = tf.reduce_sum(kls * mask, 0) / tf.reduce_sum(mask, 0)
  terms["kl"] = kl
  style = _style_terms(posteriors, present, settings, terms)
  terms["loss"] = rec + settings.beta * (kl + settings.beta_style * style)
  return terms


def mvae(posteriors, present, log_likelihood, settings, noise):
  """MVAE: the joint ELBO with the PoE of the prior and all present q_m, plus
  one ELBO per modality with the posterior PoE(prior, q_m).

  Each ELBO carries the style KLs of the modalities it reconstructs, as in
  both reference implementations: modality m's KL(q(s_m|x_m) || N(0, I))
  counts in the joint ELBO and again in m's own ELBO, twice in all."""
  terms = {}
  names = settings.names
  locs, scales = _stack(posteriors, names)
  prior_loc, prior_scale = post.standard_normal_like(locs[:1])
  mask = _mask(present, names)
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
  style = _style_terms(posteriors, present, settings, terms)
  # The joint ELBO's style KLs, and each present modality's again in its
  # own ELBO (_style_terms already zeroes absent ones).
  terms["loss"] = rec + settings.beta * (
      kl_total + settings.beta_style * 2.0 * style)
  return terms


def mopoe(posteriors, present, log_likelihood, settings, noise):
  """MoPoE: reconstruction from the mixture of the subset PoEs of the
  present modalities, regulariser beta * mean over them of KL(q_S || N(0, I))
  (see the module docstring)."""
  terms = {}
  names = settings.names
  locs, scales = _stack(posteriors, names)
  mask = _mask(present, names)
  locs_s, scales_s, available = fusion.subset_products(
      locs, scales, mask,
      fusion.prior_in_full_product(len(names), len(names)))  # [2^M-1, B, D]
  rec = _mixture_reconstruction(locs_s, scales_s, available, posteriors,
                                present, log_likelihood, settings, noise,
                                terms)
  weights = tf.cast(available, locs.dtype)
  kls = divergences.kl_to_standard_normal(locs_s, scales_s)  # [2^M - 1, B]
  kl = tf.reduce_sum(kls * weights, 0) / tf.reduce_sum(weights, 0)
  terms["kl"] = kl
  style = _style_terms(posteriors, present, settings, terms)
  terms["loss"] = rec + settings.beta * (kl + settings.beta_style * style)
  return terms


def of(method):
  """The objective function of a methods.Method (or its name)."""
  name = getattr(method, "name", method)
  if name not in methods.METHODS:
    raise ValueError(f"method must be one of {tuple(methods.METHODS)}, got "
                     f"{name!r}")
  return globals()[name]
