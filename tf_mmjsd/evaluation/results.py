"""`EvaluationResult`: the results of the evaluation suite for one
checkpoint, the layout of results.json, and what is read from them.

Every reader (the report, bin/compare, TensorBoard, the tests) goes
through this class, so the layout has one owner. Parts, as written to
results.json (subsets are "a+b" keys, fusions fusion.KINDS):

  latent_probe    {"train_examples", "test_examples", "metric",
                   <fusion>: {subset: value}, ...} or {"skipped": why}
  coherence       {"examples", "fusion", "metric", "random",
                   "conditional": {<fusion>: {target: {subset: value}}}}
                   or {"skipped": why}; fusions also "poe_weighted" for
                   mmJSD and MMVAE (evaluation.suite.WEIGHTED_POE)
  likelihood      {"samples", "examples", <fusion>: {subset: log p(X)}}
  sample_quality  {"features", "examples", "prd", "fusion", "clipped_to",
                   "modalities": {m: {source: {"precision", "recall",
                   "fid"}}}} or {"skipped": why}
"""

import dataclasses
import json
from typing import Any

from tf_mmjsd import files
from tf_mmjsd.evaluation import report

# The layout version: 2 keys coherence by fusion,
# coherence.conditional.<fusion>.<target>.<subset>; 3: for mmJSD and MMVAE
# coherence "poe" is the product of the subset's posteriors without
# N(0, I) (the reference's) and "poe_weighted" their pi-weighted product
# (evaluation.suite). bin/compare re-evaluates a row whose results.json
# has another.
RESULTS_SCHEMA = 3


@dataclasses.dataclass
class EvaluationResult:
  """The results of one checkpoint (see the module docstring for parts).

  Attributes:
    model_dir, checkpoint, step: what was evaluated.
    dataset, synthetic, method: run_dir.header of its run.
    test_examples: test examples the probes and coherence used.
    classifiers: {"test_accuracy": {m: v}, "test_mean_ap"?, "dir"}, or
      {"skipped": why} (data without labels).
    attribute_names: the data set's attribute names (label kind
      "attributes"), else empty.
    seconds: {part: seconds it took}.
    figures: the PNG paths written, relative to the output folder.
    schema: RESULTS_SCHEMA of the code that wrote it.
  """

  schema: int = RESULTS_SCHEMA
  model_dir: str = ""
  checkpoint: str | None = None
  step: int | None = None
  dataset: str = ""
  synthetic: bool = False
  method: str = ""
  test_examples: int = 0
  classifiers: dict = dataclasses.field(default_factory=dict)
  attribute_names: list = dataclasses.field(default_factory=list)
  latent_probe: dict = dataclasses.field(default_factory=dict)
  coherence: dict = dataclasses.field(default_factory=dict)
  sample_quality: dict = dataclasses.field(default_factory=dict)
  likelihood: dict = dataclasses.field(default_factory=dict)
  seconds: dict = dataclasses.field(default_factory=dict)
  figures: list = dataclasses.field(default_factory=list)

  # --- (de)serialisation ---------------------------------------------------

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  def to_json(self) -> str:
    """results.json's text."""
    return json.dumps(self.to_dict(), indent=2)

  @classmethod
  def from_dict(cls, values):
    """From results.json's dict; keys this version does not know are left
    out, and those an older one lacks take their defaults (a missing
    schema is None: an older layout)."""
    known = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in values.items() if k in known}
    values.setdefault("schema", None)  # written before schemas had numbers
    return cls(**values)

  @classmethod
  def load(cls, path):
    """Reads a results.json."""
    return cls.from_dict(json.loads(files.read_text(path)))

  # --- what readers ask ----------------------------------------------------

  def probe(self, fusion_kind):
    """{subset: probe accuracy (or mean AP)} of one fusion's posterior."""
    return dict(self.latent_probe.get(fusion_kind, {}))

  def conditional_coherence(self, fusion_kind):
    """{"subset→target": coherence} of one fusion's generations."""
    per_target = self.coherence.get("conditional", {}).get(fusion_kind, {})
    return {f"{source}→{target}": v for target, row in per_target.items()
            for source, v in row.items()}

  def random_coherence(self):
    """{"random": value} where measured, else {}."""
    if "random" in self.coherence:
      return {"random": self.coherence["random"]}
    return {}

  @property
  def default_fusion(self):
    """The fusion whose samples coherence and quality judged by default."""
    return self.coherence.get("fusion", self.sample_quality.get("fusion"))

  def log_likelihoods(self, fusion_kind):
    """{subset: mean log p(X)} with one fusion's posterior as proposal."""
    return dict(self.likelihood.get(fusion_kind, {}))

  def quality(self, key):
    """{"m from source": value} of "precision", "recall" or "fid"."""
    return {f"{m} from {source}": values[key]
            for m, sources in self.sample_quality.get("modalities",
                                                      {}).items()
            for source, values in sources.items()}

  def scalars(self):
    """{TensorBoard tag: value} of every number in the report's tables."""
    return report.scalars(self.to_dict())

  def markdown(self, names):
    """results.md: the report's tables (names: the model's modalities)."""
    return report.markdown(self.to_dict(), names)
