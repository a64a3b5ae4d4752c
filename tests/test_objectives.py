"""Every method's objective on tiny Gaussians with hand-computable terms,
with and without masks, and the method registry they come from."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tf_mmjsd import (divergences, fusion, methods, noise, objectives,
                      run_checkpoints)
from tf_mmjsd.config import ConfigError
from tf_mmjsd.methods import mmjsd

# q_a = N(1, 1) and q_b = N(0, 0.5^2) in one latent dimension, for two
# examples; example 1 may lack b.
LOCS = {"a": 1.0, "b": 0.0, "c": -0.5}
SCALES = {"a": 1.0, "b": 0.5, "c": 2.0}


def kl(mu_q, var_q, mu_p=0.0, var_p=1.0):
  """KL(N(mu_q, var_q) || N(mu_p, var_p)) in one dimension."""
  return 0.5 * (np.log(var_p / var_q) + (var_q + (mu_q - mu_p) ** 2) / var_p
                - 1.0)


def poe(members, prior=True):
  """(mean, var) of N(0, 1) (if `prior`) times q_m for m in members
  (unweighted)."""
  precision = float(prior) + sum(SCALES[m] ** -2 for m in members)
  mean = sum(LOCS[m] * SCALES[m] ** -2 for m in members) / precision
  return mean, 1.0 / precision


# Style posteriors N(0.5, 2^2) of every modality (KL 0.5 (4 + 0.25 - 1 -
# log 4) = 0.93185 each).
STYLE_KL = 0.5 * (4.0 + 0.25 - 1.0 - np.log(4.0))


# The joint encoder's posterior q(c | X) = N(0.5, 0.8^2) of a method that
# trains one (JMVAE).
JOINT_LOC, JOINT_SCALE = 0.5, 0.8


def run(method, names=("a", "b"), b_present=(1.0, 1.0), prior="poe",
        styles=False, present=None, options=None, epoch=0, record=None):
  """The terms of `method` on the Gaussians above (its options at their
  defaults, updated by `options`; mmjsd's dynamic prior `prior`) in
  training epoch `epoch`; `record` (a list) gets the styles of every
  decoding."""
  posteriors = {"content": {
      m: (tf.fill([2, 1], LOCS[m]), tf.fill([2, 1], SCALES[m]))
      for m in names}, "style": {}}
  if methods.get(method).joint_encoder:
    posteriors["content"][fusion.JOINT] = (tf.fill([2, 1], JOINT_LOC),
                                           tf.fill([2, 1], JOINT_SCALE))
  if styles:
    posteriors["style"] = {m: (tf.fill([2, 1], 0.5), tf.fill([2, 1], 2.0))
                           for m in names}
  if present is None:
    present = {m: tf.constant([1.0, 1.0]) for m in names}
    present["b"] = tf.constant(b_present)
  else:
    present = {m: tf.constant(v, tf.float32) for m, v in present.items()}
  entry = methods.get(method)
  settings = objectives.ObjectiveSettings(
      variables=(entry.variables(names, 1, 1) if entry.variables and styles
                 else None),
      names=names, rec_weights={m: 2.0 for m in names},
      style_weights={m: 1.0 for m in names}, beta=3.0, beta_style=1.0,
      prior_weight=1.0 / (len(names) + 1),
      options=methods.get(method).resolve_options(
          options or ({"dynamic_prior": prior} if method == "mmjsd" else {})),
      epoch=tf.constant(epoch, tf.int64))

  def log_likelihood(content, styles, decode):
    if record is not None:
      record.append({m: v.numpy() for m, v in (styles or {}).items()})
    return {m: -tf.ones([tf.shape(content)[0]]) for m in decode}

  terms = methods.get(method).objective(posteriors, present, log_likelihood,
                                       settings, noise.Noise(key=[0, 0]))
  return {k: v.numpy() for k, v in terms.items()}


def test_the_registry_holds_every_module_and_names_every_term():
  import importlib  # pylint: disable=g-import-not-at-top
  assert {"mmjsd", "mmvae", "mvae", "mopoe", "mvtcae", "jmvae"} <= set(
      methods.names())
  for name in methods.names():
    module = importlib.import_module(f"tf_mmjsd.methods.{name}")
    assert methods.get(name) is module.METHOD
    assert module.METHOD.objective is module.objective
    terms = run(name)
    assert sorted(terms) == sorted(methods.term_names(name, ("a", "b"), 0))
  with pytest.raises(ValueError, match="method must be one of"):
    methods.get("vae")


def test_jmvae_is_the_joint_elbo_and_the_kls_to_each_unimodal_posterior():
  var = JOINT_SCALE ** 2
  kl_prior = kl(JOINT_LOC, var)
  kl_a = kl(JOINT_LOC, var, LOCS["a"], SCALES["a"] ** 2)
  kl_b = kl(JOINT_LOC, var, LOCS["b"], SCALES["b"] ** 2)
  # Epochs 0 and 4 of a 10-epoch warm-up: weights 0.1 and 0.5; alpha 0.1.
  for epoch, weight in ((0, 0.1), (4, 0.5), (12, 1.0)):
    terms = run("jmvae", epoch=epoch)
    np.testing.assert_allclose(terms["kl"], [kl_prior] * 2, rtol=1e-5)
    np.testing.assert_allclose(terms["kl_unimodal"], [kl_a + kl_b] * 2,
                               rtol=1e-5)
    np.testing.assert_allclose(terms["rec_a"], [1.0, 1.0])
    # Reconstruction (weight 2 each) + weight * beta 3 * (KL + 0.1 KLs).
    np.testing.assert_allclose(
        terms["loss"], [4 + weight * 3 * (kl_prior + 0.1 * (kl_a + kl_b))] * 2,
        rtol=1e-5)
  terms = run("jmvae", options={"jmvae_warmup_epochs": 0,
                                "jmvae_alpha": 1.0}, styles=True)
  np.testing.assert_allclose(
      terms["loss"], [4 + 3 * (kl_prior + kl_a + kl_b + 2 * STYLE_KL)] * 2,
      rtol=1e-5)


def test_jmvae_refuses_a_batch_with_an_absent_modality():
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="jmvae trains on examples with every modality"):
    run("jmvae", b_present=(1.0, 0.0))


def _normal_log_pdf(z, mu, sd):
  return -0.5 * ((z - mu) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)


def _mmvaeplus_direct(samples, b_present):
  """The loss [2] of mmvaeplus without styles by numpy, replaying the
  draws of `run` (one per component r and sample k, in that order)."""
  draws = noise.Noise(key=[0, 0])
  eps = {(r, k): draws.normal(tf.zeros([2, 1])).numpy()[:, 0]
         for r in "ab" for k in range(samples)}
  loss = []
  for i in range(2):
    present = {"a": 1.0, "b": b_present[i]}
    bounds = []
    for r in (m for m in "ab" if present[m]):
      log_w = []
      for k in range(samples):
        z = LOCS[r] + SCALES[r] * eps[r, k][i]
        log_px = sum(2.0 * -1.0 * present[d] for d in "ab")
        log_q = np.log(np.mean([np.exp(_normal_log_pdf(z, LOCS[m], SCALES[m]))
                                for m in "ab" if present[m]]))
        log_w.append(log_px - 3.0 * (log_q - _normal_log_pdf(z, 0.0, 1.0)))
      bounds.append(np.log(np.mean(np.exp(log_w))))
    loss.append(-np.mean(bounds))
  return np.array(loss)


@pytest.mark.parametrize("estimator", ["elbo", "dreg"])
def test_mmvaeplus_k_sample_bound_against_a_direct_computation(estimator):
  # Example 1 lacks b: one component, and b leaves the mixture q.
  for samples in (1, 3):
    terms = run("mmvaeplus", b_present=(1.0, 0.0), options={
        "mmvaeplus_samples": samples, "mmvaeplus_estimator": estimator})
    np.testing.assert_allclose(terms["loss"],
                               _mmvaeplus_direct(samples, (1.0, 0.0)),
                               rtol=1e-5)
    np.testing.assert_allclose(terms["rec_b"], [1.0, 0.0])


def test_mmvaeplus_dreg_gradient_is_the_doubly_reparameterised_one():
  """d loss / d (loc, scale) of the encoder: through the samples, scaled
  twice by the normalised weights, the q densities held constant; against
  that formula written out with the same draws."""
  from tf_mmjsd.methods import mmvaeplus  # pylint: disable=g-import-not-at-top
  samples = 3
  params = {m: (tf.Variable(tf.fill([2, 1], LOCS[m])),
                tf.Variable(tf.fill([2, 1], SCALES[m]))) for m in "ab"}
  settings = objectives.ObjectiveSettings(
      names=("a", "b"), rec_weights={"a": 2.0, "b": 2.0},
      style_weights={"a": 1.0, "b": 1.0}, beta=3.0, beta_style=1.0,
      prior_weight=1 / 3, options={"mmvaeplus_samples": samples,
                                   "mmvaeplus_estimator": "dreg"})
  present = {"a": tf.ones([2]), "b": tf.constant([1.0, 0.0])}

  def log_likelihood(content, styles, decode):
    del styles
    return {m: -tf.reduce_sum(content ** 2, -1) for m in decode}

  variables = [v for pair in params.values() for v in pair]
  with tf.GradientTape() as tape:
    posteriors = {"content": {m: (l * 1.0, s * 1.0)
                              for m, (l, s) in params.items()}}
    loss = tf.reduce_sum(mmvaeplus.objective(
        posteriors, present, log_likelihood, settings,
        noise.Noise(key=[0, 0]))["loss"])
  got = tape.gradient(loss, variables)
  # The formula: samples z(phi) with the same draws; densities of q with
  # constant parameters; weights w~ squared, constant.
  draws = noise.Noise(key=[0, 0])
  eps = {(r, k): draws.normal(tf.zeros([2, 1]))
         for r in "ab" for k in range(samples)}
  mask = tf.stack([present["a"], present["b"]])
  with tf.GradientTape() as tape:
    const = {m: (tf.constant(l.numpy()), tf.constant(s.numpy()))
             for m, (l, s) in params.items()}
    rows = []
    for r in "ab":
      row = []
      for k in range(samples):
        z = params[r][0] + params[r][1] * eps[r, k]
        log_px = sum(2.0 * log_likelihood(z, None, "ab")[d] * present[d]
                     for d in "ab")
        each = tf.stack([divergences.log_normal(z, *const[m]) for m in "ab"])
        log_q = tf.math.log(tf.reduce_sum(tf.exp(each) * mask, 0)
                            / tf.reduce_sum(mask, 0))
        log_p = divergences.log_normal(z, tf.zeros_like(z), tf.ones_like(z))
        row.append(log_px - 3.0 * (log_q - log_p))
      rows.append(tf.stack(row))
    log_w = tf.stack(rows)  # [2, K, 2]
    weights = tf.stop_gradient(tf.nn.softmax(log_w, axis=1))
    per_r = tf.reduce_sum(weights ** 2 * log_w, 1)  # [2, 2]
    want_loss = -tf.reduce_sum(tf.reduce_sum(per_r * mask, 0)
                               / tf.reduce_sum(mask, 0))
  want = tape.gradient(want_loss, variables)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-6)


def test_mmvaeplus_decodes_other_modalities_with_the_auxiliary_prior():
  # With styles, decoder b reads a's shared code with a style from b's
  # auxiliary prior N(0, softplus(0)^2); a reads its own posterior's.
  seen = []
  terms = run("mmvaeplus", styles=True, options={"mmvaeplus_samples": 200},
              record=seen)
  assert set(terms) >= {"loss", "kl", "kl_style_a", "kl_style_b"}
  # Component a's 200 samples: a's style from N(0.5, 2^2), b's from the
  # auxiliary N(0, log(2)^2).
  own = np.concatenate([s["a"] for s in seen[:200]])
  aux = np.concatenate([s["b"] for s in seen[:200]])
  assert np.mean(own) == pytest.approx(0.5, abs=0.15)
  assert np.std(own) == pytest.approx(2.0, rel=0.1)
  assert np.std(aux) == pytest.approx(np.log(2.0), rel=0.1)
  assert abs(np.mean(aux)) < 0.06


def test_mmvae_is_the_mean_kl_of_the_present_posteriors():
  kl_a, kl_b = kl(1.0, 1.0), kl(0.0, 0.25)
  terms = run("mmvae", b_present=(1.0, 0.0))
  np.testing.assert_allclose(terms["kl"], [(kl_a + kl_b) / 2, kl_a],
                             rtol=1e-5)
  np.testing.assert_allclose(terms["rec_b"], [1.0, 0.0])
  np.testing.assert_allclose(terms["loss"], [2 * 2 + 3 * (kl_a + kl_b) / 2,
                                             2 + 3 * kl_a], rtol=1e-5)


def test_mvae_products_include_the_prior_expert():
  joint, only_a, only_b = poe("ab"), poe("a"), poe("b")
  assert joint == pytest.approx((1 / 6, 1 / 6))
  want = kl(*joint) + kl(*only_a) + kl(*only_b)
  terms = run("mvae", b_present=(1.0, 0.0))
  np.testing.assert_allclose(terms["kl"][0], want, rtol=1e-5)
  # Without b: the joint product is PoE(prior, a), and b's ELBO drops.
  np.testing.assert_allclose(terms["kl"][1], 2 * kl(*only_a), rtol=1e-5)
  # Joint reconstruction (weight 2 each) plus one unweighted per modality.
  np.testing.assert_allclose(terms["loss"][0], 2 * 2 + 2 + 3 * want,
                             rtol=1e-5)


def test_mmjsd_poe_js_to_the_weighted_geometric_mean():
  # pi = 1/3 each for N(0, 1), q_a, q_b: f has precision (1 + 1 + 4) / 3.
  precision = (1.0 + 1.0 + 4.0) / 3
  f_mean, f_var = (1.0 / 3) / precision, 1.0 / precision
  want = np.mean([kl(0.0, 1.0, f_mean, f_var), kl(1.0, 1.0, f_mean, f_var),
                  kl(0.0, 0.25, f_mean, f_var)])
  terms = run("mmjsd", b_present=(1.0, 0.0))
  np.testing.assert_allclose(terms["js"][0], want, rtol=1e-5)
  # Without b: pi renormalised to 1/2 for the prior and q_a, f = N(0.5, 1).
  two = 0.5 * kl(0.0, 1.0, 0.5, 1.0) + 0.5 * kl(1.0, 1.0, 0.5, 1.0)
  np.testing.assert_allclose(terms["js"][1], two, rtol=1e-5)
  assert two == pytest.approx(0.125)


def test_mmjsd_moe_js_is_finite_positive_and_smaller_for_close_experts():
  terms = run("mmjsd", b_present=(1.0, 0.0), prior="moe")
  assert np.isfinite(terms["js"]).all() and (terms["js"] > 0).all()
  # N(0, 1) and N(1, 1): 0.1115 (large-sample value, test_divergences), but
  # one 8-sample estimate per example: only the order of magnitude.
  assert 0.0 < terms["js"][1] < 0.5


def test_mopoe_mixes_the_subset_products_with_the_prior_in_the_full_set():
  # The authors' code: q_S = PoE(q_m, m in S); N(0, I) joins only the
  # subset of all three modalities.
  names = ("a", "b", "c")
  subsets = [s for k in (1, 2, 3) for s in itertools.combinations(names, k)]
  assert len(subsets) == 2 ** 3 - 1
  want = np.mean([kl(*poe(s, prior=len(s) == 3)) for s in subsets])
  # Without b: {a}, {c}, {a, c}, none of them with the prior.
  without_b = np.mean([kl(*poe(s, prior=False)) for s in ("a", "c", "ac")])
  assert kl(*poe("a", prior=False)) == pytest.approx(kl(1.0, 1.0))
  terms = run("mopoe", names=names, b_present=(1.0, 0.0))
  np.testing.assert_allclose(terms["kl"], [want, without_b], rtol=1e-5)
  np.testing.assert_allclose(terms["rec_b"], [1.0, 0.0])
  np.testing.assert_allclose(terms["loss"][1], 2 * 2 + 3 * without_b,
                             rtol=1e-5)


def test_mopoe_with_one_present_modality_is_its_own_posterior():
  # Only c present in example 0: every other subset has all or some
  # members absent and is masked (its stand-in keeps the terms finite).
  names = ("a", "b", "c")
  terms = run("mopoe", names=names, present={
      "a": [0.0, 1.0], "b": [0.0, 0.0], "c": [1.0, 0.0]})
  np.testing.assert_allclose(terms["kl"], [kl(-0.5, 4.0), kl(1.0, 1.0)],
                             rtol=1e-5)
  assert np.isfinite(terms["loss"]).all()


def test_mvtcae_by_hand():
  # Both present: q(c|X) = q_a q_b (no prior): precision 1 + 4, mean 0.2.
  mean, var = 0.2, 0.2
  kl_joint = kl(mean, var)
  kl_views = kl(mean, var, 1.0, 1.0) + kl(mean, var, 0.0, 0.25)
  alpha = 0.5
  terms = run("mvtcae", b_present=(1.0, 0.0), options={"tc_ratio": alpha})
  # Example 1 without b: q(c|X) = q_a, KL to itself 0.
  np.testing.assert_allclose(terms["kl"], [kl_joint, kl(1.0, 1.0)],
                             rtol=1e-5)
  np.testing.assert_allclose(terms["kl_views"], [kl_views, 0.0], atol=1e-6)
  # Every nll is 1, rec weights 2; beta 3; M = 2 for both examples.
  rec = np.array([4.0, 2.0])
  np.testing.assert_allclose(
      terms["loss"],
      (2 - alpha) / 2 * rec + 3.0 * (alpha / 2 * terms["kl_views"]
                                     + (1 - alpha) * terms["kl"]),
      rtol=1e-5)
  # The authors' setting 5/6 by default.
  assert methods.get("mvtcae").resolve_options({}) == {"tc_ratio": 5 / 6}


def test_mvtcae_infers_with_the_product_of_the_present_posteriors():
  from tf_mmjsd import fusion  # pylint: disable=g-import-not-at-top
  locs = tf.constant([[[1.0]], [[0.0]]])  # q_a, q_b: [K=2, B=1, D=1]
  scales = tf.constant([[[1.0]], [[0.5]]])
  loc, scale = fusion.method_product(methods.get("mvtcae"), locs, scales,
                                     tf.ones([2, 1]), ("a", "b"), 2, 1 / 3)
  np.testing.assert_allclose(loc.numpy(), [[0.2]], rtol=1e-5)  # no prior
  np.testing.assert_allclose(scale.numpy() ** 2, [[0.2]], rtol=1e-5)
  loc, _ = fusion.method_product(methods.get("mvtcae"), locs, scales,
                                 tf.constant([[1.0], [0.0]]), ("a", "b"), 2,
                                 1 / 3)
  np.testing.assert_allclose(loc.numpy(), [[1.0]], rtol=1e-5)  # q_a alone


@pytest.mark.parametrize("method", ["mopoe", "mvtcae"])
def test_gradients_stay_finite_with_absent_modalities(method):
  names = ("a", "b")
  locs = {m: tf.Variable(tf.fill([2, 1], LOCS[m])) for m in names}
  settings = objectives.ObjectiveSettings(
      names=names, rec_weights={m: 1.0 for m in names},
      style_weights={m: 1.0 for m in names}, beta=1.0, beta_style=1.0,
      prior_weight=1 / 3,
      options=methods.get(method).resolve_options({}))
  with tf.GradientTape() as tape:
    terms = methods.get(method).objective(
        {"content": {m: (locs[m], tf.fill([2, 1], SCALES[m]))
                     for m in names}, "style": {}},
        {"a": tf.constant([1.0, 0.0]), "b": tf.constant([0.0, 1.0])},
        lambda c, s, decode: {m: -tf.reduce_sum(c ** 2, -1) for m in decode},
        settings, noise.Noise(key=[0, 0]))
    loss = tf.reduce_sum(terms["loss"])
  grads = tape.gradient(loss, list(locs.values()))
  for g in grads:
    assert np.isfinite(g.numpy()).all()


def test_mvae_counts_each_style_kl_in_the_joint_and_in_its_own_elbo():
  plain = run("mvae", b_present=(1.0, 0.0))
  ms = run("mvae", b_present=(1.0, 0.0), styles=True)
  np.testing.assert_allclose(ms["kl_style_a"], [STYLE_KL, STYLE_KL],
                             rtol=1e-5)
  np.testing.assert_allclose(ms["kl_style_b"], [STYLE_KL, 0.0], rtol=1e-5)
  # beta 3, beta_style 1, b_m 1: twice (joint + own ELBO) per present m.
  np.testing.assert_allclose(
      ms["loss"] - plain["loss"], [3 * 2 * 2 * STYLE_KL, 3 * 2 * STYLE_KL],
      rtol=1e-4)
  # The other methods count them once.
  for method in ("mmjsd", "mmvae", "mopoe"):
    diff = (run(method, b_present=(1.0, 0.0), styles=True)["loss"]
            - run(method, b_present=(1.0, 0.0))["loss"])
    np.testing.assert_allclose(diff, [3 * 2 * STYLE_KL, 3 * STYLE_KL],
                               rtol=1e-4)


@pytest.mark.parametrize("method", list(methods.METHODS))
def test_every_method_refuses_an_example_with_no_present_modality(method):
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="at least one present modality"):
    run(method, present={"a": [1.0, 0.0], "b": [1.0, 0.0]})


@pytest.mark.slow
@pytest.mark.parametrize("method", list(methods.METHODS))
@pytest.mark.parametrize("styles", [False, True], ids=["shared", "ms"])
@pytest.mark.parametrize("missing", [0.0, 0.4], ids=["complete", "missing"])
def test_every_method_trains_with_and_without_styles_and_missing_data(
    method, styles, missing, tiny_config, tmp_path):
  from tf_mmjsd import training  # pylint: disable=g-import-not-at-top
  settings = dict(small=True, method=method, latent_dim=4,
                  style_dim=2 if styles else 0, missing_rate=missing,
                  steps_per_epoch=3, model_dir=str(tmp_path))
  if missing and methods.get(method).complete_data:  # JMVAE
    with pytest.raises(ConfigError, match="every modality; missing_rate"):
      tiny_config(**settings)
    return
  config = tiny_config(**settings)
  trainer = training.Trainer(config, log=lambda *_: None)
  if missing:
    masks = trainer.data.train_pipe.split.masks
    absent = 1 - np.mean([masks[m] for m in config.modality_names])
    assert absent == pytest.approx(missing, abs=0.06)
  before = {k: v.numpy().copy() for k, v in
            run_checkpoints.variables_by_path(trainer.model).items()}
  trainer.train()
  assert trainer.step == 3 and trainer.model.guard.failure() is None
  after = run_checkpoints.variables_by_path(trainer.model)
  moved = [k for k, v in after.items()
           if not np.array_equal(v.numpy(), before[k])]
  for m in config.modality_names:  # every encoder and decoder learned
    assert any(k.startswith(f"encoder_{m}/") for k in moved), m
    assert any(k.startswith(f"decoder_{m}/") for k in moved), m
  terms = trainer.test_terms()
  assert np.isfinite(list(terms.values())).all()
  assert set(terms) == set(methods.term_names(method, config.modality_names,
                                              config.style_dim))


@pytest.mark.slow
def test_mmjsd_with_the_mixture_dynamic_prior_trains(tiny_config, tmp_path):
  from tf_mmjsd import training  # pylint: disable=g-import-not-at-top
  config = tiny_config(method_options={"dynamic_prior": "moe"},
                       latent_dim=4, steps_per_epoch=3,
                       model_dir=str(tmp_path))
  trainer = training.Trainer(config, log=lambda *_: None)
  trainer.train()
  assert trainer.model.get_config()["dynamic_prior"] == "moe"
  assert trainer.model.guard.failure() is None
  terms = trainer.test_terms()
  assert np.isfinite(list(terms.values())).all() and terms["js"] > 0


def test_the_dynamic_prior_belongs_to_mmjsd(tiny_config):
  from tf_mmjsd.config import ConfigError  # pylint: disable=g-import-not-at-top
  with pytest.raises(ConfigError, match="dynamic_prior is an option of "
                     "method mmjsd; method mvae has none"):
    tiny_config(method="mvae", method_options={"dynamic_prior": "moe"})
  with pytest.raises(ConfigError, match="missing_rate must lie in"):
    tiny_config(missing_rate=0.7)
  assert sorted(mmjsd.DYNAMIC_PRIORS) == sorted(divergences.PRIOR_KLS)
