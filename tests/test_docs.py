"""The documentation site's structure: every tutorial is in the navigation, its runnable blocks parse,
and the files its commands name exist. (CI runs the blocks themselves: docs/run_tutorials.py.)"""

from __future__ import annotations

import re

import pytest
from conftest import REPO
from helpers import load_script

runner = load_script(REPO / "docs" / "run_tutorials.py")
TUTORIALS = sorted((REPO / "docs" / "tutorials").glob("*.md"))


def test_every_tutorial_and_api_page_is_in_the_navigation():
    config = (REPO / "mkdocs.yml").read_text()
    nav = config[config.index("\nnav:"):config.index("\nmarkdown_extensions:")]
    flat = re.findall(r"[\w/]+\.md", nav)
    pages = sorted(str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md"))
    assert sorted(flat) == pages


@pytest.mark.parametrize("page", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_blocks_parse_and_name_existing_files(page):
    blocks = runner.extract_blocks(page)
    assert blocks, f"{page.name} has no runnable code"
    code = "".join(b.code for b in blocks)
    for name in re.findall(r"(?:configs|examples|datasets)/[\w/]+\.(?:yaml|py)", code):
        assert (REPO / name).exists(), f"{page.name} names {name}, which does not exist"


def test_no_run_marker_skips_only_the_next_block(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("text\n\n<!-- no-run: needs a download -->\n```bash\ncurl x\n```\n\n```bash\necho a\n```\n"
                    "```python\nx = 1\n```\n```text\nnot code\n```\n")
    blocks = runner.extract_blocks(page)
    assert [(b.lang, b.code) for b in blocks] == [("bash", "echo a\n"), ("python", "x = 1\n")]
    page.write_text("```bash\necho never closed\n")
    with pytest.raises(ValueError, match="never closed"):
        runner.extract_blocks(page)


def test_runner_reports_a_failing_block(tmp_path, capsys):
    (tmp_path / "tutorials").mkdir()
    page = tmp_path / "tutorials" / "broken.md"
    page.write_text("```bash\necho first\n```\n```bash\nexit 3\n```\n```bash\necho never\n```\n")
    work = tmp_path / "work"
    work.mkdir()
    results = runner.run_page(page, work, {"PATH": "/usr/bin:/bin"})
    assert [e is None for _, _, e in results] == [True, False]  # stops at the failure
    assert "exit status 3" in results[1][2]
