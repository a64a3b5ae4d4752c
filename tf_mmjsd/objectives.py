"""Training objectives: their signature, settings and building blocks.

Every method's objective (one module each in methods/, docs/objectives.md)
has the signature

  objective(posteriors, present, log_likelihood, settings, noise)
      -> {term: [B]}

  posteriors:     {"content": {m: (loc [B, D], scale [B, D])},
                   "style":   {m: (loc [B, S], scale [B, S])}}  (may be empty);
                  content also holds fusion.JOINT, the joint encoder's
                  posterior, for a method that trains one
  present:        {m: float32 [B]}, 1 where modality m is observed
  log_likelihood: fn(content [B, D], styles {m: [B, S]}, names) -> {m: [B]},
                  decodes one latent sample and scores the named modalities
  settings:       ObjectiveSettings
  noise:          noise.Noise, the source of every random draw

and returns per-example terms: "loss" (minimised), "rec_<m>" (negative
log-likelihood of modality m, unweighted), the method's own terms
(methods.Method.terms) and "kl_style_<m>". Nothing is reduced over the
batch here; `train_step` does it. An example with no present modality is
an error in every method (`presence`).
"""

import dataclasses
from typing import Any

import tensorflow as tf

from tf_mmjsd import divergences, fusion


@dataclasses.dataclass(frozen=True)
class ObjectiveSettings:
  """Weights of the objective terms and the method's options (built by
  MultimodalVAE); `epoch` is the training epoch (0 first: the model's
  state variable, for a method's annealing); `variables` the layer of the
  method's own variables (methods.Method.variables), or None."""
  names: tuple
  rec_weights: dict
  style_weights: dict
  beta: float
  beta_style: float
  prior_weight: float
  options: dict = dataclasses.field(default_factory=dict)
  epoch: Any = 0
  variables: Any = None


def presence(present, names):
  """float [M, B] presence, asserting every example has a present modality
  (the one presence check of every method)."""
  mask = tf.stack([present[m] for m in names])
  with tf.control_dependencies([fusion.check_some_present(mask > 0)]):
    return tf.identity(mask)


def stack_content(posteriors, names):
  """(locs, scales) [M, B, D] of the content posteriors of `names`."""
  locs = tf.stack([posteriors["content"][m][0] for m in names])
  scales = tf.stack([posteriors["content"][m][1] for m in names])
  return locs, scales


def mean_over_present(values, mask):
  """[B]: the mean over the present k of values [K, B] (mask [K, B] of 0/1;
  every example has one present)."""
  return tf.reduce_sum(values * mask, 0) / tf.reduce_sum(mask, 0)


def reconstruction(log_lik, present, settings, terms):
  """Adds rec_<m> [B] = -log p(x_m | ...) of the present modalities
  (log_lik {m: [B]}); returns their rec_weights-weighted sum [B]."""
  total = 0.0
  for m in settings.names:
    terms[f"rec_{m}"] = -log_lik[m] * present[m]
    total += settings.rec_weights[m] * terms[f"rec_{m}"]
  return total


def style_terms(posteriors, present, settings, terms):
  """Adds kl_style_<m> [B] terms; returns their weighted sum [B] (or 0)."""
  total = 0.0
  for m, (loc, scale) in posteriors.get("style", {}).items():
    kl = divergences.kl_to_standard_normal(loc, scale) * present[m]
    terms[f"kl_style_{m}"] = kl
    total += settings.style_weights[m] * kl
  return total


def mixture_reconstruction(locs, scales, available, posteriors, present,
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
  return reconstruction(log_likelihood(content, styles, settings.names),
                        present, settings, terms)


def unimodal_reconstruction(posteriors, present, log_likelihood, settings,
                             noise, terms):
  """The mixture reconstruction over the present unimodal posteriors."""
  locs, scales = stack_content(posteriors, settings.names)
  available = presence(present, settings.names) > 0
  return mixture_reconstruction(locs, scales, available, posteriors, present,
                                 log_likelihood, settings, noise, terms)
