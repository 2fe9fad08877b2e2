"""Data by modality: ``video/``, ``audio/``, ``image/``, ``text/``; the seeded loader in :mod:`.loader`.

``DATA_COMMANDS`` names each ``multiview data NAME`` command: its module (which has ``main``) and
one line on what it does.
"""

DATA_COMMANDS: dict[str, tuple[str, str]] = {
    "index": ("multiview.data.video.index", "list the usable videos of a folder (probed, with labels and captions)"),
    "ambient_targets": ("multiview.data.audio.ambient_targets", "fit ambient-sound targets (PCA + k-means) on a video folder"),
    "audio_folder": ("multiview.data.audio.audio_folder", "print the classes, speakers and splits of a labelled audio folder"),
    "text": ("multiview.data.text.corpus", "prepare and encode a text corpus once; print its figures"),
}
