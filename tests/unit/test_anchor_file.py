"""The anchor file's newest line is read from its end, whatever its length (issue 17.7)."""

from verify_service.adapters.anchors import TAIL_CHUNK, last_line


def test_the_last_line_is_found_across_chunks(tmp_path):
    path = tmp_path / "anchors.jsonl"
    long = b"x" * (3 * TAIL_CHUNK + 17)
    path.write_bytes(b"first\n" + long + b"\n")
    assert last_line(path) == long


def test_a_single_line_without_a_newline_is_the_last_line(tmp_path):
    path = tmp_path / "anchors.jsonl"
    path.write_bytes(b"only")
    assert last_line(path) == b"only"


def test_an_empty_file_has_no_last_line(tmp_path):
    path = tmp_path / "anchors.jsonl"
    path.write_bytes(b"")
    assert last_line(path) == b""


def test_trailing_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "anchors.jsonl"
    path.write_bytes(b"one\ntwo\n\n\n")
    assert last_line(path) == b"two"
