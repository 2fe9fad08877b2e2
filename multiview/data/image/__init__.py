"""image data."""
