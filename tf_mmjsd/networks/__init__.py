"""Per-modality encoders and decoders (Keras subclassed models).

Encoders map x [B, *shape] to Gaussian posterior parameters; decoders map
z = [s_m, c] [B, style_dim + latent_dim] to likelihood parameters
[B, *shape]. `build_encoder` / `build_decoder` pick the family named by a
`ModalitySpec`: mlp, conv and sequence for any shape (networks/geometry.py),
residual_conv and residual_sequence for CelebA. A method that trains a
joint encoder (JMVAE) gets `build_joint_encoder`'s. Classifiers (for coherence
and sample quality) map x to class (or attribute) logits;
`build_classifier` picks one from the example's shape.
"""

from tf_mmjsd import likelihoods
from tf_mmjsd.networks.classifier import Classifier
from tf_mmjsd.networks.conv_decoder import ConvDecoder
from tf_mmjsd.networks.conv_encoder import ConvEncoder
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder
from tf_mmjsd.networks.image_classifier import ImageClassifier
from tf_mmjsd.networks.joint_encoder import JointEncoder
from tf_mmjsd.networks.mlp_decoder import MLPDecoder
from tf_mmjsd.networks.mlp_encoder import MLPEncoder
from tf_mmjsd.networks.residual_block import ResidualBlock
from tf_mmjsd.networks.residual_conv_decoder import ResidualConvDecoder
from tf_mmjsd.networks.residual_conv_encoder import ResidualConvEncoder
from tf_mmjsd.networks.residual_sequence_decoder import ResidualSequenceDecoder
from tf_mmjsd.networks.residual_sequence_encoder import ResidualSequenceEncoder
from tf_mmjsd.networks.sequence_decoder import SequenceDecoder
from tf_mmjsd.networks.sequence_encoder import SequenceEncoder
from tf_mmjsd.networks.text_classifier import TextClassifier
from tf_mmjsd.networks.vector_classifier import VectorClassifier
from tf_mmjsd.networks.build import build_decoder, build_encoder  # pylint: disable=unused-import  # part of this package's API


def build_joint_encoder(specs, latent_dim):
  """The joint encoder q(c | x_1..x_M) of every modality of `specs`."""
  return JointEncoder(specs, latent_dim, name="joint_encoder")


def build_classifier(spec, num_classes):
  """A classifier of the modality's examples: a CNN for [H, W, C] images, a
  1-D CNN for categorical sequences, a dense network otherwise."""
  if likelihoods.of(spec).one_hot:
    cls = TextClassifier
  elif len(spec.shape) == 3 and min(spec.shape[:2]) >= 8:
    cls = ImageClassifier
  else:
    cls = VectorClassifier
  return cls(data_shape=spec.shape, num_classes=num_classes,
             name=f"classifier_{spec.name}")
