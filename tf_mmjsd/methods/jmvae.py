"""JMVAE-KL (Suzuki, Nakayama, Matsuo, 2016), generalised to M modalities
as MultiVae implements it: a joint encoder q(c | X) of all modalities
(networks.JointEncoder) trains with the decoders, and each unimodal
encoder q_m is pulled towards it. With alpha = the option `jmvae_alpha`
and the annealing factor a_t = min(1, (epoch + 1) / W) for W = the option
`jmvae_warmup_epochs` (1 from the start where W = 0):

  L = sum_m w_m (-log p(x_m | c, s_m)),  c ~ q(c | X)
      + a_t beta [ KL(q(c | X) || N(0, I))
                   + alpha sum_m KL(q(c | X) || q_m)
                   + beta_style sum_m b_m KL_m^s ]

Terms: "kl" = KL(q(c | X) || N(0, I)), "kl_unimodal" = the sum over m of
KL(q(c | X) || q_m), each [B]. With beta = 1 this is MultiVae's loss
(its beta, an add-on, weighs KL(q(c | X) || N(0, I)) alone; its alpha and
warm-up are the defaults here). It needs every modality of every
training example (MultiVae refuses masks): --missing_rate and incomplete
training data are refused.

Inference: given every modality, the "poe" posterior is q(c | X); given
a proper subset, the product of its q_m without N(0, I) (MultiVae's
`_sample_from_poe_subset_exact`); "mixture" is the uniform mixture of the
present q_m, as for the other methods. docs/reference_settings.md cites
file:line.
"""

from tf_mmjsd.methods import Method, Option
from tf_mmjsd.options import at_least


def annealing(epoch, warmup_epochs):
  """a_t = min(1, (epoch + 1) / warmup_epochs), 1 where warmup_epochs = 0
  (epoch 0 first; MultiVae counts epochs from 1: epoch / warmup)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not warmup_epochs:
    return tf.constant(1.0)
  return tf.minimum(1.0, tf.cast(epoch + 1, tf.float32) / warmup_epochs)


def objective(posteriors, present, log_likelihood, settings, noise):
  """{"loss", "rec_<m>", "kl", "kl_unimodal", "kl_style_<m>": [B]}."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import divergences, fusion, objectives  # pylint: disable=g-import-not-at-top
  names = settings.names
  mask = objectives.presence(present, names)
  with tf.control_dependencies([tf.debugging.assert_equal(
      tf.reduce_min(mask), tf.constant(1.0, mask.dtype),
      message="method jmvae trains on examples with every modality; this "
              "batch has an absent one")]):
    mask = tf.identity(mask)
  loc, scale = posteriors["content"][fusion.JOINT]  # [B, D]
  locs, scales = objectives.stack_content(posteriors, names)  # [M, B, D]
  styles = {m: noise.reparameterized_sample(*p)
            for m, p in posteriors.get("style", {}).items()}
  log_lik = log_likelihood(noise.reparameterized_sample(loc, scale), styles,
                           names)
  terms = {}
  rec = objectives.reconstruction(log_lik, present, settings, terms)
  terms["kl"] = divergences.kl_to_standard_normal(loc, scale)
  terms["kl_unimodal"] = tf.reduce_sum(
      divergences.gaussian_kl(loc[None], scale[None], locs, scales) * mask, 0)
  style = objectives.style_terms(posteriors, present, settings, terms)
  weight = annealing(settings.epoch,
                     settings.options["jmvae_warmup_epochs"])
  terms["loss"] = rec + weight * settings.beta * (
      terms["kl"] + settings.options["jmvae_alpha"] * terms["kl_unimodal"]
      + settings.beta_style * style)
  return terms


def product(locs, scales, mask, names, num_modalities, prior_weight):
  """The "poe" posterior of a proper subset (fusion.method_product): the
  unweighted product of the present q_m, without N(0, I); with every
  modality present inference takes the joint encoder's instead."""
  del names, num_modalities, prior_weight
  from tf_mmjsd import fusion  # pylint: disable=g-import-not-at-top
  return fusion.product_of_experts(locs, scales, mask)


METHOD = Method(
    name="jmvae",
    summary="joint encoder q(c | X): its ELBO + alpha KL(q(c | X) || q_m) "
            "to each unimodal posterior (complete data only)",
    objective=objective, terms=("kl", "kl_unimodal"), product=product,
    decoding="poe", joint_encoder=True, complete_data=True,
    options=(
        Option("jmvae_alpha", 0.1,
               "jmvae's alpha: weight of the KLs from the joint posterior "
               "to each unimodal one (MultiVae's default: 0.1).",
               check=at_least(0.0), invalid=(-0.1,)),
        Option("jmvae_warmup_epochs", 10,
               "jmvae: epochs over which the divergence weight rises "
               "linearly to 1 (MultiVae's default: 10; 0: none).",
               check=at_least(0), invalid=(-1,))))
