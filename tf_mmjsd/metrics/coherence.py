"""Coherence: do generated samples carry the label of what they were
generated from? Judged by the coherence classifiers
(evaluation/classifiers.py), from each proper subset to each modality not
in it, and at random (every modality of one unconditional sample must
agree). One generation pass, shared with sample quality, produces it
(evaluation.suite.Evaluator.generation).

Random coherence is measured twice: with c from N(0, I) ("random") and
from a Gaussian mixture of `gmm_components` components fitted to the
training examples' joint posterior means ("random_gmm",
model/latent_mixture.py; also the sources of sample quality).

Part: {"examples", "fusion", "metric": "accuracy" or "mean_ap", "random",
"random_gmm"?, "mixture_components"?, "conditional": {<fusion>: {target:
{subset: value}}}} or {"skipped": why}; fusions also "poe_weighted" for a
method whose PoE is the pi-weighted product with N(0, I)
(evaluation.suite.WEIGHTED_POE).
"""

import math

from tf_mmjsd import methods, metrics, options
from tf_mmjsd.metrics import formatting


def compute(evaluation):
  return evaluation.coherence()


def _posterior_label(kind, method):
  """How the table names a posterior: a method whose PoE is the
  pi-weighted product with N(0, I) reports "poe" as the reference's
  product of the subset's posteriors (evaluation.suite)."""
  if methods.get(method).product == "weighted":
    return {"poe": "PoE of the subset, no prior",
            "poe_weighted": "π-weighted PoE with N(0, I)"}.get(
                kind, formatting.fusion_label(kind, method))
  return formatting.fusion_label(kind, method)


def markdown(part, results):
  names, method = results["modality_names"], results["method"]
  attributes = part.get("metric") == "mean_ap"
  kinds = sorted(part["conditional"], key=lambda k: k != part["fusion"])
  header = []
  for kind in kinds:
    for m in names:
      for key in part["conditional"][kind].get(m, {}):
        if f"{m} ← {formatting.label(key)}" not in header:
          header.append(f"{m} ← {formatting.label(key)}")
  rows = []
  for kind in kinds:
    values = {f"{m} ← {formatting.label(k)}": v for m in names
              for k, v in part["conditional"][kind].get(m, {}).items()}
    rows.append([_posterior_label(kind, method)]
                + [formatting.fmt(values.get(h)) for h in header])
  what = (f"Mean average precision over the attributes of the classifiers' "
          f"scores on {part['examples']} conditionally generated samples, "
          "against the input's attributes" if attributes else
          f"Fraction of {part['examples']} conditionally generated samples "
          "classified as the input's label")
  out = [f"{what}, for samples of each posterior (the "
         f"{formatting.fusion_label(part['fusion'], method)} posterior, "
         "which the decoders were trained on, for every subset; the other "
         "for subsets of two or more modalities).", "",
         formatting.table(["posterior"] + header, rows), ""]
  if attributes:
    out += ["(Random coherence is not defined for attributes.)", ""]
  else:
    line = ("Random coherence (all modalities of an unconditional sample "
            f"agree): {formatting.fmt(part['random'])} with c from N(0, I)")
    if "random_gmm" in part:
      line += (f", {formatting.fmt(part['random_gmm'])} with c from the "
               f"Gaussian mixture of {part['mixture_components']} components "
               "fitted to the training examples' joint posterior means")
    out += [line + ".", ""]
  classifiers = results.get("classifiers", {})
  for key, what in (("test_accuracy", "accuracy"),
                    ("test_mean_ap", "mean average precision")):
    if classifiers.get(key):
      out += [f"Classifier test {what} (real test data): " + ", ".join(
          f"{m} {formatting.fmt(classifiers[key][m], 4)}" for m in names),
              ""]
  return out


def scalars(part):
  out = {}
  for source in RANDOM:
    if source in part and not math.isnan(part[source]):
      out[f"eval/coherence/{source}"] = part[source]
  for kind, targets in part.get("conditional", {}).items():
    for m, per in targets.items():
      for k, v in per.items():
        out[f"eval/coherence_{kind}/{m}_from_{k}"] = v
  return out


# The random coherences: c from N(0, I), and from the fitted mixture.
RANDOM = ("random", "random_gmm")


def conditional(part, fusion_kind):
  """{"subset→target": coherence} of one fusion's generations."""
  per_target = part.get("conditional", {}).get(fusion_kind, {})
  return {f"{source}→{target}": v for target, row in per_target.items()
          for source, v in row.items()}


METRIC = metrics.Metric(
    name="coherence",
    title="Coherence of generated samples",
    compute=compute, markdown=markdown, scalars=scalars,
    tables=(
        metrics.Table(
            "Coherence, PoE posterior",
            lambda part: conditional(part, "poe"),
            note=("The PoE is each method's own product, except for mmJSD, "
                  "MMVAE and MMVAE+ (the π-weighted product with N(0, I)): "
                  "for them, as the mmJSD authors' evaluation "
                  "defines it, the product of the subset's posteriors "
                  "without N(0, I) (evaluation.suite; their π-weighted "
                  "product with N(0, I) is coherence.conditional."
                  "poe_weighted in each row's results.json).")),
        metrics.Table("Coherence, mixture posterior",
                      lambda part: conditional(part, "mixture")),
        metrics.Table(
            "Random coherence",
            lambda part: {k: part[k] for k in RANDOM if k in part},
            note=("random: c from N(0, I); random_gmm: c from a Gaussian "
                  "mixture fitted to the training examples' joint "
                  "posterior means after training (--gmm_components)."))),
    needs=("two_modalities",),
    options=(options.Option(
        "gmm_components", 10, "Components of the Gaussian mixture fitted "
        "to the training examples' joint posterior means after training, "
        "the second prior of random coherence and sample quality, saved "
        "as latent_mixture.npz and exported as the sample_mixture "
        "signature (0: none).", check=options.at_least(0), invalid=(-1,),
        resumable=True),),
    order=30)
