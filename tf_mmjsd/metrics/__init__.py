"""The registry of evaluation metrics: each metric is one module of this
package (docs/extending.md).

A metric module defines `METRIC`, a `Metric` entry: the part of
results.json it owns (its name), what it needs, how it computes that part
from an `Evaluation` (evaluation.suite.Evaluator: the model, the config,
the splits, the classifiers and the passes metrics share), how it reads in
results.md, which numbers go to TensorBoard, and the tables bin/compare
makes of it. Its settings are options (options.Option): flags and
config.json keys like any setting, in ExperimentConfig.metric_options;
every registered metric's options are set in every run, and all of them
may change after training. Every module of this package that defines
METRIC is registered at import; `register` adds one defined elsewhere (a
test, a user's package).

Metric modules import TensorFlow inside `compute` only, so that reports,
bin/compare's tables and the flags load without it.

Built-in metrics, in the report's order:

  latent_probe    linear-probe accuracy of every subset's posterior mean
  clustering      k-means on every subset's posterior means: NMI, ARI
  coherence       generated samples classified as the input's label
  likelihood      importance-weighted log p(X) per proposal
  sample_quality  PRD precision/recall and FID of image modalities
"""

import dataclasses
import importlib
import pkgutil
from typing import Callable

from tf_mmjsd.options import Option  # pylint: disable=unused-import  # metrics.Option: part of this module's API

# What a metric may need; the suite reports {"skipped": why} for a metric
# whose needs the data or the run do not meet, without calling it.
NEEDS = ("labels", "class_labels", "classifiers", "two_modalities")


@dataclasses.dataclass(frozen=True)
class Table:
  """One table of bin/compare's report made from a metric's part.

  Attributes:
    title: the table's title (unique among all metrics' tables).
    values: fn(part) -> {column: number} (a column per subset, say); a
      skipped part gives {}.
    digits: decimals shown.
    note: a paragraph under the title, where methods read differently.
  """
  title: str
  values: Callable[[dict], dict]
  digits: int = 3
  note: str = ""


@dataclasses.dataclass(frozen=True)
class Metric:
  """What a metric is made of.

  Attributes:
    name: its key in results.json (and EvaluationResult.parts).
    title: its section heading in results.md.
    compute: fn(evaluation) -> its part, a JSON-able dict, or
      {"skipped": why}; `evaluation` is the suite's Evaluator.
    markdown: fn(part, results) -> [lines] of results.md below its heading
      (results: the whole results dict, for the method, the modalities'
      names and the classifiers); not called for a skipped part.
    scalars: fn(part) -> {TensorBoard tag: number}.
    tables: its `Table`s in bin/compare's report.
    needs: what it needs, from NEEDS.
    options: its `options.Option`s.
    check: fn({option: value} of every metric) -> None or a message, for
      what one option cannot check alone.
    order: its place in the suite and the report (smaller first).
  """
  name: str
  title: str
  compute: Callable
  markdown: Callable
  scalars: Callable = lambda part: {}
  tables: tuple = ()
  needs: tuple = ()
  options: tuple = ()
  check: Callable = None
  order: int = 100

  def __post_init__(self):
    unknown = sorted(set(self.needs) - set(NEEDS))
    if unknown:
      raise ValueError(f"metric {self.name}: needs {unknown} are not among "
                       f"{NEEDS}")

  def option(self, name):
    """Its Option `name`, or None."""
    return next((o for o in self.options if o.name == name), None)


METRICS = {}


def register(metric):
  """Adds a Metric; ValueError where its name, a table's title or an
  option's name is taken by another metric."""
  if metric.name in METRICS:
    raise ValueError(f"a metric named {metric.name!r} is registered "
                     "already")
  titles = {t.title for m in METRICS.values() for t in m.tables}
  for table in metric.tables:
    if table.title in titles:
      raise ValueError(f"metric {metric.name}: a table titled "
                       f"{table.title!r} exists already")
  for option in metric.options:
    if option.name in options():
      raise ValueError(f"metric {metric.name}: option {option.name!r} is an "
                       f"option of metric {options()[option.name][0]}")
  METRICS[metric.name] = metric
  return metric


def unregister(name):
  """Removes the metric `name` (tests that register one of their own)."""
  METRICS.pop(name, None)


def names():
  """The registered metrics' names, in the report's order."""
  return tuple(m.name for m in ordered())


def ordered():
  """The registered Metrics, in the report's order."""
  return sorted(METRICS.values(), key=lambda m: m.order)


def get(name):
  """The Metric called `name`; ValueError naming the choices otherwise."""
  if name not in METRICS:
    raise ValueError(f"metric must be one of {names()}, got {name!r}")
  return METRICS[name]


def options():
  """{option name: (metric name, Option)} of every registered metric."""
  return {o.name: (m.name, o) for m in ordered() for o in m.options}


def tables():
  """Every metric's Tables, in the report's order."""
  return [t for m in ordered() for t in m.tables]


def _register_built_in():
  for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    module = importlib.import_module(f"{__name__}.{info.name}")
    if hasattr(module, "METRIC"):
      register(module.METRIC)


_register_built_in()
