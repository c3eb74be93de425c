# Hostile and careless input (issue 16): the cross-language property test.
# One seeded corpus of mutated webhook bodies and message descriptions (from the conformance
# fixtures) goes through Python, Node and a sample through the CLI; results must be equal,
# errors must be wa360 errors, and no input may take over 1 s of CPU. See tests/fuzz/.
TEST_TARGETS += test-crosslang

CROSSLANG = python3 tests/fuzz/crosslang.py --python $(PY) --cli target/debug/wa360
FUZZ_COUNT ?= 200000
SEED ?= $(shell date +%s)

.PHONY: test-crosslang fuzz crosslang-deps

crosslang-deps: python-develop node-build-debug
	$(CARGO) build -q -p wa360-cli

test-crosslang: crosslang-deps ## cross-language property test: 5,000 mutated inputs (fixed seed), Python = Node = CLI
	$(CROSSLANG) --seed 1 --count 5000

fuzz: crosslang-deps ## longer cross-language run (FUZZ_COUNT=200000, SEED=<now>; replay with SEED=n)
	$(CROSSLANG) --seed $(SEED) --count $(FUZZ_COUNT) --cli-sample 2000

LINT_TARGETS += lint-crosslang
.PHONY: lint-crosslang
lint-crosslang: python-develop ## ruff on the cross-language property test (tests/fuzz)
	cd bindings-python && $(PY_VENV)/bin/ruff check ../tests/fuzz && $(PY_VENV)/bin/ruff format --check ../tests/fuzz
