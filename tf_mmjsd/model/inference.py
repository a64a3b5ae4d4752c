"""The inference API of MultimodalVAE on tensors, shared by the Python API
and the SavedModel signatures (serving.py).

`inputs` holds any subset of the modalities ({m: [B, *shape_m]}) and
`masks` ({m: bool [B]}) marks which examples have each one, so a batch may
mix subsets: the export feeds every modality (zeros where absent) with a
mask. An example with no present modality is an error, never NaN. `seed`
(an int, or int [B] per example) makes sampling stateless (noise.
per_example): the same example and seed give the same output in any batch.
"""

import tensorflow as tf

from tf_mmjsd import fusion, likelihoods, noise as noise_lib


def _seeds(seed, batch):
  """None, or int64 [B] per-example seeds from an int or int [B]."""
  if seed is None:
    return None
  seed = tf.cast(seed, tf.int64)
  if seed.shape.rank == 0:
    return tf.fill([batch], seed)
  return seed


class InferenceAPI:
  """Mixed into MultimodalVAE: representation, posterior_parameters,
  generate, reconstruct and sample, built on its encode, fuse and decode."""

  def _noise(self, seeds):
    """Stateless noise of per-example seeds [B]: (content [B, D] and styles
    {m: [B, S]} from N(0, I), uniform [B, K] to pick one of the K mixture
    components: K = M, or 2^M - 1 subset products for MoPoE)."""
    dim, sdim = self.latent_dim, self.style_dim
    normal, uniform = noise_lib.per_example(
        seeds, dim + len(self.names) * sdim,
        fusion.mixture_size(self.method_entry, len(self.names)))
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
      loc, scale = self._product(locs, scales, mask, names,
                                 content.get(fusion.JOINT))
      return loc + scale * normal
    locs, scales, weights = self._mixture_components(locs, scales, mask,
                                                     names)
    return fusion.sample_mixture(locs, scales, weights, normal,
                                 uniform[:, :weights.shape[0]])

  def _means(self, params):
    return {m: likelihoods.mean(self.spec_of[m], p) for m, p in params.items()}

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
      A dict: "content_loc_<m>", "content_scale_<m>": [B, latent_dim] per
        modality in `inputs` (the encoder's output, also where m is
        absent); "style_loc_<m>", "style_scale_<m>": [B, style_dim] if
        style_dim; "poe_loc", "poe_scale": [B, latent_dim] of the PoE
        subset posterior; "mixture_mean", "mixture_stddev": [B,
        latent_dim] of the mixture.
    """
    inputs, present, _, _ = self._inference_inputs(inputs, masks, None)
    encoded = self.encode(inputs)
    out = {}
    for kind in ("content", "style"):
      for m in self.names:
        if m in encoded[kind]:
          loc, scale = encoded[kind][m]
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

  def decode_means(self, content, names=None):
    """Likelihood means {m: [B, *shape_m]} of the modalities `names`
    (default: all) decoded from latent samples c [B, latent_dim], with
    styles drawn from N(0, I)."""
    return self._means(self.decode(content, None, names))

  def sample(self, num=None, seed=None, prior=None):
    """Unconditional generation: c from N(0, I) (or `prior`), all s_m from
    N(0, I).

    Args:
      num: number of samples (stateful random draws), or
      seed: int [N] (one stateless sample per seed; `num` then unused).
      prior: a LatentMixture (model/latent_mixture.py) to draw c from.

    Returns:
      {m: [N, *shape_m]} likelihood means.
    """
    if seed is None:
      content = (noise_lib.stateful_normal([num, self.latent_dim])
                 if prior is None else prior.sample(num))
      return self.decode_means(content)
    seeds = tf.cast(seed, tf.int64)
    if seeds.shape.rank != 1:
      raise ValueError(f"seed must be int [N], one per sample, got shape "
                       f"{seeds.shape}")
    content, styles, uniform = self._noise(seeds)
    if prior is not None:
      content = prior.draw(content, uniform)
    return self._means(self.decode(content, styles))
