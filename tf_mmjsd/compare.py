"""`run(...)`: train and evaluate several methods on one data set, side by
side (bin/compare).

A comparison is a grid of rows: every method x styles off/on x missing
rate x seed. Each row is an ordinary run directory,
`<compare_dir>/runs/<method>[_ms]_miss<rate>_seed<seed>/`, trained with
training.run and evaluated with evaluation.evaluate.run; a row whose
results.json is complete is reused, an interrupted one resumes. All rows of
a data set share one set of coherence classifiers
(`<compare_dir>/classifiers/`; one per seed, `classifiers_seed<seed>/`,
where the seed changes the data, as the synthetic sets'), so their
coherences compare.

Outputs, in compare_dir (`report` names them):

  <report>.json   every row's settings, training time and metrics, and the
                  mean and standard deviation over seeds of each group
  <report>.md     one table per metric: a row per (method, styles, missing
                  rate), a column per subset, mean +- sd over seeds
  <report>_*.png  mean coherence and latent accuracy against the missing
                  rate, one line per method and styles setting
"""

import dataclasses
import json
import os
import time

import numpy as np

from tf_mmjsd import config as config_lib, files, interrupts
from tf_mmjsd import methods as methods_lib, metrics, run_dir
from tf_mmjsd.config import ConfigError
from tf_mmjsd.data import registry
from tf_mmjsd.evaluation.results import RESULTS_SCHEMA, EvaluationResult

@dataclasses.dataclass(frozen=True)
class Row:
  """One run of a comparison."""
  method: str
  styles: bool
  missing_rate: float
  seed: int

  @property
  def name(self):
    return (f"{self.method}{'_ms' if self.styles else ''}"
            f"_miss{self.missing_rate:g}_seed{self.seed}")

  @property
  def group(self):
    """The row's label without the seed (seeds are averaged)."""
    return (f"{self.method}{' MS' if self.styles else ''}"
            + (f", missing {self.missing_rate:g}" if self.missing_rate
               else ""))


def grid(methods, styles, missing_rates, seeds):
  """Every Row of the comparison, in report order."""
  return [Row(m, s, r, seed) for r in missing_rates for m in methods
          for s in styles for seed in seeds]


def row_config(base, row, compare_dir, style_overrides, shared_overrides,
               method_overrides=None):
  """The ExperimentConfig of a row: `base` (an ExperimentConfig) with the
  row's method, seed and missing rate, the overrides of its styles setting
  ({setting: value}), then those of its method ({method: {setting:
  value}}, e.g. a method's reference learning rate)."""
  settings = {"method": row.method,
              **(style_overrides if row.styles else shared_overrides),
              **(method_overrides or {}).get(row.method, {})}
  settings.update(
      method=row.method, seed=row.seed, missing_rate=row.missing_rate,
      model_dir=os.path.join(compare_dir, "runs", row.name),
      classifier_dir=classifier_dir(compare_dir, base.dataset, row.seed))
  return base.with_settings(**settings)


def classifier_dir(compare_dir, dataset, seed):
  """The coherence classifiers of a comparison's rows of `seed`: one set
  for every row and seed (`<compare_dir>/classifiers/`), or one per seed
  (`classifiers_seed<seed>/`) where the seed changes the data (the
  synthetic sets); a comparison begun with per-seed sets keeps them for
  every seed."""
  per_seed = os.path.join(compare_dir, f"classifiers_seed{seed}")
  if registry.get(dataset).seed_changes_data or files.glob(
      os.path.join(compare_dir, "classifiers_seed*")):
    return per_seed
  return os.path.join(compare_dir, "classifiers")


def parse_method_overrides(items, methods, flag="--method_settings"):
  """{method: {setting: value}} from ["method:name=value", ...]; settings
  of a known method that is not among `methods` are checked, then left
  out (so a flagfile may hold them for a narrower --methods)."""
  out = {}
  for item in items:
    method, sep, setting = item.partition(":")
    if not sep or method not in methods_lib.METHODS:
      raise ConfigError(f"{flag}: {item!r} is not method:setting=value of "
                        f"a method ({', '.join(methods_lib.names())})")
    values = parse_overrides([setting], flag)
    if method in methods:
      out.setdefault(method, {}).update(values)
  return out


