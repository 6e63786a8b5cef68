"""Atomic writes leave either the old file or the new one, and no temporary files behind."""

import pytest

from glossa.atomic import atomic_write, atomic_write_text


def test_write_replaces_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "sub" / "report.md"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert sorted(path.name for path in target.parent.iterdir()) == ["report.md"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "report.md"
    atomic_write_text(target, "good")

    def crash(temporary):
        temporary.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, crash)
    assert target.read_text() == "good"
    assert [path.name for path in tmp_path.iterdir()] == ["report.md"]


def test_written_files_are_readable_by_others(tmp_path):
    target = atomic_write_text(tmp_path / "card.md", "x")
    assert target.stat().st_mode & 0o777 == 0o644
