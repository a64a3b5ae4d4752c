"""`EvaluationResult`: the results of the evaluation suite for one
checkpoint, the layout of results.json, and what is read from them.

Every reader (the report, bin/compare, TensorBoard, the tests) goes
through this class, so the layout has one owner. results.json holds the
fields below and, at the top level beside them, one part per registered
metric under its name (tf_mmjsd/metrics/; each module's docstring gives
its part's layout): latent_probe, clustering, coherence, likelihood,
sample_quality. Subsets are "a+b" keys, fusions fusion.KINDS. A file
written before a metric existed lacks its part; it reads as {}.
"""

import dataclasses
import json
from typing import Any

from tf_mmjsd import files, metrics
from tf_mmjsd.evaluation import report

# The layout version: 2 keys coherence by fusion,
# coherence.conditional.<fusion>.<target>.<subset>; 3: for mmJSD, MMVAE
# and MMVAE+ (the methods whose PoE is the pi-weighted product)
# coherence "poe" is the product of the subset's posteriors without
# N(0, I) (the reference's) and "poe_weighted" their pi-weighted product
# (evaluation.suite); 4: PRD clusters with scikit-learn's MiniBatchKMeans,
# the reference PRD code's estimator (evaluation/quality.py). bin/compare
# re-evaluates a row whose results.json has another.
RESULTS_SCHEMA = 4


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
    parts: {metric name: its part} (flat in results.json); `part(name)`
      reads one.
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
  seconds: dict = dataclasses.field(default_factory=dict)
  figures: list = dataclasses.field(default_factory=list)
  parts: dict = dataclasses.field(default_factory=dict)

  # --- (de)serialisation ---------------------------------------------------

  def to_dict(self) -> dict[str, Any]:
    """results.json's dict: the fields, and every part at the top level."""
    out = dataclasses.asdict(self)
    out.update(out.pop("parts"))
    return out

  def to_json(self) -> str:
    """results.json's text."""
    return json.dumps(self.to_dict(), indent=2)

  @classmethod
  def from_dict(cls, values):
    """From results.json's dict (or the suite's: fields and parts flat);
    keys this version does not know are left out (a metric no longer
    registered among them), and those an older one lacks take their
    defaults (a missing schema is None: an older layout)."""
    known = {f.name for f in dataclasses.fields(cls)} - {"parts"}
    parts = dict(values.get("parts") or {})
    parts.update((k, v) for k, v in values.items() if k in metrics.METRICS)
    values = {k: v for k, v in values.items() if k in known}
    values.setdefault("schema", None)  # written before schemas had numbers
    return cls(**values, parts=parts)

  @classmethod
  def load(cls, path):
    """Reads a results.json."""
    return cls.from_dict(json.loads(files.read_text(path)))

  # --- what readers ask ----------------------------------------------------

  def part(self, name):
    """The part of metric `name` ({} where it was not measured)."""
    return self.parts.get(name, {})

  def missing(self):
    """The registered metrics this result has no part of (written before
    they existed): bin/compare evaluates such a row again."""
    return [name for name in metrics.names() if name not in self.parts]

  def table(self, title):
    """{column: value} of bin/compare's table `title` (metrics.tables)."""
    for metric in metrics.ordered():
      for table in metric.tables:
        if table.title == title:
          part = self.part(metric.name)
          return {} if "skipped" in part else dict(table.values(part))
    raise KeyError(f"no metric has a table titled {title!r}")

  @property
  def default_fusion(self):
    """The fusion whose samples coherence and quality judged by default."""
    return self.part("coherence").get(
        "fusion", self.part("sample_quality").get("fusion"))

  def scalars(self):
    """{TensorBoard tag: value} of every number in the report's tables."""
    return report.scalars(self.to_dict())

  def markdown(self, names):
    """results.md: the report's tables (names: the model's modalities)."""
    return report.markdown(self.to_dict(), names)
