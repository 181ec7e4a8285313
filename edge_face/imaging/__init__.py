"""Image (and later video) decoding with size and pixel limits checked before any pixel is decoded."""
from edge_face.imaging.decode import ImageError, decode_image, sniff_format

__all__ = ["ImageError", "decode_image", "sniff_format"]
