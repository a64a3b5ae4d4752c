"""SavedModel export: versions, signatures for any subset, TF-only loading,
saved_model_cli, the README's REST and gRPC requests, errors, and the Keras
encoders and decoders."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import REPO, run_bin
from tf_mmjsd import export, fusion, run_checkpoints, run_dir, serving
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data import text as text_lib
from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs
from tf_mmjsd.data.specs import random_examples
from tf_mmjsd.model import MultimodalVAE

SPECS = mnist_svhn_text_specs()
NAMES = tuple(s.name for s in SPECS)
# Outputs of the loaded SavedModel against the in-memory model: same graph
# maths, so only float rounding differs.
RTOL, ATOL = 1e-5, 1e-5


def _make_run(model_dir, **settings):
  """A run directory with config.json and one checkpoint (random weights)."""
  config = ExperimentConfig(modalities=SPECS, model_dir=str(model_dir),
                            **settings)
  os.makedirs(model_dir)
  (model_dir / "config.json").write_text(config.to_json())
  model = MultimodalVAE.from_experiment(config)
  tf.train.CheckpointManager(run_checkpoints.checkpoint_of(model),
                             run_dir.checkpoint_dir(str(model_dir)),
                             3).save(checkpoint_number=12)
  return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  """(in-memory model, export root, version-1 path) of an MS mmJSD run."""
  root = tmp_path_factory.mktemp("export")
  _make_run(root / "run", latent_dim=6, style_dim=2)
  model, _, _ = export.load_run(str(root / "run"))
  path = export.export_run(str(root / "run"), str(root / "saved"),
                           log=lambda *_: None)
  return model, root / "saved", path


def _request(batch_present, seed=None):
  """A request {key: array}: example i has the modalities batch_present[i]."""
  batch = len(batch_present)
  examples = random_examples(SPECS, batch, np.random.default_rng(batch))
  out = {}
  for s in SPECS:
    x = examples[s.name]
    present = np.array([s.name in p for p in batch_present])
    out[s.name] = x * present.reshape((-1,) + (1,) * len(s.shape))
    out[serving.present_key(s.name)] = present
  if seed is not None:
    out["seed"] = np.arange(seed, seed + batch, dtype=np.int64)
  return out


def _cases():
  """Requests for each single modality, each pair, all, and a mixed batch."""
  cases = {}
  for subset in fusion.subsets(NAMES):
    cases["+".join(subset)] = [subset] * 3
  cases["mixed"] = fusion.subsets(NAMES)  # one subset per example
  return cases


def _expected(model, signature, request):
  """What the in-memory model's tensor methods give for a request."""
  if signature == "sample":
    out = model.sample(seed=request["seed"])
  else:
    inputs = {m: tf.constant(request[m]) for m in NAMES}
    masks = {m: tf.constant(request[serving.present_key(m)]) for m in NAMES}
    if signature == "serving_default":
      return model.representation(inputs, masks)
    if signature == "encode":
      return model.posterior_parameters(inputs, masks)
    if signature == "generate":
      out = model.generate(inputs, masks, seed=request["seed"])
    else:
      out = model.reconstruct(inputs, masks)
  out = dict(out)
  out["text_string"] = [text_lib.decode(t) for t in out["text"].numpy()]
  return out


@pytest.mark.slow
def test_versions_layout_and_metadata(exported, tmp_path):
  _, root, first = exported
  assert os.path.basename(first) == "1"
  before = {f: os.path.getmtime(os.path.join(first, f))
            for f in os.listdir(first)}
  second = export.export_run(str(root.parent / "run"), str(root),
                             log=lambda *_: None)
  assert os.path.basename(second) == "2"
  assert {f: os.path.getmtime(os.path.join(first, f))
          for f in os.listdir(first)} == before
  assert sorted(os.listdir(root)) == ["1", "2"]  # no temporary folder left
  for m in NAMES:
    for part in ("encoder", "decoder"):
      assert os.path.isfile(os.path.join(first, "keras", f"{part}_{m}.keras"))
  with open(os.path.join(first, export.METADATA)) as f:
    meta = json.load(f)
  assert meta["step"] == 12 and meta["synthetic"] is True
  assert set(meta["signatures"]) == set(serving.SIGNATURES)
  assert meta["signatures"]["generate"]["inputs"]["seed"] == ["int64", [-1]]
  assert meta["signatures"]["serving_default"]["outputs"]["loc"] == [
      "float32", [-1, 6]]
  assert export.next_version(str(root)) == 3


