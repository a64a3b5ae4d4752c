"""Markdown helpers the metrics' sections of results.md share."""

import math

from tf_mmjsd import methods, subsets as subsets_lib


def fmt(value, digits=3):
  """A number with `digits` decimals; "–" for None or NaN."""
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "–"
  return f"{value:.{digits}f}"


def table(header, rows):
  """A Markdown table: header [columns], rows [[cells]]."""
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(r) + " |" for r in rows]
  return "\n".join(lines)


def label(key):
  """A subset key "a+b" as a column label "a,b"."""
  return key.replace("+", ",")


def subset_keys(names):
  """The keys "a+b" of every non-empty subset of `names`, by size."""
  return [subsets_lib.key(s) for s in subsets_lib.subsets(names)]


def fusion_label(kind, method):
  """How a report names a method's "poe" or "mixture" posterior."""
  if kind == "mixture" and methods.get(method).mixture == "subsets":
    return "mixture of subset PoEs"
  return {"poe": "PoE", "mixture": "mixture"}.get(kind, kind)


def per_subset_table(part, results, kinds, header, digits=3):
  """The table of a part holding {fusion: {subset: value}}: a row per
  fusion of `kinds`, a column per subset."""
  keys = subset_keys(results["modality_names"])
  rows = [[fusion_label(kind, results["method"])]
          + [fmt(part.get(kind, {}).get(k), digits) for k in keys]
          for kind in kinds]
  return table([header] + [label(k) for k in keys], rows)
