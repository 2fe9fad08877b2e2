"""A script that indexes a folder without ``if __name__ == "__main__":`` is run again in each spawned
prober child: it ends in one line saying so, not in a hang or in every file "crashed"."""

import os
import subprocess
import sys

from tests.av_media import write_video


def test_an_unguarded_script_is_told_to_guard_its_entry_point(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "a.mp4")
    script = tmp_path / "plain.py"
    script.write_text("from multiview.data.video.index import resolve_index\n"
                      f"print(resolve_index({str(folder)!r}, 1))\n")
    env = {**os.environ, "MULTIVIEW_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=env,
                          cwd=tmp_path)
    assert proc.returncode != 0
    assert 'if __name__ == "__main__":' in proc.stderr.splitlines()[-1], proc.stderr[-2000:]
