"""bin/compare: a tiny comparison writes every table and plot, and a rerun
reuses the finished rows."""

import json
import os

import pytest
from PIL import Image

from tf_mmjsd import compare, metrics
from tf_mmjsd.config import ConfigError, ExperimentConfig
from tests.harness import REPO, TINY, run_bin

EVAL = ["--eval_examples=300", "--likelihood_samples=2",
        "--likelihood_examples=100", "--quality_examples=200"]


def test_the_grid_and_its_overrides():
  rows = compare.grid(["mmjsd", "mopoe"], [False, True], [0.0, 0.3], [0, 1])
  assert len(rows) == 16 and len({r.name for r in rows}) == 16
  assert rows[0].name == "mmjsd_miss0_seed0"
  assert rows[-1].name == "mopoe_ms_miss0.3_seed1"
  assert rows[-1].group == "mopoe MS, missing 0.3"
  assert compare.parse_overrides(["style_dim=4", "beta=1.5",
                                  "jit_compile=true"], "--x") == {
                                      "style_dim": 4, "beta": 1.5,
                                      "jit_compile": True}
  for bad in ("style_dim", "no_such=1", "style_dim=four"):
    with pytest.raises(ConfigError, match="--x"):
      compare.parse_overrides([bad], "--x")
  assert compare.parse_method_overrides(
      ["mopoe:learning_rate=0.001", "mopoe:epochs=200"],
      ["mmjsd", "mopoe"]) == {"mopoe": {"learning_rate": 0.001,
                                        "epochs": 200}}
  for bad in ("vae:beta=1", "mopoe", "mopoe:beta"):
    with pytest.raises(ConfigError, match="--method_settings"):
      compare.parse_method_overrides([bad], ["mmjsd", "mopoe"])
  # A known method outside --methods: checked, then left out.
  assert compare.parse_method_overrides(["mopoe:beta=2"], ["mmjsd"]) == {}
  with pytest.raises(ConfigError, match="--method_settings"):
    compare.parse_method_overrides(["mopoe:beta=two"], ["mmjsd"])


def _record(method, styles, rate, seed, coherence, probe):
  return {"method": method, "styles": styles, "missing_rate": rate,
          "seed": seed, "default_fusion": "mixture",
          "metrics": {"Coherence, mixture posterior": {"a→b": coherence},
                      "Latent probe, PoE posterior": {"a": probe}}}


def test_plots_show_the_seed_spread_as_bars_or_lines(tmp_path):
  import numpy as np  # pylint: disable=g-import-not-at-top
  records = [_record(m, s, 0.0, seed, c + 0.01 * seed, 0.9)
             for m, c in (("mmjsd", 0.8), ("mmvae", 0.79))
             for s in (False, True) for seed in (0, 1)]
  paths = compare.plots(records, str(tmp_path / "one"))
  assert [os.path.basename(p) for p in paths] == [
      "one_coherence.png", "one_latent_accuracy.png"]
  bars = np.asarray(Image.open(paths[0]).convert("RGB"))
  assert bars.shape[0] > 400 and bars.std() > 10  # drawn, not blank
  records += [_record(m, True, 0.3, seed, 0.7, 0.8)
              for m in ("mmjsd", "mmvae") for seed in (0, 1)]
  lines = compare.plots(records, str(tmp_path / "sweep"))
  assert len(lines) == 2 and all(os.path.isfile(p) for p in lines)
  # One missing rate: grouped bars; several: lines. Different pictures.
  assert not np.array_equal(
      np.asarray(Image.open(lines[0]).convert("RGB"))[:50], bars[:50])


