"""The multimodal VAE: encoders, decoders and the objective's train_step.

Batches are dicts (data/pipeline.py):
  {"inputs": {m: float32 [B, *shape_m]}, "masks": {m: bool [B]} (optional),
   "labels": int32 [B] (ignored by training)}
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tf_mmjsd import fusion, guard as guard_lib, likelihoods, methods
from tf_mmjsd import networks, noise as noise_lib, objectives, serving
from tf_mmjsd import posteriors as post
from tf_mmjsd.data.specs import ModalitySpec

tfd = tfp.distributions


def _seeds(seed, batch):
  """None, or int64 [B] per-example seeds from an int or int [B]."""
  if seed is None:
    return None
  seed = tf.cast(seed, tf.int64)
  if seed.shape.rank == 0:
    return tf.fill([batch], seed)
  return seed


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class MultimodalVAE(keras.Model):
  """A VAE over M modalities with a shared content code and optional styles.

  Args:
    modalities: sequence of `ModalitySpec` (or their dicts); M = its length.
    latent_dim: size of the content code c.
    style_dim: size of each modality's style code s_m (0: none).
    method: a name of methods.METHODS ("mmjsd", "mmvae", "mvae", "mopoe").
    beta, beta_style, prior_weight: objective weights (docs/objectives.md).
    dynamic_prior: mmjsd's dynamic prior, "poe" or "moe"
      (methods.DYNAMIC_PRIORS).
    seed: seeds the training noise, drawn statelessly from (seed, step).

  Training state (non-trainable variables, in `state_variables`):
    step: int64, training steps taken (every batch, also one whose update a
      loss scale skipped); with `seed` it keys the step's noise.
    styles_from_prior: bool; while true, training decodes style samples
      from N(0, I) instead of q(s_m | x_m) (the style warm-up).
  """

  def __init__(self, modalities, latent_dim=20, style_dim=0, method="mmjsd",
               beta=2.5, beta_style=3.0, prior_weight=0.25, seed=0,
               dynamic_prior="poe", **kwargs):
    super().__init__(**kwargs)
    self.specs = tuple(m if isinstance(m, ModalitySpec) else
                       ModalitySpec.from_dict(m) for m in modalities)
    self.names = tuple(s.name for s in self.specs)
    self.spec_of = {s.name: s for s in self.specs}
    self.method_entry = methods.get(method)
    if dynamic_prior not in methods.DYNAMIC_PRIORS:
      raise ValueError(f"dynamic_prior must be one of "
                       f"{methods.DYNAMIC_PRIORS}, got {dynamic_prior!r}")
    self.dynamic_prior = dynamic_prior
    self.latent_dim, self.style_dim, self.method = latent_dim, style_dim, method
    self.beta, self.beta_style = beta, beta_style
    self.prior_weight = prior_weight
    self.seed = seed
    self.settings = objectives.ObjectiveSettings(
        names=self.names, rec_weights={s.name: s.weight for s in self.specs},
        style_weights={s.name: s.style_weight for s in self.specs},
        beta=beta, beta_style=beta_style, prior_weight=prior_weight,
        dynamic_prior=dynamic_prior)
    self.objective = objectives.of(self.method_entry)
    self.encoders = {s.name: networks.build_encoder(s, latent_dim, style_dim)
                     for s in self.specs}
    self.decoders = {s.name: networks.build_decoder(s, latent_dim, style_dim)
                     for s in self.specs}
    # Build every sub-model now: the optimizer must see all variables.
    for s in self.specs:
      self.encoders[s.name](tf.zeros((1,) + s.shape))
      self.decoders[s.name](tf.zeros((1, latent_dim + style_dim)))
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
               dynamic_prior=config.dynamic_prior, name="multimodal_vae")

  def get_config(self):
    config = super().get_config()
    config.update(modalities=[s.to_dict() for s in self.specs],
                  latent_dim=self.latent_dim, style_dim=self.style_dim,
                  method=self.method, beta=self.beta,
                  beta_style=self.beta_style, prior_weight=self.prior_weight,
                  seed=self.seed, dynamic_prior=self.dynamic_prior)
    return config

  @property
  def metrics(self):
    return list(self.trackers.values())

  @property
  def state_variables(self):
    """{name: variable} of the training state (see the class docstring),
    with the guard's count of skipped batches where there is a guard."""
    state = {"step": self.step, "styles_from_prior": self.styles_from_prior}
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
      {"content": {m: (loc, scale) [B, latent_dim]},
       "style": {m: (loc, scale) [B, style_dim]}} (style empty if none).
    """
    self._check_inputs(inputs)
    out = {"content": {}, "style": {}}
    for m in self.names:
      if m not in inputs:
        continue
      present = None if masks is None else masks.get(m)
      params = self.encoders[m](inputs[m], training=training, present=present)
      out["content"][m] = (params["content_loc"], post.scale_from_log_var(
          params["content_log_var"]))
      if self.style_dim:
        out["style"][m] = (params["style_loc"], post.scale_from_log_var(
            params["style_log_var"]))
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

  def _product(self, locs, scales, mask, names):
    """(loc, scale) [B, D] of the PoE subset posterior of the experts of
    `names` (see methods.Method.product)."""
    kind = self.method_entry.product
    if kind == "subset":  # MoPoE's: N(0, I) only with all M present
      joins = fusion.prior_in_full_product(len(names), len(self.names))
      prior = tf.cast(tf.reduce_all(mask > 0, axis=0), mask.dtype)[None]
      weights = tf.concat([prior if joins(names) else tf.zeros_like(prior),
                           mask], 0)
      prior_loc, prior_scale = post.standard_normal_like(locs[:1])
      return fusion.product_of_experts(tf.concat([prior_loc, locs], 0),
                                       tf.concat([prior_scale, scales], 0),
                                       weights)
    experts = fusion.with_prior(locs, scales, mask, self.prior_weight,
                                len(self.names))
    if kind == "plain":  # MVAE's posterior
      experts = experts[:2] + (tf.concat([tf.ones_like(mask[:1]), mask], 0),)
    return fusion.product_of_experts(*experts)

  def _mixture_components(self, locs, scales, mask, names):
    """(locs, scales [K', B, D], weights [K', B]) of the "mixture"
    posterior's components (see methods.Method.mixture)."""
    if self.method_entry.mixture == "subsets":  # MoPoE's joint posterior
      locs, scales, available = fusion.subset_products(
          locs, scales, mask,
          fusion.prior_in_full_product(len(names), len(self.names)))
      mask = tf.cast(available, locs.dtype)
    return locs, scales, fusion.normalize_weights(mask)

  def fuse(self, content, present, fusion_kind="poe"):
    """Subset posterior from unimodal parameters (see `subset_posterior`).

    Args:
      content: {m: (loc, scale) [B, latent_dim]} for the subset.
      present: {m: float [B]} presence of each of those modalities.
    """
    fusion.check_kind(fusion_kind)
    locs, scales, mask, names = self._experts(content, present)
    if fusion_kind == "poe":
      return post.approx_posterior(*self._product(locs, scales, mask, names))
    locs, scales, weights = self._mixture_components(locs, scales, mask,
                                                     names)
    return tfd.MixtureSameFamily(
        tfd.Categorical(probs=tf.transpose(weights)),  # [B, K']
        tfd.MultivariateNormalDiag(loc=tf.transpose(locs, [1, 0, 2]),
                                   scale_diag=tf.transpose(scales, [1, 0, 2])))

  def _noise(self, seeds):
    """Stateless noise of per-example seeds [B]: (content [B, D] and styles
    {m: [B, S]} from N(0, I), uniform [B, K] to pick one of the K mixture
    components: K = M, or 2^M - 1 subset products for MoPoE)."""
    dim, sdim = self.latent_dim, self.style_dim
    components = len(self.names)
    if self.method_entry.mixture == "subsets":
      components = 2 ** len(self.names) - 1
    normal, uniform = post.per_example_noise(
        seeds, dim + len(self.names) * sdim, components)
    styles = {m: normal[:, dim + i * sdim:dim + (i + 1) * sdim]
              for i, m in enumerate(self.names)} if sdim else None
    return normal[:, :dim], styles, uniform

  def _draw(self, content, present, fusion_kind, noise=None):
    """One sample [B, D] of the subset posterior; with `noise` (from
    `_noise`) a deterministic function of it."""
    if noise is None:
      return self.fuse(content, present, fusion_kind).sample()
    fusion.check_kind(fusion_kind)
    locs, scales, mask, names = self._experts(content, present)
    normal, _, uniform = noise
    if fusion_kind == "poe":
      loc, scale = self._product(locs, scales, mask, names)
      return loc + scale * normal
    locs, scales, weights = self._mixture_components(locs, scales, mask,
                                                     names)
    return fusion.sample_mixture(locs, scales, weights, normal,
                                 uniform[:, :weights.shape[0]])

  def decode(self, content, styles=None, names=None, training=False):
    """Likelihood parameters {m: [B, *shape_m]} of one latent sample.

    Args:
      content: c [B, latent_dim].
      styles: {m: s_m [B, style_dim]}; missing styles are drawn from N(0, I).
      names: modalities to decode (default: all).
      training: run the decoders in training mode (dropout, batch norm).
    """
    out = {}
    for m in names or self.names:
      z = content
      if self.style_dim:
        s = (styles or {}).get(m)
        if s is None:
          s = tf.random.normal([tf.shape(content)[0], self.style_dim])
        z = tf.concat([s, content], axis=-1)
      out[m] = self.decoders[m](z, training=training)
    return out

  @property
  def default_fusion(self):
    """The subset posterior whose samples the decoders were trained on
    (methods.py): "poe" for MVAE and MoPoE, "mixture" for mmJSD and MMVAE
    (which decode samples of the unimodal posteriors; their PoE includes
    the N(0, I) factor and pulls samples to the origin)."""
    return self.method_entry.decoding

  def log_prob(self, name, x, params):
    """[B] log p(x | params) of modality `name` (x [B, *shape]; params the
    decoder's output), with the decoder's learned scale where it has one."""
    return likelihoods.log_prob(self.spec_of[name], x, params,
                                self.decoders[name].likelihood_scale)

  def _means(self, params):
    return {m: likelihoods.mean(self.spec_of[m], p) for m, p in params.items()}

  # --- inference on tensors: the Python API and the SavedModel signatures --
  #
  # `inputs` holds any subset of the modalities ({m: [B, *shape_m]}) and
  # `masks` ({m: bool [B]}) marks which examples have each one, so a batch
  # may mix subsets: the export feeds every modality (zeros where absent)
  # with a mask. An example with no present modality is an error, never NaN.
  # `seed` (an int, or int [B] per example) makes sampling stateless: the
  # same example and seed give the same output in any batch.

  def _inference_inputs(self, inputs, masks, seed):
    """(inputs checked to be finite, presence {m: float [B]}, batch size,
    per-example seeds or None)."""
    self._check_inputs(inputs)
    inputs = {m: tf.debugging.check_numerics(
        x, f"modality {m!r}: the input has NaN or infinite values")
              for m, x in inputs.items()}
    present = self._present(inputs, masks)
    batch = tf.shape(next(iter(inputs.values())))[0]
    return inputs, present, batch, _seeds(seed, batch)

  def representation(self, inputs, masks=None):
    """The PoE subset posterior of the present modalities: the joint
    representation most users want.

    Returns:
      {"loc", "scale": [B, latent_dim]}.
    """
    inputs, present, _, _ = self._inference_inputs(inputs, masks, None)
    poe = self.fuse(self.encode(inputs)["content"], present, "poe")
    return {"loc": poe.mean(), "scale": poe.stddev()}

  def posterior_parameters(self, inputs, masks=None):
    """Every posterior of the present subset, as tensors.

    Returns:
      {"content_loc_<m>", "content_scale_<m>": [B, latent_dim] per modality
       in `inputs` (the encoder's output, also where m is absent),
       "style_loc_<m>", "style_scale_<m>": [B, style_dim] if style_dim,
       "poe_loc", "poe_scale": [B, latent_dim] of the PoE subset posterior,
       "mixture_mean", "mixture_stddev": [B, latent_dim] of the mixture}.
    """
    inputs, present, _, _ = self._inference_inputs(inputs, masks, None)
    encoded = self.encode(inputs)
    out = {}
    for kind in ("content", "style"):
      for m, (loc, scale) in encoded[kind].items():
        out[f"{kind}_loc_{m}"], out[f"{kind}_scale_{m}"] = loc, scale
    poe = self.fuse(encoded["content"], present, "poe")
    out["poe_loc"], out["poe_scale"] = poe.mean(), poe.stddev()
    mixture = self.fuse(encoded["content"], present, "mixture")
    out["mixture_mean"] = mixture.mean()
    out["mixture_stddev"] = mixture.stddev()
    return out

  def generate(self, inputs, masks=None, fusion_kind=None, names=None,
               seed=None):
    """Conditional generation: likelihood means of every modality (or
    `names`) from one sample of the subset posterior of `inputs`
    (`fusion_kind`, default `default_fusion`). Styles of generated
    modalities are drawn from N(0, I).

    Returns:
      {m: [B, *shape_m]} (one-hot argmax symbols for categorical ones).
    """
    inputs, present, _, seeds = self._inference_inputs(inputs, masks, seed)
    noise = None if seeds is None else self._noise(seeds)
    content = self._draw(self.encode(inputs)["content"], present,
                         fusion_kind or self.default_fusion, noise)
    styles = None if noise is None else noise[1]  # None: drawn in decode
    return self._means(self.decode(content, styles, names))

  def reconstruct(self, inputs, masks=None, fusion_kind=None):
    """Every modality decoded from the posterior means (no sampling).

    c is the mean of the subset posterior (`fusion_kind`, default
    `default_fusion`); a modality's style is its own posterior mean where it
    is present and 0, the prior mean, where it is not.

    Returns:
      {m: [B, *shape_m]} likelihood means.
    """
    inputs, present, batch, _ = self._inference_inputs(inputs, masks, None)
    encoded = self.encode(inputs)
    content = self.fuse(encoded["content"], present,
                        fusion_kind or self.default_fusion).mean()
    styles = None
    if self.style_dim:
      styles = {m: tf.zeros([batch, self.style_dim]) for m in self.names}
      for m, (loc, _) in encoded["style"].items():
        styles[m] = loc * present[m][:, None]
    return self._means(self.decode(content, styles))

  def sample(self, num=None, seed=None):
    """Unconditional generation: c and all s_m from N(0, I).

    Args:
      num: number of samples (stateful random draws), or
      seed: int [N] (one stateless sample per seed; `num` then unused).

    Returns:
      {m: [N, *shape_m]} likelihood means.
    """
    if seed is None:
      content = tf.random.normal([num, self.latent_dim])
      return self._means(self.decode(content))
    seeds = tf.cast(seed, tf.int64)
    if seeds.shape.rank != 1:
      raise ValueError(f"seed must be int [N], one per sample, got shape "
                       f"{seeds.shape}")
    content, styles, _ = self._noise(seeds)
    return self._means(self.decode(content, styles))

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

  # --- training ----------------------------------------------------------

  def compute_terms(self, batch, training=False):
    """Per-example objective terms {name: [B]} of a batch.

    In training the noise is stateless, keyed by (seed, step) and the
    example's row in the global batch (noise.py), and while the state
    `styles_from_prior` is set the decoders get style samples from N(0, I)
    instead of q(s_m | x_m) (the style warm-up of ExperimentConfig); the
    style KLs still pull q(s_m | x_m) towards N(0, I), so the switch to
    the posteriors afterwards is smooth. Outside training the draws are
    stateful and the styles are the posteriors'.
    """
    inputs = batch["inputs"]
    missing = [m for m in self.names if m not in inputs]
    if missing:
      raise ValueError(f"a training batch needs every modality (use masks "
                       f"for absent ones); missing {missing}")
    posteriors = self.encode(inputs, training=training,
                             masks=batch.get("masks"))
    dtype = next(iter(posteriors["content"].values()))[0].dtype
    present = self._present(inputs, batch.get("masks"), dtype)
    if training:
      noise = noise_lib.for_replica(self.seed, self.step,
                                    tf.shape(inputs[self.names[0]])[0])
      from_prior = tf.convert_to_tensor(self.styles_from_prior)
    else:
      noise, from_prior = noise_lib.Noise(), None

    def log_likelihood(content, styles, names):
      if from_prior is not None and styles:
        styles = {m: tf.where(from_prior, noise.normal(s), s)
                  for m, s in styles.items()}
      params = self.decode(content, styles, names, training=training)
      return {m: self.log_prob(m, inputs[m], params[m]) for m in names}

    return self.objective(posteriors, present, log_likelihood, self.settings,
                          noise)

  def _update_trackers(self, terms, ok=None):
    """Adds the terms to the running means; with `ok` (bool scalar) False,
    adds nothing (a skipped step's terms may be NaN)."""
    for name, tracker in self.trackers.items():
      if ok is None:
        tracker.update_state(terms[name])
      else:
        weight = tf.cast(ok, terms[name].dtype)
        tracker.update_state(tf.where(ok, terms[name], 0.0),
                             sample_weight=weight * tf.ones_like(terms[name]))
    return {name: tracker.result() for name, tracker in self.trackers.items()}

  def train_step(self, data):
    """One update on a replica's batch, as Keras's own train_step does it:
    the loss (float32 under any precision policy) is the mean over the
    global batch, scaled by the optimizer's loss scale where it has one.
    With a `guard`, a step whose terms or gradients are not finite applies
    no update (guard.py)."""
    with tf.GradientTape() as tape:
      terms = self.compute_terms(data, training=True)
      loss = tf.nn.compute_average_loss(terms["loss"])
      loss = self.optimizer.scale_loss(loss)
    grads = tape.gradient(loss, self.trainable_variables)

    def apply(grads):
      self.optimizer.apply_gradients(zip(grads, self.trainable_variables))

    ok = None
    if self.guard is None:
      apply(grads)
    else:
      ok = self.guard.check(terms, grads, self.step)
      guard_lib.apply_if(apply, ok, grads)
    self.step.assign_add(1)
    return self._update_trackers(terms, ok)

  def test_step(self, data):
    return self._update_trackers(self.compute_terms(data, training=False))
