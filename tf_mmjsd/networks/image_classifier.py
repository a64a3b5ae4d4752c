"""Convolutional classifier of images of any size (NHWC)."""

import keras

from tf_mmjsd.networks.classifier import Classifier


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ImageClassifier(Classifier):
  """x [B, H, W, C] -> logits [B, num_classes].

  Conv 32/64/128 (k3 s2 same, ReLU) -> flatten -> Dense 128 ReLU (the
  features) -> logits. Small enough to train on 60k digits in
  seconds per epoch on two CPU cores.
  """

  INPUT_RANK, INPUT = 3, "[H, W, C] images"

  def __init__(self, data_shape, num_classes, **kwargs):
    super().__init__(data_shape, num_classes, **kwargs)
    conv = keras.layers.Conv2D
    self.body = [
        conv(32, 3, strides=2, padding="same", activation="relu"),
        conv(64, 3, strides=2, padding="same", activation="relu"),
        conv(128, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(self.FEATURES, activation="relu", name="features"),
    ]
