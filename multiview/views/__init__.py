"""Views: what one modality of a sample looks like to its encoder, and every augmentation pipeline."""
