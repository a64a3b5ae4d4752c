"""Base class of decoders: z = [s_m, c] -> likelihood parameters."""

import math

import keras

from tf_mmjsd.networks.masked_batch_normalization import apply_layers

# The learned scale of a Laplace or normal likelihood is MIN_SCALE +
# exp(log_scale): never below MIN_SCALE, and with a gradient everywhere
# (a max() floor has none below it, so a scale could stick there).
MIN_SCALE = 1e-3


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class Decoder(keras.Model):
  """Subclasses set `self.body`, a list of layers applied in order.

  Call: z [B, style_dim + latent_dim] (style first) -> [B, *data_shape]:
  the loc of a Laplace or normal likelihood (after `output_activation`), or
  Bernoulli / categorical logits. The last layer computes in float32 under
  any mixed-precision policy, so the likelihood parameters are float32.

  With `learned_scale`, the decoder also holds one log-scale per data
  dimension (float32 [*data_shape]); `likelihood_scale` is MIN_SCALE +
  exp(log_scale), the same for every example, starting at initial_scale
  (at least 2 * MIN_SCALE). (Earlier runs used max(exp(log_scale),
  MIN_SCALE); their checkpoints load unchanged and their scales move by at
  most MIN_SCALE.) Otherwise `likelihood_scale` is None (the spec's fixed scale).
  """

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", learned_scale=False,
               initial_scale=0.75, **kwargs):
    super().__init__(**kwargs)
    self.data_shape = tuple(data_shape)
    self.latent_dim = latent_dim
    self.style_dim = style_dim
    self.output_activation = output_activation
    self.learned_scale = bool(learned_scale)
    self.initial_scale = float(initial_scale)
    self.input_dim = latent_dim + style_dim
    self.body = []
    if self.learned_scale:
      self.log_scale = self.add_weight(
          shape=self.data_shape, dtype="float32", autocast=False,
          initializer=keras.initializers.Constant(
              math.log(max(self.initial_scale - MIN_SCALE, MIN_SCALE))),
          name="log_scale")

  @property
  def likelihood_scale(self):
    """float32 [*data_shape] learned scale, or None (fixed scale)."""
    if not self.learned_scale:
      return None
    return MIN_SCALE + keras.ops.exp(self.log_scale)

  def call(self, z, present=None):
    """`present` (bool [B], optional) marks the rows whose modality is
    observed; layers with batch statistics use those rows only (the
    others' latent codes come from inputs that are not data)."""
    h = apply_layers(self.body, z, present)
    if self.output_activation == "sigmoid":
      h = keras.ops.sigmoid(h)
    return h

  def get_config(self):
    config = super().get_config()
    config.update(data_shape=list(self.data_shape), latent_dim=self.latent_dim,
                  style_dim=self.style_dim,
                  output_activation=self.output_activation,
                  learned_scale=self.learned_scale,
                  initial_scale=self.initial_scale)
    return config
