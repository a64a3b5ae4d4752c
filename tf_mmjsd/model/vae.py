"""MultimodalVAE: encoders, decoders, and the subset posteriors between
them; its inference API is inference.py, its training step train_step.py.

Batches are dicts (data/pipeline.py):
  {"inputs": {m: float32 [B, *shape_m]}, "masks": {m: bool [B]} (optional),
   "labels": int32 [B] (ignored by training)}
"""

import dataclasses

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tf_mmjsd import fusion, likelihoods, methods, networks
from tf_mmjsd import noise as noise_lib, objectives, serving
from tf_mmjsd import posteriors as post
from tf_mmjsd.data.specs import ModalitySpec
from tf_mmjsd.model.inference import InferenceAPI
from tf_mmjsd.model.train_step import TrainStep

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class MultimodalVAE(InferenceAPI, TrainStep, keras.Model):
  """A VAE over M modalities with a shared content code and optional styles.

  Args:
    modalities: sequence of `ModalitySpec` (or their dicts); M = its length.
    latent_dim: size of the content code c.
    style_dim: size of each modality's style code s_m (0: none).
    method: a name of the methods registry (methods/).
    beta, beta_style, prior_weight: objective weights (docs/objectives.md).
    method_options: {option: value} of the method's options (the
      defaults fill in); also accepted as keyword arguments of their own
      (get_config writes them so, e.g. dynamic_prior="moe").
    seed: seeds the training noise, drawn statelessly from (seed, step).

  Training state (non-trainable variables, in `state_variables`):
    step: int64, training steps taken (every batch, also one whose update a
      loss scale skipped); with `seed` it keys the step's noise.
    styles_from_prior: bool; while true, training decodes style samples
      from N(0, I) instead of q(s_m | x_m) (the style warm-up).
    epoch: int64, the training epoch (0 first), which an objective may
      anneal by (settings.epoch; JMVAE's warm-up).

  A method that trains a joint encoder (methods.Method.joint_encoder)
  gets `joint_encoder` (networks.JointEncoder) besides the unimodal ones;
  one with variables of its own (methods.Method.variables) gets them as
  `method_variables` (MMVAE+'s priors.AuxiliaryStylePrior).
  """

  def __init__(self, modalities, latent_dim=20, style_dim=0, method="mmjsd",
               beta=2.5, beta_style=3.0, prior_weight=0.25, seed=0,
               method_options=None, **kwargs):
    self.method_entry = methods.get(method)
    options = dict(method_options or {})
    for name in set(kwargs) & set(methods.options()):
      value = kwargs.pop(name)
      if name in {o.name for o in self.method_entry.options}:
        options[name] = value
      elif value != methods.options()[name][1].default:  # older configs
        raise ValueError(f"{name} is an option of method "
                         f"{methods.owner_of(name)}; method {method} has "
                         "none")
    super().__init__(**kwargs)
    self.specs = tuple(m if isinstance(m, ModalitySpec) else
                       ModalitySpec.from_dict(m) for m in modalities)
    self.names = tuple(s.name for s in self.specs)
    self.spec_of = {s.name: s for s in self.specs}
    self.method_options = self.method_entry.resolve_options(options)
    self.latent_dim, self.style_dim, self.method = latent_dim, style_dim, method
    self.beta, self.beta_style = beta, beta_style
    self.prior_weight = prior_weight
    self.seed = seed
    self.settings = objectives.ObjectiveSettings(
        names=self.names, rec_weights={s.name: s.weight for s in self.specs},
        style_weights={s.name: s.style_weight for s in self.specs},
        beta=beta, beta_style=beta_style, prior_weight=prior_weight,
        options=self.method_options)
    self.objective = self.method_entry.objective
    self.encoders = {s.name: networks.build_encoder(s, latent_dim, style_dim)
                     for s in self.specs}
    self.decoders = {s.name: networks.build_decoder(s, latent_dim, style_dim)
                     for s in self.specs}
    self.joint_encoder = (networks.build_joint_encoder(self.specs, latent_dim)
                          if self.method_entry.joint_encoder else None)
    self.method_variables = (
        self.method_entry.variables(self.names, latent_dim, style_dim)
        if self.method_entry.variables else None)
    # Build every sub-model now: the optimizer must see all variables.
    for s in self.specs:
      self.encoders[s.name](tf.zeros((1,) + s.shape))
      self.decoders[s.name](tf.zeros((1, latent_dim + style_dim)))
    if self.joint_encoder is not None:
      self.joint_encoder({s.name: tf.zeros((1,) + s.shape)
                          for s in self.specs})
    self.trackers = {
        name: keras.metrics.Mean(name=name)
        for name in methods.term_names(method, self.names, style_dim)}
    self.step = self.add_weight(
        shape=(), dtype="int64", initializer="zeros", trainable=False,
        autocast=False, aggregation="only_first_replica", name="step")
    self.styles_from_prior = self.add_weight(
        shape=(), dtype="bool", initializer="zeros", trainable=False,
        autocast=False, aggregation="only_first_replica",
        name="styles_from_prior")
    self.epoch = self.add_weight(
        shape=(), dtype="int64", initializer="zeros", trainable=False,
        autocast=False, aggregation="only_first_replica", name="epoch")
    self.settings = dataclasses.replace(self.settings, epoch=self.epoch,
                                        variables=self.method_variables)
    # A guard.NonFiniteGuard (set by training.build) gates each update.
    self.guard = None
    self.built = True

  @classmethod
  def from_experiment(cls, config):
    """The model of an `ExperimentConfig`."""
    return cls(config.modalities, latent_dim=config.latent_dim,
               style_dim=config.style_dim, method=config.method,
               beta=config.beta, beta_style=config.beta_style,
               prior_weight=config.prior_weight, seed=config.seed,
               method_options=config.method_options, name="multimodal_vae")

  def get_config(self):
    config = super().get_config()
    config.update(modalities=[s.to_dict() for s in self.specs],
                  latent_dim=self.latent_dim, style_dim=self.style_dim,
                  method=self.method, beta=self.beta,
                  beta_style=self.beta_style, prior_weight=self.prior_weight,
                  seed=self.seed, **self.method_options)
    return config

  @property
  def metrics(self):
    return list(self.trackers.values())

  @property
  def state_variables(self):
    """{name: variable} of the training state (see the class docstring),
    with the guard's count of skipped batches where there is a guard."""
    state = {"step": self.step, "styles_from_prior": self.styles_from_prior,
             "epoch": self.epoch}
    if self.guard is not None:
      state["skipped_batches"] = self.guard.skipped
    return state

  # --- inference ---------------------------------------------------------

  def _check_inputs(self, inputs):
    if not isinstance(inputs, dict) or not inputs:
      raise ValueError("inputs must be a non-empty dict {modality: tensor}")
    unknown = sorted(set(inputs) - set(self.names))
    if unknown:
      raise ValueError(f"unknown modalities {unknown}; this model has "
                       f"{list(self.names)}")
    for spec in self.specs:
      if spec.name in inputs:
        shape = tuple(inputs[spec.name].shape[1:])
        if shape != spec.shape:
          raise ValueError(f"modality {spec.name!r}: expected examples of "
                           f"shape {spec.shape}, got {shape}")

  def encode(self, inputs, training=False, masks=None):
    """Unimodal posterior parameters of the given modalities.

    Args:
      inputs: {m: [B, *shape_m]} for any subset of the modalities.
      masks: {m: bool [B]} (optional): the rows where m is present; in
        training, batch normalisation uses only those rows' statistics.

    Returns:
      {"content": {m: (loc, scale) [B, latent_dim]}, "style": {m: (loc,
        scale) [B, style_dim]}} (style empty if none); for a method with a
        joint encoder, given every modality, content also holds the joint
        posterior under `fusion.JOINT`.
    """
    self._check_inputs(inputs)
    out = {"content": {}, "style": {}}
    for m in self.names:
      if m not in inputs:
        continue
      present = None if masks is None else masks.get(m)
      params = self.encoders[m].posterior_parameters(
          inputs[m], training=training, present=present)
      out["content"][m] = params["content"]
      if self.style_dim:
        out["style"][m] = params["style"]
    if self.joint_encoder is not None and len(inputs) == len(self.names):
      out["content"][fusion.JOINT] = self.joint_encoder.posterior_parameters(
          inputs, training=training, present=masks)
    return out

  def restrict(self, content, subset):
    """The content posteriors of the modalities of `subset`, and the joint
    encoder's where `subset` has every modality."""
    out = {m: content[m] for m in subset}
    if fusion.JOINT in content and len(set(subset)) == len(self.names):
      out[fusion.JOINT] = content[fusion.JOINT]
    return out

  def _present(self, inputs, masks, dtype=tf.float32):
    """{m: dtype [B]}, 1 where modality m is present."""
    batch = tf.shape(next(iter(inputs.values())))[0]
    present = {}
    for m in inputs:
      if masks is not None and m in masks:
        present[m] = tf.cast(masks[m], dtype)
      else:
        present[m] = tf.ones([batch], dtype)
    return present

  def subset_posterior(self, inputs, masks=None, fusion_kind="poe"):
    """Posterior of c given the modalities in `inputs` (and `masks`).

    "poe": a tfd.MultivariateNormalDiag [B] x [latent_dim]: mmJSD's and
    MMVAE's pi-weighted product of N(0, I) and the present q_m
    (renormalised pi); MVAE's unweighted product of N(0, I) and the present
    q_m; MoPoE's unweighted product of the present q_m, with N(0, I) only
    where all M modalities are present (methods.Method.product).
    "mixture": a tfd.MixtureSameFamily [B] x [latent_dim]: the
    equal-weight mixture of the present q_m; for MoPoE its joint
    posterior, the equal-weight mixture of the "poe" posteriors of every
    non-empty subset of the present modalities (methods.Method.mixture).
    """
    return self.fuse(self.encode(inputs)["content"],
                     self._present(inputs, masks), fusion_kind)

  def _experts(self, content, present):
    """(locs, scales [K, B, D], mask [K, B], their names) of the modalities
    in `content`, asserting that every example has one present."""
    names = [m for m in self.names if m in content]
    locs = tf.stack([content[m][0] for m in names])
    scales = tf.stack([content[m][1] for m in names])
    mask = tf.stack([tf.cast(present[m], locs.dtype) for m in names])
    with tf.control_dependencies([fusion.check_some_present(mask > 0)]):
      mask = tf.identity(mask)
    return locs, scales, mask, names

  def _product(self, locs, scales, mask, names, joint=None):
    """(loc, scale) [B, D] of the method's PoE of the experts of `names`;
    with the joint encoder's (loc, scale) `joint`, that one for the
    examples with every modality present."""
    loc, scale = fusion.method_product(self.method_entry, locs, scales, mask,
                                       names, len(self.names),
                                       self.prior_weight)
    if joint is None:
      return loc, scale
    return fusion.joint_where_complete(loc, scale, joint, mask,
                                       len(self.names))

  def _mixture_components(self, locs, scales, mask, names):
    """(locs, scales [K', B, D], weights [K', B]) of the method's mixture."""
    return fusion.method_mixture(self.method_entry, locs, scales, mask,
                                 names, len(self.names))

  def fuse(self, content, present, fusion_kind="poe"):
    """Subset posterior from unimodal parameters (see `subset_posterior`).

    Args:
      content: {m: (loc, scale) [B, latent_dim]} for the subset (and
        fusion.JOINT's, see `encode`).
      present: {m: float [B]} presence of each of those modalities.
    """
    fusion.check_kind(fusion_kind)
    locs, scales, mask, names = self._experts(content, present)
    if fusion_kind == "poe":
      return post.approx_posterior(*self._product(
          locs, scales, mask, names, content.get(fusion.JOINT)))
    locs, scales, weights = self._mixture_components(locs, scales, mask,
                                                     names)
    return tfd.MixtureSameFamily(
        tfd.Categorical(probs=tf.transpose(weights)),  # [B, K']
        tfd.MultivariateNormalDiag(loc=tf.transpose(locs, [1, 0, 2]),
                                   scale_diag=tf.transpose(scales, [1, 0, 2])))

  def decode(self, content, styles=None, names=None, training=False,
             masks=None):
    """Likelihood parameters {m: [B, *shape_m]} of one latent sample.

    Args:
      content: c [B, latent_dim].
      styles: {m: s_m [B, style_dim]}; missing styles are drawn from N(0, I).
      names: modalities to decode (default: all).
      training: run the decoders in training mode (dropout, batch norm).
      masks: {m: bool [B]} (optional): in training, decoder m's batch
        statistics use the rows where m is present only.
    """
    out = {}
    for m in names or self.names:
      z = content
      if self.style_dim:
        s = (styles or {}).get(m)
        if s is None:
          s = noise_lib.stateful_normal([tf.shape(content)[0],
                                         self.style_dim])
        z = tf.concat([s, content], axis=-1)
      present = None if masks is None else masks.get(m)
      out[m] = self.decoders[m](z, training=training, present=present)
    return out

  @property
  def default_fusion(self):
    """The subset posterior whose samples the decoders were trained on
    (methods.Method.decoding): "poe" for MVAE and MoPoE, "mixture" for
    mmJSD, MMVAE and MMVAE+ (which decode samples of the unimodal posteriors; their
    PoE includes the N(0, I) factor and pulls samples to the origin)."""
    return self.method_entry.decoding

  def log_prob(self, name, x, params):
    """[B] log p(x | params) of modality `name` (x [B, *shape]; params the
    decoder's output), with the decoder's learned scale where it has one."""
    return likelihoods.log_prob(self.spec_of[name], x, params,
                                self.decoders[name].likelihood_scale)

  def call(self, inputs):
    """Posterior means of c under the PoE of all given modalities [B, D]."""
    return self.subset_posterior(inputs).mean()

  def export(self, filepath, format="tf_saved_model", verbose=None,
             **kwargs):
    """Keras's convention: writes a SavedModel with the any-subset serving
    signatures of `tf_mmjsd.serving` (serving_default, encode, generate,
    reconstruct, sample) to `filepath`."""
    del verbose
    if format != "tf_saved_model" or kwargs:
      raise ValueError("MultimodalVAE.export writes format='tf_saved_model' "
                       f"only and takes no other arguments, got {format!r}, "
                       f"{sorted(kwargs)}")
    serving.write_saved_model(self, filepath)

