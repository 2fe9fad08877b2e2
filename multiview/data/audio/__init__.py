"""audio data."""