@pytest.mark.process
def test_a_fresh_tensorflow_only_process_matches_the_model(exported,
                                                           tmp_path):
  model, _, path = exported
  requests, expected = {}, {}
  for case, subsets in _cases().items():
    for signature in ("serving_default", "encode", "generate",
                      "reconstruct"):
      key = f"{case}|{signature}"
      requests[key] = _request(subsets, seed=5 if signature == "generate"
                               else None)
      expected[key] = _expected(model, signature, requests[key])
  requests["seeds|sample"] = {"seed": np.array([3, 1, 4, 1], np.int64)}
  expected["seeds|sample"] = _expected(model, "sample",
                                       requests["seeds|sample"])
  flat = {f"{key}|{name}": value for key, request in requests.items()
          for name, value in request.items()}
  np.savez(tmp_path / "requests.npz", **flat)
  script = tmp_path / "serve.py"
  script.write_text(textwrap.dedent(f"""
      import sys
      import numpy as np
      import tensorflow as tf
      loaded = tf.saved_model.load({str(path)!r})
      flat = np.load({str(tmp_path / 'requests.npz')!r})
      requests = {{}}
      for name in flat.files:
        case, signature, key = name.split("|")
        requests.setdefault((case, signature), {{}})[key] = flat[name]
      out = {{}}
      for (case, signature), request in requests.items():
        fn = loaded.signatures[signature]
        result = fn(**{{k: tf.constant(v) for k, v in request.items()}})
        for k, v in result.items():
          v = v.numpy()
          out[f"{{case}}|{{signature}}|{{k}}"] = (
              v.astype(str) if v.dtype == object else v)
      np.savez({str(tmp_path / 'outputs.npz')!r}, **out)
      assert not [m for m in sys.modules if m.startswith("tf_mmjsd")]
      print("tf_mmjsd imported: no")
      """))
  proc = subprocess.run([sys.executable, str(script)], capture_output=True,
                        text=True, timeout=300, cwd=str(tmp_path),
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                                 PYTHONPATH=""))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "tf_mmjsd imported: no" in proc.stdout
  got = np.load(tmp_path / "outputs.npz")
  checked = 0
  for key, outputs in expected.items():
    for name, value in outputs.items():
      served = got[f"{key}|{name}"]
      if name.endswith("_string"):
        assert list(served) == list(value), key
      else:
        np.testing.assert_allclose(served, np.asarray(value), rtol=RTOL,
                                   atol=ATOL, err_msg=f"{key} {name}")
      checked += 1
  assert checked > 100


def test_seeded_generation_is_per_example_and_reproducible(exported):
  model = exported[0]
  request = _request([("text",), ("mnist", "svhn"), NAMES], seed=11)
  inputs = {m: request[m] for m in NAMES}
  masks = {m: request[serving.present_key(m)] for m in NAMES}
  one = model.generate(inputs, masks, seed=request["seed"])
  again = model.generate(inputs, masks, seed=request["seed"])
  # The second example alone, with its seed, gives the same output.
  alone = model.generate({m: v[1:2] for m, v in inputs.items()},
                         {m: v[1:2] for m, v in masks.items()},
                         seed=request["seed"][1:2])
  other = model.generate(inputs, masks, seed=request["seed"] + 100)
  for m in NAMES:
    np.testing.assert_array_equal(one[m].numpy(), again[m].numpy())
    np.testing.assert_allclose(alone[m].numpy()[0], one[m].numpy()[1],
                               rtol=1e-5, atol=1e-6)
  assert not np.allclose(one["svhn"].numpy(), other["svhn"].numpy())


