"""Sample quality on image features: PRD (precision/recall) and FID.

PRD (Sajjadi et al., 2018, "Assessing generative models via precision and
recall"): the union of reference and generated features is clustered into
20 k-means clusters (scikit-learn's MiniBatchKMeans with n_init=10, the
reference code's estimator); with the histograms P (reference) and Q
(generated) over clusters, for slopes lambda = tan(angle), angle in
(0, pi/2) on a grid of 1001 angles,

  precision(lambda) = sum_i min(lambda P_i, Q_i),  recall = precision / lambda,

averaged over 10 clusterings. The curve is summarised by the maxima of
F_beta (recall-weighted, beta = 8) and F_{1/beta} (precision-weighted), the
paper's "recall" and "precision" numbers.

FID (Heusel et al., 2017): ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^1/2)
of Gaussians fitted to the two feature sets.
"""

import numpy as np
import scipy.linalg


# k-means starts per clustering: the reference PRD code's
# MiniBatchKMeans(n_init=10), which keeps the start of lowest inertia.
KMEANS_STARTS = 10


def cluster_labels(points, num_clusters, seed):
  """Cluster labels int [N] of points [N, D]: scikit-learn's
  MiniBatchKMeans with `KMEANS_STARTS` k-means++ starts and its other
  defaults, as the reference PRD code clusters (docs/reference_settings.md),
  seeded by the integer `seed`. It runs on one thread: on the
  mini-batches' small products, more threads cost more than they give
  (10 clusterings of 10,000 x 128 points: 0.8 s on one thread, 2.8 s on
  two cores' default threads)."""
  from sklearn import cluster  # pylint: disable=g-import-not-at-top
  import threadpoolctl  # pylint: disable=g-import-not-at-top
  kmeans = cluster.MiniBatchKMeans(n_clusters=num_clusters,
                                   n_init=KMEANS_STARTS, random_state=seed)
  with threadpoolctl.threadpool_limits(1):
    return kmeans.fit(points).labels_


def prd_curve(reference, generated, num_angles=1001, epsilon=1e-10):
  """(precision [A], recall [A]) of two histograms over the same bins."""
  angles = np.linspace(epsilon, np.pi / 2 - epsilon, num_angles)
  slopes = np.tan(angles)[:, None]
  precision = np.minimum(reference[None] * slopes, generated[None]).sum(1)
  recall = precision / slopes[:, 0]
  return np.clip(precision, 0, 1), np.clip(recall, 0, 1)


def prd(reference, generated, num_clusters=20, num_angles=1001, num_runs=10,
        seed=0):
  """PRD curve of generated vs reference features, averaged over runs.

  Args:
    reference, generated: features [N_r, D] and [N_g, D].

  Returns:
    (precision [num_angles], recall [num_angles]).
  """
  reference = np.asarray(reference, np.float64)
  generated = np.asarray(generated, np.float64)
  if reference.ndim != 2 or generated.ndim != 2 or (
      reference.shape[1] != generated.shape[1]):
    raise ValueError(f"PRD needs features [N, D] of one D, got "
                     f"{reference.shape} and {generated.shape}")
  if min(len(reference), len(generated)) < num_clusters:
    raise ValueError(f"PRD with {num_clusters} clusters needs at least as "
                     f"many examples, got {len(reference)} and "
                     f"{len(generated)}")
  both = np.concatenate([reference, generated])
  precisions, recalls = [], []
  for run in range(num_runs):
    labels = cluster_labels(both, num_clusters, int(
        np.random.SeedSequence([seed, run]).generate_state(1)[0]))
    ref = np.bincount(labels[:len(reference)], minlength=num_clusters)
    gen = np.bincount(labels[len(reference):], minlength=num_clusters)
    p, r = prd_curve(ref / ref.sum(), gen / gen.sum(), num_angles)
    precisions.append(p)
    recalls.append(r)
  return np.mean(precisions, axis=0), np.mean(recalls, axis=0)


def max_f_beta(precision, recall, beta=8.0):
  """(max F_beta, max F_{1/beta}): PRD's (recall, precision) summary."""

  def f(b):
    num = (1 + b * b) * precision * recall
    den = b * b * precision + recall
    return float(np.max(np.where(den > 0, num / np.maximum(den, 1e-30), 0)))

  return f(beta), f(1.0 / beta)


def prd_scores(reference, generated, **kwargs):
  """{"precision": F_1/8, "recall": F_8} of generated vs reference features."""
  recall, precision = max_f_beta(*prd(reference, generated, **kwargs))
  return {"precision": precision, "recall": recall}


def fid(reference, generated):
  """Frechet distance of Gaussians fitted to two feature sets [N, D]."""
  reference = np.asarray(reference, np.float64)
  generated = np.asarray(generated, np.float64)
  mu_r, mu_g = reference.mean(0), generated.mean(0)
  cov_r = np.cov(reference, rowvar=False)
  cov_g = np.cov(generated, rowvar=False)
  offset = np.eye(len(cov_r)) * 1e-6  # keeps singular covariances finite
  root = np.real(scipy.linalg.sqrtm((cov_r + offset) @ (cov_g + offset)))
  value = np.sum((mu_r - mu_g) ** 2) + np.trace(cov_r + cov_g - 2 * root)
  return float(max(value, 0.0))
