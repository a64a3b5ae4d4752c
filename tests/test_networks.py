"""Encoders and decoders: parameter counts, shapes, config and saving."""

import numpy as np
import keras
import pytest
import tensorflow as tf

from tf_mmjsd import networks
from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs
from tf_mmjsd.data.specs import parse_modality

# docs/reference_settings.md, networks: encoder, decoder parameters per modality.
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


# --- families of any shape (conv, sequence, mlp) ---------------------------

FAMILY_SPECS = [
    "scan:64x64x3:laplace:conv", "odd:37x21x2:normal:conv:width=8",
    "tiny:3x3x1:bernoulli:conv:width=4", "big:65x65x1:laplace:conv:width=4",
    "report:200x40:categorical:sequence:width=16",
    "odd_seq:13x5:categorical:sequence:width=8",
    "one:1x7:categorical:sequence:width=8",
    "labs:30:normal:mlp:scale=learned:hidden=32,16",
    "grid:5x6:bernoulli:mlp:hidden=8",
]


@pytest.mark.slow
@pytest.mark.parametrize("text", FAMILY_SPECS, ids=lambda t: t.split(":")[0])
def test_families_build_any_shape_round_trip_and_train(text, tmp_path):
  """Every family takes the shape, round-trips its config and .keras file,
  and every variable of encoder and decoder gets a non-zero gradient."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import likelihoods  # pylint: disable=g-import-not-at-top
  spec = parse_modality(text)
  # Narrow ReLU nets can start dead for an unlucky initialisation; a fixed
  # seed keeps the test independent of the tests that ran before it.
  keras.utils.set_random_seed(1)
  enc, dec = _built(spec, style_dim=2)
  rng = np.random.default_rng(0)
  x = rng.random((4,) + spec.shape).astype(np.float32)
  if spec.likelihood == "categorical":
    x = np.eye(spec.shape[-1], dtype=np.float32)[
        rng.integers(0, spec.shape[-1], (4, spec.shape[0]))]
  with tf.GradientTape() as tape:
    out = enc(x)
    z = tf.concat([out["style_loc"], out["content_loc"]], -1)
    params = dec(z)
    loss = -tf.reduce_sum(likelihoods.log_prob(spec, x, params,
                                               dec.likelihood_scale))
    loss += tf.reduce_sum(out["content_log_var"]) + tf.reduce_sum(
        out["style_log_var"])
  assert params.shape == (4,) + spec.shape
  variables = enc.trainable_variables + dec.trainable_variables
  grads = tape.gradient(loss, variables)
  dead = [v.path for v, g in zip(variables, grads)
          if g is None or not np.any(g.numpy())]
  assert not dead
  assert (dec.likelihood_scale is not None) == spec.learned_scale
  for net, inp in ((enc, x), (dec, z.numpy())):
    clone = type(net).from_config(net.get_config())
    assert clone.get_config() == net.get_config()
    clone(inp)
    assert clone.count_params() == net.count_params()
    path = str(tmp_path / f"{net.name}.keras")
    net.save(path)
    want, got = net(inp), keras.models.load_model(path)(inp)
    for k in (want if isinstance(want, dict) else [None]):
      np.testing.assert_allclose(got[k] if k else got, want[k] if k else want,
                                 rtol=1e-5, atol=1e-5)


def test_geometry_of_the_paper_networks_and_odd_sizes():
  from tf_mmjsd.networks import geometry  # pylint: disable=g-import-not-at-top
  assert geometry.plan((32, 32)) == (3, (4, 4))  # svhn: 16, 8, 4 -> 1
  assert geometry.plan((8,)) == (1, (4,))        # text: 4 -> 1
  assert geometry.plan((28, 28)) == (3, (4, 4))  # 14, 7, 4
  assert geometry.plan((65, 17)) == (5, (3, 1))  # 33 17 9 5 3 / 9 5 3 2 1
  assert geometry.plan((200,)) == (6, (4,))      # 100 50 25 13 7 4
  assert geometry.plan((3,)) == (0, (3,))


def test_conv_decoder_crops_the_overshoot_to_the_data_size():
  spec = parse_modality("odd:37x21x2:normal:conv:width=8")
  dec = networks.build_decoder(spec, 20)
  # 37 and 21 halve 4 times to 3 and 2; the doublings make 48 x 32.
  assert dec.body[-1].name == "crop"
  assert dec.body[-1].cropping == ((5, 6), (5, 6))
  assert dec(np.zeros((1, 20), np.float32)).shape == (1, 37, 21, 2)


def test_widths_and_hidden_sizes_change_the_networks():
  small = networks.build_encoder(parse_modality(
      "s:32x32x3:laplace:conv:width=16"), 20)
  small(np.zeros((1, 32, 32, 3), np.float32))
  assert small.count_params() < COUNTS["svhn"][0] / 3
  mlp = networks.build_decoder(parse_modality("v:30:normal:mlp:hidden=64,32"),
                               20)
  assert [l.units for l in mlp.body[:2]] == [32, 64]  # the encoder mirrored


def _block_layers(encoder):
  from tf_mmjsd.networks.residual_block import ResidualBlock  # pylint: disable=g-import-not-at-top
  return [l for block in encoder.body if isinstance(block, ResidualBlock)
          for l in block.main + block.shortcut]


def _without_dropout(encoder):
  for layer in _block_layers(encoder):
    if isinstance(layer, keras.layers.Dropout):
      layer.rate = 0.0
  return encoder


def _batch_norms(encoder):
  from tf_mmjsd.networks.masked_batch_normalization import (  # pylint: disable=g-import-not-at-top
      MaskedBatchNormalization)
  norms = [l for l in _block_layers(encoder)
           if isinstance(l, MaskedBatchNormalization)]
  assert len(norms) >= 9
  return norms


@pytest.mark.parametrize("family,shape", [
    ("residual_conv", (64, 64, 3)), ("residual_sequence", (256, 71))])
def test_decoder_batch_norm_ignores_absent_rows_in_training(family, shape):
  """Decoder m's batch statistics see the rows where m is present only:
  changing only the absent rows' latent codes changes neither the present
  rows' outputs nor the moving statistics (unmasked, it changes both)."""
  from tf_mmjsd.networks.residual_conv_decoder import ResidualConvDecoder  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.networks.residual_sequence_decoder import ResidualSequenceDecoder  # pylint: disable=g-import-not-at-top
  cls = {"residual_conv": ResidualConvDecoder,
         "residual_sequence": ResidualSequenceDecoder}[family]
  rng = np.random.default_rng(0)
  z = rng.normal(size=(8, 6)).astype(np.float32)
  other = z.copy()
  other[4:] = 5.0 * rng.normal(size=(4, 6))  # absent rows: other codes
  present = tf.constant([True] * 4 + [False] * 4)
  decoders = [cls(shape, 4, style_dim=2, width=8) for _ in range(4)]
  for decoder in decoders:
    decoder(z[:1])
    decoder.set_weights(decoders[0].get_weights())
    _without_dropout(decoder)
  a, b, c, d = decoders
  want = a(z, training=True, present=present)
  got = b(other, training=True, present=present)
  np.testing.assert_allclose(got[:4], want[:4], rtol=2e-4, atol=2e-5)
  for x, y in zip(_batch_norms(a), _batch_norms(b)):
    np.testing.assert_allclose(y.moving_mean, x.moving_mean, rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(y.moving_variance, x.moving_variance,
                               rtol=1e-4, atol=1e-6)
  leaked = d(other, training=True)  # unmasked: the absent rows count
  assert not np.allclose(leaked[:4], c(z, training=True)[:4], atol=1e-3)
  assert not np.allclose(_batch_norms(d)[0].moving_mean,
                         _batch_norms(c)[0].moving_mean, atol=1e-6)


@pytest.mark.parametrize("family,shape", [
    ("residual_conv", (64, 64, 3)), ("residual_sequence", (256, 71))])
def test_batch_norm_ignores_absent_rows_in_training(family, shape):
  from tf_mmjsd.networks.residual_conv_encoder import ResidualConvEncoder  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.networks.residual_sequence_encoder import ResidualSequenceEncoder  # pylint: disable=g-import-not-at-top
  cls = {"residual_conv": ResidualConvEncoder,
         "residual_sequence": ResidualSequenceEncoder}[family]
  rng = np.random.default_rng(0)
  real = rng.random((4,) + shape).astype(np.float32)
  padded = np.concatenate([real, np.zeros((4,) + shape, np.float32)])
  present = tf.constant([True] * 4 + [False] * 4)
  alone, mixed, unmasked = (cls(shape, 4, style_dim=2, width=8)
                            for _ in range(3))
  for encoder in (alone, mixed, unmasked):
    encoder(real[:1])
    encoder.set_weights(alone.get_weights())
    _without_dropout(encoder)
  want = alone(real, training=True)
  got = mixed(padded, training=True, present=present)
  for key in want:  # the present rows' encodings do not change
    np.testing.assert_allclose(got[key][:4], want[key], rtol=2e-4,
                               atol=2e-5)
  for a, b in zip(_batch_norms(alone), _batch_norms(mixed)):
    np.testing.assert_allclose(b.moving_mean, a.moving_mean, rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(b.moving_variance, a.moving_variance,
                               rtol=1e-4, atol=1e-6)
  # Without the mask the zero rows move the statistics (the old behaviour).
  leaked = unmasked(padded, training=True)
  assert not np.allclose(leaked["content_loc"][:4], want["content_loc"],
                         atol=1e-3)
  # A batch with no present row keeps the moving averages.
  before = [bn.moving_mean.numpy().copy() for bn in _batch_norms(mixed)]
  out = mixed(padded, training=True, present=tf.zeros([8], tf.bool))
  assert np.isfinite(out["content_loc"]).all()
  for bn, b in zip(_batch_norms(mixed), before):
    np.testing.assert_array_equal(bn.moving_mean, b)


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_masked_batch_norm_in_a_compiled_step(jit):
  from tf_mmjsd.networks.masked_batch_normalization import (  # pylint: disable=g-import-not-at-top
      MaskedBatchNormalization)
  x = np.random.default_rng(1).normal(size=(6, 3, 3, 2)).astype(np.float32)
  x[4:] = 0.0  # absent rows
  present = tf.constant([True] * 4 + [False] * 2)
  eager, compiled = (MaskedBatchNormalization(momentum=0.9) for _ in "ab")
  want = eager(x[:4], training=True)
  step = tf.function(lambda v, p: compiled(v, training=True, present=p),
                     jit_compile=jit)
  got = step(tf.constant(x), present)
  np.testing.assert_allclose(got[:4], want, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(compiled.moving_mean, eager.moving_mean,
                             rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(compiled.moving_variance,
                             eager.moving_variance, rtol=1e-5, atol=1e-7)
  # Mean and variance of the present rows only, by hand.
  mean = x[:4].mean(axis=(0, 1, 2))
  np.testing.assert_allclose(compiled.moving_mean, 0.1 * mean, rtol=1e-4,
                             atol=1e-6)
