"""The latent linear probe."""

import numpy as np

from tf_mmjsd.evaluation import probe


def test_probe_separates_separable_latents():
  rng = np.random.default_rng(0)
  centers = rng.normal(size=(10, 5)) * 5
  y_train, y_test = rng.integers(0, 10, 500), rng.integers(0, 10, 300)
  x_train = centers[y_train] + rng.normal(size=(500, 5)) * 0.3
  x_test = centers[y_test] + rng.normal(size=(300, 5)) * 0.3
  assert probe.accuracy(x_train, y_train, x_test, y_test) == 1.0


def test_probe_is_at_chance_on_noise():
  rng = np.random.default_rng(1)
  acc = probe.accuracy(rng.normal(size=(400, 5)), rng.integers(0, 10, 400),
                       rng.normal(size=(2000, 5)), rng.integers(0, 10, 2000))
  assert 0.05 < acc < 0.17