def parse_overrides(items, flag):
  """{setting: value} from ["name=value", ...], values typed like the
  ExperimentConfig field (or the method's or data set's option) of that
  name."""
  defaults = {n: v for n, v in config_lib.defaults().items()
              if n not in ("modalities", "model_dir")}
  out = {}
  for item in items:
    name, sep, text = item.partition("=")
    if not sep or name not in defaults:
      raise ConfigError(f"{flag}: {item!r} is not setting=value of a "
                        "training setting")
    kind = type(defaults[name])
    try:
      out[name] = (text.lower() in ("1", "true") if kind is bool
                   else kind(text))
    except ValueError as e:
      raise ConfigError(f"{flag}: {item!r}: {e}") from e
  return out


def _finished(config):
  """The row's results.json if it evaluated the last step, else None."""
  path = os.path.join(config.model_dir, "results.json")
  summary_path = os.path.join(config.model_dir, "summary.json")
  if not (files.isfile(path) and files.isfile(summary_path)):
    return None
  results = EvaluationResult.load(path)
  summary = json.loads(files.read_text(summary_path))
  if (results.step != summary.get("steps")
      or summary.get("epochs") != config.epochs
      or results.schema != RESULTS_SCHEMA or results.missing()):
    return None  # unfinished, or evaluated by an older version
  return results, summary


def run_row(config, log=print):
  """Trains (or resumes) and evaluates one row unless it is finished;
  returns (results, summary, reused)."""
  done = _finished(config)
  if done:
    return done + (True,)
  from tf_mmjsd import training  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  training.run(config, log=log)
  interrupts.check()  # a signal dropped in a destructor stops here
  evaluate.run(config, log=log)
  interrupts.check()
  return _finished(config) + (False,)


def _mean_sd(values):
  values = [v for v in values if v is not None and np.isfinite(v)]
  if not values:
    return None
  return {"mean": float(np.mean(values)),
          "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None,
          "n": len(values)}


def summarise(records):
  """{group: {"rows": [...], "train_minutes": stat, "eval_minutes": stat,
  metric: {column: stat}}} over the seeds of each group."""
  groups = {}
  for record in records:
    groups.setdefault(record["group"], []).append(record)
  out = {}
  for group, members in groups.items():
    entry = {"rows": [r["name"] for r in members],
             **{key: _mean_sd([r.get(key) for r in members])
                for key in ("train_minutes", "eval_minutes")}}
    for title in (t.title for t in metrics.tables()):
      columns = sorted({c for r in members
                        for c in r["metrics"].get(title, {})},
                       key=lambda c: (c.count("+"), c))
      entry[title] = {c: _mean_sd([r["metrics"].get(title, {}).get(c)
                                   for r in members]) for c in columns}
    out[group] = entry
  return out


def _cell(stat, digits):
  if stat is None:
    return "–"
  text = f"{stat['mean']:.{digits}f}"
  if stat["sd"] is not None:
    text += f" ± {stat['sd']:.{digits}f}"
  return text


