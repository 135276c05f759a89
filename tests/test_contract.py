"""The contract from data to model to outputs, tested rather than followed: every data config's batches
hold uint8 images (or float pixels in [0, 1]) and carry no model statistics; every registry net
normalises its input itself, with its backbone's statistics (so the logits of an image do not depend on
the data config that fed it); every task that predicts names a writer."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
import torch
from conftest import compose_config
from omegaconf import OmegaConf

from litvision import tasks
from litvision.callbacks.writers.base import PredictionWriter
from litvision.cli import CONFIG_DIR
from litvision.data.synth.bananas import generate_bananas
from litvision.data.synth.coco import export_voc_to_coco
from litvision.data.synth.digits import export_digits
from litvision.data.synth.voc import generate_voc
from litvision.nets.backbones import BACKBONES, create_backbone, get_spec, replace_head
from litvision.nets.cifar_resnet import cifar_resnet18
from litvision.nets.classifier import pretrained_classifier
from litvision.nets.fcn import FCN, TRUNKS
from litvision.nets.feature_extractor import FeatureExtractor, layer_names
from litvision.nets.frozen_classifier import imagenet_classifier
from litvision.nets.normalization import input_normalization
from litvision.nets.tinyssd import EfficientNetLite0Features, TinySSD
from litvision.runtime import run
from litvision.tasks.base import VisionTask

# random weights throughout: the normalisation, not the weights, is under test
pytestmark = pytest.mark.filterwarnings("ignore:.*random weights.*:UserWarning")

SMALL_VOC = dict(num_train=6, num_val=4, height=48, width=64, small_fraction=0.0, seed=3)
# how each data config is built offline and small; a new conf/data file joins the contract here
DATA = {
    "lfw_faces": ["data.image_size=32", "data.resize_size=36"],
    "hotdog": ["data.download=false", "data.image_size=32", "data.resize_size=36"],
    "imagefolder": ["data.root={data_root}/hotdog", "data.num_classes=2", "data.image_size=32", "data.resize_size=36"],
    "cifar10": ["data.download=false", "data.verify_checksums=false"],
    "bananas": ["data.root={tmp}/bananas", "data.download=false", "data.image_size=32"],
    "bananas_synth": ["data.prepare.num_train=4", "data.prepare.num_val=2", "data.image_size=32"],
    "voc": ["data.root={tmp}/voc", "data.download=false", "data.crop_size=[40,56]"],
    "voc_synth": [*(f"data.prepare.{k}={v}" for k, v in SMALL_VOC.items()), "data.crop_size=[40,56]"],
    "voc_instances": ["data.root={tmp}/voc", "data.download=false"],
    "voc_instances_synth": [f"data.prepare.{k}={v}" for k, v in SMALL_VOC.items()],
    "coco_instances": ["data.root={tmp}/coco"],
    "coco_instances_synth": [f"data.prepare.{k}={v}" for k, v in SMALL_VOC.items()],
    "style_images": ["data.style=skimage:coffee", "data.style_border=0", "data.scales=[{{size:[16,24],steps:1}}]"],
    "start_image": ["data.image=skimage:chelsea", "data.size=[16,16]", "data.steps=1"],
    "labelled_images": ["data.size=[16,16]"],
    "content_images": [
        "data.root={tmp}/content_photos",
        "data.val_root={tmp}/content_photos/heldout",
        "+data.prepare.max_side=48",
        "+data.prepare.opencv_doc_dir={tmp}/no_opencv_doc",
        "data.crop_size=16",
        "data.num_workers=0",
        "+data.samples_per_epoch=2",
        "data.batch_size=2",
    ],
    # MNIST-format digits: uint8 (N, 1, H, W)
    "mnist": ["data.root={tmp}/mnist", "data.download=false", "data.batch_size=8"],
    "fashion_mnist": ["data.root={tmp}/mnist", "data.download=false", "data.batch_size=8"],
    "digits": ["data.image_size=16", "data.batch_size=8"],
    "opencv_digits": ["data.image_size=16", "data.batch_size=8"],
    # captioning: features cached from the images by a frozen backbone that normalises its uint8 input
    # itself (test_frozen_nets_normalise_their_input_themselves); the batches hold those features
    "caption_synth": ["data.root={caption_root}", "data.download=false", "data.features.image_size=64"],
    "coco_karpathy": ["data.root={caption_root}", "data.download=false", "data.features.image_size=64"],
    "coco_captioning": ["data.root={caption_root}/coco_captioning", "data.download=false"],
}
CAPTIONS = ("caption_synth", "coco_karpathy", "coco_captioning")
OPENCV_DIGITS = Path("/usr/share/doc/opencv-doc/examples/data/digits.png")


def test_every_data_config_is_under_the_contract():
    configs = {p.stem for p in (Path(CONFIG_DIR) / "data").glob("*.yaml")}
    missing = sorted(configs - set(DATA))
    assert not missing, f"add {missing} to DATA in tests/test_contract.py, with overrides that build it offline"


def _images(datamodule) -> list[torch.Tensor]:
    """The images a data module feeds the model: the first train and validation batches of a
    VisionDataModule, or what an image-optimisation data module serves."""
    if hasattr(datamodule, "train_dataloader") and hasattr(datamodule, "batch_size"):
        batches = [next(iter(datamodule.train_dataloader())), next(iter(datamodule.val_dataloader()))]
        return [b if isinstance(b, torch.Tensor) else b[0] for b in batches]  # unlabelled: images only
    if hasattr(datamodule, "scales"):  # style images
        return [datamodule.batch(0).content, datamodule.batch(0).style]
    if hasattr(datamodule, "start"):
        return [datamodule.start.pixels]
    return [datamodule.batch.images]


def _statistics_in(node, path="data") -> list[str]:
    """Keys and transforms of a config node that would apply a model's mean/std."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("mean", "std") or (key == "_target_" and str(value).endswith("Normalize")):
                found.append(f"{path}.{key}")
            found += _statistics_in(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _statistics_in(value, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("name", sorted(DATA))
def test_data_delivers_pixels_without_model_statistics(name, data_root, tmp_path, request):
    if name == "opencv_digits" and not OPENCV_DIGITS.is_file():
        pytest.skip("needs opencv-doc's digits.png: apt-get install opencv-doc")
    if name in ("mnist", "fashion_mnist"):  # MNIST's IDX files, from scikit-learn's digits
        export_digits(tmp_path / "mnist", image_size=28)
    caption_root = request.getfixturevalue("caption_root") if name in CAPTIONS else None
    if name == "bananas":  # the real archive's layout, without classes.txt (the config names the class)
        generate_bananas(tmp_path / "bananas" / "banana-detection", num_train=4, num_val=2, image_size=40)
        (tmp_path / "bananas" / "banana-detection" / "classes.txt").unlink()
    if name in ("voc", "voc_instances", "coco_instances"):
        generate_voc(tmp_path / "voc", **SMALL_VOC)
    if name == "coco_instances":
        export_voc_to_coco(tmp_path / "voc", tmp_path / "coco")
    overrides = [o.format(data_root=data_root, tmp=tmp_path, caption_root=caption_root) for o in DATA[name]]
    cfg = compose_config(
        [f"data={name}", f"paths.data_dir={data_root if name in ('lfw_faces', 'hotdog', 'cifar10') else tmp_path}"]
        + ["data.num_workers=0", *overrides],
        tmp_path / "run",
    )
    assert not _statistics_in(OmegaConf.to_container(cfg.data, resolve=True))
    datamodule = run.build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    if name in CAPTIONS:
        features = next(iter(datamodule.train_dataloader()))["features"]
        assert features.dtype == torch.float32 and features.std() > 0
        return
    for images in _images(datamodule):
        assert images.dim() == 4 and images.shape[1] in ((1,) if "mnist" in name or "digits" in name else (3,))
        if images.dtype != torch.uint8:  # float pixels, e.g. the visualisations' photographs
            assert images.is_floating_point() and 0 <= images.min() and images.max() <= 1, name
            assert images.std() > 0.05  # real pixels, not a constant


def _reference(name: str, images: torch.Tensor) -> torch.Tensor:
    """`images` normalised by hand with backbone `name`'s registry statistics."""
    spec = get_spec(name)
    mean, std = torch.tensor(spec.mean).view(3, 1, 1), torch.tensor(spec.std).view(3, 1, 1)
    return (images.float() / 255 - mean) / std


PIXELS = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _first(output):
    """A net's main output: the tensor, the first of a list (detector features), the first layer's."""
    if isinstance(output, dict):
        return next(iter(output.values()))
    return output[0] if isinstance(output, list) else output


def _check(net, expected, pixels=PIXELS):
    """`net` gives `expected` for uint8 `pixels` and for the same pixels as floats in [0, 1]."""
    with torch.no_grad():
        for images in (pixels, pixels.float() / 255):
            torch.testing.assert_close(_first(net(images)), _first(expected), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_registry_net_carries_its_backbones_statistics(name):
    # built on the meta device: the architecture only, no weights allocated
    with torch.device("meta"):
        nets = [pretrained_classifier(name, num_classes=3, weights=None)]
        nets += [FCN(name, num_classes=3, weights=None)] if name in TRUNKS else []
    spec = get_spec(name)
    for net in nets:
        norm = input_normalization(net)
        assert (norm.mean, norm.std) == (list(spec.mean), list(spec.std)), type(net).__name__


@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet18", "squeezenet1_1"])
def test_registry_classifiers_normalise_their_input_themselves(name):
    torch.manual_seed(0)
    net = pretrained_classifier(name, num_classes=3, weights=None).eval()
    torch.manual_seed(0)  # the same net, built again without its normalisation
    bare = create_backbone(name, None)
    replace_head(bare, name, 3)
    with torch.no_grad():
        _check(net, bare.eval()(_reference(name, PIXELS)))


@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet18"])
def test_fcns_normalise_their_input_themselves(name):
    net = FCN(name, num_classes=3, weights=None).eval()
    with torch.no_grad():
        _check(net, net.transpose_conv(net.final_conv(net.trunk(_reference(name, PIXELS))))[..., :32, :32])


@pytest.mark.parametrize("name", ["efficientnet_lite0", "squeezenet1_1"])
def test_frozen_nets_normalise_their_input_themselves(name):
    extractor = FeatureExtractor(name, [layer_names(name)[1]], weights=None)
    with torch.no_grad():
        _check(extractor, extractor.forward_normalized(_reference(name, PIXELS)))
    if name == "squeezenet1_1":
        classifier = imagenet_classifier(name, weights=None)
        with torch.no_grad():
            _check(classifier, classifier.net(_reference(name, PIXELS)))


def test_detectors_and_the_cifar_resnet_normalise_their_input_themselves():
    pixels = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    scratch = TinySSD(num_classes=1).eval()  # from scratch on [0, 1] pixels, as d2l feeds them
    pretrained = TinySSD(num_classes=1, features=EfficientNetLite0Features(weights=None)).eval()
    cifar = cifar_resnet18(num_classes=10).eval()
    with torch.no_grad():
        _check(scratch.features, [scratch.features.stages[0](pixels.float() / 255)], pixels)
        _check(pretrained.features, [pretrained.features.stages[0](_reference("efficientnet_lite0", pixels))], pixels)
        _check(cifar, cifar[1:](pixels.float() / 255), pixels)  # the layers after its InputNormalization


def test_every_task_that_predicts_names_a_prediction_writer():
    named = {}
    for module in pkgutil.iter_modules(tasks.__path__):
        for _, cls in inspect.getmembers(importlib.import_module(f"litvision.tasks.{module.name}"), inspect.isclass):
            if issubclass(cls, VisionTask) and cls.prediction_writer is not None:
                named[cls.__name__] = cls.prediction_writer
    assert {"ClassificationTask", "DetectionTask", "SegmentationTask"} <= set(named)
    for task, writer in named.items():
        assert issubclass(writer, PredictionWriter), task


def _contract_names() -> set[str]:
    """Every attribute and hook VisionTask declares beyond LightningModule's own."""
    import lightning as L

    declared = {n for n in vars(VisionTask) if not n.startswith("__")}
    task = VisionTask(optimizer=None)
    declared |= set(vars(task)) - set(vars(L.LightningModule()))
    return {n for n in declared if not n.startswith("_")}


TASK_NAMES = {"pl_module", "task", "model", "cls", "self", "self.task", "self.model", "trainer.lightning_module"}


def test_no_getattr_probe_of_a_task_attribute_outside_the_base():
    """The runner, inference and callbacks use what VisionTask declares; a getattr(<a task>, "<contract name>")
    anywhere else in the package means an undeclared (or bypassed) part of the contract."""
    import ast

    names, src = _contract_names(), Path(tasks.__file__).resolve().parents[1]
    assert {"prediction_writer", "generates_samples", "trains_nothing", "export_spec", "category_ids"} <= names
    probes = []
    for path in src.rglob("*.py"):
        if path == src / "tasks" / "base.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2
                and ast.unparse(node.args[0]) in TASK_NAMES
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in names
            ):
                probes.append(f"{path.relative_to(src)}:{node.lineno} {node.args[1].value}")
    assert not probes, probes
