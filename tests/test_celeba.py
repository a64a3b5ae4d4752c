"""CelebA: attribute text, crop, loaders (TFDS mock data, local files, the
synthetic stand-in), the residual networks, AP, and a tiny end-to-end run."""

import json
import math
import os
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tf_mmjsd import networks
from tf_mmjsd.data import celeba, registry, text
from tf_mmjsd.data.celeba import synthetic_faces
from tf_mmjsd.data.split import DataUnavailableError
from tf_mmjsd.evaluation import average_precision as ap, probe
from tests.harness import REPO, run_bin

ROW = np.zeros(40, np.int8)


def _row(*names):
  row = ROW.copy()
  for n in names:
    row[celeba.ATTRIBUTES.index(n)] = 1
  return row


def test_attribute_text_order_separators_and_truncation():
  # Column order, "_" -> " ", lower case, ", " between.
  assert celeba.attribute_text(_row("Young", "5_o_Clock_Shadow", "Male")) == \
      "5 o clock shadow, male, young"
  assert celeba.attribute_text(ROW) == ""
  every = celeba.attribute_text(np.ones(40, np.int8))
  assert len(every) <= 256 and every.startswith("5 o clock shadow, arched")
  # Attributes are dropped from the end until the text fits.
  names = ("aaaa", "bbbb", "cccc")
  assert celeba.attribute_text([1, 1, 1], names, length=10) == "aaaa, bbbb"
  assert celeba.attribute_text([1, 1, 1], names, length=9) == "aaaa"


def test_padding_and_start_range():
  assert celeba.padded_text("ab", 3, length=8) == "***ab***"
  rng = np.random.default_rng(0)
  starts = {celeba.draw_start(250, rng) for _ in range(200)}
  assert starts == {0, 1, 2, 3, 4}  # [0, 254 - 250]
  assert celeba.draw_start(255, rng) == 0 and celeba.draw_start(256, rng) == 0
  attributes = np.stack([_row("Smiling"), _row("Bald", "Eyeglasses")] * 50)
  tokens = celeba.text_tokens(attributes, seed=3, split_id=0)
  assert tokens.shape == (100, 256) and tokens.dtype == np.int8
  again = celeba.text_tokens(attributes, seed=3, split_id=0)
  np.testing.assert_array_equal(tokens, again)  # fixed from the seed
  lines = ["".join(text.ALPHABET[i] for i in t) for t in tokens]
  assert lines[1].strip("*") == "bald, eyeglasses"
  assert all(line.strip("*") in ("smiling", "bald, eyeglasses")
             for line in lines)
  assert len({line.index("s") for line in lines[::2]}) > 10  # starts vary
  assert text.ALPHABET.index("*") == 55


def test_crop_takes_rows_35_to_182_and_columns_15_to_162():
  inside = np.zeros((1, 218, 178, 3), np.uint8)
  inside[:, 35:183, 15:163] = 255
  np.testing.assert_allclose(celeba.crop_and_resize(inside), 1.0, atol=1e-6)
  outside = 255 - inside
  out = celeba.crop_and_resize(outside).numpy()
  assert out.shape == (1, 64, 64, 3) and np.abs(out).max() < 1e-6
  # A one-pixel shift of the window would see the border.
  shifted = np.zeros_like(inside)
  shifted[:, 36:184, 15:163] = 255
  assert celeba.crop_and_resize(shifted).numpy().min() < 0.99


def test_registry_knows_both_celeba_data_sets():
  assert {"celeba", "synthetic_celeba"} <= set(registry.names())
  real, fake = registry.get("celeba"), registry.get("synthetic_celeba")
  assert real.label_kind == fake.label_kind == "attributes"
  assert real.attribute_names == celeba.ATTRIBUTES and len(real.attribute_names) == 40
  assert fake.synthetic and not real.synthetic
  image, txt = real.specs()
  assert (image.shape, image.network, image.weight) == (
      (64, 64, 3), "residual_conv", 1.0)
  assert (txt.shape, txt.network, txt.weight, txt.style_weight) == (
      (256, 71), "residual_sequence", 16.0, 5.0)


