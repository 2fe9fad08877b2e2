"""The ``multiview eval`` commands, one module each (registered in :mod:`multiview.commands`)."""
