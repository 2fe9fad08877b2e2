"""Evaluating trained runs, in floors: ``metrics`` (pure figures) -> ``core`` (checkpoints, datasets,
features, baselines, the random-init procedure) -> ``commands`` (``multiview eval NAME``) and
``reports`` (end-of-fit callbacks). A floor imports only those below it."""
