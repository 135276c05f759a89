"""litvision.data's layers, read from the source with `ast`: core below formats below the families, and
no family reaching into another (shared parts belong in core or formats)."""

from __future__ import annotations

import ast
from pathlib import Path

import litvision.data

DATA = Path(litvision.data.__file__).parent
BELOW = {"core": {"core"}, "formats": {"core", "formats"}}  # a family: core, formats and itself


def _module(path: Path) -> str:
    parts = path.relative_to(DATA.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, wherever in the file (function-level imports count too)."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            if base == "litvision.data":  # `from litvision.data import core` imports the sub-package
                found.update(f"{base}.{alias.name}" for alias in node.names)
            else:
                found.add(base)
    return found


def _layer(module: str) -> str | None:
    """`core`, `formats`, `synth` or the family of a litvision.data module; None for the package itself."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["litvision", "data"] and len(parts) > 2 else None


def layer_violations() -> list[str]:
    problems = []
    for path in sorted(DATA.rglob("*.py")):
        layer = _layer(_module(path))
        if layer is None or layer == "synth":  # the generators may read any layer
            continue
        allowed = BELOW.get(layer, {"core", "formats", layer})
        for target in sorted(_imports(path)):
            other = _layer(target)
            if other is not None and other not in allowed:
                problems.append(f"{_module(path)} ({layer}) imports {target} ({other})")
    return problems


def test_data_modules_import_only_their_layer_and_the_ones_below():
    assert layer_violations() == []


def test_the_check_sees_imports(tmp_path, monkeypatch):
    # a family importing another family, relatively and inside a function, is found
    fake = tmp_path / "litvision" / "data"
    (fake / "detection").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "detection" / "x.py").write_text(
        "from ..segmentation import voc\ndef f():\n    import litvision.data.captions.coco\n"
    )
    monkeypatch.setitem(globals(), "DATA", fake)
    assert layer_violations() == [
        "litvision.data.detection.x (detection) imports litvision.data.captions.coco (captions)",
        "litvision.data.detection.x (detection) imports litvision.data.segmentation (segmentation)",
    ]
