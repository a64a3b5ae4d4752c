"""Base class of the modality classifiers that judge generated samples."""

import keras


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class Classifier(keras.Model):
  """A feature network followed by a linear layer of class logits.

  Subclasses set `self.body` (a list of layers ending in [B, FEATURES]).
  `call(x [B, *data_shape])` returns logits [B, num_classes];
  `features(x)` returns the penultimate activations [B, FEATURES] that
  sample-quality metrics (PRD, FID) compare when no Inception-v3 is at hand.
  """

  FEATURES = 128
  INPUT_RANK = None  # rank of data_shape a subclass requires (None: any)
  INPUT = ""  # what such inputs are, for the error message

  def __init__(self, data_shape, num_classes, **kwargs):
    super().__init__(**kwargs)
    self.data_shape = tuple(int(d) for d in data_shape)
    self.num_classes = int(num_classes)
    if self.num_classes < 2:
      raise ValueError(f"a classifier needs >= 2 classes, got {num_classes}")
    if self.INPUT_RANK and len(self.data_shape) != self.INPUT_RANK:
      raise ValueError(f"{type(self).__name__} takes {self.INPUT}, got "
                       f"{data_shape}")
    self.body = []
    self.logits = keras.layers.Dense(self.num_classes, name="logits")

  def features(self, x):
    h = x
    for layer in self.body:
      h = layer(h)
    return h

  def call(self, x):
    return self.logits(self.features(x))

  def get_config(self):
    config = super().get_config()
    config.update(data_shape=list(self.data_shape),
                  num_classes=self.num_classes)
    return config
