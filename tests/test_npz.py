"""Bring-your-own data from an .npz file: loading, masks, errors, CLI."""

import json
import os
import re

import numpy as np
import pytest

from tf_mmjsd.data import npz
from tf_mmjsd.data.specs import ModalitySpec, parse_modality
from tf_mmjsd.data.split import DataError, DataUnavailableError
from tests.harness import save_npz, train

SPECS = (parse_modality("vec:6:laplace:mlp:2.0"),
         parse_modality("tags:8x71:categorical:text"))
MODALITY_FLAGS = ["--modality=vec:6:laplace:mlp:2.0",
                  "--modality=tags:8x71:categorical:text"]


def write_npz(path, n_train=256, n_test=64, masks=True, **overrides):
  rng = np.random.default_rng(0)
  arrays = {}
  for split, n in (("train", n_train), ("test", n_test)):
    labels = rng.integers(0, 4, n)
    arrays[f"{split}_labels"] = labels
    arrays[f"{split}_vec"] = (np.eye(6)[labels] +
                              0.1 * rng.normal(size=(n, 6))).astype(np.float32)
    arrays[f"{split}_tags"] = np.eye(71, dtype=np.float32)[
        np.repeat(labels[:, None], 8, axis=1)]
    if masks:
      present = np.ones(n, bool)
      present[::3] = False  # every third example lacks "vec"
      arrays[f"{split}_mask_vec"] = present
  return save_npz(path, arrays, **overrides)


def test_parse_modality():
  spec = parse_modality("image:28x28x1:laplace:mlp:3.5:sigmoid")
  assert spec == ModalitySpec("image", (28, 28, 1), "laplace", "mlp",
                              weight=3.5, output_activation="sigmoid")
  with pytest.raises(ValueError, match="expected name:shape"):
    parse_modality("image:28x28")
  with pytest.raises(ValueError, match="likelihood"):
    parse_modality("image:28:gaussian:mlp")


def test_load_npz_with_masks(tmp_path):
  train, test = npz.load_npz(write_npz(tmp_path / "d.npz"), SPECS)
  assert len(train) == 256 and len(test) == 64
  assert train.masks["vec"].sum() == 256 - 86
  assert train.pools["tags"].shape == (256, 8, 71)


def test_load_npz_errors(tmp_path):
  with pytest.raises(DataUnavailableError, match="no such file"):
    npz.load_npz(str(tmp_path / "none.npz"), SPECS)
  bad = tmp_path / "bad.npz"
  bad.write_bytes(b"not a zip")
  with pytest.raises(DataError, match="not a readable .npz"):
    npz.load_npz(str(bad), SPECS)
  path = write_npz(tmp_path / "short.npz",
                   train_vec=np.zeros((10, 6), np.float32))
  with pytest.raises(DataError, match="disagree on the number of examples"):
    npz.load_npz(path, SPECS)
  path = write_npz(tmp_path / "shape.npz",
                   test_vec=np.zeros((64, 7), np.float32))
  with pytest.raises(DataError, match=r"'vec'.*\(7,\).*\(6,\)"):
    npz.load_npz(path, SPECS)
  with pytest.raises(DataError, match="lacks arrays.*train_audio"):
    npz.load_npz(path, SPECS + (parse_modality("audio:4:laplace:mlp"),))


@pytest.mark.slow
def test_bin_train_on_npz_with_missing_modalities(tmp_path, cache_dir):
  path = write_npz(tmp_path / "d.npz")
  model_dir = tmp_path / "run"
  out = train(["--dataset=npz", f"--data_path={path}", *MODALITY_FLAGS,
               "--batch_size=32", "--epochs=2", "--latent_dim=4",
               "--probe_train_examples=256", "--num_sample_columns=3",
               f"--model_dir={model_dir}"], cache_dir)
  assert out.returncode == 0, out.stderr
  summary = json.loads((model_dir / "summary.json").read_text())
  assert summary["steps"] == 16 and summary["synthetic"] is False
  probe = summary["latent_probe"]
  assert set(probe["poe"]) == {"vec", "tags", "vec+tags"}
  assert probe["poe"]["tags"] >= 0.9  # the tags spell the label
  assert len(summary["samples"]) == 4
  assert "--modality=vec:6:laplace:mlp:2.0" in (model_dir / "flags.txt"
                                                ).read_text()


