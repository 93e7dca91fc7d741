"""The docs and the code point at files that exist, and docs/metrics.md is the design's METRICS.md word for word
(Knowcast's additions live in docs/analytics.md, "Beyond docs/metrics.md")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _design_metrics() -> Path | None:
    """shared/design/METRICS.md beside the clone (as the workplace and CI lay it out), if there is one."""
    for folder in (ROOT.parent, ROOT.parent.parent):
        candidate = folder / "shared" / "design" / "METRICS.md"
        if candidate.is_file():
            return candidate
    return None


def test_metrics_doc_is_the_design_copy() -> None:
    design = _design_metrics()
    if design is None:
        pytest.skip("no shared/design/METRICS.md beside this clone to compare docs/metrics.md with")
    assert (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8") == design.read_text(encoding="utf-8"), (
        "docs/metrics.md differs from shared/design/METRICS.md: copy it over; Knowcast's additions belong in "
        "docs/analytics.md"
    )


def test_no_reference_to_a_design_file_outside_the_repo() -> None:
    """ARCHITECTURE.md and METRICS.md are not in this repository: code and docs name docs/metrics.md instead."""
    stale = re.compile(r"(?<![\w/])(ARCHITECTURE|METRICS)\.md")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for top in ("src", "tests", "docs", "benchmarks")
        for path in (ROOT / top).rglob("*")
        if path.suffix in {".py", ".md", ".html", ".js", ".json"} and "dist" not in path.parts and path.is_file()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if stale.search(line) and path != Path(__file__)
    ]
    found += [
        f"README.md:{n}"
        for n, line in enumerate((ROOT / "README.md").read_text().splitlines(), 1)
        if stale.search(line)
    ]
    assert not found, found


CITED = re.compile(
    r"(?<![\w./-])((?:docs|tests|src|benchmarks|scripts|static|web)/[\w./-]+\.(?:md|py|json|js|mjs|html|css|txt))"
)
# a cited path may be relative to the repository, the package, web/ or web/static/
BASES = (
    ROOT,
    ROOT / "src" / "knowcast",
    ROOT / "src" / "knowcast" / "web",
    ROOT / "src" / "knowcast" / "web" / "static",
)


def _citing_files() -> list[Path]:
    web = ROOT / "src" / "knowcast" / "web"
    return [
        ROOT / "README.md",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "src").rglob("*.py"),
        *(web / "static" / "js").glob("*.js"),
        *(web / "templates").glob("*.html"),
        *(ROOT / "tests").rglob("*.py"),
        *(ROOT / "benchmarks").glob("*.py"),
    ]


def test_every_cited_file_exists() -> None:
    """A path named in the README, the docs, a docstring or a comment is a file in the tree (built bundles under
    dist/ aside: they exist after `make web`)."""
    missing = [
        f"{path.relative_to(ROOT)}:{number}: {cited}"
        for path in _citing_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for cited in CITED.findall(line)
        if "/dist/" not in f"/{cited}" and not any((base / cited.rstrip(".")).exists() for base in BASES)
    ]
    assert not missing, missing
