"""Base class of encoders that end in Gaussian (loc, log-variance) heads."""

import keras

from tf_mmjsd import posteriors
from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.masked_batch_normalization import apply_layers


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class GaussianEncoder(keras.Model):
  """A feature network followed by linear heads for c (and s_m).

  Subclasses set `self.body` (a list of layers) and `self.feature_dim`.
  `call` returns parameter tensors so that the encoder composes inside
  functional Keras models and exports; `approx_posterior` returns
  distributions.

  Call returns {"content_loc", "content_log_var": [B, latent_dim]} plus
  {"style_loc", "style_log_var": [B, style_dim]} when style_dim > 0.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0, **kwargs):
    super().__init__(**kwargs)
    self.data_shape = tuple(data_shape)
    self.latent_dim = latent_dim
    self.style_dim = style_dim
    self.body = []
    self.feature_dim = None

  def _make_heads(self):
    # float32 even under a mixed-precision policy: posterior parameters
    # (and the variance floor of scale_from_log_var) need its range.
    f, head = self.feature_dim, {"dtype": "float32"}
    self.content_loc = initializers.dense(self.latent_dim, f, name="c_loc",
                                          **head)
    self.content_log_var = initializers.dense(self.latent_dim, f,
                                              name="c_log_var", **head)
    if self.style_dim:
      self.style_loc = initializers.dense(self.style_dim, f, name="s_loc",
                                          **head)
      self.style_log_var = initializers.dense(self.style_dim, f,
                                              name="s_log_var", **head)

  def call(self, x, present=None):
    """`present` (bool [B], optional) marks the rows that hold data; layers
    with batch statistics use those rows only (absent ones are zeros)."""
    h = apply_layers(self.body, x, present)
    out = {"content_loc": self.content_loc(h),
           "content_log_var": self.content_log_var(h)}
    if self.style_dim:
      out["style_loc"] = self.style_loc(h)
      out["style_log_var"] = self.style_log_var(h)
    return out

  def posterior_parameters(self, x, training=False, present=None):
    """{"content": (loc, scale) [B, latent_dim]} and, when style_dim > 0,
    {"style": (loc, scale) [B, style_dim]}: the one place where the heads'
    log-variances become scales (posteriors.scale_from_log_var)."""
    params = self(x, training=training, present=present)
    out = {"content": (params["content_loc"], posteriors.scale_from_log_var(
        params["content_log_var"]))}
    if self.style_dim:
      out["style"] = (params["style_loc"], posteriors.scale_from_log_var(
          params["style_log_var"]))
    return out

  def approx_posterior(self, x):
    """{"content": MVNDiag [B] x [latent_dim], "style": ... [style_dim]}."""
    return {part: posteriors.approx_posterior(*params)
            for part, params in self.posterior_parameters(x).items()}

  def get_config(self):
    config = super().get_config()
    config.update(data_shape=list(self.data_shape), latent_dim=self.latent_dim,
                  style_dim=self.style_dim)
    return config
