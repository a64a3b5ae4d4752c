"""The evaluation suite of a trained model on one data set's test split.

`Evaluator(...).evaluate()` computes the part of every registered metric
(tf_mmjsd/metrics/: latent probe, clustering, coherence, likelihood,
sample quality) and the figures (a grid per conditioning subset and a
random-sample grid); evaluate.py writes them.

The Evaluator is what a metric's `compute` receives: the model, the
config, the splits, the evaluated rows, the classifiers, and the passes
metrics share, each run once: `encodings()` (posterior parameters of the
probe's training rows and the labelled test rows: latent probe,
clustering), `generation()` (conditional and random samples, judged and
featurised: `coherence()`, then `sample_quality()`'s PRD and FID of the
features it kept) and `likelihoods()` (one traced function per fusion,
the subset a [M] indicator).

Every pass streams batches through one `tf.function`; only predictions and
(at most `quality_examples`) features are kept, so the 200,000 test triples
of MNIST-SVHN-Text fit in memory.
"""

import time

import numpy as np
import tensorflow as tf

from tf_mmjsd import fusion, interrupts, metrics
from tf_mmjsd.data import registry, text as text_lib
from tf_mmjsd.data.pipeline import Pipeline
from tf_mmjsd.model.latent_mixture import LatentMixture
from tf_mmjsd.evaluation import (average_precision, coherence,
                                 features as features_lib, figures, latents,
                                 likelihood, quality)


# The key of random generation from the fitted LatentMixture (coherence,
# sample quality), beside "random" (N(0, I)).
RANDOM_MIXTURE = "random_gmm"
# The coherence key of the pi-weighted PoE with N(0, I) of mmJSD, MMVAE and
# MMVAE+ (methods.Method.product "weighted")
# (their inference's "poe"), where "poe" holds the reference's definition.
WEIGHTED_POE = "poe_weighted"


def reference_product(model):
  """True where the coherence "poe" rows of `model`'s method follow the
  mmJSD authors' "dynamic prior" generation, the unweighted product of
  the subset's posteriors without N(0, I) (docs/reference_settings.md),
  instead of the method's own pi-weighted product with N(0, I)."""
  return model.method_entry.product == "weighted"


def _generate_from_product(model, given, names):
  """Likelihood means {m: [B, *shape_m]} of `names` decoded from one
  sample of the unweighted product of the posteriors of `given` (every
  example has every modality of `given`), without N(0, I)."""
  content = model.encode(given)["content"]
  locs = tf.stack([content[m][0] for m in given])
  scales = tf.stack([content[m][1] for m in given])
  loc, scale = fusion.product_of_experts(locs, scales,
                                         tf.ones_like(locs[..., 0]))
  return model.decode_means(loc + scale * tf.random.normal(tf.shape(loc)),
                            names)


def _image_names(model):
  """The modalities that sample quality measures: [H, W, C] images."""
  return [s.name for s in model.specs
          if len(s.shape) == 3 and not text_lib.is_text(s)]


