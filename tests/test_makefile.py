"""`make help` lists every target of the Makefile with its one-line description."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed (apt-get install make)")
def test_make_help_lists_every_phony_target_with_a_line():
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = {line.split()[0]: line.split(None, 1)[1:] for line in out.splitlines() if line.strip()}
    assert set(phony) <= set(listed), f"targets without a '## make' line: {set(phony) - set(listed)}"
    assert all(listed[t] and listed[t][0].strip() for t in phony), "a target is listed without its description"
