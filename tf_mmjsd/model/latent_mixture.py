"""A Gaussian mixture over the content code c, fitted after training to
the joint posterior means of training examples: a prior for unconditional
generation that follows where the encoders put the data rather than
N(0, I) (as MultiVae's GaussianMixtureSampler; docs/reference_settings.md).

    p_gmm(c) = sum_k pi_k N(c; mu_k, L_k L_k^T),  k = 1..K

Styles of generated samples still come from N(0, I). `fit` uses
scikit-learn's GaussianMixture (full covariances); `draw` maps standard
normal noise [B, D] and uniform noise [B, 1] to samples, so stateless
per-example seeds give one fixed sample each (the `sample_mixture`
signature of serving.py).
"""

import io

import numpy as np
import tensorflow as tf

from tf_mmjsd import files

# Where bin/evaluate writes the fitted mixture in its output folder, and
# bin/export reads it in the run's.
FILE_NAME = "latent_mixture.npz"

class LatentMixture:
  """A fitted mixture: weights pi [K], locs mu [K, D], scale_trils L
  [K, D, D] (lower triangular, L L^T the covariance); `step`, the training
  step of the checkpoint whose posteriors it was fitted to (-1: unknown)."""

  def __init__(self, weights, locs, scale_trils, step=-1):
    self.step = int(step)
    self.weights = np.asarray(weights, np.float32)
    self.locs = np.asarray(locs, np.float32)
    self.scale_trils = np.asarray(scale_trils, np.float32)
    k, d = self.locs.shape
    if self.weights.shape != (k,) or self.scale_trils.shape != (k, d, d):
      raise ValueError(f"a mixture of {k} components over {d} dimensions "
                       f"needs weights [{k}] and scale_trils [{k}, {d}, {d}], "
                       f"got {self.weights.shape} and "
                       f"{self.scale_trils.shape}")

  @property
  def components(self):
    return len(self.weights)

  @property
  def dim(self):
    return self.locs.shape[1]

  @classmethod
  def fit(cls, means, components, seed=0):
    """The mixture of `components` (at most the number of rows) Gaussians
    with full covariances fitted by EM to `means` [N, D]."""
    from sklearn import mixture  # pylint: disable=g-import-not-at-top
    means = np.asarray(means, np.float64)
    gmm = mixture.GaussianMixture(
        n_components=min(components, len(means)), covariance_type="full",
        max_iter=2000, tol=1e-3, random_state=seed).fit(means)
    return cls(gmm.weights_, gmm.means_,
               np.linalg.cholesky(gmm.covariances_))

  def draw(self, normal, uniform):
    """Samples c [B, D] from standard normal [B, D] and uniform [B, 1]
    noise: the component whose cumulative weight first exceeds the
    uniform, then mu_k + L_k normal."""
    bounds = tf.constant(np.cumsum(self.weights)[None, :-1], tf.float32)
    index = tf.reduce_sum(tf.cast(uniform[:, :1] >= bounds, tf.int32), -1)
    locs = tf.gather(tf.constant(self.locs), index)
    trils = tf.gather(tf.constant(self.scale_trils), index)
    return locs + tf.linalg.matvec(trils, normal)

  def sample(self, num):
    """`num` samples [num, D] from TensorFlow's stateful generator."""
    return self.draw(tf.random.normal([num, self.dim]),
                     tf.random.uniform([num, 1]))

  def distribution(self):
    """The mixture as a tfp distribution (batch [], event [D])."""
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top
    tfd = tfp.distributions
    return tfd.MixtureSameFamily(
        tfd.Categorical(probs=self.weights),
        tfd.MultivariateNormalTriL(self.locs, self.scale_trils))

  def save(self, path):
    """Writes the mixture to `path` (.npz), atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, weights=self.weights, locs=self.locs,  # local: memory
             scale_trils=self.scale_trils, step=np.int64(self.step))
    files.write_atomic(path, buffer.getvalue())

  @classmethod
  def load(cls, path):
    """The mixture `save` wrote to `path`."""
    with files.load_npz(path) as stored:
      return cls(stored["weights"], stored["locs"], stored["scale_trils"],
                 int(stored["step"]) if "step" in stored else -1)
