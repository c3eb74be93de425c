# Durable webhook inbox and the one receiver (owner: inbox).
LINT_TARGETS += lint-receiver-fixtures

.PHONY: lint-receiver-fixtures
lint-receiver-fixtures: ## check tests/conformance/receiver matches its generator
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  python3 tests/conformance/receiver/_generate.py $$tmp >/dev/null && \
	  diff -r --exclude=_generate.py --exclude=README.md $$tmp tests/conformance/receiver \
	  || { echo "tests/conformance/receiver differs from _generate.py: rerun it"; exit 1; }
	@echo "receiver fixtures match their generator"
