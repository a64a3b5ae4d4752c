"""Dense classifier of examples of any other shape (flattened)."""

import keras

from tf_mmjsd.networks.classifier import Classifier


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class VectorClassifier(Classifier):
  """x [B, *shape] -> flatten -> Dense 256 ReLU -> Dense 128 ReLU -> logits."""

  def __init__(self, data_shape, num_classes, **kwargs):
    super().__init__(data_shape, num_classes, **kwargs)
    self.body = [
        keras.layers.Flatten(),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(self.FEATURES, activation="relu", name="features"),
    ]
