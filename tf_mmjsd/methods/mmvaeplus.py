"""MMVAE+ (Palumbo, Daunhawer, Vogt, ICLR 2023): a mixture-of-experts
multimodal VAE with a shared code c and a modality-specific code s_m per
modality (--style_dim), trained with K importance samples of each
unimodal posterior, as the authors' code trains it.

For every present modality r (a mixture component) and k = 1..K:

  c_rk ~ q_r(c | x_r),  s_rk ~ q_r(s_r | x_r)
  decoder r reads (c_rk, s_rk); every other decoder d reads (c_rk, s~_d)
  with s~_d drawn from the auxiliary prior r_d(s_d) = N(0, sigma_d^2),
  sigma_d trained (priors.AuxiliaryStylePrior), so that a decoder cannot
  use its own modality's style to carry shared content.

  log w_rk = sum_d w_d log p(x_d | c_rk, s_d)
             + beta [log N(c_rk; 0, I) + log N(s_rk; 0, I)
                     - log (1/|P| sum_{m in P} q_m(c_rk | x_m))
                     - log q_r(s_rk | x_r)]

with P the present modalities (beta weighs the private codes' terms too:
--beta_style and the modalities' style weights do not apply). The "elbo" estimator (option
`mmvaeplus_estimator`) minimises -mean_r log mean_k w_rk (IWAE for K > 1,
the ELBO for K = 1); "dreg" has the same value and the doubly
reparameterised gradient (Tucker et al., 2019): the importance weights
w~_rk = softmax_k log w_rk scale the gradient through the samples twice,
and the densities of q see their parameters as constants. Without
--style_dim there are no private codes and it is MMVAE with this
objective.

Terms [B]: "loss"; "rec_<m>" the mean over the components and samples of
-log p(x_m | ...); "kl" the mean of log q_mixture(c) - log N(c; 0, I) over
the components and samples; "kl_style_<m>" the analytic KL(q(s_m | x_m) ||
N(0, I)), logged only (the loss holds its sampled form). Inference and
generation are MMVAE's (the mixture; styles of generated modalities from
N(0, I), as the authors generate). docs/reference_settings.md cites
file:line.
"""

import math

from tf_mmjsd.methods import Method, Option
from tf_mmjsd.options import at_least


def _scaled_gradient(x, holder, index):
  """x, whose gradient is multiplied by holder[0][index] [B] (filled in
  after x is used: backpropagation reads it)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  @tf.custom_gradient
  def identity(value):
    def grad(upstream):
      return upstream * tf.cast(holder[0][index], upstream.dtype)[:, None]
    return tf.identity(value), grad

  return identity(x)


def log_weights(posteriors, present, log_likelihood, settings, noise,
                samples, dreg=False, terms=None):
  """log w [M, K, B] of every component r and sample k (module docstring);
  with `dreg`, the samples carry the DReG gradient scaling (see
  `objective`) and the q densities stopped parameters. Adds rec_<m> and kl
  to `terms` where given."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import divergences, objectives  # pylint: disable=g-import-not-at-top
  names = settings.names
  locs, scales = objectives.stack_content(posteriors, names)  # [M, B, D]
  mask = objectives.presence(present, names)  # [M, B]
  styles = posteriors.get("style", {})
  stop = tf.stop_gradient if dreg else tf.identity
  q_locs, q_scales = stop(locs), stop(scales)
  aux = settings.variables
  holder = [None]
  rows, recs, kls = [], {m: 0.0 for m in names}, 0.0
  for r, name in enumerate(names):
    row = []
    for k in range(samples):
      content = noise.reparameterized_sample(locs[r], scales[r])
      own = (noise.reparameterized_sample(*styles[name]) if styles
             else None)
      if dreg:
        content = _scaled_gradient(content, holder, (r, k))
        own = own if own is None else _scaled_gradient(own, holder, (r, k))
      decode_styles = None
      if styles:
        decode_styles = {d: own if d == name else
                         aux.scale(d) * noise.normal(styles[d][0])
                         for d in names}
      log_lik = log_likelihood(content, decode_styles, names)
      log_px = 0.0
      for d in names:
        log_px += settings.rec_weights[d] * log_lik[d] * present[d]
        recs[d] += -log_lik[d] * present[d] * mask[r] / samples
      each = divergences.log_normal(content[None], q_locs, q_scales)  # [M, B]
      log_q = (tf.reduce_logsumexp(
          tf.where(mask > 0, each, tf.fill(tf.shape(each), -1e30)), 0)
               - tf.math.log(tf.reduce_sum(mask, 0)))
      log_p = divergences.log_normal(content, tf.zeros_like(content),
                                     tf.ones_like(content))
      kls += (log_q - log_p) * mask[r] / samples
      divergence = log_q - log_p
      if styles:
        s_loc, s_scale = styles[name]
        divergence += (divergences.log_normal(own, stop(s_loc),
                                              stop(s_scale))
                       - divergences.log_normal(own, tf.zeros_like(own),
                                                tf.ones_like(own)))
      row.append(log_px - settings.beta * divergence)
    rows.append(tf.stack(row))
  log_w = tf.stack(rows)  # [M, K, B]
  if dreg:
    holder[0] = tf.stop_gradient(tf.nn.softmax(log_w, axis=1))
  if terms is not None:
    count = tf.reduce_sum(mask, 0)
    for d in names:
      terms[f"rec_{d}"] = recs[d] / count
    terms["kl"] = kls / count
  return log_w, mask


