"""MNIST-format data: the IDX reader's checks, the data module on files written by the IDX writer (the
real reading code), torchvision's download from file:// mirrors with MD5s, the digits export."""

import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from litvision.data.digits.mnist import MNISTDataModule
from litvision.data.formats.idx import read_idx, write_idx
from litvision.data.synth.digits import export_digits, load_opencv_digits
from litvision.errors import ConfigError, DataError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
RNG = np.random.default_rng(0)


def write_split(folder: Path, prefix: str, n: int, size: int = 28, gz: bool = False) -> tuple[np.ndarray, np.ndarray]:
    images = RNG.integers(0, 256, (n, size, size), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


def test_idx_round_trip_plain_and_gzipped(tmp_path):
    for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
        array = RNG.integers(0, 256, (3, 5, 7), dtype=np.uint8)
        write_idx(tmp_path / name, array)
        assert np.array_equal(read_idx(tmp_path / name, ndim=3), array)
    raw = (tmp_path / "a-idx3-ubyte").read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 3]) and raw[4:8] == (3).to_bytes(4, "big")  # MNIST's header layout
    ints = np.array([-2, 70000], dtype=np.int32)
    assert np.array_equal(read_idx(write_idx(tmp_path / "i", ints)), ints)


def test_idx_wrong_magic_truncated_and_long_files(tmp_path):
    good = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((4, 2, 2), np.uint8)).read_bytes()
    cases = {
        "magic": (b"\x08\x03" + good[2:], r"x-idx3-ubyte is not an IDX file: magic number 0803"),
        "truncated": (good[:-3], r"is truncated: its header says 4x2x2 values \(16 bytes\), the file has 13 bytes"),
        "long": (good + b"\0", "is longer than its header says"),
        "header": (good[:9], "truncated inside its header"),
    }
    for data, message in cases.values():
        (tmp_path / "x-idx3-ubyte").write_bytes(data)
        with pytest.raises(DataError, match=message):
            read_idx(tmp_path / "x-idx3-ubyte")
    (tmp_path / "y.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match=r"y\.gz cannot be read"):
        read_idx(tmp_path / "y.gz")
    with pytest.raises(DataError, match="holds a 3-dimensional array, expected 1"):
        read_idx(write_idx(tmp_path / "z", np.zeros((1, 1, 1), np.uint8)), ndim=1)


def test_data_module_reads_torchvision_layout_as_uint8(tmp_path):
    images, labels = write_split(tmp_path / "MNIST/raw", "train", 20)
    write_split(tmp_path / "MNIST/raw", "t10k", 10)
    dm = MNISTDataModule(str(tmp_path), "mnist", download=False, batch_size=8, val_fraction=0.25)
    dm.prepare_data()
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (15, 5, 10)
    x, y = next(iter(dm.train_dataloader()))
    assert x.dtype == torch.uint8 and x.shape == (8, 1, 28, 28) and y.dtype == torch.int64
    first, label = dm.test_set[0]
    assert first.shape == (1, 28, 28) and label == 0
    assert dm.classes[0] == "0 - zero" and len(dm.train_dataloader()) == 1  # drop_last: equal batches


def test_data_module_resizes_and_reads_flat_gzipped_folders(tmp_path):
    write_split(tmp_path, "train", 12, size=20, gz=True)
    write_split(tmp_path, "t10k", 6, size=20, gz=True)
    dm = MNISTDataModule(str(tmp_path), "fashion_mnist", image_size=28, download=False, batch_size=4)
    dm.setup()
    assert dm.val_set is dm.test_set and dm.train_set[0][0].shape == (1, 28, 28)
    assert dm.classes[0] == "T-shirt/top"


def test_shuffle_depends_only_on_seed_and_epoch(tmp_path):
    write_split(tmp_path, "train", 30)
    write_split(tmp_path, "t10k", 4)
    dm = MNISTDataModule(str(tmp_path), "mnist", download=False, batch_size=30, shuffle_seed=3)
    dm.setup()
    loader = dm.train_dataloader()
    order = [list(loader.sampler) for _ in range(2)]
    loader.sampler.set_epoch(1)
    assert order[0] == order[1] != list(loader.sampler)
    torch.manual_seed(123)  # the global random state plays no part
    loader.sampler.set_epoch(0)
    assert list(loader.sampler) == order[0]


def test_missing_and_inconsistent_data_are_clear_errors(tmp_path):
    dm = MNISTDataModule(str(tmp_path), "mnist", download=False)
    with pytest.raises(DataError, match=r"mnist: train-images-idx3-ubyte\(\.gz\) .* not found in .*set data.download"):
        dm.setup()
    write_split(tmp_path, "train", 5)
    write_split(tmp_path, "t10k", 3)
    with pytest.raises(ConfigError, match="data.batch_size=128 is larger than the 5 training images"):
        dm.setup()
    dm = MNISTDataModule(str(tmp_path), "mnist", download=False, batch_size=2)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(DataError, match="has 3 images but .*t10k-labels-idx1-ubyte has 2 labels"):
        dm.setup()
    with pytest.raises(DataError, match=r"kmnist: train-images.* not found in .*: point data.root at a copy"):
        MNISTDataModule(str(tmp_path / "none"), "kmnist").setup()  # another MNIST-format set: no download


@pytest.fixture
def mirror(tmp_path):
    """Gzipped IDX files served over HTTP from a local folder (torchvision's downloader needs a
    response length, which file:// URLs lack): (folder, URL)."""
    folder = tmp_path / "mirror"
    write_split(folder, "train", 10, gz=True)
    write_split(folder, "t10k", 5, gz=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_through_torchvision_checks_md5s(tmp_path, monkeypatch, mirror):
    folder, url = mirror
    md5s = [(n, hashlib.md5((folder / n).read_bytes()).hexdigest()) for n, _ in torchvision.datasets.MNIST.resources]
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources", md5s)
    dm = MNISTDataModule(str(tmp_path / "data"), "mnist", mirrors=[url], batch_size=5)
    dm.prepare_data()
    dm.setup()
    assert (tmp_path / "data/MNIST/raw/train-images-idx3-ubyte").is_file() and len(dm.train_set) == 10


def test_download_with_wrong_md5_is_refused(tmp_path, mirror):
    _, url = mirror  # generated files, but the official MD5s
    dm = MNISTDataModule(str(tmp_path / "data"), "mnist", mirrors=[url])
    with pytest.raises(DataError, match=r"mnist could not be downloaded to .*MNIST/raw .*data.download=false"):
        dm.prepare_data()


def test_digits_export_is_mnist_format(tmp_path):
    root = export_digits(tmp_path / "digits", image_size=16, test_fraction=0.25)
    labels = read_idx(root / "t10k-labels-idx1-ubyte")
    images = read_idx(root / "train-images-idx3-ubyte")
    assert images.shape == (1797 - len(labels), 16, 16) and images.dtype == np.uint8
    assert np.bincount(labels).min() >= 44  # stratified: about a quarter of each class
    assert images[:, :2].max() == 0 and images[:, 4:12, 4:12].max() == 255  # MNIST-like black border
    dm = MNISTDataModule(str(root), "digits", image_size=16, download=False, prepare=export_digits)
    dm.setup()
    assert dm.classes == [str(d) for d in range(10)] and len(dm.test_set) == len(labels)


@pytest.mark.skipif(
    not Path("/usr/share/doc/opencv-doc/examples/data/digits.png").is_file(),
    reason="needs opencv-doc: apt-get install opencv-doc",
)
def test_opencv_digits_sheet():
    images, labels = load_opencv_digits()
    assert images.shape == (5000, 20, 20) and np.bincount(labels).tolist() == [500] * 10


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(), reason="needs Debian's Fashion-MNIST: apt-get install dataset-fashion-mnist"
)
def test_debian_fashion_mnist_package():
    dm = MNISTDataModule(str(DEBIAN_FASHION), "fashion_mnist", download=False)
    dm.setup()
    assert (len(dm.train_set), len(dm.test_set)) == (60000, 10000)
    assert gzip.open(next(DEBIAN_FASHION.glob("train-images*"))).read(4) == bytes([0, 0, 8, 3])
