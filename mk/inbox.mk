# Durable webhook inbox and the one receiver (owner: inbox).
LINT_TARGETS += lint-receiver-fixtures

.PHONY: lint-receiver-fixtures
lint-receiver-fixtures: ## check tests/conformance/receiver matches its generator
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  python3 tests/conformance/receiver/_generate.py $$tmp >/dev/null && \
	  diff -r --exclude=_generate.py --exclude=README.md $$tmp tests/conformance/receiver \
	  || { echo "tests/conformance/receiver differs from _generate.py: rerun it"; exit 1; }
	@echo "receiver fixtures match their generator"

BENCH_TARGETS += bench-receiver
.PHONY: bench-receiver
bench-receiver: redis-install ## receiver load test: FastAPI and Express, without / with the SQLite and Redis inboxes, 1,000 deliveries/s (release builds)
	$(MAKE) --no-print-directory $(PY_BENCH_STAMP) node-deps
	$(CARGO) build --release -p wa360-cli
	rm -rf bench/.wheels
	cd bindings-python && $(PY_BENCH_VENV)/bin/maturin build --release --quiet \
		--interpreter $(PY_BENCH) --out $(PY_ROOT)/bench/.wheels
	$(PY_BENCH) -m pip install $(PIP_FLAGS) --force-reinstall --no-deps bench/.wheels/*.whl
	cd bindings-node && npx napi build --platform --release --output-dir ../$(NODE_RELEASE_DIR)
	tests/redis/with-redis.sh bench/receiver/bench.sh $(CURDIR)/target/release/wa360 $(PY_BENCH) \
		$(CURDIR)/$(NODE_RELEASE_DIR)/$$(cd $(NODE_RELEASE_DIR) && ls *.node | head -1)
