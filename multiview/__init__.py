"""multiview: self-supervised learning across video frames, ambient audio and words."""

__version__ = "0.1.0"
