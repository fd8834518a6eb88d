"""The documentation's shape: a short README that sends each reader on (organizers,
workers, operators, engineers), and links between the pages that lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGES = ("README.md", "ORGANIZERS.md", "WORKERS.md", "ENGINEERING.md", "DEPLOY.md", "SECURITY.md")
LINK = re.compile(r"\]\(([^)#\s]+\.md)(#[^)]*)?\)")


def _anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return "#" + text.replace(" ", "-")


def test_the_readme_is_a_short_front_door():
    """Before: a README of 680+ lines for operators, organizers and internals alike."""
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 60
    for page in PAGES[1:]:
        assert f"({page})" in readme


def test_every_link_between_pages_leads_somewhere():
    for page in PAGES:
        for target, anchor in LINK.findall((REPO / page).read_text()):
            linked = REPO / target
            assert linked.is_file(), f"{page} links to {target}"
            if anchor:
                headings = [
                    _anchor(line.lstrip("#"))
                    for line in linked.read_text().splitlines()
                    if line.startswith("#")
                ]
                assert anchor in headings, f"{page} links to {target}{anchor}"


def test_the_workers_page_answers_what_the_employer_can_see():
    workers = (REPO / "WORKERS.md").read_text()
    assert "What can my employer see?" in workers
    assert len(workers.splitlines()) <= 80  # one page to share
