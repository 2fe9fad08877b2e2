"""``multiview data COMMAND``: one module per command, each a ``main(argv)`` that parses its
arguments and calls plain functions of :mod:`multiview.data` (or :mod:`multiview.objectives`).
The table of commands is ``DATA`` in :mod:`multiview.cli.commands`."""
