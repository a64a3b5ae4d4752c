"""Feature functions of PRD/FID: classifier features and local Inception-v3."""

import keras
import numpy as np
import pytest

from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs
from tf_mmjsd import networks
from tf_mmjsd.evaluation import features


def test_classifier_features_are_the_penultimate_layer():
  spec = mnist_svhn_text_specs()[1]
  clf = networks.build_classifier(spec, 10)
  fn = features.classifier_features({"svhn": clf})
  x = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
  np.testing.assert_allclose(fn("svhn", x), clf.features(x))
  assert fn("svhn", x).shape == (3, 128)


def test_inception_features_from_a_local_weights_file(tmp_path):
  # Random weights stand in for the real file (no download here); a small
  # input size keeps the test fast.
  path = str(tmp_path / "inception.weights.h5")
  keras.applications.InceptionV3(include_top=False, weights=None,
                                 pooling="avg", input_shape=(75, 75, 3)
                                 ).save_weights(path)
  fn = features.inception_features(path, image_size=75)
  grey = np.random.default_rng(1).random((2, 28, 28, 1)).astype(np.float32)
  out = fn("mnist", grey)
  assert out.shape == (2, 2048) and np.isfinite(out).all()


def test_missing_or_wrong_inception_weights_are_named(tmp_path):
  with pytest.raises(features.FeatureError, match="no such file"):
    features.inception_features(str(tmp_path / "none.h5"))
  bad = tmp_path / "bad.weights.h5"
  bad.write_text("not weights")
  with pytest.raises(features.FeatureError, match="not a Keras InceptionV3"):
    features.inception_features(str(bad), image_size=75)
