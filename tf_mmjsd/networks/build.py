"""Building a modality's encoder or decoder from its ModalitySpec."""

from tf_mmjsd.networks.conv_decoder import ConvDecoder
from tf_mmjsd.networks.conv_encoder import ConvEncoder
from tf_mmjsd.networks.mlp_decoder import MLPDecoder
from tf_mmjsd.networks.mlp_encoder import MLPEncoder
from tf_mmjsd.networks.residual_conv_decoder import ResidualConvDecoder
from tf_mmjsd.networks.residual_conv_encoder import ResidualConvEncoder
from tf_mmjsd.networks.residual_sequence_decoder import ResidualSequenceDecoder
from tf_mmjsd.networks.residual_sequence_encoder import ResidualSequenceEncoder
from tf_mmjsd.networks.sequence_decoder import SequenceDecoder
from tf_mmjsd.networks.sequence_encoder import SequenceEncoder

_ENCODERS = {"mlp": MLPEncoder, "conv": ConvEncoder,
             "sequence": SequenceEncoder,
             "residual_conv": ResidualConvEncoder,
             "residual_sequence": ResidualSequenceEncoder}
_DECODERS = {"mlp": MLPDecoder, "conv": ConvDecoder,
             "sequence": SequenceDecoder,
             "residual_conv": ResidualConvDecoder,
             "residual_sequence": ResidualSequenceDecoder}


def build_encoder(spec, latent_dim, style_dim=0, name=None):
  """The encoder of `spec.network` (with the spec's width or hidden
  sizes), named after the modality (or `name`)."""
  return _ENCODERS[spec.network](
      data_shape=spec.shape, latent_dim=latent_dim, style_dim=style_dim,
      name=name or f"encoder_{spec.name}", **spec.network_options)


def build_decoder(spec, latent_dim, style_dim=0):
  """The decoder of `spec.network`, named after the modality; it holds
  the likelihood's learned scale where the spec asks for one."""
  return _DECODERS[spec.network](
      data_shape=spec.shape, latent_dim=latent_dim, style_dim=style_dim,
      output_activation=spec.output_activation,
      learned_scale=spec.learned_scale, initial_scale=spec.likelihood_scale,
      name=f"decoder_{spec.name}", **spec.network_options)