def objective(posteriors, present, log_likelihood, settings, noise):
  """{"loss", "rec_<m>", "kl", "kl_style_<m>": [B]} (module docstring)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import objectives  # pylint: disable=g-import-not-at-top
  samples = settings.options["mmvaeplus_samples"]
  dreg = settings.options["mmvaeplus_estimator"] == "dreg"
  terms = {}
  log_w, mask = log_weights(posteriors, present, log_likelihood, settings,
                            noise, samples, dreg, terms)
  bound = tf.reduce_logsumexp(log_w, 1) - math.log(samples)  # [M, B]
  loss = -objectives.mean_over_present(bound, mask)
  if dreg:  # the bound's value, the DReG surrogate's gradient
    weights = tf.stop_gradient(tf.nn.softmax(log_w, axis=1))
    surrogate = -objectives.mean_over_present(
        tf.reduce_sum(weights * log_w, 1), mask)
    loss = tf.stop_gradient(loss) + surrogate - tf.stop_gradient(surrogate)
  objectives.style_terms(posteriors, present, settings, terms)
  terms["loss"] = loss
  return terms


def auxiliary_prior(names, latent_dim, style_dim):
  """The AuxiliaryStylePrior of the private codes (none without them)."""
  del latent_dim
  if not style_dim:
    return None
  from tf_mmjsd import priors  # pylint: disable=g-import-not-at-top
  return priors.AuxiliaryStylePrior(names, style_dim, name="aux_style_prior")


METHOD = Method(
    name="mmvaeplus",
    summary="mixture of experts with modality-specific codes, an auxiliary "
            "prior for cross-modal decoding and K importance samples",
    objective=objective, terms=("kl",), product="weighted",
    decoding="mixture", variables=auxiliary_prior,
    options=(
        # --beta weighs every divergence in the log weights; --beta_style
        # and the modalities' style weights do not apply.
        Option("mmvaeplus_samples", 1,
               "mmvaeplus: importance samples K per posterior (the "
               "authors' PolyMNIST setting 1, CUB 10).",
               check=at_least(1), invalid=(0,)),
        Option("mmvaeplus_estimator", "elbo",
               "mmvaeplus: elbo (IWAE for K > 1) or dreg (the doubly "
               "reparameterised gradient; the authors' CUB setting).",
               choices=("elbo", "dreg"), invalid=("iwae",))))
