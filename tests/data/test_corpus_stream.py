"""Corpora stream in bounded memory whatever their line lengths (cut while reading, as word2vec.c does)."""

import gzip
import subprocess
import sys

import pytest

from multiview.data.text.corpus import iter_sentences, tokenize


def by_lines(path, tokenizer, limit):
    """The reference: whole lines read, tokenized, then cut into pieces of ``limit`` tokens."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            tokens = tokenize(line, tokenizer)
            for i in range(0, len(tokens), limit):
                yield tokens[i : i + limit]


@pytest.mark.parametrize("tokenizer", ["simple", "whitespace"])
@pytest.mark.parametrize("chunk,limit", [(64, 5), (100, 3), (4096, 10000), (1 << 20, 10000)])
def test_chunked_reading_gives_the_pieces_whole_lines_give(shared_data, tmp_path, tokenizer, chunk, limit):
    text = shared_data / "text" / "tinyshakespeare.txt"
    if not text.is_file():
        pytest.skip(f"shared data missing: {text}")
    sample = tmp_path / "s.txt"
    raw = text.read_text(encoding="utf-8")[:60_000]
    sample.write_text(raw[:20_000] + "\n\n" + raw[20_000:40_000].replace("\n", "  \t") + "\r\n" + raw[40_000:],
                      encoding="utf-8")  # long lines, blank lines, CRLF, no final newline
    got = list(iter_sentences(sample, tokenizer, limit, chunk_chars=chunk))
    assert got == list(by_lines(sample, tokenizer, limit))
    assert max(map(len, got)) <= limit
    gz = tmp_path / "s.txt.gz"
    gz.write_bytes(gzip.compress(sample.read_bytes()))
    assert list(iter_sentences(gz, tokenizer, limit, chunk_chars=chunk)) == got


def test_a_run_without_whitespace_is_cut_at_the_chunk(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("a b " + "x" * 50 + " c\n")
    pieces = list(iter_sentences(path, "whitespace", 100, chunk_chars=16))
    assert "".join(pieces[0][2:-1]) == "x" * 50 and pieces[0][:2] == ["a", "b"] and pieces[0][-1] == "c"


PEAK = """
import resource, sys
from multiview.data.text.corpus import iter_sentences
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = sum(len(t) for t in iter_sentences(sys.argv[1]))
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_a_30_mb_line_streams_in_bounded_memory(tmp_path):
    """Held whole, a 30 MB line of words costs ~500 MB of token strings; streamed, a few MB."""
    path = tmp_path / "one-line.txt"
    words = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu " * 1000).encode()
    with open(path, "wb") as f:
        for _ in range(30_000_000 // len(words)):
            f.write(words)
    out = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, check=True)
    tokens, grown_kb = map(int, out.stdout.split())
    assert tokens == 12 * 1000 * (30_000_000 // len(words))
    assert grown_kb < 60_000, f"reading grew the process by {grown_kb} KB"
