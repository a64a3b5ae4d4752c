"""Latent probe: how well a linear classifier reads the label from each
subset's posterior mean (evaluation/latents.py, evaluation/probe.py).

Part: {"train_examples", "test_examples", "metric": "accuracy" or
"mean_ap", <fusion>: {subset: value}, "per_attribute"?: {<fusion>:
{subset: [K] APs}}} or {"skipped": why}.
"""

from tf_mmjsd import metrics, subsets
from tf_mmjsd.metrics import formatting


def compute(evaluation):
  return evaluation.latent_probe()


def markdown(part, results):
  attributes = part.get("metric") == "mean_ap"
  what = ("one logistic regression per attribute, average precision "
          "averaged over the attributes" if attributes else
          "logistic regression")
  out = [f"{'Mean average precision' if attributes else 'Accuracy'} of a "
         f"linear probe on posterior means, {what}; trained on "
         f"{part['train_examples']} training examples, tested on "
         f"{part['test_examples']}.", "",
         formatting.per_subset_table(part, results, subsets.KINDS,
                                     "posterior"), ""]
  per = part.get("per_attribute", {}).get("poe")
  if per and results.get("attribute_names"):
    keys = [k for k in formatting.subset_keys(results["modality_names"])
            if k in per]
    rows = [[name.replace("_", " ").lower()]
            + [formatting.fmt(per[k][i]) for k in keys]
            for i, name in enumerate(results["attribute_names"])]
    out += ["Average precision per attribute (PoE posterior):", "",
            formatting.table(["attribute"] + [formatting.label(k)
                                              for k in keys], rows), ""]
  return out


def scalars(part):
  return {f"eval/probe_{kind}/{k}": v for kind in subsets.KINDS
          for k, v in part.get(kind, {}).items()}


METRIC = metrics.Metric(
    name="latent_probe",
    title="Latent representation: linear probe",
    compute=compute, markdown=markdown, scalars=scalars,
    tables=(metrics.Table("Latent probe, PoE posterior",
                          lambda part: dict(part.get("poe", {}))),
            metrics.Table("Latent probe, mixture posterior",
                          lambda part: dict(part.get("mixture", {})))),
    needs=("labels",), order=10)
