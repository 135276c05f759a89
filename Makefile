# Set-up is automatic: every target creates or refreshes the virtual environment in .venv when
# pyproject.toml is newer than it. Override the interpreter with PYTHON=python3.11.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install train test test-fast lint format tensorboard bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

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

## make bench   the benchmarks under experiments/ (results in experiments/results/)
bench: $(STAMP)
	$(BIN)/python experiments/bench_step_overhead.py

clean:
	rm -rf outputs multirun .pytest_cache
