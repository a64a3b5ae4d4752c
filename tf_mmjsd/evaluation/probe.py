"""Latent linear probe: logistic regression on posterior means.

Multinomial logistic regression (one class per example) or one binary
logistic regression per attribute (many binary attributes, as CelebA's),
with an L2 penalty on standardised features, fitted by L-BFGS
(tfp.optimizer.lbfgs_minimize), deterministic. `score` is the accuracy of
the class, or the mean average precision over the attributes.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tf_mmjsd.evaluation import average_precision as ap


@tf.function(reduce_retracing=True)
def _fit(x, y, l2, max_iterations, multi_label=False):
  """L-BFGS fit of (w [D, C], b [C]) to standardised x [N, D] and one-hot
  y [N, C] (softmax), or 0/1 y [N, C] of C attributes (independent
  sigmoids: the loss is a sum of C separate binary problems)."""
  dim, num_classes = tf.shape(x)[1], tf.shape(y)[1]

  def unpack(params):
    return (tf.reshape(params[:dim * num_classes], [dim, num_classes]),
            params[dim * num_classes:])

  def loss_and_grad(params):
    with tf.GradientTape() as tape:
      tape.watch(params)
      w, b = unpack(params)
      if multi_label:
        nll = tf.reduce_sum(tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(y, x @ w + b), 0))
      else:
        nll = tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(y, x @ w + b))
      loss = nll + l2 * tf.reduce_sum(tf.square(w))
    return loss, tape.gradient(loss, params)

  start = tf.zeros([(dim + 1) * num_classes], tf.float64)
  result = tfp.optimizer.lbfgs_minimize(loss_and_grad, start,
                                        max_iterations=max_iterations,
                                        tolerance=1e-8)
  return unpack(result.position)


def fit_predict(train_x, train_y, test_x, num_classes=None, l2=1e-3,
                max_iterations=500):
  """Fits on (train_x [N, D], train_y int [N]); returns test predictions [N']."""
  train_x = np.asarray(train_x, np.float64)
  test_x = np.asarray(test_x, np.float64)
  train_y = np.asarray(train_y, np.int64)
  num_classes = num_classes or int(train_y.max()) + 1
  mean, std = train_x.mean(0), train_x.std(0) + 1e-8
  w, b = _fit(tf.constant((train_x - mean) / std),
              tf.one_hot(train_y, num_classes, dtype=tf.float64),
              tf.constant(l2, tf.float64), tf.constant(max_iterations))
  logits = ((test_x - mean) / std) @ w.numpy() + b.numpy()
  return np.argmax(logits, axis=1)


def accuracy(train_x, train_y, test_x, test_y, **kwargs):
  """Test accuracy of a probe fitted on the training features."""
  pred = fit_predict(train_x, train_y, test_x, **kwargs)
  return float(np.mean(pred == np.asarray(test_y)))


def fit_scores(train_x, train_y, test_x, l2=1e-3, max_iterations=500):
  """Fits one logistic regression per attribute on (train_x [N, D],
  train_y 0/1 [N, K]); returns test logits [N', K]."""
  train_x = np.asarray(train_x, np.float64)
  test_x = np.asarray(test_x, np.float64)
  mean, std = train_x.mean(0), train_x.std(0) + 1e-8
  w, b = _fit(tf.constant((train_x - mean) / std),
              tf.constant(np.asarray(train_y, np.float64)),
              tf.constant(l2, tf.float64), tf.constant(max_iterations),
              multi_label=True)
  return ((test_x - mean) / std) @ w.numpy() + b.numpy()


def score(train_x, train_y, test_x, test_y, **kwargs):
  """(score, per-attribute APs or None): the accuracy for class labels
  [N], or the mean average precision over attributes for labels [N, K]."""
  if np.ndim(train_y) == 1:
    return accuracy(train_x, train_y, test_x, test_y, **kwargs), None
  scores = fit_scores(train_x, train_y, test_x, **kwargs)
  values = ap.per_attribute(test_y, scores)
  return ap.mean_average_precision(test_y, scores), values.tolist()