@pytest.mark.slow
def test_a_tiny_comparison_then_a_rerun_that_reuses_it(tmp_path, cache_dir):
  out_dir = tmp_path / "cmp"
  args = [f"--flagfile={REPO}/configs/base.flags"] + TINY + EVAL + [
      "--epochs=1", "--steps_per_epoch=4", "--network_width=8",
      "--classifier_epochs=1", "--prd_runs=2",
      f"--compare_dir={out_dir}", "--methods=mmjsd,mopoe",
      "--styles=off", "--missing_rates=0.3", "--seeds=0",
      "--shared_settings=latent_dim=8,style_dim=0",
      "--method_settings=mopoe:learning_rate=0.002"]
  first = run_bin("compare", args, cache_dir)
  assert first.returncode == 0, first.stderr[-3000:]
  report = json.loads((out_dir / "comparison.json").read_text())
  names = [r["name"] for r in report["rows"]]
  assert names == ["mmjsd_miss0.3_seed0", "mopoe_miss0.3_seed0"]
  for row in report["rows"]:
    assert os.path.isfile(os.path.join(row["model_dir"], "results.json"))
    assert row["train_minutes"] > 0
    with open(os.path.join(row["model_dir"], "results.json")) as f:
      seconds = json.load(f)["seconds"]
    assert row["eval_minutes"] == pytest.approx(sum(seconds.values()) / 60)
    probe = row["metrics"]["Latent probe, PoE posterior"]
    assert len(probe) == 7 and all(0 <= v <= 1 for v in probe.values())
    # The method's own posterior for every proper subset (3 targets x 3),
    # the other for the pairs (3 targets x 1).
    own = {"mmjsd": "mixture", "mopoe": "poe"}[row["method"]]
    other = {"mixture": "poe", "poe": "mixture"}[own]
    assert row["default_fusion"] == own
    coherence = row["metrics"][f"Coherence, {own} posterior".replace(
        "poe", "PoE")]
    assert len(coherence) == 9 and "mnist→text" in coherence
    pairs = row["metrics"][f"Coherence, {other} posterior".replace(
        "poe", "PoE")]
    assert sorted(pairs) == ["mnist+svhn→text", "mnist+text→svhn",
                             "svhn+text→mnist"]
    assert "random" in row["metrics"]["Random coherence"]
  with open(os.path.join(report["rows"][0]["model_dir"], "config.json")) as f:
    assert json.load(f)["missing_rate"] == 0.3
  with open(os.path.join(report["rows"][1]["model_dir"], "config.json")) as f:
    assert json.load(f)["learning_rate"] == 0.002  # mopoe's own setting
  assert report["settings"]["method_overrides"] == {
      "mopoe": {"learning_rate": 0.002}}
  # One set of classifiers for the seed.
  assert sorted(p for p in os.listdir(out_dir) if "classifiers" in p) == [
      "classifiers_seed0"]
  text = (out_dir / "comparison.md").read_text()
  assert "| run | training | evaluation |" in text
  assert "**Synthetic data**" in text
  for table in metrics.tables():
    assert f"## {table.title}" in text, table.title
  assert "| mopoe, missing 0.3 |" in text
  assert report["plots"] == ["comparison_coherence.png",
                             "comparison_latent_accuracy.png"]
  for plot in report["plots"]:
    assert Image.open(out_dir / plot).size == (684, 504)  # 2 rows
  again = run_bin("compare", args, cache_dir)
  assert again.returncode == 0, again.stderr[-3000:]
  assert again.stdout.count(": reused") == 2
  assert json.loads((out_dir / "comparison.json").read_text())["rows"] == (
      report["rows"])
  # A row evaluated by an older version (results.json without the current
  # schema) is not reused: it is evaluated again.
  old = os.path.join(report["rows"][0]["model_dir"], "results.json")
  with open(old) as f:
    results = json.load(f)
  del results["schema"]
  with open(old, "w") as f:
    json.dump(results, f)
  config = ExperimentConfig.from_dict(json.load(open(os.path.join(
      report["rows"][0]["model_dir"], "config.json"))))
  assert compare._finished(config) is None  # pylint: disable=protected-access


def test_bad_comparisons_fail_before_training(tmp_path, cache_dir):
  for args, message in (
      (["--methods=mmjsd", "--styles=maybe"], "--styles takes off and on"),
      (["--methods=vae"], "method must be one of"),
      (["--methods=mmjsd", "--seeds=x"], "--missing_rates or --seeds"),
      (["--methods=mmjsd", "--ms_settings=size=3"], "--ms_settings"),
      (["--methods=mmjsd", "--method_settings=vae:beta=1"],
       "--method_settings")):
    out = run_bin("compare", [f"--compare_dir={tmp_path}/c"] + args,
                  cache_dir)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert not os.path.exists(tmp_path / "c")
  # A method that trains on complete data only leaves out its rows with a
  # missing rate, saying so; with no row left the comparison is refused.
  out = run_bin("compare", [f"--compare_dir={tmp_path}/c", "--methods=jmvae",
                            "--missing_rates=0.3", "--styles=off"],
                cache_dir)
  assert out.returncode == 2, out.stderr
  assert ("Leaving out 1 row(s) of jmvae with a missing rate: the method "
          "trains on complete data only") in out.stdout
  assert "the comparison has no rows" in out.stderr
  assert not os.path.exists(tmp_path / "c")


def test_rows_share_classifiers_unless_the_seed_changes_the_data(tmp_path):
  out = str(tmp_path)
  # The synthetic sets' examples depend on the seed: a set per seed.
  for dataset in ("synthetic_mst", "synthetic_celeba"):
    assert compare.classifier_dir(out, dataset, 1) == os.path.join(
        out, "classifiers_seed1")
  # Real data are the same for every seed: one set for all rows.
  for seed in (0, 1):
    assert compare.classifier_dir(out, "mnist_svhn_text", seed) == (
        os.path.join(out, "classifiers"))
  # A comparison begun with per-seed sets keeps them, new seeds included.
  os.makedirs(os.path.join(out, "classifiers_seed0"))
  for seed in (0, 2):
    assert compare.classifier_dir(out, "mnist_svhn_text", seed) == (
        os.path.join(out, f"classifiers_seed{seed}"))
