"""The multimodal VAE: objectives, gradients, masks, inference, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import random_batch
from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs
from tf_mmjsd.model import MultimodalVAE

SPECS = mnist_svhn_text_specs()


def _batch(batch=12, masks=None, seed=0):
  return random_batch(SPECS, batch, masks, seed)


@pytest.fixture(scope="module")
def model():
  return MultimodalVAE(SPECS)


@pytest.mark.parametrize("method", ["mmjsd", "mmvae", "mvae"])
@pytest.mark.parametrize("style_dim", [0, 4])
def test_gradients_reach_every_encoder_and_decoder(method, style_dim):
  m = MultimodalVAE(SPECS, method=method, style_dim=style_dim)
  batch = _batch()
  with tf.GradientTape() as tape:
    terms = m.compute_terms(batch, training=True)
    loss = tf.reduce_mean(terms["loss"])
  assert set(terms) == set(m.trackers)
  for v in terms.values():
    assert v.shape == (12,) and np.isfinite(v.numpy()).all()
  grads = tape.gradient(loss, m.trainable_variables)
  for var, g in zip(m.trainable_variables, grads):
    assert g is not None and float(tf.reduce_sum(tf.abs(g))) > 0, var.path


def test_mmjsd_loss_is_the_weighted_sum_of_its_terms(model):
  terms = model.compute_terms(_batch())
  rec = sum(s.weight * terms[f"rec_{s.name}"] for s in SPECS)
  np.testing.assert_allclose(terms["loss"].numpy(),
                             (rec + 2.5 * terms["js"]).numpy(), rtol=1e-5)
  assert (terms["js"].numpy() >= 0).all()


def test_absent_modalities_do_not_count(model):
  masks = {"mnist": np.array([True] * 6 + [False] * 6),
           "svhn": np.ones(12, bool), "text": np.ones(12, bool)}
  batch = _batch(masks=masks)
  terms = model.compute_terms(batch)
  assert (terms["rec_mnist"].numpy()[6:] == 0).all()
  assert (terms["rec_mnist"].numpy()[:6] > 0).all()
  # The JS of the examples without mnist must not depend on its input.
  other = _batch(masks=masks)
  other["inputs"]["mnist"] = tf.ones_like(other["inputs"]["mnist"])
  np.testing.assert_allclose(model.compute_terms(other)["js"].numpy()[6:],
                             terms["js"].numpy()[6:], rtol=1e-5)


def test_an_example_without_any_modality_is_an_error(model):
  masks = {s.name: np.array([True, False]) for s in SPECS}
  with pytest.raises(tf.errors.InvalidArgumentError, match="at least one"):
    model.compute_terms(_batch(2, masks))


def test_subset_posteriors_and_generation_shapes(model):
  inputs = _batch(5)["inputs"]
  sub = {"svhn": inputs["svhn"], "text": inputs["text"]}
  poe = model.subset_posterior(sub)
  mix = model.subset_posterior(sub, fusion_kind="mixture")
  assert poe.mean().shape == (5, 20) and mix.mean().shape == (5, 20)
  locs = [model.encode(sub)["content"][m][0] for m in ("svhn", "text")]
  np.testing.assert_allclose(mix.mean().numpy(),
                             ((locs[0] + locs[1]) / 2).numpy(), rtol=1e-5,
                             atol=1e-6)
  out = model.generate({"mnist": inputs["mnist"]})
  assert {k: v.shape for k, v in out.items()} == {
      s.name: (5,) + s.shape for s in SPECS}
  assert (out["text"].numpy().sum(-1) == 1).all()
  assert model.sample(3)["svhn"].shape == (3, 32, 32, 3)


def test_bad_inputs_get_clear_errors(model):
  inputs = _batch(2)["inputs"]
  with pytest.raises(ValueError, match="unknown modalities.*'audio'"):
    model.encode({"audio": inputs["mnist"]})
  with pytest.raises(ValueError, match="'svhn'.*shape"):
    model.encode({"svhn": inputs["mnist"]})
  with pytest.raises(ValueError, match="fusion_kind"):
    model.subset_posterior({"mnist": inputs["mnist"]}, fusion_kind="sum")


@pytest.mark.slow
def test_fit_updates_weights_and_trackers():
  m = MultimodalVAE(SPECS)
  m.compile(optimizer=keras.optimizers.Adam(1e-3))
  before = [v.numpy().copy() for v in m.trainable_variables]
  ds = tf.data.Dataset.from_tensors(_batch(16)).repeat(3)
  history = m.fit(ds, epochs=1, verbose=0)
  assert set(history.history) == set(m.trackers)
  changed = [not np.allclose(b, v.numpy())
             for b, v in zip(before, m.trainable_variables)]
  assert all(changed)


@pytest.mark.slow
def test_config_and_saved_model_round_trip(tmp_path):
  m = MultimodalVAE(SPECS, style_dim=2, method="mmvae", beta=1.5)
  clone = MultimodalVAE.from_config(m.get_config())
  assert clone.get_config() == m.get_config()
  path = str(tmp_path / "vae.keras")
  m.save(path)
  loaded = keras.models.load_model(path)
  inputs = _batch(4)["inputs"]
  np.testing.assert_allclose(loaded(inputs).numpy(), m(inputs).numpy(),
                             rtol=1e-5, atol=1e-6)
  assert loaded.method == "mmvae" and loaded.beta == 1.5


def test_mvae_subsets_use_the_plain_product_of_experts():
  m = MultimodalVAE(SPECS, method="mvae")
  inputs = {k: v for k, v in _batch(4)["inputs"].items() if k != "text"}
  enc = m.encode(inputs)["content"]
  precision = 1.0 + sum(1.0 / (enc[k][1] ** 2 + 1e-8) for k in inputs)
  loc = sum(enc[k][0] / (enc[k][1] ** 2 + 1e-8) for k in inputs) / precision
  got = m.subset_posterior(inputs, fusion_kind="poe")
  np.testing.assert_allclose(got.mean(), loc, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(got.stddev(), precision ** -0.5, rtol=1e-4)
  assert m.default_fusion == "poe"
  assert MultimodalVAE(SPECS).default_fusion == "mixture"


def test_checkpointed_weights_restore_into_a_fresh_model(tmp_path):
  from tf_mmjsd import run_checkpoints, run_dir  # pylint: disable=g-import-not-at-top
  tf.random.set_seed(1)
  trained = MultimodalVAE(SPECS, style_dim=2)
  path = run_checkpoints.checkpoint_of(trained).save(str(tmp_path / "ckpt"))
  fresh = MultimodalVAE(SPECS, style_dim=2)
  run_checkpoints.restore(fresh, path)
  for a, b in zip(trained.weights, fresh.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  with pytest.raises(run_dir.RunDirError, match="does not hold this model"):
    run_checkpoints.restore(MultimodalVAE(SPECS, style_dim=3), path)
  # Every weight of a two-modality model is in the three-modality
  # checkpoint; the extra modality's weights show it is another model's.
  with pytest.raises(run_dir.RunDirError,
                     match=r"has \d+ weights, this model \d+: it belongs"):
    run_checkpoints.restore(MultimodalVAE(SPECS[:2], style_dim=2), path)


def test_training_state_restores_and_older_checkpoints_take_the_step(
    tmp_path):
  from tf_mmjsd import run_checkpoints  # pylint: disable=g-import-not-at-top

  def model_and_optimizer(steps):
    m = MultimodalVAE(SPECS)
    m.compile(optimizer=keras.optimizers.Adam())
    m.optimizer.build(m.trainable_variables)
    m.optimizer.iterations.assign(steps)
    return m

  trained = model_and_optimizer(7)
  trained.step.assign(9)  # e.g. two updates skipped by a loss scale
  trained.styles_from_prior.assign(True)
  path = run_checkpoints.checkpoint_of(trained, trained.optimizer).save(
      str(tmp_path / "new"))
  fresh = model_and_optimizer(0)
  run_checkpoints.restore(fresh, path, fresh.optimizer)
  assert int(fresh.step.numpy()) == 9 and bool(fresh.styles_from_prior.numpy())
  # A checkpoint of tf_mmjsd 0.1 has no training state: the step is then
  # the optimizer's count of updates.
  old = run_checkpoints.checkpoint_of(trained, trained.optimizer,
                              with_state=False).save(str(tmp_path / "old"))
  fresh = model_and_optimizer(0)
  run_checkpoints.restore(fresh, old, fresh.optimizer)
  assert int(fresh.step.numpy()) == 7


def test_checkpoints_are_keyed_by_stable_variable_paths(tmp_path):
  from tf_mmjsd import run_checkpoints  # pylint: disable=g-import-not-at-top
  first, second = MultimodalVAE(SPECS), MultimodalVAE(SPECS)
  # Every layer with weights is named, so paths do not depend on how many
  # layers the process made before (Keras numbers unnamed ones).
  weights = run_checkpoints.variables_by_path(first)
  assert list(weights) == list(run_checkpoints.variables_by_path(second))
  assert "encoder_svhn/c_log_var/kernel" in weights
  # The training state is stored by name, apart from the weights.
  assert len(weights) + len(first.state_variables) == len(first.weights)
  path = run_checkpoints.checkpoint_of(first).save(str(tmp_path / "ckpt"))
  stored = {name for name, _ in tf.train.list_variables(path)}
  for key in weights:
    key = "model/" + key.replace("/", ".S") + "/.ATTRIBUTES/VARIABLE_VALUE"
    assert key in stored, key
  for name in ("step", "styles_from_prior"):
    assert f"state/{name}/.ATTRIBUTES/VARIABLE_VALUE" in stored
  assert not run_checkpoints.is_legacy(path)


def test_checkpoints_of_version_0_1_by_position_still_restore(tmp_path):
  from tf_mmjsd import run_checkpoints  # pylint: disable=g-import-not-at-top
  old = MultimodalVAE(SPECS)
  state = {id(v) for v in old.state_variables.values()}
  path = tf.train.Checkpoint(
      weights=[w for w in old.weights if id(w) not in state]).save(
          str(tmp_path / "old"))
  assert run_checkpoints.is_legacy(path)
  fresh = MultimodalVAE(SPECS)
  run_checkpoints.restore(fresh, path)
  for a, b in zip(old.weights, fresh.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_style_warmup_decodes_prior_styles_and_keeps_the_style_kls():
  m = MultimodalVAE(SPECS, latent_dim=6, style_dim=3)
  batch = _batch()
  style_heads = [v for v in m.trainable_variables if "/s_" in v.path]
  assert len(style_heads) == 12  # s_loc, s_log_var (kernel, bias) x 3
  m.styles_from_prior.assign(True)
  with tf.GradientTape(persistent=True) as tape:
    terms = m.compute_terms(batch, training=True)
    loss = tf.reduce_mean(terms["loss"])
    style_kl = m.beta * m.beta_style * tf.reduce_mean(
        terms["kl_style_mnist"] + terms["kl_style_svhn"]
        + 5.0 * terms["kl_style_text"])
  # The decoders see no posterior style: the style heads' only gradient is
  # that of their weighted KLs.
  for g, g_kl in zip(tape.gradient(loss, style_heads),
                     tape.gradient(style_kl, style_heads)):
    np.testing.assert_allclose(g.numpy(), g_kl.numpy(), rtol=1e-4,
                               atol=1e-6)
  assert all(float(tf.reduce_sum(terms[f"kl_style_{s.name}"])) > 0
             for s in SPECS)
  # Without the warm-up the reconstruction reaches the style heads too.
  m.styles_from_prior.assign(False)
  with tf.GradientTape(persistent=True) as tape:
    terms = m.compute_terms(batch, training=True)
    rec = tf.reduce_mean(terms["loss"]) - m.beta * m.beta_style * (
        tf.reduce_mean(terms["kl_style_mnist"] + terms["kl_style_svhn"]
                       + 5.0 * terms["kl_style_text"]))
  assert all(float(tf.norm(g)) > 0 for g in tape.gradient(rec, style_heads))


def _content(batch=2):
  # q_mnist = N(1, 1), q_svhn = N(0, 0.5^2), q_text = N(-0.5, 2^2) per dim.
  values = {"mnist": (1.0, 1.0), "svhn": (0.0, 0.5), "text": (-0.5, 2.0)}
  return {m: (tf.fill([batch, 20], loc), tf.fill([batch, 20], scale))
          for m, (loc, scale) in values.items()}, values


def _plain_poe(values, members, prior):
  precision = float(prior) + sum(values[m][1] ** -2 for m in members)
  return (sum(values[m][0] * values[m][1] ** -2 for m in members)
          / precision, precision ** -0.5)


def test_mopoe_inference_follows_its_subset_rule():
  model = MultimodalVAE(SPECS, method="mopoe")
  content, values = _content()
  ones = {m: tf.ones([2]) for m in content}
  # All three present: the prior joins; a pair alone: no prior.
  poe = model.fuse(content, ones, "poe")
  loc, scale = _plain_poe(values, content, prior=True)
  np.testing.assert_allclose(poe.mean()[:, 0], [loc, loc], rtol=1e-5)
  np.testing.assert_allclose(poe.stddev()[:, 0], [scale, scale], rtol=1e-5)
  pair = {m: content[m] for m in ("mnist", "svhn")}
  loc, scale = _plain_poe(values, pair, prior=False)
  np.testing.assert_allclose(
      model.fuse(pair, ones, "poe").mean()[:, 0], [loc, loc], rtol=1e-5)
  # The same pair as all three with text absent in example 1.
  masked = dict(ones, text=tf.constant([1.0, 0.0]))
  got = model.fuse(content, masked, "poe").mean()[:, 0].numpy()
  assert got[1] == pytest.approx(loc, rel=1e-5)
  # The "mixture" is MoPoE's joint posterior: the mean of its 7 (3 with
  # text absent) subset products.
  subsets = [("mnist",), ("svhn",), ("text",), ("mnist", "svhn"),
             ("mnist", "text"), ("svhn", "text"), ("mnist", "svhn", "text")]
  want = np.mean([_plain_poe(values, s, prior=len(s) == 3)[0]
                  for s in subsets])
  want_pair = np.mean([_plain_poe(values, s, prior=False)[0]
                       for s in subsets[:2] + subsets[3:4]])
  mixture = model.fuse(content, masked, "mixture")
  np.testing.assert_allclose(mixture.mean()[:, 0], [want, want_pair],
                             rtol=1e-5)
  # Seeded sampling draws from the same components.
  samples = model.generate({m: _batch(2)["inputs"][m] for m in content},
                           fusion_kind="mixture", seed=[1, 2])
  assert set(samples) == set(content)


def test_mmjsd_inference_is_unchanged_by_the_mopoe_rule():
  model = MultimodalVAE(SPECS, method="mmjsd")
  content, values = _content()
  pair = {m: content[m] for m in ("mnist", "svhn")}
  mixture = model.fuse(pair, {m: tf.ones([2]) for m in pair}, "mixture")
  np.testing.assert_allclose(mixture.mean()[:, 0], [0.5, 0.5], rtol=1e-6)
  del values


def test_training_decoders_batch_statistics_skip_absent_rows():
  """compute_terms(training=True) gives decoder m the presence of m: the
  reconstruction of the rows that hold an image, and the decoder's moving
  statistics, do not change when only the rows without one change."""
  from tf_mmjsd.data.specs import parse_modality  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.networks.masked_batch_normalization import (  # pylint: disable=g-import-not-at-top
      MaskedBatchNormalization)
  specs = (parse_modality("img:64x64x3:laplace:residual_conv:width=8"),
           parse_modality("v:4:normal:mlp"))
  masks = {"img": np.array([True] * 4 + [False] * 4), "v": np.ones(8, bool)}
  batch = random_batch(specs, 8, masks, seed=1)
  other = random_batch(specs, 8, masks, seed=1)
  other["inputs"]["v"] = tf.concat([other["inputs"]["v"][:4],
                                    5.0 + other["inputs"]["v"][4:]], 0)
  results = []
  for b in (batch, other):
    keras.utils.set_random_seed(0)
    m = MultimodalVAE(specs, latent_dim=4)
    terms = m.compute_terms(b, training=True)
    norms = [l for l in m.decoders["img"]._flatten_layers()
             if isinstance(l, MaskedBatchNormalization)]
    assert norms
    results.append((terms["rec_img"].numpy(),
                    [n.moving_mean.numpy() for n in norms]))
  (rec_a, mean_a), (rec_b, mean_b) = results
  np.testing.assert_allclose(rec_b[:4], rec_a[:4], rtol=1e-4)
  for x, y in zip(mean_a, mean_b):
    np.testing.assert_allclose(y, x, rtol=1e-4, atol=1e-6)


def test_jmvae_inference_takes_the_joint_encoder_only_given_every_modality():
  from tf_mmjsd import fusion  # pylint: disable=g-import-not-at-top
  model = MultimodalVAE(SPECS, method="jmvae")
  inputs = _batch(3)["inputs"]
  encoded = model.encode(inputs)["content"]
  joint_loc, joint_scale = encoded[fusion.JOINT]
  # Example 1 lacks text: the product of its mnist and svhn posteriors,
  # without N(0, I) (MultiVae's subset rule); the others: q(c | X).
  masks = {"mnist": np.ones(3, bool), "svhn": np.ones(3, bool),
           "text": np.array([True, False, True])}
  got = model.subset_posterior(inputs, masks)
  precision = sum(1.0 / (encoded[m][1] ** 2 + 1e-8) for m in ("mnist",
                                                              "svhn"))
  pair = sum(encoded[m][0] / (encoded[m][1] ** 2 + 1e-8)
             for m in ("mnist", "svhn")) / precision
  np.testing.assert_allclose(got.mean().numpy()[[0, 2]],
                             joint_loc.numpy()[[0, 2]], rtol=1e-5)
  np.testing.assert_allclose(got.stddev().numpy()[[0, 2]],
                             joint_scale.numpy()[[0, 2]], rtol=1e-5)
  np.testing.assert_allclose(got.mean().numpy()[1], pair.numpy()[1],
                             rtol=1e-4, atol=1e-6)
  # A pair given alone: no joint posterior, the product again.
  alone = model.subset_posterior({m: inputs[m] for m in ("mnist", "svhn")})
  np.testing.assert_allclose(alone.mean().numpy(), pair.numpy(), rtol=1e-4,
                             atol=1e-6)
  # Gradients reach the joint encoder, every unimodal encoder and decoder.
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(model.compute_terms(_batch(4), training=True)[
        "loss"])
  grads = tape.gradient(loss, model.trainable_variables)
  for var, g in zip(model.trainable_variables, grads):
    assert g is not None and float(tf.reduce_sum(tf.abs(g))) > 0, var.path
  assert any(v.path.startswith("joint_encoder/") for v in
             model.trainable_variables)


@pytest.mark.slow
def test_jmvae_round_trips_its_config_checkpoint_and_saved_model(tmp_path):
  from tf_mmjsd import run_checkpoints  # pylint: disable=g-import-not-at-top
  tf.random.set_seed(3)
  m = MultimodalVAE(SPECS, method="jmvae", jmvae_alpha=0.5)
  clone = MultimodalVAE.from_config(m.get_config())
  assert clone.get_config() == m.get_config()
  assert clone.get_config()["jmvae_alpha"] == 0.5
  path = run_checkpoints.checkpoint_of(m).save(str(tmp_path / "ckpt"))
  run_checkpoints.restore(clone, path)
  inputs = _batch(4)["inputs"]
  np.testing.assert_allclose(clone(inputs).numpy(), m(inputs).numpy(),
                             rtol=1e-6)
  m.export(str(tmp_path / "export"))
  served = tf.saved_model.load(str(tmp_path / "export"))
  request = dict(inputs)
  request.update({f"{k}_present": tf.constant([True, True, False, True])
                  if k == "text" else tf.ones([4], tf.bool) for k in inputs})
  got = served.signatures["encode"](**request)
  want = m.posterior_parameters(inputs, {
      k: request[f"{k}_present"] for k in inputs})
  np.testing.assert_allclose(got["poe_loc"].numpy(), want["poe_loc"].numpy(),
                             rtol=1e-5, atol=1e-6)
  assert not np.allclose(got["poe_loc"].numpy()[2],
                         m(inputs).numpy()[2], atol=1e-4)  # text absent


def test_mmvaeplus_trains_its_auxiliary_prior_and_checkpoints_it(tmp_path):
  from tf_mmjsd import run_checkpoints  # pylint: disable=g-import-not-at-top
  m = MultimodalVAE(SPECS, method="mmvaeplus", style_dim=2)
  weights = run_checkpoints.variables_by_path(m)
  assert "aux_style_prior/raw_scale_svhn" in weights
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(m.compute_terms(_batch(4), training=True)["loss"])
  grads = dict(zip([v.path for v in m.trainable_variables],
                   tape.gradient(loss, m.trainable_variables)))
  for name in ("mnist", "svhn", "text"):
    assert float(tf.reduce_sum(tf.abs(
        grads[f"aux_style_prior/raw_scale_{name}"]))) > 0
  m.method_variables.raw_scales["text"].assign([0.5, -0.5])
  path = run_checkpoints.checkpoint_of(m).save(str(tmp_path / "ckpt"))
  fresh = MultimodalVAE.from_config(m.get_config())
  run_checkpoints.restore(fresh, path)
  np.testing.assert_allclose(fresh.method_variables.scale("text").numpy(),
                             np.log1p(np.exp([0.5, -0.5])) + 1e-6,
                             rtol=1e-6)
  # Without private codes there is no auxiliary prior.
  assert MultimodalVAE(SPECS, method="mmvaeplus").method_variables is None
