"""logger=mlflow_server against a real MLflow tracking server (SQLite store in tmp_path): the run's metrics,
compared hyper-parameters, composed config, run summary and best checkpoint read back with MlflowClient."""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import compose_config, experiment_overrides
from lightning.pytorch.loggers import MLFlowLogger

from litvision.reports.tracker import loggable_hparams
from litvision.runtime import run

INSTALL = 'mlflow is not installed: pip install "litvision[mlflow]"'


def test_parameter_names_mlflow_refuses_are_made_loggable():
    pytest.importorskip("mlflow", reason=INSTALL)  # Lightning's MLFlowLogger needs the package to be built
    logger = MLFlowLogger(tracking_uri="sqlite:///unused.db")  # nothing is contacted before .experiment
    params = loggable_hparams(logger, {"lr/net.fc.*": 0.1, "lr": 0.01})
    assert params == {"lr/net.fc._": 0.1, "lr": 0.01}
    assert loggable_hparams(object(), {"lr/net.fc.*": 0.1}) == {"lr/net.fc.*": 0.1}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    pytest.importorskip("mlflow", reason=INSTALL)
    port, store = _free_port(), tmp_path / "server"
    store.mkdir()
    command = [
        sys.executable, "-m", "mlflow",
        "server",
        "--backend-store-uri", f"sqlite:///{store}/mlflow.db",
        "--artifacts-destination", str(store / "artifacts"),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    log = (store / "server.log").open("w")
    server = subprocess.Popen(command, cwd=store, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start:\n{(store / 'server.log').read_text()[-2000:]}")
                time.sleep(1)
        yield uri
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_a_run_is_read_back_from_the_tracking_server(mlflow_server, data_root, tmp_path):
    from mlflow import MlflowClient

    out = tmp_path / "run"
    overrides = experiment_overrides("quickstart", data_root) + [
        "debug=limit",
        "trainer.max_epochs=1",
        "logger=[tensorboard,mlflow_server]",
        f"logger.mlflow.tracking_uri={mlflow_server}",
        "model.optimizer.lr=0.02",
    ]
    metrics = run.train(compose_config(overrides, out))
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("quickstart")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_name == out.name and found.info.status == "FINISHED"
    assert found.data.metrics["val/acc"] == pytest.approx(metrics["val/acc"])
    assert found.data.metrics["test/acc"] == pytest.approx(metrics["test/acc"])
    # the HPARAMS columns: the experiment, the net, the learning rate set on the command line, the per-group rule
    params = found.data.params
    assert params["experiment"] == "quickstart" and params["lr"] == "0.02" and params["net"] == "efficientnet_lite0"
    assert "lr/net.classifier._" in params
    best = Path(found.data.tags["best_checkpoint"])
    assert best.parent == out / "checkpoints" and best.is_file()
    assert found.data.tags["best_score"].startswith("val/acc=")
    (tmp_path / "artifacts").mkdir()
    artifacts = Path(client.download_artifacts(found.info.run_id, "", str(tmp_path / "artifacts")))
    assert yaml.safe_load((artifacts / "config.yaml").read_text())["task_name"] == "quickstart"
    summary = (artifacts / "run_summary.txt").read_text()
    assert "Run finished" in summary and str(best) in summary
    assert (out / "tensorboard").is_dir()  # TensorBoard beside it


@pytest.mark.slow
def test_logger_wandb_writes_an_offline_run_under_the_run_folder(data_root, tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason='wandb is not installed: pip install "litvision[wandb]"')
    for variable in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(variable, str(tmp_path / "wandb-home"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    overrides = experiment_overrides("quickstart", data_root) + [
        "debug=limit",
        "trainer.max_epochs=1",
        "logger=[tensorboard,wandb]",
    ]
    run.train(compose_config(overrides, out))
    (offline,) = (out / "wandb").glob("offline-run-*")
    files = offline / "files"
    assert yaml.safe_load((files / "config.yaml").read_text())["task_name"] == "quickstart"
    assert "Run finished" in (files / "run_summary.txt").read_text()
    # the run's records (what `wandb sync` uploads): the metrics and the best checkpoint's path among them
    (records,) = offline.glob("run-*.wandb")
    data = records.read_bytes()
    best = next(out.glob("checkpoints/epoch*.ckpt"))
    for expected in ("val/acc", "test/acc", "best_checkpoint", "best_score", str(best)):
        assert expected.encode() in data, expected
