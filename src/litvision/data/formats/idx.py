"""The IDX file format of MNIST and Fashion-MNIST (plain or gzipped): read with checks, and write.

Header: two zero bytes, a type code (0x08 = unsigned byte, ...), the number of dimensions, then each
dimension as a big-endian int32; the values follow, big-endian. Hand-written rather than
torchvision.datasets.mnist.read_sn3_pascalvincent_tensor: that reader only asserts, reads no gzip
file and has no writer, and users need to know which file is bad and how.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from litvision.errors import DataError

DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES = {dtype.newbyteorder(">"): code for code, dtype in DTYPES.items()}


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"IDX file {path} does not exist")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DataError(f"IDX file {path} cannot be read ({err}): delete it and download it again") from err


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """The array in IDX file `path` (`.gz`: gzipped). DataError naming the file when the magic
    number is wrong, the body is truncated or too long, or the array does not have `ndim` dimensions."""
    path = Path(path)
    raw = _read_bytes(path)
    again = "delete it and download it again"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in DTYPES:
        raise DataError(
            f"{path} is not an IDX file: magic number {raw[:4].hex() or 'missing'}, expected 0000 followed by a "
            f"type code (08 for bytes) and the dimension count; {again}"
        )
    dtype, dims = DTYPES[raw[2]], raw[3]
    if ndim is not None and dims != ndim:
        raise DataError(f"{path} holds a {dims}-dimensional array, expected {ndim} dimensions; is it the right file?")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its header ({len(raw)} bytes); {again}")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(raw) - header
    if body != expected:
        what = "truncated" if body < expected else "longer than its header says"
        raise DataError(
            f"{path} is {what}: its header says {'x'.join(map(str, shape))} values ({expected} bytes), "
            f"the file has {body} bytes after the header; {again}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write `array` (uint8, int8, int16, int32, float32 or float64) as IDX; gzipped if `path` ends in .gz."""
    path = Path(path)
    big = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
    if big.dtype not in CODES:
        raise ValueError(f"IDX cannot hold {array.dtype} values")
    data = bytes([0, 0, CODES[big.dtype], big.ndim]) + struct.pack(f">{big.ndim}I", *big.shape) + big.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with (gzip.open if path.suffix == ".gz" else open)(path, "wb") as f:
        f.write(data)
    return path