def test_a_mixed_batch_equals_each_subset_on_its_own(exported):
  model = exported[0]
  subsets = fusion.subsets(NAMES)
  request = _request(subsets)
  mixed = model.posterior_parameters(
      {m: request[m] for m in NAMES},
      {m: request[serving.present_key(m)] for m in NAMES})
  for i, subset in enumerate(subsets):
    alone = {m: request[m][i:i + 1] for m in subset}
    poe = model.subset_posterior(alone, fusion_kind="poe")
    mixture = model.subset_posterior(alone, fusion_kind="mixture")
    np.testing.assert_allclose(mixed["poe_loc"][i], poe.mean()[0], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(mixed["poe_scale"][i], poe.stddev()[0],
                               rtol=1e-5)
    np.testing.assert_allclose(mixed["mixture_mean"][i], mixture.mean()[0],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mixed["mixture_stddev"][i],
                               mixture.stddev()[0], rtol=1e-5)


def test_mixture_sampling_follows_the_weights_and_skips_absent_experts():
  locs = tf.constant([[[0.0]] * 4000, [[10.0]] * 4000, [[20.0]] * 4000])
  scales = tf.fill([3, 4000, 1], 1e-3)
  weights = tf.constant([[0.25] * 4000, [0.0] * 4000, [0.75] * 4000])
  rng = np.random.default_rng(0)
  draw = fusion.sample_mixture(
      locs, scales, weights, tf.zeros([4000, 1]),
      tf.constant(rng.random((4000, 3)), tf.float32)).numpy()[:, 0]
  assert set(np.round(draw)) == {0.0, 20.0}
  assert abs(np.mean(draw == 20.0) - 0.75) < 0.03


@pytest.mark.process
def test_saved_model_cli_lists_and_runs_the_signatures(exported, tmp_path):
  path = exported[2]
  cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  show = subprocess.run(cli + ["show", "--dir", path, "--all"],
                        capture_output=True, text=True, timeout=300, env=env)
  assert show.returncode == 0, show.stderr[-2000:]
  for name in serving.SIGNATURES:
    assert f"signature_def['{name}']" in show.stdout
  assert "inputs['text_present']" in show.stdout
  run = subprocess.run(
      cli + ["run", "--dir", path, "--tag_set", "serve", "--signature_def",
             "sample", "--input_exprs", "seed=[1, 2]", "--outdir",
             str(tmp_path)],
      capture_output=True, text=True, timeout=300, env=env)
  assert run.returncode == 0, run.stderr[-2000:]
  assert "Result for output key text_string" in run.stdout
  assert np.load(tmp_path / "svhn.npy").shape == (2, 32, 32, 3)


def _readme_blocks(language):
  with open(os.path.join(REPO, "saved_models", "README.md")) as f:
    text = f.read()
  return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def _feed(loaded, body):
  """Answers a REST body as TF Serving does: rows are stacked per input."""
  signature = loaded.signatures[body.get("signature_name", "serving_default")]
  if "instances" in body:
    columns = {k: [row[k] for row in body["instances"]]
               for k in body["instances"][0]}
  else:
    columns = body["inputs"]
  specs = signature.structured_input_signature[1]
  return signature(**{k: tf.constant(v, specs[k].dtype)
                      for k, v in columns.items()})


def test_the_readme_rest_bodies_are_answered(exported, tmp_path,
                                             monkeypatch):
  loaded = tf.saved_model.load(exported[2])
  literal = [json.loads(b) for b in _readme_blocks("json")]
  assert len(literal) == 2
  for body in literal:
    out = _feed(loaded, body)
    assert out["svhn"].shape == (3, 32, 32, 3)
    assert out["text_string"].shape == (3,)
  rows, columns = (_feed(loaded, b)["text_string"] for b in literal)
  np.testing.assert_array_equal(rows.numpy(), columns.numpy())
  # The README's Python script writes a body per signature and format.
  monkeypatch.chdir(tmp_path)
  script = [b for b in _readme_blocks("python") if "def body" in b]
  assert len(script) == 1
  exec(script[0], {})  # pylint: disable=exec-used
  written = sorted(f for f in os.listdir(tmp_path) if f.endswith(".json"))
  assert len(written) == 8
  answers = {}
  for name in written:
    with open(tmp_path / name) as f:
      answers[name] = _feed(loaded, json.load(f))
  for signature in ("serving_default", "encode", "generate", "reconstruct"):
    rows = answers[f"{signature}_rows.json"]
    columns = answers[f"{signature}_columnar.json"]
    assert set(rows) == set(columns)
    for key in rows:
      np.testing.assert_array_equal(rows[key].numpy(), columns[key].numpy())
  assert answers["serving_default_rows.json"]["loc"].shape == (3, 6)


def test_grpc_predict_requests_are_answered(exported):
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  loaded = tf.saved_model.load(exported[2])
  client = [b for b in _readme_blocks("python") if "PredictRequest" in b]
  assert len(client) == 1
  # Build the README's request (everything before the channel is opened).
  namespace = {}
  exec(client[0].split("stub =")[0], namespace)  # pylint: disable=exec-used
  request = namespace["request"]
  assert isinstance(request, predict_pb2.PredictRequest)
  wire = predict_pb2.PredictRequest.FromString(request.SerializeToString())
  signature = loaded.signatures[wire.model_spec.signature_name]
  outputs = signature(**{k: tf.constant(tf.make_ndarray(v))
                         for k, v in wire.inputs.items()})
  response = predict_pb2.PredictResponse()
  for key, value in outputs.items():
    response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
  assert tf.make_ndarray(response.outputs["svhn"]).shape == (1, 32, 32, 3)
  assert tf.make_ndarray(response.outputs["text_string"]).shape == (1,)


def test_bad_requests_get_clear_errors(exported):
  loaded = tf.saved_model.load(exported[2])
  fn = loaded.signatures["serving_default"]

  def call(request):
    return fn(**{k: tf.constant(v) for k, v in request.items()})

  nobody = _request([("text",), ()])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="at least one present modality"):
    call(nobody)
  bad = _request([("svhn",)])
  bad["svhn"][0, 0, 0, 0] = np.nan
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="modality 'svhn'.*NaN or infinite"):
    call(bad)
  wrong = _request([("svhn",)])
  wrong["svhn"] = np.zeros((1, 28, 28, 3), np.float32)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r"input svhn: expected examples of shape"):
    call(wrong)
  short = _request([("svhn",), ("text",)])
  short["text_present"] = short["text_present"][:1]
  with pytest.raises(tf.errors.InvalidArgumentError, match="batch size"):
    call(short)


