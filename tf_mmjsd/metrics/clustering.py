"""Latent clustering: do the posterior means of each subset fall into
clusters that are the classes?

For each subset and fusion, k-means with as many clusters as classes is
fitted to the posterior means of the probe's training examples and assigns
the labelled test examples' means (as MultiVae's latent clustering
metric, docs/reference_settings.md). Against the test labels it scores
the normalised mutual information (NMI, arithmetic normalisation) and the
adjusted Rand index (ARI), both 1 for clusters that are the classes and
about 0 for chance, and the accuracy of labelling each cluster with its
training examples' majority class. Each is the mean over
`clustering_runs` k-means fits of different seeds (scikit-learn's KMeans,
k-means++ starts).

Part: {"train_examples", "test_examples", "clusters", "runs",
"nmi" | "ari" | "accuracy": {<fusion>: {subset: value}}} or
{"skipped": why}.
"""

import numpy as np

from tf_mmjsd import metrics, options, subsets
from tf_mmjsd.metrics import formatting

SCORES = {"nmi": "normalised mutual information",
          "ari": "adjusted Rand index",
          "accuracy": "majority-label accuracy"}


def score(train_x, train_y, test_x, test_y, num_clusters, runs, seed):
  """{"nmi", "ari", "accuracy"}: means over `runs` k-means fits on
  train_x [N, D] assigning test_x [N', D] (labels int [N], [N'])."""
  from sklearn import cluster, metrics as sk_metrics  # pylint: disable=g-import-not-at-top
  out = {k: [] for k in SCORES}
  for run in range(runs):
    state = int(np.random.SeedSequence([seed, run]).generate_state(1)[0])
    kmeans = cluster.KMeans(num_clusters, n_init=1,
                            random_state=state).fit(train_x)
    assigned = kmeans.predict(test_x)
    out["nmi"].append(sk_metrics.normalized_mutual_info_score(test_y,
                                                              assigned))
    out["ari"].append(sk_metrics.adjusted_rand_score(test_y, assigned))
    majority = np.zeros(num_clusters, np.int64)
    for c in range(num_clusters):
      members = train_y[kmeans.labels_ == c]
      majority[c] = np.bincount(members).argmax() if len(members) else -1
    out["accuracy"].append(float(np.mean(majority[assigned] == test_y)))
  return {k: float(np.mean(v)) for k, v in out.items()}


def compute(evaluation):
  encoded = evaluation.encodings()
  if "skipped" in encoded:
    return encoded
  train, test = encoded["train"], encoded["test"]
  runs = evaluation.config.clustering_runs
  num_clusters = int(max(train[2].max(), test[2].max())) + 1
  part = {"train_examples": int(len(train[2])),
          "test_examples": int(len(test[2])), "clusters": num_clusters,
          "runs": runs, **{k: {} for k in SCORES}}
  for kind in subsets.KINDS:
    for key in SCORES:
      part[key][kind] = {}
    for subset in subsets.subsets(evaluation.names):
      train_x, train_y = evaluation.subset_means(train, subset, kind)
      test_x, test_y = evaluation.subset_means(test, subset, kind)
      if len(train_y) < num_clusters or not len(test_y):
        continue  # too few examples observe any modality of the subset
      values = score(train_x, train_y, test_x, test_y, num_clusters, runs,
                     evaluation.config.seed)
      for key, value in values.items():
        part[key][kind][subsets.key(subset)] = value
  return part


def markdown(part, results):
  out = [f"k-means with {part['clusters']} clusters (one per class), fitted "
         f"to the posterior means of {part['train_examples']} training "
         f"examples, assigning {part['test_examples']} test examples; mean "
         f"over {part['runs']} fits. NMI and ARI are 1 where the clusters "
         "are the classes, about 0 for chance.", ""]
  for key, what in SCORES.items():
    out += [f"{what[0].upper()}{what[1:]}:", "",
            formatting.per_subset_table(part[key], results, subsets.KINDS,
                                        "posterior"), ""]
  return out


def scalars(part):
  return {f"eval/clustering_{key}_{kind}/{k}": v for key in SCORES
          for kind in subsets.KINDS
          for k, v in part.get(key, {}).get(kind, {}).items()}


def _table(key, kind):
  return metrics.Table(
      f"Latent clustering {key.upper() if key != 'accuracy' else key}, "
      f"{'PoE' if kind == 'poe' else kind} posterior",
      lambda part: dict(part.get(key, {}).get(kind, {})))


METRIC = metrics.Metric(
    name="clustering",
    title="Latent clustering",
    compute=compute, markdown=markdown, scalars=scalars,
    tables=tuple(_table(key, kind) for key in ("nmi", "ari")
                 for kind in subsets.KINDS),
    needs=("class_labels",),
    options=(options.Option(
        "clustering_runs", 5, "k-means fits the latent clustering metric "
        "averages over (each of another seed).", check=options.at_least(1),
        invalid=(0, -1), resumable=True),),
    order=20)
