"""1-D convolutional classifier of one-hot symbol sequences."""

import keras

from tf_mmjsd.networks.classifier import Classifier


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class TextClassifier(Classifier):
  """x [B, L, alphabet] (one-hot) -> logits [B, num_classes].

  Conv1D 64 (k3 same, ReLU) -> Conv1D 128 (k3 same, ReLU) -> global max
  pool over positions (a word may start anywhere) -> Dense 128 ReLU -> logits.
  """

  INPUT_RANK, INPUT = 2, "[length, alphabet] one-hot sequences"

  def __init__(self, data_shape, num_classes, **kwargs):
    super().__init__(data_shape, num_classes, **kwargs)
    conv = keras.layers.Conv1D
    self.body = [
        conv(64, 3, padding="same", activation="relu"),
        conv(128, 3, padding="same", activation="relu"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(self.FEATURES, activation="relu", name="features"),
    ]