def test_tfds_attribute_names_match_ours():
  from tensorflow_datasets.datasets.celeb_a import celeb_a_dataset_builder as b  # pylint: disable=g-import-not-at-top
  assert tuple(b.ATTR_HEADINGS) == celeba.ATTRIBUTES


def test_tfds_path_through_mock_data(tmp_path, monkeypatch):
  from tf_mmjsd import data  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(data, "internet_reachable", lambda: True)
  with tfds.testing.mock_data(num_examples=40):
    pools = celeba.load_tfds(None, str(tmp_path), log=lambda *_: None)
  images, attributes = pools["train"]
  assert isinstance(images, np.memmap) and images.shape == (40, 64, 64, 3)
  assert attributes.shape == (40, 40) and set(np.unique(attributes)) <= {0, 1}
  train, test = celeba.splits_from_pools(pools, seed=0)
  for split, name in ((train, "train"), (test, "test")):
    split.validate(celeba.specs(), name)
  # The cache is reused: no TFDS needed the second time.
  again = celeba.load_tfds(None, str(tmp_path), log=lambda *_: None)
  np.testing.assert_array_equal(again["test"][0], pools["test"][0])


def test_offline_tfds_fails_fast_with_instructions(tmp_path, monkeypatch):
  monkeypatch.setenv("TF_MMJSD_OFFLINE", "1")
  start = time.time()
  with pytest.raises(DataUnavailableError) as err:
    celeba.load_tfds(str(tmp_path), str(tmp_path))
  assert time.time() - start < 10
  assert "--celeba_dir" in str(err.value) and "synthetic_celeba" in str(
      err.value)


def test_local_files_load_and_split_by_partition(tmp_path):
  folder = str(tmp_path / "celeba")
  synthetic_faces.write_folder(folder, 30, 10, seed=2)
  pools = celeba.load_local(folder, str(tmp_path / "cache"),
                            log=lambda *_: None)
  names, attributes, partition = celeba.read_lists(folder)
  assert len(names) == 40 and (partition == 0).sum() == 30
  np.testing.assert_array_equal(pools["train"][1], attributes[:30])
  np.testing.assert_array_equal(pools["test"][1], attributes[30:])
  assert pools["test"][0].shape == (10, 64, 64, 3)
  # The cached crop is the crop of the file (decoded as the pipeline does).
  first = tf.io.decode_jpeg(tf.io.read_file(os.path.join(
      folder, "img_align_celeba", names[30]))).numpy()
  want = np.round(celeba.crop_and_resize(first[None]).numpy()[0] * 255)
  np.testing.assert_allclose(pools["test"][0][0], want, atol=1)
  os.remove(os.path.join(folder, "list_eval_partition.txt"))
  with pytest.raises(DataUnavailableError, match="lacks list_eval_partition"):
    celeba.read_lists(folder)


def test_synthetic_faces_draw_their_attributes():
  rng = np.random.default_rng(0)
  attributes = synthetic_faces.draw_attributes(500, rng)
  hair = attributes[:, [celeba.ATTRIBUTES.index(h) for h in
                        synthetic_faces.HAIR]]
  assert hair.sum(1).max() == 1  # at most one hair colour
  glasses = _row("Eyeglasses")
  plain = ROW.copy()
  plain[celeba.ATTRIBUTES.index("No_Beard")] = 1
  with_glasses = synthetic_faces.face(glasses | plain, np.random.default_rng(1))
  without = synthetic_faces.face(plain, np.random.default_rng(1))
  assert with_glasses.shape == (218, 178, 3)
  assert np.abs(with_glasses.astype(int) - without).sum() > 1000


# docs/reference_settings.md (CelebA): the residual CelebA networks; trainable parameters as
# PyTorch counts them (BatchNorm moving statistics are not trainable).
COUNTS = {("residual_conv", "encoder"): 21_559_040,
          ("residual_conv", "decoder"): 21_912_323,
          ("residual_sequence", "encoder"): 13_250_816,
          ("residual_sequence", "decoder"): 13_604_039}


