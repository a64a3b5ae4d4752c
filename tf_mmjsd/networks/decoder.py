"""Base class of decoders: z = [s_m, c] -> likelihood parameters."""

import keras


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class Decoder(keras.Model):
  """Subclasses set `self.body`, a list of layers applied in order.

  Call: z [B, style_dim + latent_dim] (style first) -> [B, *data_shape]:
  the Laplace loc (after `output_activation`) or categorical logits. The
  last layer computes in float32 under any mixed-precision policy, so the
  likelihood parameters are float32.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", **kwargs):
    super().__init__(**kwargs)
    self.data_shape = tuple(data_shape)
    self.latent_dim = latent_dim
    self.style_dim = style_dim
    self.output_activation = output_activation
    self.input_dim = latent_dim + style_dim
    self.body = []

  def call(self, z):
    h = z
    for layer in self.body:
      h = layer(h)
    if self.output_activation == "sigmoid":
      h = keras.ops.sigmoid(h)
    return h

  def get_config(self):
    config = super().get_config()
    config.update(data_shape=list(self.data_shape), latent_dim=self.latent_dim,
                  style_dim=self.style_dim,
                  output_activation=self.output_activation)
    return config
