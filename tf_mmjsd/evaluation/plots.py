"""The comparison's plots, drawn with matplotlib (the Agg backend, no
display needed).

Both plots take values per seed and show their spread: the mean as a bar or
a line, one standard deviation as an error bar, and every seed's value as a
dot, so close methods stay readable and one seed's luck is visible.
"""

import io

import matplotlib

matplotlib.use("Agg")  # files only; must precede pyplot
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from tf_mmjsd import files  # pylint: disable=g-import-not-at-top


def _save(fig, path):
  """Writes `fig` as a PNG to `path` whole (files.write_atomic) and closes
  it."""
  png = io.BytesIO()
  fig.savefig(png, format="png", dpi=120)
  plt.close(fig)
  files.write_atomic(path, png.getvalue())


def _spread(values):
  values = np.asarray(values, float)
  return values.mean(), (values.std(ddof=1) if len(values) > 1 else 0.0)


def grouped_bars(groups, y_label, title, path):
  """Bars of {group: {bar: [value per seed]}}: one cluster per group (for
  example a method), one bar per member (styles off / on) with its mean,
  ± one standard deviation and the seeds as dots. Writes a PNG to path."""
  members = []
  for bars in groups.values():
    members += [b for b in bars if b not in members]
  width = 0.8 / max(len(members), 1)
  fig, ax = plt.subplots(figsize=(1.6 * len(groups) + 2.5, 4.2))
  colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
  for j, member in enumerate(members):
    xs, means, sds = [], [], []
    for i, bars in enumerate(groups.values()):
      if member not in bars:
        continue
      x = i - 0.4 + width * (j + 0.5)
      mean, sd = _spread(bars[member])
      xs.append(x)
      means.append(mean)
      sds.append(sd)
      ax.scatter([x] * len(bars[member]), bars[member], s=12, zorder=3,
                 color="black")
    ax.bar(xs, means, width * 0.9, yerr=sds, capsize=3, label=member,
           color=colours[j % len(colours)], alpha=0.85)
    for x, mean in zip(xs, means):
      ax.annotate(f"{mean:.3f}", (x, mean), ha="center", va="bottom",
                  fontsize=7, xytext=(0, 2), textcoords="offset points")
  ax.set_xticks(range(len(groups)), list(groups))
  ax.set_ylabel(y_label)
  ax.set_title(title, fontsize=10)
  ax.legend(fontsize=8)
  ax.grid(axis="y", alpha=0.3)
  fig.tight_layout()
  _save(fig, path)


def lines_against(series, x_label, y_label, title, path):
  """Lines of {name: {x: [value per seed]}}: the mean per x with ± one
  standard deviation, the seeds as dots, each line shifted a little along
  x so that equal values stay visible. Writes a PNG to path."""
  xs = sorted({x for points in series.values() for x in points})
  span = (xs[-1] - xs[0]) if len(xs) > 1 else 1.0
  shift = 0.012 * span
  fig, ax = plt.subplots(figsize=(7, 4.2))
  for i, (name, points) in enumerate(series.items()):
    offset = (i - (len(series) - 1) / 2) * shift
    keys = sorted(points)
    stats = [_spread(points[x]) for x in keys]
    line = ax.errorbar([x + offset for x in keys], [m for m, _ in stats],
                       yerr=[s for _, s in stats], marker="o", capsize=3,
                       label=name)
    for x in keys:
      ax.scatter([x + offset] * len(points[x]), points[x], s=10,
                 color=line[0].get_color(), alpha=0.6)
  ax.set_xticks(xs)
  ax.set_xlabel(x_label)
  ax.set_ylabel(y_label)
  ax.set_title(title, fontsize=10)
  ax.legend(fontsize=8)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  _save(fig, path)
