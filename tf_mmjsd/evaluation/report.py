"""results.md in the paper's table layout, and flat scalars for TensorBoard.

Columns follow the paper: subsets of modalities as "a,b" (the full set is
"joint" in the original); coherence columns name the generated modality and
the subset it was generated from.
"""

import math

from tf_mmjsd import methods, subsets as subsets_lib
from tf_mmjsd.subsets import key as subset_key


def fusion_label(kind, method):
  """How a report names a method's "poe" or "mixture" posterior."""
  if kind == "mixture" and methods.get(method).mixture == "subsets":
    return "mixture of subset PoEs"
  return {"poe": "PoE", "mixture": "mixture"}.get(kind, kind)


def _coherence_label(kind, method):
  """How the coherence table names a posterior: a method whose PoE is the
  pi-weighted product with N(0, I) reports "poe" as the reference's
  product of the subset's posteriors (evaluation.suite)."""
  if methods.get(method).product == "weighted":
    return {"poe": "PoE of the subset, no prior",
            "poe_weighted": "π-weighted PoE with N(0, I)"}.get(
                kind, fusion_label(kind, method))
  return fusion_label(kind, method)


def _fmt(value, digits=3):
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "–"
  return f"{value:.{digits}f}"


def _table(header, rows):
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(r) + " |" for r in rows]
  return "\n".join(lines)


def _label(key):
  return key.replace("+", ",")


