import pytest
import torch
from conftest import compose_config
from torch import nn

from litvision.errors import ConfigError
from litvision.tasks.param_groups import build_param_groups


def _named(model: nn.Module):
    return list(model.named_parameters())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 4)
        self.fc = nn.Linear(4, 2)


def test_first_matching_rule_wins_and_unmatched_use_base_lr():
    net = Net()
    groups = build_param_groups(
        _named(net), [{"pattern": "fc.weight", "lr_scale": 10}, {"pattern": "fc.*", "lr_scale": 3}], 0.1
    )
    by_name = {g["name"]: g for g in groups}
    assert by_name["base"]["lr"] == pytest.approx(0.1)
    assert {id(p) for p in by_name["base"]["params"]} == {id(net.body.weight), id(net.body.bias)}
    assert by_name["fc.weight"]["lr"] == pytest.approx(1.0)
    assert [id(p) for p in by_name["fc.weight"]["params"]] == [id(net.fc.weight)]
    assert by_name["fc.*"]["lr"] == pytest.approx(0.3)
    assert [id(p) for p in by_name["fc.*"]["params"]] == [id(net.fc.bias)]


def test_frozen_parameters_are_left_out():
    net = Net()
    net.body.requires_grad_(False)
    groups = build_param_groups(_named(net), [{"pattern": "fc.*", "lr_scale": 10}], 0.1)
    assert [g["name"] for g in groups] == ["fc.*"]


def test_pattern_matching_nothing_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"'net\.head\.\*' matches no trainable parameter.*body\.weight"):
        build_param_groups(_named(Net()), [{"pattern": "net.head.*", "lr_scale": 10}], 0.1)


def test_unknown_rule_key_is_an_error():
    with pytest.raises(ConfigError, match="exactly `pattern` and `lr_scale`"):
        build_param_groups(_named(Net()), [{"pattern": "fc.*", "lr": 10}], 0.1)


def test_hotdog_finetune_optimizer_has_head_at_10x(tmp_path):
    from litvision.runtime.build import build

    cfg = compose_config(["experiment=hotdog_finetune", "model.net.weights=null"], tmp_path)
    task = build(cfg.model)
    optimizer = task.configure_optimizers()
    assert isinstance(optimizer, torch.optim.SGD)
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lrs == {"base": pytest.approx(5e-5), "net.fc.*": pytest.approx(5e-4)}
    head = {id(p) for p in task.net.fc.parameters()}
    fc_group = next(g for g in optimizer.param_groups if g["name"] == "net.fc.*")
    assert {id(p) for p in fc_group["params"]} == head
    assert all(g["weight_decay"] == pytest.approx(1e-3) for g in optimizer.param_groups)


def test_hotdog_scratch_has_one_group(tmp_path):
    from litvision.runtime.build import build

    cfg = compose_config(["experiment=hotdog_scratch"], tmp_path)
    optimizer = build(cfg.model).configure_optimizers()
    assert [(g["name"], g["lr"]) for g in optimizer.param_groups] == [("base", pytest.approx(5e-4))]
