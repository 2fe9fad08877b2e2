"""What keeps a training run's work: atomic, finite checkpoints, a resume that skips torn files,
graceful stops on signals, and one folder per run (see ``docs/architecture.md``)."""
