"""Every relative link in README.md and docs/*.md leads somewhere: to an existing file or folder of the
checkout and, for `file.md#anchor` (or `#anchor` in the same file), to a heading of that markdown file
under GitHub's slug rules. Links inside code (fenced blocks, `inline`) and absolute URLs are not checked."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
# [text](target) and ![alt](target); the target ends at the first space (a title may follow) or ")"
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside fenced code blocks."""
    lines, in_fence = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append((number, line))
    return lines


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: markdown links reduced to their text, lower case, every character
    that is not a letter, digit, underscore, hyphen or space removed, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings; a repeated slug gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every relative link in a markdown file, outside code."""
    links = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            target = match.group(1)
            if not SCHEME.match(target) and not target.startswith("//"):
                links.append((number, target))
    return links


def broken_links(path: Path, root: Path) -> list[str]:
    """One message per relative link of `path` that does not resolve: a missing file or folder, a link
    out of `root`, or an anchor that no heading of the target markdown file has."""
    problems = []
    root = root.resolve()
    for number, target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / unquote(file_part)).resolve() if file_part else path.resolve()
        where = f"{path.relative_to(root)}:{number}: {target}"
        if not resolved.is_relative_to(root):
            problems.append(f"{where}: points outside the checkout")
        elif not resolved.exists():
            problems.append(f"{where}: {resolved.relative_to(root)} does not exist")
        elif anchor and resolved.suffix == ".md" and unquote(anchor) not in anchors(resolved):
            problems.append(f"{where}: no heading with the anchor #{anchor} in {resolved.relative_to(root)}")
    return problems


def doc_pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve(page):
    assert broken_links(page, REPO) == []


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(REPO / t.partition("#")[0]).resolve() for _, t in relative_links(REPO / "README.md")}
    assert [p.name for p in doc_pages()[1:] if p.resolve() not in linked] == []


def test_slugs_follow_github():
    assert github_slug("Two-stage detection: Faster R-CNN and Mask R-CNN") == (
        "two-stage-detection-faster-r-cnn-and-mask-r-cnn"
    )
    assert github_slug("Fast (feed-forward) style transfer") == "fast-feed-forward-style-transfer"
    assert github_slug("The `litvision_run` folder, [here](x.md)") == "the-litvision_run-folder-here"


def test_the_checker_finds_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## Same\n\n## Same\n", encoding="utf-8")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md) [ok anchor](other.md#other-page) [repeated](other.md#same-1) [self](#page)\n"
        "[missing file](missing.md) [missing anchor](other.md#nowhere) [out](../../x.md)\n"
        "![image](pic.png) [web](https://example.org/none.md) `[code](nowhere.md)`\n"
        "```\n[in a fence](nowhere.md)\n# not a heading\n```\n",
        encoding="utf-8",
    )
    problems = broken_links(page, tmp_path)
    assert [p.split(": ")[1] for p in problems] == [
        "missing.md",
        "other.md#nowhere",
        "../../x.md",
        "pic.png",
    ], problems
    assert "#not-a-heading" not in anchors(page)
