"""What every evaluation shares: loading runs and encoders, labelled datasets, frozen features,
the baselines and the one random-init procedure (BatchNorm recalibration included)."""