@pytest.mark.slow
def test_bin_train_npz_errors(tmp_path, cache_dir):
  no_spec = train(["--dataset=npz", f"--data_path={tmp_path}/d.npz",
                   f"--model_dir={tmp_path}/a"], cache_dir)
  assert no_spec.returncode == 2 and "--modality" in no_spec.stderr
  path = write_npz(tmp_path / "d.npz", test_tags=np.zeros((64, 8, 70)))
  shape = train(["--dataset=npz", f"--data_path={path}", *MODALITY_FLAGS,
                 f"--model_dir={tmp_path}/b"], cache_dir)
  assert shape.returncode == 2
  assert "'tags'" in shape.stderr and "(8, 70)" in shape.stderr
  assert not os.path.exists(tmp_path / "b" / "checkpoints")
  # The run never trained, so it may be rerun with corrected settings.
  good = write_npz(tmp_path / "good.npz", n_train=64, n_test=32)
  fixed = train(["--dataset=npz", f"--data_path={good}", *MODALITY_FLAGS,
                 "--batch_size=32", "--epochs=1", "--latent_dim=4",
                 "--probe_train_examples=64", f"--model_dir={tmp_path}/b"],
                cache_dir)
  assert fixed.returncode == 0, fixed.stderr
  assert json.loads((tmp_path / "b" / "summary.json").read_text())[
      "steps"] == 2
  # A method that trains on complete examples only refuses absent entries.
  jmvae = train(["--dataset=npz", f"--data_path={good}", *MODALITY_FLAGS,
                 "--method=jmvae", f"--model_dir={tmp_path}/c"], cache_dir)
  assert jmvae.returncode == 2
  assert re.search(r"method jmvae trains on examples with every modality; "
                   r"\d+ of the 64 training examples lack one", jmvae.stderr)
  assert not os.path.exists(tmp_path / "c" / "checkpoints")


def test_nan_marks_absent_entries_and_is_refused_where_present(tmp_path):
  vec = np.random.default_rng(1).random((256, 6)).astype(np.float32)
  mask = np.ones(256, bool)
  vec[5] = np.nan
  mask[5] = False  # example 5 has no "vec": its NaNs are never read
  path = write_npz(tmp_path / "d.npz", masks=False, train_vec=vec,
                   train_mask_vec=mask)
  train, _ = npz.load_npz(path, SPECS)
  from tf_mmjsd.data.pipeline import Pipeline  # pylint: disable=g-import-not-at-top
  batch = next(iter(Pipeline(train, SPECS).eval_dataset(8)))
  np.testing.assert_array_equal(batch["inputs"]["vec"][5], np.zeros(6))
  assert np.isfinite(batch["inputs"]["vec"].numpy()).all()
  mask[5], mask[9] = True, False
  path = write_npz(tmp_path / "e.npz", masks=False, train_vec=vec,
                   train_mask_vec=mask)
  with pytest.raises(DataError, match=r"modality 'vec', train split: 1 "
                     r"example have NaN.*the first is example 5"):
    npz.load_npz(path, SPECS)


def _batches(split, specs, seed=3):
  from tf_mmjsd.data.pipeline import Pipeline  # pylint: disable=g-import-not-at-top
  pipe = Pipeline(split, specs)
  return (list(pipe.train_dataset(32, 4, seed, epoch=0)) +
          list(pipe.eval_dataset(50)))


def _assert_same_batches(got, want):
  assert len(got) == len(want)
  for a, b in zip(got, want):
    for m in b["inputs"]:
      np.testing.assert_array_equal(a["inputs"][m], b["inputs"][m])
      np.testing.assert_array_equal(a["masks"][m], b["masks"][m])
    np.testing.assert_array_equal(a["labels"], b["labels"])


