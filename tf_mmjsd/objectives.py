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

mmJSD (DESIGN.md section 6):
  L = sum_m w_m (-log p(x_m | c, s_m))
      + beta [ JS_pi(q_0 = N(0, I), q_1..q_M) + beta_style sum_m b_m KL_m^s ]
  with c drawn from the mixture of the present unimodal posteriors.
"""

import dataclasses

import tensorflow as tf

from tf_mmjsd import divergences, fusion, posteriors as post


@dataclasses.dataclass(frozen=True)
class ObjectiveSettings:
  """Weights of the objective terms (built by MultimodalVAE)."""
  names: tuple
  rec_weights: dict
  style_weights: dict
  beta: float
  beta_style: float
  prior_weight: float


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


def _mixture_reconstruction(posteriors, present, log_likelihood, settings,
                            noise, terms):
  """Decodes one sample of the unimodal mixture by every decoder.

  Returns the weighted negative log-likelihood [B] of the present modalities.
  """
  names = settings.names
  locs, scales = _stack(posteriors, names)
  assign = fusion.mixture_assignment(
      tf.stack([present[m] > 0 for m in names]),
      *noise.positions(tf.shape(locs)[1]))
  assign = tf.cast(assign, locs.dtype)
  loc = tf.reduce_sum(assign[..., None] * locs, axis=0)
  scale = tf.reduce_sum(assign[..., None] * scales, axis=0)
  content = noise.reparameterized_sample(loc, scale)
  styles = {m: noise.reparameterized_sample(*p)
            for m, p in posteriors.get("style", {}).items()}
  log_lik = log_likelihood(content, styles, names)
  total = 0.0
  for m in names:
    nll = -log_lik[m] * present[m]
    terms[f"rec_{m}"] = nll
    total += settings.rec_weights[m] * nll
  return total


def mmjsd(posteriors, present, log_likelihood, settings, noise):
  """mmJSD with the geometric-mean (weighted PoE) dynamic prior."""
  terms = {}
  rec = _mixture_reconstruction(posteriors, present, log_likelihood, settings,
                                noise, terms)
  locs, scales = _stack(posteriors, settings.names)
  present_stack = tf.stack([present[m] for m in settings.names])
  js, _ = divergences.js_divergence(*fusion.with_prior(
      locs, scales, present_stack, settings.prior_weight, len(settings.names)))
  terms["js"] = js
  style = _style_terms(posteriors, present, settings, terms)
  terms["loss"] = rec + settings.beta * (js + settings.beta_style * style)
  return terms


def mmvae(posteriors, present, log_likelihood, settings, noise):
  """MMVAE as compared in the paper: the mixture reconstruction with the
  regulariser beta * mean over present m of KL(q_m || N(0, I))."""
  terms = {}
  rec = _mixture_reconstruction(posteriors, present, log_likelihood, settings,
                                noise, terms)
  kls = tf.stack([divergences.kl_to_standard_normal(*posteriors["content"][m])
                  for m in settings.names])
  mask = tf.stack([present[m] for m in settings.names])
  kl = tf.reduce_sum(kls * mask, 0) / tf.reduce_sum(mask, 0)
  terms["kl"] = kl
  style = _style_terms(posteriors, present, settings, terms)
  terms["loss"] = rec + settings.beta * (kl + settings.beta_style * style)
  return terms


def mvae(posteriors, present, log_likelihood, settings, noise):
  """MVAE: the joint ELBO with the PoE of the prior and all present q_m, plus
  one ELBO per modality with the posterior PoE(prior, q_m)."""
  terms = {}
  names = settings.names
  locs, scales = _stack(posteriors, names)
  prior_loc, prior_scale = post.standard_normal_like(locs[:1])
  mask = tf.stack([present[m] for m in names])
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
  terms["loss"] = rec + settings.beta * (kl_total + settings.beta_style * style)
  return terms


OBJECTIVES = {"mmjsd": mmjsd, "mmvae": mmvae, "mvae": mvae}


def term_names(method, names, style_dim):
  """Names of the per-example terms an objective returns, "loss" first."""
  out = ["loss"] + [f"rec_{m}" for m in names]
  out.append("js" if method == "mmjsd" else "kl")
  if style_dim:
    out += [f"kl_style_{m}" for m in names]
  return out