@pytest.mark.parametrize("index", [0, 1], ids=["image", "text"])
def test_residual_networks_shapes_and_parameter_counts(index):
  spec = celeba.specs()[index]
  enc = networks.build_encoder(spec, 32, 32)
  dec = networks.build_decoder(spec, 32, 32)
  out = enc(np.zeros((2,) + spec.shape, np.float32), training=True)
  assert out["content_loc"].shape == (2, 32) and out["style_loc"].shape == (
      2, 32)
  assert dec(np.zeros((2, 64), np.float32)).shape == (2,) + spec.shape
  trainable = lambda m: sum(int(np.prod(v.shape)) for v in m.trainable_weights)
  assert trainable(enc) == COUNTS[(spec.network, "encoder")]
  assert trainable(dec) == COUNTS[(spec.network, "decoder")]


@pytest.mark.slow
def test_a_narrow_residual_block_round_trips_and_trains(tmp_path):
  import keras  # pylint: disable=g-import-not-at-top
  for index in (0, 1):
    spec = celeba.specs()[index]
    spec = type(spec)(**{**spec.to_dict(), "width": 8})
    enc = networks.build_encoder(spec, 4, 2)
    dec = networks.build_decoder(spec, 4, 2)
    x = np.random.default_rng(0).random((3,) + spec.shape).astype(np.float32)
    with tf.GradientTape() as tape:
      h = enc(x, training=True)
      y = dec(tf.concat([h["style_loc"], h["content_loc"]], -1),
              training=True)
      loss = tf.reduce_mean(tf.square(y - x)) + tf.reduce_mean(
          h["content_log_var"] ** 2) + tf.reduce_mean(h["style_log_var"] ** 2)
    variables = enc.trainable_variables + dec.trainable_variables
    grads = tape.gradient(loss, variables)
    assert all(g is not None and np.any(g.numpy()) for g in grads)
    for net, inp in ((enc, x), (dec, np.zeros((3, 6), np.float32))):
      path = str(tmp_path / f"{net.name}.keras")
      net.save(path)
      want, got = net(inp), keras.models.load_model(path)(inp)
      for k in (want if isinstance(want, dict) else [None]):
        np.testing.assert_allclose(got[k] if k else got,
                                   want[k] if k else want, rtol=1e-4,
                                   atol=1e-4)


def test_average_precision_closed_form():
  # Thresholds 0.9, 0.8, 0.7, 0.1: (P, R) = (1, .5), (.5, .5), (2/3, 1),
  # (.5, 1) -> AP = .5 * 1 + .5 * 2/3.
  assert ap.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == \
      pytest.approx(0.5 + 1 / 3)
  assert ap.average_precision([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
  assert ap.average_precision([0, 1], [0.9, 0.1]) == pytest.approx(0.5)
  assert math.isnan(ap.average_precision([0, 0], [0.3, 0.2]))
  labels = np.array([[1, 0], [0, 0], [1, 0]])
  scores = np.array([[0.9, 0.2], [0.1, 0.5], [0.8, 0.1]])
  np.testing.assert_allclose(ap.per_attribute(labels, scores)[:1], [1.0])
  assert ap.mean_average_precision(labels, scores) == 1.0  # NaN skipped


def test_multi_label_probe_separates_separable_attributes():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(400, 3))
  y = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0.5], 1).astype(np.int8)
  value, per = probe.score(x[:300], y[:300], x[300:], y[300:])
  assert value > 0.98 and len(per) == 2
  noise = rng.integers(0, 2, (400, 2))
  value, _ = probe.score(x[:300], noise[:300], x[300:], noise[300:])
  assert value < 0.75


def test_bin_train_celeba_offline_fails_within_seconds(tmp_path, cache_dir):
  start = time.time()
  out = run_bin("train", [f"--flagfile={REPO}/configs/celeba.flags",
                          f"--model_dir={tmp_path}/run",
                          f"--data_dir={tmp_path}/tfds"], cache_dir,
                extra_env={"TF_MMJSD_OFFLINE": "1"})
  assert out.returncode == 2, out.stderr
  assert time.time() - start < 60
  assert "celeb_a" in out.stderr and "--celeba_dir" in out.stderr
  assert not os.path.exists(tmp_path / "run")