class Evaluator:
  """Runs the suite for one model on one data set's test split.

  Args:
    model: a trained MultimodalVAE.
    config: its ExperimentConfig (evaluation settings included).
    train_split, test_split: the data (data.load_splits).
    classifiers: {modality: Classifier}; classifier_meta: their metadata.
  """

  def __init__(self, model, config, train_split, test_split, classifiers,
               classifier_meta, log=print):
    self.model, self.config, self.log = model, config, log
    self.train_pipe = Pipeline(train_split, config.modalities)
    self.test_pipe = Pipeline(test_split, config.modalities)
    self.test_split = test_split
    self.classifiers, self.classifier_meta = classifiers, classifier_meta
    self.names = model.names
    rng = np.random.default_rng([config.seed, 5])
    rows = rng.permutation(len(test_split))
    if config.eval_examples:
      rows = rows[:config.eval_examples]
    self.rows = rows
    self.complete_rows = rows[test_split.complete()[rows]]
    self.labelled_rows = self.complete_rows[
        test_split.labelled()[self.complete_rows]]
    self.attributes = np.ndim(test_split.labels) == 2
    self._shared = {}

  def _once(self, name, fn):
    """fn()'s value, computed on the first call of a shared pass."""
    if name not in self._shared:
      self._shared[name] = fn()
    return self._shared[name]

  # --- posterior parameters (latent probe, clustering) ------------------

  def encodings(self):
    """{"train": encoded, "test": encoded} of the probe's training rows
    (`probe_train_examples` random labelled ones) and the labelled test
    rows, each (content, present, labels) of latents.encode_split; or
    {"skipped": why} where either has no label. Computed once."""
    return self._once("encodings", lambda: latents.encode_probe_rows(
        self.model, self.train_pipe, self.test_pipe,
        self.config.probe_train_examples, self.config.seed,
        test_rows=self.rows, batch_size=self.config.eval_batch_size))

  def subset_means(self, encoded, subset, fusion_kind):
    """(means [N, D], labels [N]) of the posterior of `subset` under one
    fusion, for the N rows of `encoded` (an entry of `encodings()`) that
    observe a modality of `subset`."""
    content, present, labels = latents.rows_with_any(encoded, subset)
    if not len(labels):
      return np.zeros([0, self.model.latent_dim], np.float32), labels
    return latents.subset_means(self.model, content, present, subset,
                                fusion_kind), labels

  def latent_mixture(self):
    """The LatentMixture of `gmm_components` Gaussians fitted to the joint
    posterior means (every present modality, the method's own fusion) of
    up to `probe_train_examples` random training examples; None where
    gmm_components is 0. Fitted once."""
    def fit():
      cfg = self.config
      if not cfg.gmm_components:
        return None
      size = len(self.train_pipe.split)
      rng = np.random.default_rng([cfg.seed, 7])
      rows = np.sort(rng.choice(size, min(cfg.probe_train_examples or size,
                                          size), replace=False))
      content, present, _ = latents.encode_split(
          self.model, self.train_pipe, cfg.eval_batch_size, rows)
      means = latents.subset_means(self.model, content, present, self.names,
                                   self.model.default_fusion)
      return LatentMixture.fit(means, cfg.gmm_components, cfg.seed)
    return self._once("latent_mixture", fit)

  @property
  def fitted_mixture(self):
    """The LatentMixture `latent_mixture` fitted, or None (not asked for,
    or gmm_components 0)."""
    return self._shared.get("latent_mixture")

  def latent_probe(self):
    """The latent probe's part (latents.probe_part of `encodings()`; the
    training summary computes it too)."""
    return latents.probe_part(self.model, self.encodings())

  # --- coherence and sample quality (one generation pass) ---------------

  def coherence_conditions(self):
    """{fusion: [subsets]} generated from: every proper subset under the
    method's default fusion; under the other fusion, those of two or more
    modalities (for one modality the two differ only by the prior). For a
    method whose PoE is mmJSD's pi-weighted product with N(0, I), "poe"
    is the mmJSD authors' definition (`reference_product`) and that
    weighted product is WEIGHTED_POE."""
    default = self.model.default_fusion
    proper = [s for s in fusion.subsets(self.names)
              if len(s) < len(self.names)]
    out = {kind: [s for s in proper if kind == default or len(s) > 1]
           for kind in fusion.KINDS}
    if reference_product(self.model):
      out[WEIGHTED_POE] = [s for s in proper if len(s) > 1]
    return {kind: subsets for kind, subsets in out.items() if subsets}

  def features(self):
    """(name, fn(m, images) -> features) of sample quality
    (features.feature_function), or (name, None). Made once."""
    return self._once("features", lambda: features_lib.feature_function(
        self.config, self.classifiers))

  def generation(self, feature_name=None, feature_fn=None):
    """(coherence, sample_quality) dicts of one generation pass over the
    test rows, with the features of `features()` (the pass and the scores
    computed once) or of the (feature_name, feature_fn) given.

    Coherence is reported for both fusions (`coherence_conditions`);
    sample quality for the default fusion's samples, clipped to the data's
    range before the feature network (`clip_ranges`). Without labels (or
    classifiers) coherence is skipped and sample quality, which needs only
    a feature network, uses every complete test example."""
    if feature_fn is None and feature_name is None:
      return self.coherence(), self.sample_quality()
    coh, sampled = self._generation(feature_name, feature_fn)
    return coh, self._quality(sampled)

  def coherence(self):
    """The coherence part: the generation pass (`generation`), run once;
    the features it keeps wait for `sample_quality`."""
    return self._once("generation",
                      lambda: self._generation(*self.features()))[0]

  def sample_quality(self):
    """The sample quality part: PRD and FID of the features the generation
    pass kept (run here if coherence has not run it). Computed once."""
    return self._once("sample_quality", lambda: self._quality(self._once(
        "generation", lambda: self._generation(*self.features()))[1]))

  def _generation(self, feature_name, feature_fn):
    model, names, cfg = self.model, self.names, self.config
    images = _image_names(model)
    if len(names) < 2:
      reason = "coherence needs two modalities"
      return {"skipped": reason}, {"skipped": reason}
    judged = bool(self.classifiers) and len(self.labelled_rows) > 0
    if "skipped" in self.classifier_meta:
      unjudged = f"no classifiers ({self.classifier_meta['skipped']})"
    else:
      unjudged = "no labelled test example has every modality"
    rows = self.labelled_rows if judged else self.complete_rows
    if not len(rows):
      reason = "no test example has every modality"
      return {"skipped": reason}, {"skipped": reason}
    if not judged and feature_fn is None:
      return {"skipped": unjudged}, {
          "skipped": f"{unjudged}, so no feature network; give "
                     "--inception_weights to measure it without labels"}
    conditions = self.coherence_conditions()
    default = model.default_fusion
    clf = self.classifiers
    attributes = self.attributes
    ranges = clip_ranges(self.test_split, images)

    def judge(classifier, x):
      """The predicted class [B], or attribute probabilities [B, K]."""
      logits = classifier(x)
      return tf.sigmoid(logits) if attributes else tf.argmax(logits, -1)

    def features(m, x):
      return feature_fn(m, tf.clip_by_value(x, *ranges[m]))

    @tf.function
    def conditional_step(inputs):
      preds, feats = {}, {}
      for kind, subsets in conditions.items():
        for subset in subsets:
          missing = [m for m in names if m not in subset]
          given = {m: inputs[m] for m in subset}
          if kind == "poe" and reference_product(model):
            gen = _generate_from_product(model, given, missing)
          else:
            gen = model.generate(given, names=missing, fusion_kind=(
                "poe" if kind == WEIGHTED_POE else kind))
          for m, x in gen.items():
            key = f"{m}|{latents.subset_key(subset)}"
            if judged:
              preds[f"{kind}|{key}"] = judge(clf[m], x)
            if m in images and kind == default:
              feats[key] = features(m, x)
      for m in images:
        feats[f"{m}|real"] = feature_fn(m, inputs[m])
      return preds, feats

    mixture = self.latent_mixture()
    priors = {"random": lambda: model.sample(cfg.eval_batch_size)}
    if mixture is not None:
      priors[RANDOM_MIXTURE] = lambda: model.sample(cfg.eval_batch_size,
                                                    prior=mixture)

    @tf.function
    def random_step():
      preds, feats = {}, {}
      for source, draw in priors.items():
        samples = draw()
        if judged:
          preds.update({f"{source}|{m}": judge(clf[m], x)
                        for m, x in samples.items()})
        feats.update({f"{m}|{source}": features(m, samples[m])
                      for m in images})
      return preds, feats

    preds, feats = _Collector(), _Collector(cap=cfg.quality_examples)
    for batch in self.test_pipe.eval_dataset(cfg.eval_batch_size, rows):
      p, f = conditional_step(batch["inputs"])
      preds.add(p)
      feats.add(f)
    random_preds, drawn = _Collector(cap=len(rows)), 0
    while drawn < len(rows):
      p, f = random_step()
      random_preds.add(p)
      feats.add(f)
      drawn += cfg.eval_batch_size
    preds, feats, random_preds = preds.arrays(), feats.arrays(), (
        random_preds.arrays())
    qual = {"features": feature_name, "values": feats, "images": images,
            "rows": len(rows), "ranges": ranges}
    if not judged:
      return {"skipped": unjudged}, qual

    labels = self.test_split.labels[rows]
    conditional = {kind: {m: {} for m in names} for kind in conditions}
    for key, p in preds.items():
      kind, m, subset = key.split("|")
      conditional[kind][m][subset] = (
          average_precision.mean_average_precision(labels, p) if attributes
          else coherence.conditional(p, labels))
    # Random coherence (all modalities predict one class) has no meaning
    # for many attributes; the original's CelebA version was a bug.
    coh = {"examples": int(len(rows)), "fusion": default,
           "metric": "mean_ap" if attributes else "accuracy"}
    for source in priors:
      coh[source] = (float("nan") if attributes else coherence.random(
          {k.split("|")[1]: v for k, v in random_preds.items()
           if k.startswith(source + "|")}))
    if mixture is not None:
      coh["mixture_components"] = mixture.components
    coh["conditional"] = conditional
    return coh, qual

  def _quality(self, sampled):
    """The sample_quality dict from the features of real and generated
    images the generation pass kept (or its {"skipped": why})."""
    if "skipped" in sampled:
      return sampled
    cfg = self.config
    if min(sampled["rows"], cfg.quality_examples) < cfg.prd_clusters:
      return {"skipped": f"{sampled['rows']} generated examples, fewer "
                         f"than PRD's {cfg.prd_clusters} clusters"}
    feature_name, feats, images, ranges = (
        sampled["features"], sampled["values"], sampled["images"],
        sampled["ranges"])
    per_modality = {}
    for m in images:
      reference = feats[f"{m}|real"]
      per_modality[m] = {}
      sources = [k.split("|")[1] for k in feats
                 if k.startswith(m + "|") and not k.endswith("|real")]
      for source in sources:
        generated = feats[f"{m}|{source}"]
        per_modality[m][source] = {
            **quality.prd_scores(reference, generated,
                                 num_clusters=cfg.prd_clusters,
                                 num_angles=cfg.prd_angles,
                                 num_runs=cfg.prd_runs, seed=cfg.seed),
            "fid": quality.fid(reference, generated)}
    qual = {"features": feature_name,
            "examples": int(min(sampled["rows"], cfg.quality_examples)),
            "prd": f"{cfg.prd_clusters} clusters, {cfg.prd_angles} angles, "
                   f"{cfg.prd_runs} runs of mini-batch k-means with "
                   f"{quality.KMEANS_STARTS} starts each",
            "fusion": self.model.default_fusion,
            "clipped_to": {m: list(r) for m, r in ranges.items()},
            "modalities": per_modality}
    return qual

  # --- likelihood -------------------------------------------------------

  def likelihoods(self):
    """Mean importance-weighted log p(X) under every proposal (the
    likelihood metric's part)."""
    return self._once("likelihoods", self._likelihoods)

  def _likelihoods(self):
    model, cfg = self.model, self.config
    rows = self.complete_rows
    if cfg.likelihood_examples:
      rows = rows[:cfg.likelihood_examples]
    subsets = fusion.subsets(self.names)

    # One trace per fusion serves every subset (a [M] indicator tensor),
    # and a batch is encoded once for all of them.
    encode = tf.function(model.encode, reduce_retracing=True)

    @tf.function(reduce_retracing=True)
    def estimate(inputs, encoded, indicator, kind):
      return likelihood.log_likelihood(model, inputs, indicator, kind,
                                       cfg.likelihood_samples, encoded)

    values = _Collector()
    for batch in self.test_pipe.eval_dataset(cfg.eval_batch_size, rows):
      inputs = batch["inputs"]
      encoded = encode(inputs)
      values.add({f"{kind}|{latents.subset_key(s)}": estimate(
          inputs, encoded, likelihood.subset_indicator(model, s), kind)
                  for kind in fusion.KINDS for s in subsets})
    out = {"samples": cfg.likelihood_samples, "examples": int(len(rows)),
           **{kind: {} for kind in fusion.KINDS}}
    for key, v in values.arrays().items():
      kind, subset = key.split("|")
      out[kind][subset] = float(np.mean(v))
    return out

  # --- figures ----------------------------------------------------------

  def figures(self):
    """{name: PIL image}: a grid per conditioning subset, and random."""
    cfg = self.config
    columns = figures.columns(self.test_split, cfg.num_sample_columns)
    images = {}
    if len(columns):
      batch = next(iter(self.test_pipe.eval_dataset(len(columns), columns)))
      inputs = {m: v.numpy() for m, v in batch["inputs"].items()}
      for subset in fusion.subsets(self.names):
        images["from_" + latents.subset_key(subset)] = figures.subset_grid(
            self.model, inputs, subset, cfg.figure_rows, seed=cfg.seed)
    images["random"] = figures.random_grid(
        self.model, cfg.num_sample_columns, groups=cfg.figure_rows)
    return images

  def unmet(self, metric):
    """Why the run or the data cannot give `metric` what it needs
    (metrics.NEEDS), or None."""
    labels = self.test_split.labels
    for need in metric.needs:
      if need in ("labels", "class_labels") and not (
          self.test_split.labelled()[self.rows].any()):
        return "no test example has a label"
      if need == "class_labels" and np.ndim(labels) == 2:
        return "the labels are attributes, not one class per example"
      if need == "classifiers" and not self.classifiers:
        return (f"no classifiers ({self.classifier_meta['skipped']})"
                if "skipped" in self.classifier_meta else "no classifiers")
      if need == "two_modalities" and len(self.names) < 2:
        return f"{metric.name} needs two modalities"
    return None

  def evaluate(self):
    """(results dict, figures {name: PIL image}), with seconds per part:
    {metric name: its part} for every registered metric, in their order,
    and "seconds" (a metric that reads a shared pass first pays for it)."""
    seconds = {}

    def timed(key, title, fn, *args):
      start = time.time()
      self.log(f"Evaluating: {title} ...")
      out = fn(*args)
      interrupts.check()  # a signal dropped in a destructor stops here
      seconds[key] = round(time.time() - start, 2)
      return out

    meta = self.classifier_meta
    results = {
        "test_examples": int(len(self.rows)),
        "classifiers": ({"skipped": meta["skipped"]} if "skipped" in meta
                        else {"test_accuracy": {
                            m: v["test_accuracy"]
                            for m, v in meta["modalities"].items()}}),
        "attribute_names": list(registry.of(
            self.config.dataset, self.config.data_path).attribute_names)}
    mean_ap = {m: v["test_mean_ap"] for m, v in
               meta.get("modalities", {}).items() if "test_mean_ap" in v}
    if mean_ap:
      results["classifiers"]["test_mean_ap"] = mean_ap
    for metric in metrics.ordered():
      unmet = self.unmet(metric)
      results[metric.name] = ({"skipped": unmet} if unmet else timed(
          metric.name, metric.title.lower(), metric.compute, self))
    if self.config.gmm_components and self.fitted_mixture is None:
      timed("latent_mixture", "latent mixture", self.latent_mixture)
    images = timed("figures", "figures", self.figures)
    results["seconds"] = seconds
    return results, images


