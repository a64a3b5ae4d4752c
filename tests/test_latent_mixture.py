"""The Gaussian mixture prior fitted after training
(tf_mmjsd/model/latent_mixture.py): its fit, its draws from noise, its
density and its file."""

import numpy as np
import pytest
import tensorflow as tf

from tf_mmjsd.model.latent_mixture import LatentMixture

pytestmark = pytest.mark.fast


def test_fit_recovers_two_well_separated_gaussians():
  rng = np.random.default_rng(0)
  a = rng.normal([-5.0, 0.0], [1.0, 0.5], size=(3000, 2))
  b = rng.normal([5.0, 2.0], [0.5, 2.0], size=(1000, 2))
  mixture = LatentMixture.fit(np.concatenate([a, b]), components=2, seed=0)
  order = np.argsort(mixture.locs[:, 0])
  np.testing.assert_allclose(mixture.weights[order], [0.75, 0.25],
                             atol=0.01)
  np.testing.assert_allclose(mixture.locs[order], [[-5, 0], [5, 2]],
                             atol=0.1)
  covariances = mixture.scale_trils @ np.swapaxes(mixture.scale_trils, 1, 2)
  np.testing.assert_allclose(
      covariances[order], [np.diag([1.0, 0.25]), np.diag([0.25, 4.0])],
      atol=0.15)


def test_fewer_rows_than_components_fit_one_per_row():
  mixture = LatentMixture.fit(np.arange(6.0).reshape(3, 2), components=10)
  assert mixture.components == 3


def test_draw_picks_the_component_by_the_uniform_then_scales_the_normal():
  mixture = LatentMixture(
      weights=[0.25, 0.75], locs=[[0.0, 0.0], [10.0, -10.0]],
      scale_trils=[np.eye(2), [[2.0, 0.0], [1.0, 3.0]]])
  normal = tf.constant([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
  uniform = tf.constant([[0.1], [0.25], [0.99]])  # components 0, 1, 1
  got = mixture.draw(normal, uniform).numpy()
  # mu_1 + L_1 (1, 2) = (10 + 2, -10 + 1 + 6)
  np.testing.assert_allclose(got, [[1.0, 2.0], [12.0, -3.0], [12.0, -3.0]])


def test_samples_follow_the_density():
  mixture = LatentMixture(weights=[0.3, 0.7], locs=[[-3.0], [4.0]],
                          scale_trils=[[[0.5]], [[1.0]]])
  tf.random.set_seed(0)
  x = mixture.sample(20000).numpy()[:, 0]
  assert np.mean(x < 0) == pytest.approx(0.3, abs=0.01)
  assert np.mean(x) == pytest.approx(0.3 * -3 + 0.7 * 4, abs=0.05)
  # log p(0) by hand: log(0.3 N(0; -3, 0.25) + 0.7 N(0; 4, 1)).
  def normal(v, mu, sd):
    return np.exp(-0.5 * ((v - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
  expected = np.log(0.3 * normal(0, -3, 0.5) + 0.7 * normal(0, 4, 1))
  assert float(mixture.distribution().log_prob([0.0])) == pytest.approx(
      expected, rel=1e-5)


def test_save_and_load_round_trip(tmp_path):
  mixture = LatentMixture.fit(np.random.default_rng(1).normal(size=(50, 3)),
                              components=2)
  mixture.step = 31
  mixture.save(str(tmp_path / "m.npz"))
  again = LatentMixture.load(str(tmp_path / "m.npz"))
  for name in ("weights", "locs", "scale_trils"):
    np.testing.assert_array_equal(getattr(again, name),
                                  getattr(mixture, name))
  assert again.step == 31


def test_the_export_serves_only_a_mixture_of_its_own_checkpoint(tmp_path):
  from tf_mmjsd import export  # pylint: disable=g-import-not-at-top
  mixture = LatentMixture([1.0], [[0.0]], [[[1.0]]], step=31)
  mixture.save(str(tmp_path / "latent_mixture.npz"))
  log = []
  assert export.served_mixture(str(tmp_path), 31, log.append).step == 31
  assert export.served_mixture(str(tmp_path), 40, log.append) is None
  assert "fitted at step 31, this export is of step 40" in log[-1]
  assert export.served_mixture(str(tmp_path / "none"), 31, log.append) is None


def test_inconsistent_shapes_are_refused():
  with pytest.raises(ValueError, match=r"needs weights \[2\]"):
    LatentMixture([1.0], [[0.0], [1.0]], [[[1.0]], [[1.0]]])
