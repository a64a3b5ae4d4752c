"""Sample quality of image modalities: PRD precision and recall (Sajjadi
et al., 2018) and FID of generated against real test images, on the
features of evaluation/features.py (evaluation/quality.py). It comes from
the generation pass coherence also reads
(evaluation.suite.Evaluator.generation).

Part: {"features", "examples", "prd", "fusion", "clipped_to",
"modalities": {m: {source: {"precision", "recall", "fid"}}}} or
{"skipped": why}; a source is a subset key, "random" or "random_gmm".
Options: quality_examples, prd_clusters, prd_angles, prd_runs,
inception_weights.
"""

from tf_mmjsd import metrics, options
from tf_mmjsd.metrics import formatting


def compute(evaluation):
  return evaluation.sample_quality()


def markdown(part, results):
  if not part.get("modalities"):
    return ["No image modality.", ""]
  fusion = formatting.fusion_label(part.get("fusion", "poe"),
                                   results["method"])
  rows = [[m, formatting.label(source), formatting.fmt(v["precision"]),
           formatting.fmt(v["recall"]), formatting.fmt(v["fid"], 2)]
          for m, per in part["modalities"].items()
          for source, v in per.items()]
  return [f"PRD (F_1/8 precision, F_8 recall; {part['prd']}) and FID on "
          f"**{part['features']}** features, {part['examples']} generated "
          f"vs real test examples; generated images come from the {fusion} "
          "posterior (or, at random, c from N(0, I): random, or from the "
          "Gaussian mixture fitted to the training examples' posterior "
          "means: random_gmm) and are clipped to the data's range before "
          "the feature network.", "",
          formatting.table(["modality", "generated from", "precision",
                            "recall", "FID"], rows), ""]


def scalars(part):
  return {f"eval/{name}/{m}_from_{source}": v
          for m, per in part.get("modalities", {}).items()
          for source, values in per.items() for name, v in values.items()}


def _check(values):
  if values["quality_examples"] < values["prd_clusters"]:
    return (f"quality_examples must be >= prd_clusters, got "
            f"{values['quality_examples']} and {values['prd_clusters']}")
  return None


def _values(key):
  return lambda part: {f"{m} from {source}": values[key]
                       for m, sources in part.get("modalities", {}).items()
                       for source, values in sources.items()}


METRIC = metrics.Metric(
    name="sample_quality",
    title="Sample quality of image modalities",
    compute=compute, markdown=markdown, scalars=scalars,
    tables=(metrics.Table("Sample quality: PRD precision",
                          _values("precision")),
            metrics.Table("Sample quality: PRD recall", _values("recall")),
            metrics.Table("Sample quality: FID", _values("fid"), digits=1)),
    needs=("two_modalities",),
    options=(
        options.Option("quality_examples", 10000, "Examples compared by PRD "
                       "and FID (at most).", check=options.at_least(1),
                       invalid=(0,), resumable=True),
        options.Option("prd_clusters", 20, "k-means clusters of PRD.",
                       check=options.at_least(2), invalid=(1,),
                       resumable=True),
        options.Option("prd_angles", 1001, "Angles of the PRD curve.",
                       check=options.at_least(1), invalid=(0,),
                       resumable=True),
        options.Option("prd_runs", 10, "Clusterings PRD averages over.",
                       check=options.at_least(1), invalid=(0,),
                       resumable=True),
        options.Option("inception_weights", "", "Local Keras InceptionV3 "
                       "no-top weights (.h5) for PRD/FID features; empty: "
                       "classifier features.", resumable=True, path=True)),
    check=_check,
    order=50)
