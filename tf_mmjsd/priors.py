"""Priors with trainable parameters: the auxiliary prior of MMVAE+'s
modality-specific codes (methods/mmvaeplus.py)."""

import keras
import tensorflow as tf

# Added to the softplus, as the authors' Constants.eta.
SCALE_FLOOR = 1e-6


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class AuxiliaryStylePrior(keras.layers.Layer):
  """r_m(s_m) = N(0, diag sigma_m^2) for every modality m, with a
  trainable sigma_m = softplus(rho_m) + SCALE_FLOOR [style_dim]
  (rho_m starts at 0: sigma = log 2). MMVAE+ decodes a modality from
  another's shared code with a style drawn from it, so that the decoder
  cannot rely on that style to carry shared content.

  Args:
    names: the modalities' names.
    style_dim: size of each style code.
  """

  def __init__(self, names, style_dim, **kwargs):
    super().__init__(**kwargs)
    self.names = tuple(names)
    self.style_dim = style_dim
    self.raw_scales = {
        m: self.add_weight(shape=(style_dim,), initializer="zeros",
                           dtype="float32", name=f"raw_scale_{m}")
        for m in self.names}

  def scale(self, name):
    """sigma_m [style_dim] of modality `name`."""
    return tf.nn.softplus(self.raw_scales[name]) + SCALE_FLOOR

  def get_config(self):
    return {**super().get_config(), "names": list(self.names),
            "style_dim": self.style_dim}
