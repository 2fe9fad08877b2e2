"""video data."""
