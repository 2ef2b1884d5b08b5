"""Output checks before a crawl: which outputs are local files, which cannot be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.output.feeds import check_resume_outputs, local_path, output_problem


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("results.csv", Path("results.csv")),
        ("file:///tmp/a%20b.csv", Path("/tmp/a b.csv")),
        ("stdout:", None),
        ("s3://bucket/out.csv", None),
        ("out-%(batch_id)d.csv", None),
    ],
)
def test_local_path(uri: str, path: Path | None) -> None:
    assert local_path(uri) == path


def test_output_problems_leave_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "file").write_text("x")
    assert output_problem(tmp_path / "new" / "sub" / "out.csv") is None  # Scrapy creates them
    assert "is a directory" in (output_problem(tmp_path / "dir.csv") or "")
    assert "is not a directory" in (output_problem(tmp_path / "file" / "out.csv") or "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.csv", "file"]
    assert (tmp_path / "file").read_text() == "x"


def test_resume_outputs(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    appended, overwritten = {str(out): {"overwrite": False}}, {str(out): {"overwrite": True}}
    check_resume_outputs(appended, str(out), workers=1)
    check_resume_outputs({str(tmp_path / "rest.csv"): {"overwrite": True}}, str(out), workers=4)
    with pytest.raises(ValueError, match="would delete the rows being resumed"):
        check_resume_outputs(overwritten, str(out), workers=1)
    with pytest.raises(ValueError, match="write the rest to a new file"):
        check_resume_outputs(appended, str(out), workers=2)
