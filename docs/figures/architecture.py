"""Draws docs/figures/architecture.png, the mmJSD data flow of the README and
the docs: python docs/figures/architecture.py (matplotlib only)."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
from matplotlib import patches  # pylint: disable=g-import-not-at-top

BLUE, ORANGE, GREEN, GREY = "#dbe9f6", "#fde3c8", "#d9f0d3", "#eeeeee"


def box(ax, x, y, w, h, text, colour, size=9):
  ax.add_patch(patches.FancyBboxPatch(
      (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
      facecolor=colour, edgecolor="#555555", linewidth=0.8))
  ax.text(x, y, text, ha="center", va="center", fontsize=size)


def arrow(ax, start, end, text="", colour="#444444"):
  ax.annotate("", xy=end, xytext=start, arrowprops=dict(
      arrowstyle="-|>", color=colour, linewidth=0.9, shrinkA=0, shrinkB=0))
  if text:
    ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, text,
            ha="center", va="bottom", fontsize=7.5, color="#333333")


def main():
  fig, ax = plt.subplots(figsize=(11, 4.6))
  ax.set_xlim(0, 11)
  ax.set_ylim(0, 4.6)
  ax.axis("off")
  rows = (3.6, 2.3, 1.0)
  names = ("mnist  $x_1$", "svhn  $x_2$", "text  $x_3$")
  for y, name, m in zip(rows, names, range(1, 4)):
    box(ax, 0.75, y, 1.2, 0.6, name, GREY)
    box(ax, 2.3, y, 1.1, 0.6, f"encoder\n$m = {m}$", BLUE)
    box(ax, 3.9, y, 1.3, 0.6, f"$q(z \\mid x_{m})$\nMVNDiag [B, D]", BLUE, 8.5)
    arrow(ax, (1.35, y), (1.75, y))
    arrow(ax, (2.85, y), (3.25, y))
  # The dynamic prior: a weighted geometric mean (PoE) with N(0, I).
  box(ax, 6.25, 3.55, 1.9, 0.95,
      "dynamic prior\n$f \\propto p(z)^{\\pi_0} \\prod_m q_m^{\\pi_m}$\n"
      "(PoE, with N(0, I))", ORANGE, 8.5)
  box(ax, 8.85, 3.55, 2.0, 0.95,
      "JS term\n$\\sum_j \\pi_j\\,\\mathrm{KL}(q_j \\,\\|\\, f)$\n"
      "$q_0 = N(0, I)$", ORANGE, 8.5)
  # The mixture the decoders are trained on.
  box(ax, 6.25, 1.55, 1.9, 0.95,
      "mixture of the\npresent $q_m$\n(one $z$ per example)",
      GREEN, 8.5)
  box(ax, 8.35, 1.55, 1.1, 0.95, "decoders\n$p(x_m \\mid z)$", GREEN, 8.5)
  box(ax, 10.05, 1.55, 1.3, 0.95,
      "rec. term\n$-\\sum_m w_m$\n$\\log p(x_m \\mid z)$", GREEN, 8.5)
  for y in rows:
    arrow(ax, (4.55, y), (5.3, 3.45 if y > 2 else 3.3))
    arrow(ax, (4.55, y), (5.3, 1.7 if y > 2 else 1.45))
  arrow(ax, (7.2, 3.55), (7.85, 3.55))
  arrow(ax, (7.2, 1.55), (7.8, 1.55), "sample")
  arrow(ax, (8.9, 1.55), (9.4, 1.55))
  ax.text(5.5, 0.18,
          "loss per example = rec. term + $\\beta$ · JS term;  "
          "absent modalities are masked out of both, and $\\pi$ is "
          "renormalised", ha="center", fontsize=9)
  out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "architecture.png")
  fig.savefig(out, dpi=110, bbox_inches="tight")  # local
  print(out)


if __name__ == "__main__":
  main()
