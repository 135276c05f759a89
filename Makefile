# Set-up is automatic: every target creates or refreshes the virtual environment in .venv when
# pyproject.toml is newer than it. Override the interpreter with PYTHON=python3.11.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install train test test-fast lint format tensorboard bench bench-quick gpu-check clean

## make help   this list: every target with one line
help:
	@awk '/^## make /{sub(/^## make /, ""); split($$0, a, /   +/); printf "  %-14s %s\n", a[1], a[2]}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

## make install   create or refresh the virtual environment in .venv (pyproject.toml's dev extras)
install: $(STAMP)

## make train [ARGS="experiment=... key=value"]   the default experiment (quickstart, offline)
train: $(STAMP)
	$(BIN)/python train.py $(ARGS)

## make test   the whole suite (what CI runs)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make test-fast   everything but the end-to-end runs marked slow
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

## make lint   ruff: lint rules and formatting, checked (CI runs it before the tests)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make format   apply ruff's fixes and formatting
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make tensorboard   TensorBoard over every run in outputs/ (http://localhost:6006)
tensorboard: $(STAMP)
	$(BIN)/tensorboard --logdir outputs --port 6006

## make bench   every benchmark under experiments/ as docs/benchmarks.md runs them, results in experiments/results/
##              (long: about an hour on 2 CPU cores, most of it the VOC pipeline at 2913 images)
bench: $(STAMP)
	$(BIN)/python experiments/bench_step_overhead.py
	$(BIN)/python experiments/bench_style_step.py --repeats 6
	OMP_NUM_THREADS=1 $(BIN)/python experiments/bench_multibox.py
	$(BIN)/python experiments/bench_voc_pipeline.py --sizes 300 2913 --epochs 4 --repeats 3
	$(BIN)/python experiments/bench_gan_step.py --repeats 5
	$(BIN)/python experiments/bench_lstm_step.py --device cpu --threads 1

## make bench-quick   the same benchmarks shrunk to a smoke run (a few minutes), results in $(BENCH_QUICK_OUT)
BENCH_QUICK_OUT ?= outputs/bench-quick
bench-quick: $(STAMP)
	$(BIN)/python experiments/bench_step_overhead.py --steps 3 --warmup 1 --repeats 1 --out $(BENCH_QUICK_OUT)
	$(BIN)/python experiments/bench_style_step.py --sizes 32x48 --steps 1 --repeats 1 --out $(BENCH_QUICK_OUT)/style_step
	OMP_NUM_THREADS=1 $(BIN)/python experiments/bench_multibox.py --quick --out $(BENCH_QUICK_OUT)
	$(BIN)/python experiments/bench_voc_pipeline.py --sizes 40 --epochs 2 --repeats 1 --batch-size 4 \
		--data $(BENCH_QUICK_OUT)/voc_data --out $(BENCH_QUICK_OUT)
	$(BIN)/python experiments/bench_gan_step.py --steps 2 --warmup 1 --repeats 1 --batch-size 16 --out $(BENCH_QUICK_OUT)
	$(BIN)/python experiments/bench_lstm_step.py --steps 1 --warmup 1 --repeats 1 --threads 1 --out $(BENCH_QUICK_OUT)/lstm_step

## make gpu-check   on a machine with one GPU: every experiment family at 32, 16-mixed and bf16-mixed, the
##                  framework overhead, ResNet-50 (channels-last, compile) and the device data path, in about
##                  5 minutes on one H100; results in experiments/results/gpu_check.{md,json}. Without CUDA: the
##                  same code as a CPU smoke run. Needs no network: the image's Python plus the wheels that
##                  scripts/gpu_wheels.sh put in .gpu-wheels/ (installed with --no-deps when present).
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
gpu-check:
	if [ -d .gpu-wheels ]; then $(GPU_PYTHON) -m pip install --no-index --no-deps --quiet .gpu-wheels/*.whl; fi
	PYTHONPATH=src $(GPU_PYTHON) experiments/gpu_check.py $(GPU_CHECK_ARGS)

## make clean   remove outputs/, multirun/ and pytest's cache
clean:
	rm -rf outputs multirun .pytest_cache
