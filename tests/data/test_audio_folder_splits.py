"""A ``<class>/<file>`` audio folder: every class of two or more clips is tested, and
``multiview data audio_folder`` prints the split sizes it promises. Real clips from the shared FSDD tar."""

from __future__ import annotations

import tarfile

from multiview.cli.main import main
from multiview.data.audio.audio_folder import AudioFolderDataset, list_clips, split_clips
from multiview.data.splits import held_out_fifth


def test_small_classes_are_tested_and_the_split_sizes_printed(shared_data, tmp_path, capsys):
    sizes = {"zero": 2, "one": 3, "two": 7}  # classes smaller than five had no test clip
    root = tmp_path / "digits"
    with tarfile.open(shared_data / "audio" / "fsdd.tar") as tar:
        for digit, (name, n) in enumerate(sizes.items()):
            (root / name).mkdir(parents=True)
            for take in range(n):
                member = tar.extractfile(f"recordings/{digit}_george_{take}.wav")
                (root / name / f"{take}.wav").write_bytes(member.read())
    clips = list_clips(root)
    test = split_clips(clips, "test", (), ())
    assert sorted({c for _, c, _ in test}) == sorted(sizes)  # every class on the test side
    train = split_clips(clips, "train", (), ())
    assert sorted({c for _, c, _ in train}) == sorted(sizes) and len(train) + len(test) == sum(sizes.values())
    assert [held_out_fifth(i, 7) for i in range(7)] == [i == 4 for i in range(7)]
    assert len(AudioFolderDataset(root, "test", sample_rate=8000)) == len(test)
    capsys.readouterr()
    assert main(["data", "audio_folder", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"splits: train {len(train)}, val 0, test {len(test)}" in out, out
