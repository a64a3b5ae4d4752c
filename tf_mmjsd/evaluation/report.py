"""results.md in the paper's table layout, and flat scalars for TensorBoard.

Each registered metric (tf_mmjsd/metrics/) writes its own section and
names its own scalars; this module puts them in order. Columns follow the
paper: subsets of modalities as "a,b" (the full set is "joint" in the
original); coherence columns name the generated modality and the subset
it was generated from.
"""

from tf_mmjsd import metrics
from tf_mmjsd.metrics.formatting import fusion_label  # pylint: disable=unused-import  # part of this module's API


def markdown(results, names):
  """The sections of a results dict (EvaluationResult.to_dict) as Markdown,
  a section per registered metric (names: the model's modalities)."""
  out = [f"# Evaluation of {results['model_dir']} (step {results['step']})",
         ""]
  if results.get("synthetic"):
    out += [f"Data: **{results['dataset']}**, a synthetic stand-in. These "
            "numbers are not results on the real data set.", ""]
  out += [f"Method {results['method']}, data set {results['dataset']}, "
          f"{results['test_examples']} test examples.", ""]
  context = dict(results, modality_names=list(names))
  for metric in metrics.ordered():
    part = results.get(metric.name)
    if part is None:
      continue  # written before the metric existed
    out += [f"## {metric.title}", ""]
    if "skipped" in part:
      out += [f"Skipped: {part['skipped']}.", ""]
    else:
      out += metric.markdown(part, context)
  if results.get("figures"):
    out += ["## Figures", ""] + [f"- `{p}`" for p in results["figures"]] + [""]
  return "\n".join(out)


def scalars(results):
  """{tag: value} of every number in the tables."""
  out = {}
  for metric in metrics.ordered():
    part = results.get(metric.name)
    if part and "skipped" not in part:
      out.update(metric.scalars(part))
  return out