def markdown(results, names):
  """The tables of a results dict (see evaluate.evaluate) as Markdown."""
  subsets = [subset_key(s) for s in subsets_lib.subsets(names)]
  out = [f"# Evaluation of {results['model_dir']} (step {results['step']})",
         ""]
  if results.get("synthetic"):
    out += [f"Data: **{results['dataset']}**, a synthetic stand-in. These "
            "numbers are not results on the real data set.", ""]
  out += [f"Method {results['method']}, data set {results['dataset']}, "
          f"{results['test_examples']} test examples.", ""]

  probe = results["latent_probe"]
  attributes = probe.get("metric") == "mean_ap"
  metric = "mean average precision" if attributes else "accuracy"
  out += [f"## Latent representation: linear-probe {metric}", ""]
  if "skipped" in probe:
    out += [f"Skipped: {probe['skipped']}.", ""]
  else:
    what = ("one logistic regression per attribute, average precision "
            "averaged over the attributes" if attributes else
            "logistic regression")
    out += [f"Posterior means, {what}; trained on "
            f"{probe['train_examples']} training examples, tested on "
            f"{probe['test_examples']}.", ""]
    rows = [[fusion_label(kind, results["method"])]
            + [_fmt(probe[kind].get(k)) for k in subsets]
            for kind in subsets_lib.KINDS]
    out += [_table(["posterior"] + [_label(k) for k in subsets], rows), ""]
    per = probe.get("per_attribute", {}).get("poe")
    if per and results.get("attribute_names"):
      out += ["Average precision per attribute (PoE posterior):", ""]
      rows = [[name.replace("_", " ").lower()] + [_fmt(per[k][i]) for k in subsets
                                          if k in per]
              for i, name in enumerate(results["attribute_names"])]
      out += [_table(["attribute"] + [_label(k) for k in subsets if k in per],
                     rows), ""]

  coh = results["coherence"]
  out += ["## Coherence of generated samples", ""]
  if "skipped" in coh:
    out += [f"Skipped: {coh['skipped']}.", ""]
  else:
    coh_attributes = coh.get("metric") == "mean_ap"
    kinds = sorted(coh["conditional"], key=lambda k: k != coh["fusion"])
    header = []
    for kind in kinds:
      for m in names:
        for key in coh["conditional"][kind][m]:
          if f"{m} ← {_label(key)}" not in header:
            header.append(f"{m} ← {_label(key)}")
    rows = []
    for kind in kinds:
      values = {f"{m} ← {_label(k)}": v
                for m in names for k, v in coh["conditional"][kind][m].items()}
      rows.append([_coherence_label(kind, results["method"])]
                  + [_fmt(values.get(h)) for h in header])
    what = (f"Mean average precision over the attributes of the classifiers' "
            f"scores on {coh['examples']} conditionally generated samples, "
            "against the input's attributes" if coh_attributes else
            f"Fraction of {coh['examples']} conditionally generated samples "
            "classified as the input's label")
    out += [f"{what}, for samples of each posterior (the "
            f"{fusion_label(coh['fusion'], results['method'])} posterior, "
            "which the decoders were trained on, for every subset; the "
            "other for subsets of two or more modalities).", ""]
    out += [_table(["posterior"] + header, rows), ""]
    if coh_attributes:
      out += ["(Random coherence is not defined for attributes.)", ""]
    else:
      out += [f"Random coherence (all modalities of an unconditional sample "
              f"agree): {_fmt(coh['random'])}.", ""]
    acc = results["classifiers"]["test_accuracy"]
    out += ["Classifier test accuracy (real test data): " + ", ".join(
        f"{m} {_fmt(acc[m], 4)}" for m in names), ""]
    ap = results["classifiers"].get("test_mean_ap")
    if ap:
      out += ["Classifier test mean average precision (real test data): "
              + ", ".join(f"{m} {_fmt(ap[m], 4)}" for m in names), ""]

  lik = results["likelihood"]
  out += ["## Test log-likelihood log p(X)", "",
          f"Importance-weighted estimate with K = {lik['samples']} samples "
          f"of the content posterior of each subset (styles from their own "
          f"posteriors), mean over {lik['examples']} test examples; higher "
          "is better.", ""]
  rows = [[fusion_label(kind, results["method"])]
          + [_fmt(lik[kind].get(k), 1) for k in subsets]
          for kind in subsets_lib.KINDS]
  out += [_table(["proposal"] + [_label(k) for k in subsets], rows), ""]

  quality = results["sample_quality"]
  out += ["## Sample quality of image modalities", ""]
  if "skipped" in quality:
    out += [f"Skipped: {quality['skipped']}.", ""]
  elif not quality.get("modalities"):
    out += ["No image modality.", ""]
  else:
    out += [f"PRD (F_1/8 precision, F_8 recall; {quality['prd']}) and FID on "
            f"**{quality['features']}** features, {quality['examples']} "
            "generated vs real test examples; generated images come from the "
            f"{fusion_label(quality.get('fusion', 'poe'), results['method'])}"
            " posterior (or N(0, I): random) and are clipped to the data's "
            "range before the feature network.", ""]
    rows = []
    for m, per in quality["modalities"].items():
      for source, v in per.items():
        rows.append([m, _label(source), _fmt(v["precision"]),
                     _fmt(v["recall"]), _fmt(v["fid"], 2)])
    out += [_table(["modality", "generated from", "precision", "recall",
                    "FID"], rows), ""]
  if results.get("figures"):
    out += ["## Figures", ""] + [f"- `{p}`" for p in results["figures"]] + [""]
  return "\n".join(out)


def scalars(results):
  """{tag: value} of every number in the tables."""
  out = {}
  probe = results["latent_probe"]
  for kind in subsets_lib.KINDS:
    for k, v in probe.get(kind, {}).items():
      out[f"eval/probe_{kind}/{k}"] = v
  coh = results["coherence"]
  if "random" in coh:
    if not math.isnan(coh["random"]):
      out["eval/coherence/random"] = coh["random"]
    for kind, targets in coh["conditional"].items():
      for m, per in targets.items():
        for k, v in per.items():
          out[f"eval/coherence_{kind}/{m}_from_{k}"] = v
  for kind in subsets_lib.KINDS:
    for k, v in results["likelihood"].get(kind, {}).items():
      out[f"eval/log_likelihood_{kind}/{k}"] = v
  for m, per in results["sample_quality"].get("modalities", {}).items():
    for source, values in per.items():
      for name, v in values.items():
        out[f"eval/{name}/{m}_from_{source}"] = v
  return out
