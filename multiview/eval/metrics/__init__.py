"""Pure metrics over features and rankings: no model, checkpoint or dataset code."""
