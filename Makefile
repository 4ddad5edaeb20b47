# The two set-up commands are `make demo` and `make test`; both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
NUMPY_PATH_TESTS := tests/test_cross_entropy.py tests/test_bce.py tests/test_nll.py tests/test_linear_ce.py \
	tests/test_activations.py tests/test_loss_properties.py tests/test_torch_parity.py tests/test_spec.py \
	tests/test_float16.py tests/test_layouts.py tests/test_trust.py tests/test_smooth.py tests/test_attention.py

.PHONY: demo test test-gpu bench bench-gpu check torch jax clean

$(PY):
	$(PYTHON) -m venv $(VENV)

demo: $(PY)
	$(PIP) -e '.[examples,fast]'
	$(PY) examples/spiral.py --out plots
	$(PY) -m minigrad check

# The suite with the CPU kernels, then the loss and activation modules again on the NumPy path without them.
test: $(PY)
	$(PIP) -e '.[test,examples,fast,mpi]'
	$(PY) -m pytest -n 2
	MINIGRAD_CPU_KERNELS=0 $(PY) -m pytest -n 2 -q $(NUMPY_PATH_TESTS)

# The GPU column alone (tests marked `gpu`): on a real GPU where CuPy finds one, else on the CuPy stand-in.
test-gpu: $(PY)
	$(PIP) -e '.[test,examples]'
	$(PY) -m pytest -m gpu

check: $(PY)
	$(PIP) -e .
	$(PY) -m minigrad check

# Benchmarks compare against PyTorch and JAX where they are installed in .venv (`make torch`, `make jax`); each
# prints the versions it ran.
bench: $(PY)
	$(PIP) -e '.[fast]'
	cd benchmarks && ../$(PY) bench_engine.py && ../$(PY) bench_training.py && ../$(PY) bench_losses.py && ../$(PY) bench_kernels.py && ../$(PY) bench_cnn.py && ../$(PY) bench_linear_ce.py && ../$(PY) bench_small.py && ../$(PY) bench_transformer.py && ../$(PY) bench_distributed.py

# The fused losses on a GPU against torch on the same GPU (`pip install -e '.[gpu]'` and a CUDA build of torch).
bench-gpu: $(PY)
	$(PIP) -e '.[gpu]'
	cd benchmarks && ../$(PY) bench_gpu.py

torch: $(PY)
	$(PIP) torch==2.13.0

jax: $(PY)
	$(PIP) jax

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis plots minigrad/kernels/__pycache__
