"""Combining unimodal posteriors: products of experts and mixture assignment.

The subset posterior of a set of present modalities comes in two kinds
(`KINDS`): "poe", a product of experts, and "mixture", a mixture of
experts; methods.Method says which product and which mixture a method uses.

Experts are stacked along a leading axis K: locs and scales [K, B, D],
weights [K, B]. A zero weight removes an expert for that example, which is
how absent modalities are dropped.
"""

import tensorflow as tf

from tf_mmjsd.subsets import KINDS, subsets  # pylint: disable=unused-import  # part of this module's API

VARIANCE_EPSILON = 1e-8
# The key, among the content posteriors {m: (loc, scale)} of
# MultimodalVAE.encode, of the joint encoder's posterior q(c | x_1..x_M)
# for a method that trains one (methods.Method.joint_encoder); no modality
# may be named so.
JOINT = "*joint"


def check_kind(fusion_kind):
  """Raises ValueError unless `fusion_kind` is one of KINDS."""
  if fusion_kind not in KINDS:
    raise ValueError(f"fusion_kind must be one of {KINDS}, "
                     f"got {fusion_kind!r}")


def normalize_weights(weights):
  """weights [K, B] divided by their sum over K (so each column sums to 1)."""
  return weights / tf.reduce_sum(weights, axis=0, keepdims=True)


def product_of_experts(locs, scales, weights):
  """Gaussian proportional to prod_k N(loc_k, scale_k^2)^weight_k.

  Precision tau = sum_k w_k / (scale_k^2 + 1e-8); loc = sum_k w_k tau_k
  loc_k / tau. With weights summing to 1 this is the weighted geometric mean
  (mmJSD's dynamic prior); with unit weights the plain PoE (MVAE).

  Args:
    locs, scales: [K, B, D].
    weights: [K, B], non-negative; at least one positive per example.

  Returns:
    (loc, scale), each [B, D].
  """
  precision = weights[..., None] / (tf.square(scales) + VARIANCE_EPSILON)
  total = tf.reduce_sum(precision, axis=0)
  loc = tf.reduce_sum(precision * locs, axis=0) / total
  return loc, tf.sqrt(1.0 / total)


def with_prior(locs, scales, present, prior_weight, num_modalities):
  """Prepends the N(0, I) expert to K unimodal experts, with mmJSD weights.

  Args:
    locs, scales: [K, B, D] unimodal posteriors.
    present: float [K, B], 1 where the modality is observed.
    prior_weight: pi_0; each modality gets (1 - pi_0) / num_modalities.

  Returns:
    (locs, scales) [K + 1, B, D] and weights [K + 1, B], prior first,
    renormalised so each column sums to 1 over the present experts.
  """
  batch = tf.shape(locs)[1]
  weights = tf.concat([
      tf.fill([1, batch], tf.cast(prior_weight, locs.dtype)),
      present * (1.0 - prior_weight) / num_modalities], axis=0)
  return (tf.concat([tf.zeros_like(locs[:1]), locs], 0),
          tf.concat([tf.ones_like(scales[:1]), scales], 0),
          normalize_weights(weights))


def prior_in_full_product(num_experts, num_modalities):
  """MoPoE's rule for N(0, I) (its authors' code), as `prior_joins` of
  `subset_products`: the prior joins the product of a subset of the K
  experts only when that subset holds all M modalities."""
  return lambda subset: (num_experts == num_modalities
                         and len(subset) == num_modalities)


def subset_products(locs, scales, mask, prior_joins):
  """The PoE of every non-empty subset of K experts (MoPoE's subset
  posteriors), as the MoPoE authors' code builds them.

  q_S = prod_{k in S} q_k, unweighted; the N(0, I) expert joins a subset
  only where `prior_joins` says so (the reference adds it to the subset of
  all M modalities alone). A subset is available for an example when all
  its members are present; an unavailable one is replaced by N(0, I), a
  finite stand-in (its members' product could be 0/0) that callers mask.

  Args:
    locs, scales: [K, B, D] experts; mask: float [K, B], 1 where present.
    prior_joins: fn(subset tuple of expert indices) -> bool.

  Returns:
    (locs [S, B, D], scales [S, B, D], available bool [S, B]), S = 2^K - 1
    subsets in the order of `subsets(range(K))`.
  """
  num = locs.shape[0]
  present = mask > 0
  experts = (tf.concat([tf.zeros_like(locs[:1]), locs], 0),
             tf.concat([tf.ones_like(scales[:1]), scales], 0))
  out_locs, out_scales, available = [], [], []
  for subset in subsets(tuple(range(num))):
    ok = tf.reduce_all(tf.gather(present, list(subset)), axis=0)  # [B]
    member = tf.constant([float(prior_joins(subset))]
                         + [float(k in subset) for k in range(num)],
                         mask.dtype)[:, None]  # [K + 1, 1]
    stand_in = tf.one_hot(0, num + 1, dtype=mask.dtype)[:, None]
    weights = tf.where(ok[None], member * tf.concat(
        [tf.ones_like(mask[:1]), mask], 0), stand_in)  # [K + 1, B]
    loc, scale = product_of_experts(*experts, weights)
    out_locs.append(loc)
    out_scales.append(scale)
    available.append(ok)
  return tf.stack(out_locs), tf.stack(out_scales), tf.stack(available)


