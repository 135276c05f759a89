"""Reading a banana-format set: its split folders, the optional `classes.txt` beside them and each
split's `label.csv` (img_name,label,xmin,ymin,xmax,ymax in pixels, any column order, several rows per
image, `name,,,,,` for an image without objects) checked row by row against `images/`. Any malformed
row, missing image or unlisted image file is a DataError naming the file, line and value: nothing is
skipped silently."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from PIL import ExifTags, Image

from litvision.data.core.images import IMAGE_SUFFIXES
from litvision.errors import ConfigError, DataError

COLUMNS = ("img_name", "label", "xmin", "ymin", "xmax", "ymax")
SPLITS = {"train": "bananas_train", "val": "bananas_val"}
CLASSES_FILE = "classes.txt"  # optional, beside the split folders: class names, one per line


@dataclass
class BananaImage:
    """One image of a split: its file, its size and its boxes (pixels)."""

    path: Path
    height: int
    width: int
    labels: list[int] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)


def _parse_number(value: str, column: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"{where}: {column} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise DataError(f"{where}: {column} {value!r} is not a finite number")
    return number


def _parse_label(value: str, where: str) -> int:
    number = _parse_number(value, "label", where)
    if not number.is_integer() or number < 0:
        raise DataError(f"{where}: label {value!r} is not a class id (an integer >= 0)")
    return int(number)


# EXIF orientations that turn the stored image by 90 degrees (load_image applies them)
_TRANSPOSED = {5, 6, 7, 8}


def _image_size(path: Path, where: str) -> tuple[int, int]:
    """(height, width) of the image as `load_image` returns it (EXIF orientation applied), read from the
    header without decoding the pixels."""
    if not path.is_file():
        raise DataError(f"{where}: image {path} does not exist. Put the image there or remove its rows.")
    try:
        with Image.open(path) as img:
            width, height = img.size
            if img.getexif().get(ExifTags.Base.Orientation) in _TRANSPOSED:
                width, height = height, width
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{where}: image {path} cannot be read ({err}); replace or remove it.") from err
    return height, width


def read_banana_split(split_dir: str | Path, num_classes: int | None = None) -> list[BananaImage]:
    """Read and validate one split folder (label.csv + images/). Raises DataError naming the file, the
    line and the value for: a missing file, an unknown column layout, a row with the wrong number of
    fields, a non-numeric or non-finite field, a missing image, x2 <= x1 or y2 <= y1, coordinates
    outside the image, a class id >= `num_classes` (when given), an image listed both with and without
    boxes, and image files label.csv omits."""
    split_dir = Path(split_dir)
    csv_path, images_dir = split_dir / "label.csv", split_dir / "images"
    if not csv_path.is_file():
        raise DataError(f"{csv_path} does not exist: a banana-format split needs label.csv and images/.")
    images: dict[str, BananaImage] = {}
    first_line: dict[str, int] = {}
    empty_listed: set[str] = set()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if sorted(header) != sorted(COLUMNS):
            raise DataError(
                f"{csv_path}, line 1: unknown column layout {','.join(header) or '(empty file)'}; "
                f"expected the columns {','.join(COLUMNS)}"
            )
        col = {name: header.index(name) for name in COLUMNS}
        for line, row in enumerate(reader, start=2):
            if not row or all(not v.strip() for v in row):
                continue  # blank line
            where = f"{csv_path}, line {line}"
            if len(row) != len(COLUMNS):
                raise DataError(f"{where}: expected {len(COLUMNS)} fields ({','.join(header)}), got {len(row)}: {row}")
            name = row[col["img_name"]].strip()
            if not name:
                raise DataError(f"{where}: img_name is empty")
            values = {c: row[col[c]].strip() for c in COLUMNS[1:]}
            if name not in images:
                height, width = _image_size(images_dir / name, where)
                images[name] = BananaImage(images_dir / name, height, width)
                first_line[name] = line
            record = images[name]
            if all(not v for v in values.values()):
                empty_listed.add(name)
            else:
                missing = [c for c, v in values.items() if not v]
                if missing:
                    raise DataError(
                        f"{where}: {', '.join(missing)} empty. A row has either all of label,xmin,ymin,xmax,ymax "
                        f"(one box) or none of them (an image without objects)."
                    )
                label = _parse_label(values["label"], where)
                if num_classes is not None and label >= num_classes:
                    raise DataError(
                        f"{where}: label {values['label']} is not a class id of this data set (0..{num_classes - 1}); "
                        f"set data.num_classes (and the class names) to cover it, or fix the row"
                    )
                x1, y1, x2, y2 = (_parse_number(values[c], c, where) for c in ("xmin", "ymin", "xmax", "ymax"))
                if x2 <= x1:
                    raise DataError(f"{where}: xmax {values['xmax']} is not greater than xmin {values['xmin']}")
                if y2 <= y1:
                    raise DataError(f"{where}: ymax {values['ymax']} is not greater than ymin {values['ymin']}")
                for column, value, limit in (
                    ("xmin", x1, record.width),
                    ("xmax", x2, record.width),
                    ("ymin", y1, record.height),
                    ("ymax", y2, record.height),
                ):
                    if not 0 <= value <= limit:
                        raise DataError(
                            f"{where}: {column} {values[column]} is outside the image {name} "
                            f"({record.width}x{record.height} pixels, coordinates 0..{limit})"
                        )
                record.labels.append(label)
                record.boxes.append((x1, y1, x2, y2))
            if name in empty_listed and record.boxes:
                raise DataError(
                    f"{where}: {name} is listed both without boxes (empty fields) and with boxes "
                    f"(first listed on line {first_line[name]}); keep one or the other"
                )
    unlisted = (
        sorted(p.name for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.name not in images)
        if images_dir.is_dir()
        else []
    )
    if unlisted:
        shown = ", ".join(unlisted[:5]) + (f" and {len(unlisted) - 5} more" if len(unlisted) > 5 else "")
        raise DataError(
            f"{images_dir}: {len(unlisted)} image(s) not named in {csv_path}: {shown}. List an image without "
            "objects as 'name,,,,,' or remove the file."
        )
    return list(images.values())


def read_class_names(path: Path, num_classes: int) -> list[str]:
    """The names in a classes.txt (one per line, blank lines ignored), which must be `num_classes`."""
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(names) != num_classes:
        raise ConfigError(
            f"{path} names {len(names)} classes ({', '.join(names)}) but data.num_classes={num_classes}: "
            f"set data.num_classes={len(names)} or fix the file"
        )
    return names
