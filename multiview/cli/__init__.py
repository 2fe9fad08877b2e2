"""The command line: the entry point, its command table, the trainer CLI, export, runs and bench."""
