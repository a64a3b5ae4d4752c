"""Per-modality encoders and decoders (Keras subclassed models).

Encoders map x [B, *shape] to Gaussian posterior parameters; decoders map
z = [s_m, c] [B, style_dim + latent_dim] to likelihood parameters
[B, *shape]. `build_encoder` / `build_decoder` pick the family named by a
`ModalitySpec`: mlp, conv and sequence for any shape (networks/geometry.py),
residual_conv and residual_sequence for CelebA. Classifiers (for coherence
and sample quality) map x to class (or attribute) logits;
`build_classifier` picks one from the example's shape.
"""

from tf_mmjsd import likelihoods
from tf_mmjsd.networks.classifier import Classifier
from tf_mmjsd.networks.conv_decoder import ConvDecoder
from tf_mmjsd.networks.conv_encoder import ConvEncoder
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder
from tf_mmjsd.networks.image_classifier import ImageClassifier
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

_ENCODERS = {"mlp": MLPEncoder, "conv": ConvEncoder,
             "sequence": SequenceEncoder,
             "residual_conv": ResidualConvEncoder,
             "residual_sequence": ResidualSequenceEncoder}
_DECODERS = {"mlp": MLPDecoder, "conv": ConvDecoder,
             "sequence": SequenceDecoder,
             "residual_conv": ResidualConvDecoder,
             "residual_sequence": ResidualSequenceDecoder}


def build_encoder(spec, latent_dim, style_dim=0):
  """The encoder of `spec.network` (with the spec's width or hidden
  sizes), named after the modality."""
  return _ENCODERS[spec.network](
      data_shape=spec.shape, latent_dim=latent_dim, style_dim=style_dim,
      name=f"encoder_{spec.name}", **spec.network_options)


def build_decoder(spec, latent_dim, style_dim=0):
  """The decoder of `spec.network`, named after the modality; it holds
  the likelihood's learned scale where the spec asks for one."""
  return _DECODERS[spec.network](
      data_shape=spec.shape, latent_dim=latent_dim, style_dim=style_dim,
      output_activation=spec.output_activation,
      learned_scale=spec.learned_scale, initial_scale=spec.likelihood_scale,
      name=f"decoder_{spec.name}", **spec.network_options)


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
