# wa360 — the one entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

# Each part of the project adds its own targets in mk/*.mk and appends to these lists.
TEST_TARGETS := test-rust
LINT_TARGETS := lint-rust
BENCH_TARGETS := bench-rust
DEMO_TARGETS :=

-include mk/*.mk

.PHONY: help test test-suites lint bench demo test-rust lint-rust bench-rust

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk 'BEGIN{FS=":.*## "}{printf "  make %-14s %s\n", $$1, $$2}'

test: redis-install ## install what the tests need (venv, npm, redis-server), then run Rust, Python, Node and conformance tests
	tests/redis/with-redis.sh $(MAKE) --no-print-directory test-suites

test-suites: $(TEST_TARGETS) ## the suites alone (Redis tests need WA360_TEST_REDIS_URL: use make test)
	@echo "make test: all suites passed ($(TEST_TARGETS))"

lint: $(LINT_TARGETS) ## fmt, clippy -D warnings, and the bindings' type checks

bench: $(BENCH_TARGETS) ## side-by-side benchmarks against the alternatives (release builds)
	$(MAKE) --no-print-directory bench-report

demo: $(DEMO_TARGETS) ## run the end-to-end demo on the local sandbox (no key, no internet)

test-rust: ## cargo tests of core, sandbox and CLI, incl. the conformance suites
	$(CARGO) test --workspace

lint-rust: ## rustfmt check and clippy with warnings denied
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench-rust: ## criterion benchmark of webhook parsing beside the serde_json floor
	$(CARGO) bench -p wa360 --bench parse