def markdown(summary, settings):
  """The report: one table per metric, groups as rows."""
  lines = [f"# Method comparison: {settings['dataset']}", ""]
  if settings["synthetic"]:
    lines += [f"**Synthetic data** ({settings['dataset']}): these are not "
              "numbers of the real data set.", ""]
  seeds = settings["seeds"]
  per_method = "; ".join(
      f"{m}: " + ", ".join(f"{k}={v}" for k, v in o.items())
      for m, o in settings.get("method_overrides", {}).items())
  lines += [f"Mean ± standard deviation over {len(seeds)} seed(s) "
            f"({', '.join(map(str, seeds))}); {settings['epochs']} epochs per "
            "row" + (f" (per method: {per_method})" if per_method else "")
            + "; the rows share one set of coherence classifiers (one per "
            "seed where the seed changes the data). "
            "MVAE's PoE includes N(0, I); MoPoE's includes it only for all "
            "modalities, and its mixture posterior is the mixture of its "
            "subset PoEs (its joint posterior). "
            "MS: modality-specific style subspaces. "
            + ("Latent probes and coherence are mean average precisions over "
               "the attributes." if settings.get("attributes") else
               "Latent probes are accuracies."), ""]
  groups = list(summary)
  lines += ["## Time (minutes)", "",
            "Training, and the evaluation's parts (results.json seconds; "
            "without loading, and the shared classifiers' training).", "",
            "| run | training | evaluation |", "|---|---|---|"]
  lines += [f"| {g} | {_cell(summary[g]['train_minutes'], 1)} | "
            f"{_cell(summary[g].get('eval_minutes'), 1)} |" for g in groups]
  for table in metrics.tables():
    title = table.title
    columns = []
    for g in groups:
      columns += [c for c in summary[g].get(title, {}) if c not in columns]
    if not columns:
      continue
    lines += ["", f"## {title}", ""]
    if table.note:
      lines += [table.note, ""]
    lines += ["| run | " + " | ".join(columns) + " |",
              "|---" * (len(columns) + 1) + "|"]
    for g in groups:
      lines.append(f"| {g} | " + " | ".join(
          _cell(summary[g].get(title, {}).get(c), table.digits)
          for c in columns) + " |")
  return "\n".join(lines) + "\n"


def _own_coherence(record):
  """Mean conditional coherence under the row's default fusion (the
  posterior its decoders were trained on), or None."""
  title = {"poe": "Coherence, PoE posterior",
           "mixture": "Coherence, mixture posterior"}.get(
               record.get("default_fusion"))
  values = list(record["metrics"].get(title, {}).values()) if title else []
  return float(np.mean(values)) if values else None


def _mean_probe(record):
  values = list(record["metrics"]["Latent probe, PoE posterior"].values())
  return float(np.mean(values)) if values else None


def plots(records, out_prefix, attributes=False):
  """PNG plots of the mean conditional coherence (under each method's own
  posterior) and the mean latent probe score (PoE), with the spread over
  seeds: grouped bars (methods x styles) for one missing rate, lines
  against the missing rate for several. Returns their paths."""
  from tf_mmjsd.evaluation import plots as plots_lib  # pylint: disable=g-import-not-at-top
  metric = "mean AP" if attributes else "accuracy"
  paths = []
  rates = sorted({r["missing_rate"] for r in records})
  for key, value_of, label in (
      ("coherence", _own_coherence,
       "mean conditional coherence (own posterior)"),
      ("latent_accuracy", _mean_probe, f"mean latent probe {metric} (PoE)")):
    path = f"{out_prefix}_{key}.png"
    title = f"{label}; mean ± sd over seeds, dots: seeds"
    if len(rates) == 1:
      groups = {}
      for r in records:
        value = value_of(r)
        if value is not None:
          groups.setdefault(r["method"], {}).setdefault(
              "MS" if r["styles"] else "shared", []).append(value)
      if not groups:
        continue
      plots_lib.grouped_bars(groups, label, title, path)
    else:
      series = {}
      for r in records:
        value = value_of(r)
        if value is not None:
          name = f"{r['method']}{' MS' if r['styles'] else ''}"
          series.setdefault(name, {}).setdefault(r["missing_rate"],
                                                 []).append(value)
      if not series:
        continue
      plots_lib.lines_against(series, "missing rate (training)", label,
                              title, path)
    paths.append(path)
  return paths


