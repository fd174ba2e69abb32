# Quickstart targets. `make test` and `make demo` create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BACKENDS := tensorflow jax torch
PYTEST_ARGS ?=

.PHONY: install test test-one demo bench clean

# torch==2.13.0 goes first: it is the CPU build on local disk (see DEVELOPERS.md); the
# `torch>=2.4` range in pyproject is then satisfied without downloading a CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# The suite once per backend, each in its own process (the backend is fixed at import).
test: install
	@for backend in $(BACKENDS); do \
		start=$$(date +%s); \
		echo "=== KERAS_BACKEND=$$backend ==="; \
		KERAS_BACKEND=$$backend TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m pytest -q $(PYTEST_ARGS) || exit 1; \
		echo "=== KERAS_BACKEND=$$backend: $$(( $$(date +%s) - start )) s ==="; \
	done

# The main job: baseline, +SSPCAB and +SSMCTB on the synthetic Avenue-like scene.
demo: install
	KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3 $(PY) examples/avenue.py

# Speed of the block on every backend (see benchmarks/README.md); about 10 minutes.
bench: install
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) benchmarks/run_all.py

# One backend: make test-one BACKEND=jax
test-one: install
	KERAS_BACKEND=$(BACKEND) TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