def sample_mixture(locs, scales, weights, normal, uniform):
  """One reparameterised sample per example of sum_k w_k N(loc_k, scale_k^2).

  The component is chosen by the Gumbel-max trick (argmax_k log w_k + g_k),
  so a zero weight is never chosen.

  Args:
    locs, scales: [K, B, D].
    weights: [K, B], each column summing to 1.
    normal: [B, D] standard normal noise.
    uniform: [B, K] uniform noise in [0, 1).

  Returns:
    [B, D].
  """
  tiny = tf.constant(1e-20, uniform.dtype)
  gumbel = -tf.math.log(-tf.math.log(uniform + tiny) + tiny)
  logits = tf.math.log(tf.transpose(weights)) + gumbel  # [B, K]
  chosen = tf.one_hot(tf.argmax(logits, axis=-1), tf.shape(locs)[0],
                      axis=0, dtype=locs.dtype)[..., None]  # [K, B, 1]
  return (tf.reduce_sum(chosen * locs, 0)
          + tf.reduce_sum(chosen * scales, 0) * normal)


def check_some_present(present):
  """Asserts every example (column of bool [M, B]) has a present modality."""
  count = tf.reduce_sum(tf.cast(present, tf.int32), axis=0)
  return tf.debugging.assert_positive(
      count, message="every example needs at least one present modality; "
      "an example with no modality present has no posterior")


def mixture_assignment(present, positions=None, global_batch=None):
  """Which present modality's posterior each example samples from.

  Example i of a global batch of B, with n_i present modalities, takes its
  j-th present modality, j = min(i // max(B // n_i, 1), n_i - 1): for a
  complete batch this gives equal contiguous blocks with the remainder in
  the last (85/85/86 rows of 256 for 3 modalities), as in the original
  code. On one replica of several, `positions` are its examples' rows in
  the global batch, so the assignment does not depend on the replicas.

  Args:
    present: bool [M, B].
    positions: int [B], rows in the global batch (default 0 .. B-1).
    global_batch: int scalar, the global batch size (default B).

  Returns:
    float32 one-hot [M, B].
  """
  present = tf.convert_to_tensor(present, tf.bool)
  with tf.control_dependencies([check_some_present(present)]):
    as_int = tf.cast(present, tf.int32)
  batch = tf.shape(present)[1]
  if positions is None:
    positions, global_batch = tf.range(batch), batch
  count = tf.reduce_sum(as_int, axis=0)
  block = tf.maximum(global_batch // tf.maximum(count, 1), 1)
  chosen = tf.minimum(positions // block, count - 1)
  rank = tf.cumsum(as_int, axis=0, exclusive=True)
  return tf.cast(present & tf.equal(rank, chosen[None, :]), tf.float32)


def method_product(method, locs, scales, mask, names, num_modalities,
                   prior_weight):
  """(loc, scale) [B, D] of a method's PoE subset posterior of the experts
  of `names` (methods.Method.product):

    "weighted"  the pi-weighted product of N(0, I) and the present q_m
                (prior_weight pi_0, renormalised over the present ones)
    "plain"     the unweighted product of N(0, I) and the present q_m (MVAE)
    "subset"    the unweighted product of the present q_m, with N(0, I)
                only where all M modalities are present (MoPoE)
    a function  the method's own: product(locs, scales, mask, names,
                num_modalities, prior_weight) -> (loc, scale) [B, D]

  Args:
    method: a methods.Method.
    locs, scales: [K, B, D] experts; mask: float [K, B], 1 where present.
    names: the K experts' modality names; num_modalities: M of the model.
  """
  if callable(method.product):
    return method.product(locs, scales, mask, names, num_modalities,
                          prior_weight)
  if method.product == "subset":
    joins = prior_in_full_product(len(names), num_modalities)
    prior = tf.cast(tf.reduce_all(mask > 0, axis=0), mask.dtype)[None]
    weights = tf.concat([prior if joins(names) else tf.zeros_like(prior),
                         mask], 0)
    return product_of_experts(
        tf.concat([tf.zeros_like(locs[:1]), locs], 0),
        tf.concat([tf.ones_like(locs[:1]), scales], 0), weights)
  experts = with_prior(locs, scales, mask, prior_weight, num_modalities)
  if method.product == "plain":
    experts = experts[:2] + (tf.concat([tf.ones_like(mask[:1]), mask], 0),)
  return product_of_experts(*experts)


def joint_where_complete(loc, scale, joint, mask, num_modalities):
  """(loc, scale) [B, D]: the joint encoder's posterior `joint` (loc,
  scale) for the examples with all M modalities present (mask [K, B] over
  K = M experts), the product (loc, scale) elsewhere."""
  if mask.shape[0] != num_modalities:
    return loc, scale
  complete = tf.reduce_all(mask > 0, axis=0)[:, None]
  return (tf.where(complete, joint[0], loc),
          tf.where(complete, joint[1], scale))


def method_mixture(method, locs, scales, mask, names, num_modalities):
  """(locs, scales [K', B, D], weights [K', B]) of the components of a
  method's "mixture" subset posterior (methods.Method.mixture): the
  present q_m ("unimodal"), or MoPoE's subset PoEs of every non-empty
  subset of them ("subsets"); weights are uniform over the available
  components of each example."""
  if method.mixture == "subsets":
    locs, scales, available = subset_products(
        locs, scales, mask,
        prior_in_full_product(len(names), num_modalities))
    mask = tf.cast(available, locs.dtype)
  return locs, scales, normalize_weights(mask)


def mixture_size(method, num_modalities):
  """K', the number of components of a method's mixture over M modalities."""
  if method.mixture == "subsets":
    return 2 ** num_modalities - 1
  return num_modalities
