"""``multiview data audio_folder PATH_OR_TAR``: print the classes, speakers and split sizes of a labelled audio folder.

FSDD's tar or any ``<class>/<file>`` folder (:mod:`multiview.data.audio.audio_folder`).
"""

from __future__ import annotations

import argparse

from multiview.data.audio.audio_folder import describe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multiview data audio_folder", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="a folder or .tar of audio (FSDD or <class>/<file>)")
    args = parser.parse_args(argv)
    print(describe(args.path))
    return 0
