"""A step under a 2-replica MirroredStrategy equals a single-device step.

Runs in a subprocess because logical CPU devices must be configured before
TensorFlow initialises. Sampling is made deterministic (c = loc) and every
example observes exactly one modality, so both runs decode the same
latents; plain SGD makes any error in the loss scaling across replicas
show up in the update (Adam's first step would hide it).
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from tf_mmjsd import objectives, training
    from tf_mmjsd.data.specs import mnist_svhn_text_specs
    from tf_mmjsd.model import MultimodalVAE
    objectives.post.reparameterized_sample = lambda loc, scale: loc

    specs = mnist_svhn_text_specs()
    rng = np.random.default_rng(0)
    n = 32
    which = np.arange(n) % 3
    batch = {"inputs": {}, "masks": {}, "labels": tf.zeros([n], tf.int32)}
    for i, s in enumerate(specs):
      if s.likelihood == "categorical":
        x = tf.one_hot(rng.integers(0, 71, (n, 8)), 71)
      else:
        x = tf.constant(rng.random((n,) + s.shape), tf.float32)
      batch["inputs"][s.name] = x
      batch["masks"][s.name] = tf.constant(which == i)

    def one_step(strategy):
      keras.utils.set_random_seed(1)
      with strategy.scope():
        model = MultimodalVAE(specs)
        model.compile(optimizer=keras.optimizers.SGD(1e-4))
        model.optimizer.build(model.trainable_variables)
      before = [v.numpy() for v in model.trainable_variables]
      step = training.make_train_function(model, strategy)
      data = tf.data.Dataset.from_tensors(batch)
      for b in strategy.experimental_distribute_dataset(data):
        step(b)
      return [v.numpy() - b for v, b in zip(model.trainable_variables, before)]

    single = one_step(tf.distribute.get_strategy())
    mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored_strategy.num_replicas_in_sync == 2
    mirrored = one_step(mirrored_strategy)
    assert all(np.abs(u).max() > 0 for u in single)
    worst = max(float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
                for a, b in zip(single, mirrored))
    print("worst relative difference of the updates", worst)
    assert worst < 1e-3, worst
    print("OK")
""")


def test_two_replica_step_matches_single_device():
  out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True,
                       text=True, timeout=300)
  assert out.returncode == 0, out.stdout + out.stderr[-3000:]
  assert "OK" in out.stdout
