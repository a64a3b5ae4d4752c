"""Image features for PRD and FID: Inception-v3 if local, else classifiers.

A feature function maps (modality, images [B, H, W, C] in [0, 1]) to
features [B, F]. Inception-v3 weights cannot be downloaded offline; give a
local Keras `InceptionV3(include_top=False)` weights file to use them.
"""


import keras
import tensorflow as tf

from tf_mmjsd import files
from tf_mmjsd.errors import UsageError

INCEPTION = "inception_v3"
CLASSIFIER = "classifier"


class FeatureError(UsageError, ValueError):
  """The requested feature network cannot be loaded."""


def classifier_features(classifiers):
  """Penultimate activations [B, 128] of each modality's own classifier."""
  return lambda name, x: classifiers[name].features(x)


def inception_features(weights_path, image_size=299):
  """2048-d pooled Inception-v3 features of images resized to image_size.

  Grey images are repeated to 3 channels; pixels are mapped to [-1, 1] as
  Inception-v3 expects.
  """
  if not files.isfile(weights_path):
    raise FeatureError(f"--inception_weights={weights_path}: no such file")
  try:
    net = keras.applications.InceptionV3(
        include_top=False, weights=weights_path, pooling="avg",
        input_shape=(image_size, image_size, 3))
  except (ValueError, OSError) as e:
    raise FeatureError(f"--inception_weights={weights_path} is not a "
                       f"Keras InceptionV3 no-top weights file: {e}") from e

  def extract(name, x):
    del name
    if x.shape[-1] == 1:
      x = tf.repeat(x, 3, axis=-1)
    x = tf.image.resize(x, [image_size, image_size])
    return net(x * 2.0 - 1.0)

  return extract


def feature_function(config, classifiers):
  """(name, fn): Inception-v3 when config.inception_weights is set, else
  the classifiers'; (None, None) where there are neither (unlabelled data
  train no classifiers)."""
  if config.inception_weights:
    return INCEPTION, inception_features(config.inception_weights)
  if not classifiers:
    return None, None
  return CLASSIFIER, classifier_features(classifiers)
