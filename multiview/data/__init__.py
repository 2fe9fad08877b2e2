"""Data by modality: ``video/``, ``audio/``, ``image/``, ``text/``; the seeded loader in :mod:`.loader`.

The ``multiview data`` commands are listed in :mod:`multiview.cli.commands`.
"""