def plan(base, compare_dir, methods, styles, missing_rates, seeds,
         style_overrides, shared_overrides, method_overrides=None,
         log=print):
  """(rows, their ExperimentConfigs) of a comparison (the arguments of
  `run`), every row's settings checked; ConfigError for a grid with no
  row or a row whose settings are invalid. Reads no file but a glob of
  compare_dir (where the classifiers go)."""
  rows = grid(methods, styles, missing_rates, seeds)
  complete_only = [r for r in rows if r.missing_rate
                   and methods_lib.get(r.method).complete_data]
  if complete_only:
    log(f"Leaving out {len(complete_only)} row(s) of "
        + ", ".join(sorted({r.method for r in complete_only}))
        + " with a missing rate: the method trains on complete data only")
    rows = [r for r in rows if r not in complete_only]
  if not rows:
    raise ConfigError("the comparison has no rows: give at least one "
                      "method, styles setting, missing rate and seed")
  return rows, [row_config(base, r, compare_dir, style_overrides,
                           shared_overrides, method_overrides)
                for r in rows]


def run(base, compare_dir, methods, styles, missing_rates, seeds,
        style_overrides, shared_overrides, report="comparison", log=print,
        method_overrides=None, planned=None):
  """Trains and evaluates every row, then writes the report.

  Args:
    base: the ExperimentConfig every row starts from (its model_dir,
      method, seed and missing_rate are replaced).
    compare_dir: where rows and reports go.
    methods: method names; styles: booleans (MS off / on);
    missing_rates: floats; seeds: ints.
    style_overrides, shared_overrides: {setting: value} for rows with and
      without modality-specific styles.
    method_overrides: {method: {setting: value}} applied after those.
    report: the name of the report files.
    planned: `plan`'s (rows, configs) of these arguments, where the caller
      made them already.

  Returns:
    the report dict (also in <compare_dir>/<report>.json).
  """
  rows, configs = planned or plan(
      base, compare_dir, methods, styles, missing_rates, seeds,
      style_overrides, shared_overrides, method_overrides, log)
  run_dir.check_creatable(compare_dir, "compare_dir")
  files.makedirs(compare_dir)
  records = []
  for i, (row, config) in enumerate(zip(rows, configs)):
    interrupts.check()
    log(f"[{i + 1}/{len(rows)}] {row.name}")
    start = time.time()
    results, summary, reused = run_row(
        config, log=lambda text, name=row.name: log(f"  [{name}] {text}"))
    log(f"[{i + 1}/{len(rows)}] {row.name}: "
        + ("reused" if reused else f"done in {time.time() - start:.0f} s"))
    speed = summary.get("train_examples_per_second")
    minutes = (summary["steps"] * config.batch_size / speed / 60
               if speed else None)
    records.append({
        "name": row.name, "group": row.group, "method": row.method,
        "styles": row.styles, "missing_rate": row.missing_rate,
        "seed": row.seed, "model_dir": config.model_dir,
        "train_minutes": minutes,
        "eval_minutes": (sum(results.seconds.values()) / 60
                         if results.seconds else None),
        "default_fusion": results.default_fusion,
        "metrics": {t.title: {k: float(v) for k, v in
                              results.table(t.title).items()}
                    for t in metrics.tables()}})
  dataset = registry.of(base.dataset, base.data_path)
  settings = {"dataset": base.dataset,
              "synthetic": dataset.synthetic,
              "attributes": dataset.label_kind == "attributes",
              "methods": list(methods), "styles": list(styles),
              "missing_rates": list(missing_rates), "seeds": list(seeds),
              "epochs": base.epochs, "style_overrides": style_overrides,
              "shared_overrides": shared_overrides,
              "method_overrides": method_overrides or {}}
  summary = summarise(records)
  prefix = os.path.join(compare_dir, report)
  out = {"settings": settings, "rows": records, "groups": summary,
         "plots": [os.path.basename(p) for p in
                   plots(records, prefix, settings["attributes"])]}
  files.write_atomic(prefix + ".json", json.dumps(out, indent=2))
  files.write_atomic(prefix + ".md", markdown(summary, settings))
  log(f"Wrote {prefix}.json, {prefix}.md and {len(out['plots'])} plot(s)")
  return out
