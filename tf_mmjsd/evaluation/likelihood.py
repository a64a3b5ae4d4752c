"""Importance-weighted estimates of the test log-likelihood log p(X).

With a proposal q(z) (here: a subset posterior) and K samples z_k ~ q,

  log p(X) >= E[ log (1/K) sum_k p(X, z_k) / q(z_k) ]        (Burda et al.)

and the bound tightens as K grows. The log-mean-exp runs over the K samples
*of the same example*; the original code mixed examples in that average, and
we do not reproduce that.

For the multimodal VAE, z = (c, s_1..s_M): c comes from the subset
posterior q(c | X_K) (PoE or mixture); each style s_m from the unimodal
style posterior q(s_m | x_m), since X is complete when log p(X) is scored.
"""

import math

import tensorflow as tf
import tensorflow_probability as tfp

from tf_mmjsd import posteriors as post

tfd = tfp.distributions


def importance_weighted(proposals, log_joint, num_samples):
  """Per-example importance-weighted estimate of log p(x).

  Args:
    proposals: list of distributions, each with batch shape [B].
    log_joint: fn(samples) -> log p(x, z) [K, B], where samples is a list of
      [K, B, *event] draws, one per proposal.
    num_samples: K.

  Returns:
    [B] log (1/K) sum_k exp(log p(x, z_k) - log q(z_k)).
  """
  samples = [q.sample(num_samples) for q in proposals]
  log_w = log_joint(samples)
  for q, z in zip(proposals, samples):
    log_w -= q.log_prob(z)
  return tf.reduce_logsumexp(log_w, axis=0) - math.log(num_samples)


def _merge(x):
  """[K, B, ...] -> [K * B, ...]."""
  return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))


def subset_indicator(model, subset):
  """float32 [M]: 1 for each of model.names in `subset`, else 0; the
  `subset` argument of `log_likelihood` that lets one traced function
  serve every subset."""
  return tf.constant([float(m in subset) for m in model.names])


def log_likelihood(model, inputs, subset, fusion_kind, num_samples,
                   encoded=None):
  """[B] estimate of log p(X) with q(c | X_subset) as the content proposal.

  Args:
    inputs: {m: [B, *shape_m]} with every modality of the model.
    subset: the modalities the content proposal conditions on: their
      names, or a float [M] tensor (`subset_indicator`), 1 for each of
      model.names in it; the proposal is then the fusion of every
      posterior with the others masked out, the same distribution.
    encoded: model.encode(inputs), where already computed.
  """
  encoded = model.encode(inputs) if encoded is None else encoded
  batch = tf.shape(next(iter(inputs.values())))[0]
  ones = tf.ones([batch])
  if not tf.is_tensor(subset):
    content = model.restrict(encoded["content"], subset)
    present = {m: ones for m in subset}
  else:
    content = model.restrict(encoded["content"], model.names)
    present = {m: ones * subset[i] for i, m in enumerate(model.names)}
  proposals = [model.fuse(content, present, fusion_kind)]
  style_names = list(encoded["style"])
  proposals += [post.approx_posterior(*encoded["style"][m])
                for m in style_names]

  def log_joint(samples):
    content, styles = samples[0], dict(zip(style_names, samples[1:]))
    standard = tfd.MultivariateNormalDiag(
        loc=tf.zeros_like(content[0, 0]))
    total = standard.log_prob(content)
    for s in styles.values():
      total += tfd.MultivariateNormalDiag(
          loc=tf.zeros_like(s[0, 0])).log_prob(s)
    params = model.decode(_merge(content),
                          {m: _merge(s) for m, s in styles.items()})
    for m, p in params.items():
      x = tf.tile(inputs[m], tf.concat([[num_samples],
                                        tf.ones_like(tf.shape(inputs[m])[1:])],
                                       0))
      total += tf.reshape(model.log_prob(m, x, p),
                          [num_samples, batch])
    return total

  return importance_weighted(proposals, log_joint, num_samples)
