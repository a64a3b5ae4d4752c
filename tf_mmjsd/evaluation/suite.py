"""The evaluation suite of a trained model on one data set's test split.

`Evaluator(...).evaluate()` computes (evaluate.py writes them):

  latent_probe    linear-probe accuracy of every subset's posterior mean,
                  PoE and mixture (latents.py)
  coherence       subset -> each modality not in it, and random (all
                  modalities agree), judged by the classifiers
  likelihood      importance-weighted log p(X) with each subset's content
                  posterior as proposal, K samples (likelihood.py)
  sample_quality  PRD precision/recall and FID of every image modality,
                  generated from each subset and at random (quality.py)
  figures         a grid per conditioning subset and a random-sample grid

Every pass streams batches through one `tf.function`; only predictions and
(at most `quality_examples`) features are kept, so the 200,000 test triples
of MNIST-SVHN-Text fit in memory.
"""

import time

import numpy as np
import tensorflow as tf

from tf_mmjsd import fusion, interrupts
from tf_mmjsd.data import registry, text as text_lib
from tf_mmjsd.data.pipeline import Pipeline
from tf_mmjsd.evaluation import (average_precision, coherence,
                                 features as features_lib, figures, latents,
                                 likelihood, quality)


# The coherence key of the pi-weighted PoE with N(0, I) of mmJSD and MMVAE
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

  # --- latent probe -----------------------------------------------------

  def latent_probe(self):
    return latents.run_probe(self.model, self.train_pipe, self.test_pipe,
                         self.config.probe_train_examples, self.config.seed,
                         test_rows=self.rows,
                         batch_size=self.config.eval_batch_size)

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

  def generation(self, feature_name, feature_fn):
    """(coherence, sample_quality) dicts from one pass over the test rows.

    Coherence is reported for both fusions (`coherence_conditions`);
    sample quality for the default fusion's samples, clipped to the data's
    range before the feature network (`clip_ranges`). Without labels (or
    classifiers) coherence is skipped and sample quality, which needs only
    a feature network, uses every complete test example."""
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

    @tf.function
    def random_step():
      samples = model.sample(cfg.eval_batch_size)
      preds = ({m: judge(clf[m], x) for m, x in samples.items()} if judged
               else {})
      feats = {f"{m}|random": features(m, samples[m]) for m in images}
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
    qual = self._quality(feature_name, feats, images, rows, ranges)
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
           "metric": "mean_ap" if attributes else "accuracy",
           "random": (float("nan") if attributes else
                      coherence.random(random_preds)),
           "conditional": conditional}
    return coh, qual

  def _quality(self, feature_name, feats, images, rows, ranges):
    """The sample_quality dict from the features of real and generated
    images (generation)."""
    cfg = self.config
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
            "examples": int(min(len(rows), cfg.quality_examples)),
            "prd": f"{cfg.prd_clusters} clusters, {cfg.prd_angles} angles, "
                   f"{cfg.prd_runs} runs of k-means with "
                   f"{quality.KMEANS_STARTS} starts each",
            "fusion": self.model.default_fusion,
            "clipped_to": {m: list(r) for m, r in ranges.items()},
            "modalities": per_modality}
    return qual

  # --- likelihood -------------------------------------------------------

  def likelihoods(self):
    """Mean importance-weighted log p(X) under every proposal."""
    model, cfg = self.model, self.config
    rows = self.complete_rows
    if cfg.likelihood_examples:
      rows = rows[:cfg.likelihood_examples]
    subsets = fusion.subsets(self.names)

    @tf.function
    def step(inputs):
      return {f"{kind}|{latents.subset_key(s)}": likelihood.log_likelihood(
          model, inputs, s, kind, cfg.likelihood_samples)
              for kind in fusion.KINDS for s in subsets}

    values = _Collector()
    for batch in self.test_pipe.eval_dataset(cfg.eval_batch_size, rows):
      values.add(step(batch["inputs"]))
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

  def evaluate(self):
    """(results dict, figures {name: PIL image}), with seconds per part."""
    seconds = {}

    def timed(name, fn, *args):
      start = time.time()
      self.log(f"Evaluating: {name} ...")
      out = fn(*args)
      interrupts.check()  # a signal dropped in a destructor stops here
      seconds[name] = round(time.time() - start, 2)
      return out

    feature_name, feature_fn = features_lib.feature_function(
        self.config, self.classifiers)
    meta = self.classifier_meta
    results = {
        "test_examples": int(len(self.rows)),
        "classifiers": ({"skipped": meta["skipped"]} if "skipped" in meta
                        else {"test_accuracy": {
                            m: v["test_accuracy"]
                            for m, v in meta["modalities"].items()}}),
        "attribute_names": list(registry.of(
            self.config.dataset, self.config.data_path).attribute_names),
        "latent_probe": timed("latent probe", self.latent_probe)}
    mean_ap = {m: v["test_mean_ap"] for m, v in
               meta.get("modalities", {}).items() if "test_mean_ap" in v}
    if mean_ap:
      results["classifiers"]["test_mean_ap"] = mean_ap
    results["coherence"], results["sample_quality"] = timed(
        "coherence and sample quality", self.generation, feature_name,
        feature_fn)
    results["likelihood"] = timed("log-likelihoods", self.likelihoods)
    images = timed("figures", self.figures)
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