@pytest.mark.slow
def test_celeba_quick_trains_and_evaluates(tmp_path, cache_dir):
  """configs/celeba_quick.flags, smaller: AP tables and the figures."""
  model_dir = str(tmp_path / "run")
  small = ["--synthetic_train_size=256", "--synthetic_test_size=64",
           "--batch_size=32", "--epochs=2", "--network_width=8",
           "--probe_train_examples=256", f"--data_dir={tmp_path}/data"]
  out = run_bin("train", [f"--flagfile={REPO}/configs/celeba_quick.flags",
                          f"--model_dir={model_dir}"] + small, cache_dir)
  assert out.returncode == 0, out.stderr
  summary = json.load(open(os.path.join(model_dir, "summary.json")))
  assert summary["synthetic"] is True and summary["steps"] == 16
  assert summary["latent_probe"]["metric"] == "mean_ap"
  out = run_bin("evaluate", [f"--model_dir={model_dir}",
                             f"--data_dir={tmp_path}/data",
                             "--likelihood_examples=16",
                             "--likelihood_samples=2", "--classifier_epochs=1",
                             "--quality_examples=64"], cache_dir)
  assert out.returncode == 0, out.stderr
  results = json.load(open(os.path.join(model_dir, "results.json")))
  probe_poe = results["latent_probe"]["poe"]
  assert set(probe_poe) == {"image", "text", "image+text"}
  assert all(0 < v <= 1 for v in probe_poe.values())
  per = results["latent_probe"]["per_attribute"]["poe"]["text"]
  assert len(per) == 40
  coherence = results["coherence"]
  assert coherence["metric"] == "mean_ap" and math.isnan(coherence["random"])
  # Two modalities: no subset of two or more to generate from, so the
  # other posterior has no coherence entry.
  assert list(coherence["conditional"]) == [coherence["fusion"]]
  own = coherence["conditional"][coherence["fusion"]]
  assert 0 < own["image"]["text"] <= 1 and 0 < own["text"]["image"] <= 1
  assert set(results["classifiers"]["test_mean_ap"]) == {"image", "text"}
  md = open(os.path.join(model_dir, "results.md")).read()
  assert "Mean average precision of a linear probe" in md
  assert "Average precision per attribute" in md and "eyeglasses" in md
  assert "synthetic_celeba" in md
  for name in ("figures/from_text.png", "figures/from_image.png"):
    assert os.path.exists(os.path.join(model_dir, name))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mmjsd", "mmvae", "mvae", "mopoe"])
def test_every_method_trains_the_celeba_networks(method):
  """configs/celeba.flags with any --method: finite terms, and gradients
  reach every encoder and decoder (the networks narrowed to width 8)."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.model import MultimodalVAE  # pylint: disable=g-import-not-at-top
  specs = tuple(dataclasses.replace(s, width=8) for s in celeba.specs())
  model = MultimodalVAE(specs, method=method, latent_dim=4, style_dim=2,
                        beta=2.5, beta_style=2.0, prior_weight=0.3)
  rng = np.random.default_rng(0)
  batch = {"inputs": {
      "image": tf.constant(rng.random((4, 64, 64, 3)), tf.float32),
      "text": tf.one_hot(rng.integers(0, 71, (4, 256)), 71)},
           "masks": {"image": tf.constant([True, True, False, True]),
                     "text": tf.constant([True, False, True, True])},
           "labels": tf.zeros([4, 40], tf.int32)}
  with tf.GradientTape() as tape:
    terms = model.compute_terms(batch, training=True)
    loss = tf.reduce_mean(terms["loss"])
  assert all(np.isfinite(v.numpy()).all() for v in terms.values())
  grads = tape.gradient(loss, model.trainable_variables)
  for name in ("encoder_image", "encoder_text", "decoder_image",
               "decoder_text"):
    moved = [g for v, g in zip(model.trainable_variables, grads)
             if v.path.startswith(name) and g is not None
             and np.any(g.numpy())]
    assert moved, name
