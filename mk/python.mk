# Python package `wa360` (bindings-python/): venv, native build, pytest, lint, demo, bench.
# The venv lives at the repo root (.venv, debug build, editable); the benchmark has its own
# (bench/.venv) with a release wheel installed into it, so a debug extension is never measured.

PY_ROOT        := $(abspath .)
PY_VENV        := $(PY_ROOT)/.venv
PY             := $(PY_VENV)/bin/python
PY_REQS        := bindings-python/requirements-dev.txt
PY_STAMP       := $(PY_VENV)/.wa360-dev-deps
PYTHON3        ?= python3
PY_BENCH_VENV  := $(PY_ROOT)/bench/.venv
PY_BENCH       := $(PY_BENCH_VENV)/bin/python
PY_BENCH_REQS  := bench/python/requirements.txt
PY_BENCH_STAMP := $(PY_BENCH_VENV)/.wa360-bench-deps
PIP_FLAGS      := --quiet --disable-pip-version-check --no-input

# $(call venv_deps,PYTHON,REQUIREMENTS): the recipe of a venv's stamp file, the same for the
# dev venv and the bench venv: upgrade pip, install the requirements, touch the stamp.
define venv_deps
$(1) -m pip install $(PIP_FLAGS) --upgrade pip
$(1) -m pip install $(PIP_FLAGS) -r $(2)
touch $@
endef

TEST_TARGETS  += test-python
LINT_TARGETS  += lint-python
BENCH_TARGETS += bench-python
DEMO_TARGETS  += demo-python

.PHONY: test-python lint-python bench-python bench-python-build demo-python python-develop

$(PY):
	$(PYTHON3) -m venv $(PY_VENV)

$(PY_STAMP): $(PY_REQS) | $(PY)
	$(call venv_deps,$(PY),$(PY_REQS))

python-develop: $(PY_STAMP) ## build the Python extension (debug) into .venv with maturin develop
	cd bindings-python && VIRTUAL_ENV=$(PY_VENV) PATH=$(PY_VENV)/bin:$$PATH \
		$(PY_VENV)/bin/maturin develop --quiet

test-python: python-develop ## build wa360 for Python in .venv, then run the pytest suites
	cd bindings-python && $(PY) -m pytest tests -q -p no:cacheprovider

# The package is one abi3 extension for CPython >= 3.10. The dev venv is 3.11; the suites whose
# behaviour depends on the interpreter (asyncio, threads, fork, the handler deadline: 3.10 has
# code paths of its own) run again on 3.10 and 3.13 against the same debug build, each in its own
# venv (.venv-py3.10, ...). An interpreter this machine lacks is reported as not run, loudly.
PY_COMPAT_VERSIONS := 3.10 3.13
PY_COMPAT_REQS     := bindings-python/requirements-compat.txt
PY_COMPAT_TESTS    := tests/test_runtime.py tests/test_inbox.py tests/test_receivers.py tests/test_client.py
TEST_TARGETS       += test-python-compat

test-python-compat: python-develop ## the asyncio / thread / fork suites on Python 3.10 and 3.13 too
	@set -e; for v in $(PY_COMPAT_VERSIONS); do \
	  exe=$$(ls -d $$HOME/.pyenv/versions/$$v.*/bin/python 2>/dev/null | sort -V | tail -1); \
	  if [ -z "$$exe" ] && python$$v -c pass 2>/dev/null; then exe=$$(command -v python$$v); fi; \
	  if [ -z "$$exe" ]; then \
	    echo "test-python-compat: NOT RUN on Python $$v: no python$$v on this machine (PATH or ~/.pyenv)"; \
	    continue; \
	  fi; \
	  venv=$(PY_ROOT)/.venv-py$$v; \
	  $$venv/bin/python -m pip --version >/dev/null 2>&1 || { rm -rf $$venv && $$exe -m venv $$venv; }; \
	  if [ ! $$venv/.wa360-deps -nt $(PY_COMPAT_REQS) ]; then \
	    $$venv/bin/python -m pip install $(PIP_FLAGS) -r $(PY_COMPAT_REQS); touch $$venv/.wa360-deps; \
	  fi; \
	  $$venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
	    | xargs -I{} sh -c 'echo $(PY_ROOT)/bindings-python/python > {}/wa360-dev.pth'; \
	  echo "test-python-compat: Python $$($$venv/bin/python -V 2>&1 | cut -d' ' -f2)"; \
	  (cd bindings-python && $$venv/bin/python -m pytest $(PY_COMPAT_TESTS) -q -p no:cacheprovider); \
	done

lint-python: python-develop ## ruff, mypy.stubtest on the .pyi stubs and mypy --strict on the Python package
	cd bindings-python && $(PY_VENV)/bin/ruff check python tests examples ../bench/python
	cd bindings-python && $(PY_VENV)/bin/ruff format --check python tests examples ../bench/python
	cd bindings-python && $(PY) -m mypy.stubtest wa360 --allowlist stubtest-allowlist.txt
	cd bindings-python && $(PY) -m mypy python/wa360 examples --no-incremental
	cd bindings-python && $(PY) -m mypy python/wa360/_client.py --no-incremental

demo-python: python-develop ## Python echo bot: the sandbox delivers a message, the bot replies via AsyncClient
	$(PY) bindings-python/examples/echo_bot.py

$(PY_BENCH):
	$(PYTHON3) -m venv $(PY_BENCH_VENV)

$(PY_BENCH_STAMP): $(PY_BENCH_REQS) | $(PY_BENCH)
	$(call venv_deps,$(PY_BENCH),$(PY_BENCH_REQS))

bench-python-build: $(PY_BENCH_STAMP) ## the release wheel, installed into bench/.venv (used by bench-python, bench-client)
	rm -rf bench/.wheels
	cd bindings-python && $(PY_BENCH_VENV)/bin/maturin build --release --quiet \
		--interpreter $(PY_BENCH) --out $(PY_ROOT)/bench/.wheels
	$(PY_BENCH) -m pip install $(PIP_FLAGS) --force-reinstall --no-deps bench/.wheels/*.whl
bench-python: bench-python-build ## parse_webhook vs json/orjson/pywa (release build; rounds, CPU time)
	cd bench/python && $(PY_BENCH) bench.py