def test_integer_tokens_give_the_batches_of_one_hot_storage(tmp_path):
  one_hot = write_npz(tmp_path / "one_hot.npz")
  arrays = dict(np.load(one_hot))
  tokens = {k: (v.argmax(-1).astype(np.int16) if k.endswith("_tags") else v)
            for k, v in arrays.items()}
  np.savez(tmp_path / "tokens.npz", **tokens)
  want, _ = npz.load_npz(one_hot, SPECS)
  got, _ = npz.load_npz(str(tmp_path / "tokens.npz"), SPECS)
  assert got.pools["tags"].shape == (256, 8)  # 71 times smaller
  _assert_same_batches(_batches(got, SPECS), _batches(want, SPECS))


def test_tokens_outside_the_vocabulary_are_refused(tmp_path):
  tokens = np.zeros((256, 8), np.int32)
  tokens[17, 3] = 71
  path = write_npz(tmp_path / "d.npz", train_tags=tokens)
  with pytest.raises(DataError, match=r"modality 'tags', train split: 1 "
                     r"example hold tokens outside \[0, 71\).*example 17"):
    npz.load_npz(path, SPECS)
  path = write_npz(tmp_path / "e.npz", train_tags=np.zeros((256, 9), np.int32))
  with pytest.raises(DataError, match=r"shape \(9,\), the spec says \(8, 71\) "
                     r"\(or integer tokens \(8,\)\)"):
    npz.load_npz(path, SPECS)


def test_a_folder_of_npy_files_is_memory_mapped_and_reads_the_same(tmp_path):
  path = write_npz(tmp_path / "d.npz")
  folder = tmp_path / "arrays"
  folder.mkdir()
  for key, value in np.load(path).items():
    np.save(folder / f"{key}.npy", value)
  want, want_test = npz.load_npz(path, SPECS)
  got, got_test = npz.load_npz(str(folder), SPECS)
  assert isinstance(got.pools["vec"], np.memmap)
  assert isinstance(got_test.pools["tags"], np.memmap)
  _assert_same_batches(_batches(got, SPECS), _batches(want, SPECS))
  _assert_same_batches(_batches(got_test, SPECS), _batches(want_test, SPECS))
  (folder / "test_vec.npy").unlink()
  with pytest.raises(DataError, match=r"lacks arrays \['test_vec'\]"):
    npz.load_npz(str(folder), SPECS)


def test_bernoulli_and_normal_values(tmp_path):
  specs = (parse_modality("flags:5:bernoulli:mlp"),
           parse_modality("labs:3:normal:mlp"))
  rng = np.random.default_rng(0)
  arrays = {}
  for split, n in (("train", 40), ("test", 10)):
    arrays[f"{split}_flags"] = rng.random((n, 5)) < 0.5  # bool is fine
    arrays[f"{split}_labs"] = rng.normal(0, 50, (n, 3))  # any real value
  np.savez(tmp_path / "ok.npz", **arrays)
  train, _ = npz.load_npz(str(tmp_path / "ok.npz"), specs)
  assert len(train) == 40
  arrays["test_flags"] = arrays["test_flags"] * 2.0
  np.savez(tmp_path / "bad.npz", **arrays)
  with pytest.raises(DataError, match=r"'flags', test split: \d+ examples "
                     r"lie outside \[0, 1\], the support of the bernoulli"):
    npz.load_npz(str(tmp_path / "bad.npz"), specs)


def test_the_preflight_read_is_reused_once_and_never_stale(tmp_path):
  """The pre-flight's read is the next load's (read once); a .npy of a
  folder rewritten in place, same size, is read again; release() drops
  what was kept."""
  import types  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import preflight  # pylint: disable=g-import-not-at-top
  folder = tmp_path / "arrays"
  folder.mkdir()
  with np.load(write_npz(tmp_path / "d.npz")) as data:
    for key in data.files:
      np.save(folder / f"{key}.npy", data[key])
  config = types.SimpleNamespace(data_path=str(folder), modalities=SPECS)
  npz.preflight(config)
  first = npz.load(config)
  assert first is not None and npz.load(config) is not first  # used once
  npz.preflight(config)
  vec = np.load(folder / "train_vec.npy")
  np.save(folder / "train_vec.npy", vec + 1)  # same size, new values
  again = npz.load(config)
  np.testing.assert_array_equal(np.asarray(again[0].pools["vec"]), vec + 1)
  npz.preflight(config)
  preflight.release()
  assert npz._CHECKED == {}  # pylint: disable=protected-access
