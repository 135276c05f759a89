import pytest

from litvision.data.synth.voc import generate_voc

# small enough to read in milliseconds; crop (40, 56) keeps the normal-sized images (43..53 x 58..70)
# and drops the small ones (about 24x32)
SYNTH = dict(num_train=12, num_val=6, height=48, width=64, jitter=0.1, small_fraction=0.25, boundary_width=3, seed=2)
CROP = (40, 56)


@pytest.fixture(scope="session")
def synth_args():
    return dict(SYNTH)


@pytest.fixture(scope="session")
def crop():
    return CROP


@pytest.fixture(scope="session")
def voc_root(tmp_path_factory):
    """A generated VOC tree, shared read-only by the tests (copy it before changing files)."""
    root = tmp_path_factory.mktemp("voc_synth")
    generate_voc(root, **SYNTH)
    return root
