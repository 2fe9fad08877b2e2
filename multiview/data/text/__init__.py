"""text data."""
