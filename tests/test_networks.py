"""Encoders and decoders: parameter counts, shapes, config and saving."""

import numpy as np
import keras
import pytest

from tf_mmjsd import networks
from tf_mmjsd.data.specs import mnist_svhn_text_specs

# DESIGN.md section 5: encoder, decoder parameters per modality.
COUNTS = {"mnist": (330_040, 322_784), "svhn": (236_360, 233_763),
          "text": (145_704, 143_175)}


def _built(spec, style_dim=0):
  enc = networks.build_encoder(spec, 20, style_dim)
  dec = networks.build_decoder(spec, 20, style_dim)
  enc(np.zeros((2,) + spec.shape, np.float32))
  dec(np.zeros((2, 20 + style_dim), np.float32))
  return enc, dec


@pytest.mark.parametrize("spec", mnist_svhn_text_specs(), ids=lambda s: s.name)
def test_parameter_counts_and_shapes(spec):
  enc, dec = _built(spec)
  assert (enc.count_params(), dec.count_params()) == COUNTS[spec.name]
  out = enc(np.zeros((3,) + spec.shape, np.float32))
  assert set(out) == {"content_loc", "content_log_var"}
  assert out["content_loc"].shape == (3, 20)
  assert dec(np.zeros((3, 20), np.float32)).shape == (3,) + spec.shape


def test_total_parameters_of_the_non_ms_model():
  assert sum(sum(c) for c in COUNTS.values()) == 1_411_826


def test_style_heads_and_posteriors():
  spec = mnist_svhn_text_specs()[1]
  enc, dec = _built(spec, style_dim=4)
  post = enc.approx_posterior(np.zeros((5,) + spec.shape, np.float32))
  assert post["content"].event_shape == (20,)
  assert post["style"].event_shape == (4,) and post["style"].batch_shape == (5,)
  assert dec(np.zeros((5, 24), np.float32)).shape == (5, 32, 32, 3)


def test_torch_default_initialisation_bounds():
  spec = mnist_svhn_text_specs()[0]
  enc, _ = _built(spec)
  kernel, bias = enc.body[1].get_weights()
  bound = np.float32(1 / np.sqrt(784))  # the float32 limit Keras draws in
  assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
  assert np.abs(kernel).max() > 0.9 * bound


@pytest.mark.parametrize("spec", mnist_svhn_text_specs(), ids=lambda s: s.name)
def test_config_and_saved_model_round_trip(spec, tmp_path):
  classifier = networks.build_classifier(spec, 10)
  classifier(np.zeros((1,) + spec.shape, np.float32))
  for net in _built(spec, style_dim=2) + (classifier,):
    clone = type(net).from_config(net.get_config())
    assert clone.get_config() == net.get_config()
    path = str(tmp_path / f"{net.name}.keras")
    net.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(0).random(
        (2,) + ((net.input_dim,) if hasattr(net, "input_dim")
                else tuple(net.data_shape))).astype(np.float32)
    want, got = net(x), loaded(x)
    if isinstance(want, dict):
      for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6)
    else:
      np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_encoder_composes_in_a_functional_keras_model():
  spec = mnist_svhn_text_specs()[2]
  enc = networks.build_encoder(spec, 20)
  inputs = keras.Input(spec.shape)
  loc = enc(inputs)["content_loc"]
  probe = keras.Model(inputs, keras.layers.Dense(10)(loc))
  assert probe(np.zeros((2,) + spec.shape, np.float32)).shape == (2, 10)


@pytest.mark.parametrize("spec,cls", list(zip(mnist_svhn_text_specs(), [
    networks.ImageClassifier, networks.ImageClassifier,
    networks.TextClassifier])), ids=lambda x: getattr(x, "name", ""))
def test_classifiers_by_shape(spec, cls):
  clf = networks.build_classifier(spec, 10)
  assert type(clf) is cls  # pylint: disable=unidiomatic-typecheck
  x = np.zeros((3,) + spec.shape, np.float32)
  assert clf(x).shape == (3, 10)
  assert clf.features(x).shape == (3, networks.Classifier.FEATURES)


def test_vector_classifier_and_bad_classes():
  from tf_mmjsd.data.specs import ModalitySpec  # pylint: disable=g-import-not-at-top
  spec = ModalitySpec("v", (6,), "laplace", "mlp")
  clf = networks.build_classifier(spec, 3)
  assert isinstance(clf, networks.VectorClassifier)
  assert clf(np.zeros((2, 6), np.float32)).shape == (2, 3)
  with pytest.raises(ValueError, match=">= 2 classes"):
    networks.build_classifier(spec, 1)


def test_classifiers_refuse_inputs_of_the_wrong_rank():
  with pytest.raises(ValueError, match=r"ImageClassifier takes \[H, W, C\]"):
    networks.ImageClassifier((28, 28), 10)
  with pytest.raises(ValueError, match="TextClassifier takes .length"):
    networks.TextClassifier((8, 71, 1), 10)
  assert networks.VectorClassifier((2, 3, 4, 5), 10).data_shape == (2, 3, 4, 5)