@pytest.mark.slow
def test_keras_convention_model_export(exported, tmp_path):
  model = exported[0]
  model.export(str(tmp_path / "direct"))
  loaded = tf.saved_model.load(str(tmp_path / "direct"))
  assert set(serving.SIGNATURES) <= set(loaded.signatures)
  request = _request([NAMES])
  out = _feed(loaded, {"inputs": {k: v.tolist() for k, v in
                                  request.items()}})
  np.testing.assert_allclose(out["loc"], _expected(
      model, "serving_default", request)["loc"], rtol=RTOL, atol=ATOL)
  with pytest.raises(ValueError, match="tf_saved_model"):
    model.export(str(tmp_path / "other"), format="onnx")


def test_a_downstream_classifier_on_a_frozen_exported_encoder(exported,
                                                              tmp_path):
  path = exported[2]
  encoder = keras.models.load_model(
      os.path.join(path, "keras", "encoder_svhn.keras"))
  decoder = keras.models.load_model(
      os.path.join(path, "keras", "decoder_svhn.keras"))
  model = exported[0]
  x = np.random.default_rng(0).random((64, 32, 32, 3)).astype(np.float32)
  np.testing.assert_allclose(encoder(x)["content_loc"],
                             model.encoders["svhn"](x)["content_loc"],
                             rtol=1e-5, atol=1e-6)
  z = np.zeros((2, 8), np.float32)
  np.testing.assert_allclose(decoder(z), model.decoders["svhn"](z),
                             rtol=1e-5, atol=1e-6)
  # A functional classifier reading the frozen encoder's posterior mean.
  encoder.trainable = False
  inputs = keras.Input((32, 32, 3))
  params = encoder(inputs)
  features = keras.layers.Concatenate()([params["content_loc"],
                                         params["content_log_var"]])
  logits = keras.layers.Dense(10, name="head")(features)
  classifier = keras.Model(inputs, logits)
  classifier.compile(optimizer=keras.optimizers.Adam(1e-2),
                     loss=keras.losses.SparseCategoricalCrossentropy(
                         from_logits=True))
  frozen = [w.numpy().copy() for w in encoder.weights]
  labels = (x.mean(axis=(1, 2, 3)) * 20).astype(np.int32) % 10
  history = classifier.fit(x, labels, epochs=3, batch_size=16, verbose=0)
  assert history.history["loss"][-1] < history.history["loss"][0]
  for before, after in zip(frozen, encoder.weights):
    np.testing.assert_array_equal(before, after.numpy())
  classifier.save(str(tmp_path / "classifier.keras"))
  reloaded = keras.models.load_model(str(tmp_path / "classifier.keras"))
  np.testing.assert_allclose(reloaded.predict(x, verbose=0),
                             classifier.predict(x, verbose=0), rtol=1e-6,
                             atol=1e-6)


@pytest.mark.slow
def test_bin_export_writes_versions_and_fails_cleanly(tmp_path, cache_dir):
  _make_run(tmp_path / "run")
  out = run_bin("export", [f"--model_dir={tmp_path / 'run'}",
                           f"--export_dir={tmp_path / 'saved'}"], cache_dir)
  assert out.returncode == 0, out.stderr
  assert os.path.isfile(tmp_path / "saved" / "1" / "saved_model.pb")
  missing = run_bin("export", [f"--model_dir={tmp_path / 'none'}"], cache_dir)
  assert missing.returncode == 2
  assert missing.stderr.strip().splitlines()[-1].startswith("error: ")
  assert "config.json missing" in missing.stderr
  (tmp_path / "afile").write_text("x")
  clash = run_bin("export", [f"--model_dir={tmp_path / 'run'}",
                             f"--export_dir={tmp_path / 'afile'}"], cache_dir)
  assert clash.returncode == 2 and "is a file" in clash.stderr
  shutil.rmtree(tmp_path / "run" / "checkpoints")
  untrained = run_bin("export", [f"--model_dir={tmp_path / 'run'}",
                                 f"--export_dir={tmp_path / 'saved'}"],
                      cache_dir)
  assert untrained.returncode == 2 and "no checkpoint" in untrained.stderr
  assert sorted(os.listdir(tmp_path / "saved")) == ["1"]
