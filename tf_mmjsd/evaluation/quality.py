"""Sample quality on image features: PRD (precision/recall) and FID.

PRD (Sajjadi et al., 2018, "Assessing generative models via precision and
recall"): the union of reference and generated features is clustered into
20 k-means clusters (each clustering the best of 10 k-means++ starts, as
the reference code's n_init=10); with the histograms P (reference) and Q
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


# k-means starts per clustering, the best (lowest inertia) kept, as the
# reference PRD code does (scikit-learn's n_init=10).
KMEANS_STARTS = 10


def kmeans(points, num_clusters, rng, iterations=50, starts=KMEANS_STARTS):
  """Cluster labels [N] of points [N, D]: the best of `starts` runs of
  k-means++ then Lloyd's steps (lowest inertia, `inertia`)."""
  best, best_inertia = None, np.inf
  for _ in range(starts):
    labels = kmeans_once(points, num_clusters, rng, iterations)
    value = inertia(points, labels)
    if value < best_inertia:
      best, best_inertia = labels, value
  return best


def inertia(points, labels):
  """Sum of squared distances of points [N, D] to their cluster's mean."""
  points = np.asarray(points, np.float64)
  total = 0.0
  for k in np.unique(labels):
    members = points[labels == k]
    total += float(np.sum((members - members.mean(0)) ** 2))
  return total


def kmeans_once(points, num_clusters, rng, iterations=50):
  """Cluster labels [N] of points [N, D] by k-means++ then Lloyd's steps."""
  points = np.asarray(points, np.float32)
  n = len(points)
  sq = np.sum(points * points, axis=1)
  chosen = [rng.integers(n)]
  dist = np.sum((points - points[chosen[0]]) ** 2, axis=1, dtype=np.float64)
  for _ in range(1, num_clusters):
    total = dist.sum()
    i = rng.choice(n, p=dist / total) if total > 0 else rng.integers(n)
    chosen.append(i)
    dist = np.minimum(dist, np.sum((points - points[i]) ** 2, axis=1))
  centers = points[chosen]
  labels = None
  for _ in range(iterations):
    d = sq[:, None] - 2.0 * points @ centers.T + np.sum(centers ** 2, 1)[None]
    new = np.argmin(d, axis=1)
    if labels is not None and np.array_equal(new, labels):
      break
    labels = new
    one_hot = np.zeros((n, num_clusters), np.float32)
    one_hot[np.arange(n), labels] = 1.0
    counts = one_hot.sum(0)
    sums = one_hot.T @ points
    filled = counts > 0  # an emptied cluster keeps its old center
    centers[filled] = sums[filled] / counts[filled, None]
  return labels


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
  rng = np.random.default_rng(seed)
  both = np.concatenate([reference, generated])
  precisions, recalls = [], []
  for _ in range(num_runs):
    labels = kmeans(both, num_clusters, rng)
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