def clip_ranges(split, names):
  """{m: (low, high)}: the range of modality m's data in `split`, to which
  generated images are clipped before the feature network (a linear
  decoder's means leave it). 8-bit images are [0, 1]; float data give
  their own minimum and maximum over the present examples."""
  out = {}
  for m in names:
    pool = split.pools[m]
    if pool.dtype == np.uint8:
      out[m] = (0.0, 1.0)
      continue
    rows = np.unique(split.indices[m] if split.masks is None or m not in
                     split.masks else split.indices[m][split.masks[m]])
    low, high = np.inf, -np.inf
    for start in range(0, len(rows), 4096):
      part = np.asarray(pool[rows[start:start + 4096]], np.float32)
      low = min(low, float(np.nanmin(part)))
      high = max(high, float(np.nanmax(part)))
    out[m] = (low, high)
  return out


class _Collector:
  """Concatenates dicts of per-batch arrays, keeping at most `cap` rows."""

  def __init__(self, cap=None):
    self.cap, self.parts = cap, {}

  @property
  def count(self):
    return min((sum(len(p) for p in v) for v in self.parts.values()),
               default=0)

  def add(self, values):
    for key, value in values.items():
      parts = self.parts.setdefault(key, [])
      have = sum(len(p) for p in parts)
      if self.cap is None or have < self.cap:
        value = np.asarray(value)
        parts.append(value if self.cap is None else value[:self.cap - have])

  def arrays(self):
    return {k: np.concatenate(v) for k, v in self.parts.items()}
