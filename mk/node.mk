# Node package (bindings-node/): npm deps, napi build, node --test, typings drift + tsc, bench, demo.
TEST_TARGETS += test-node
LINT_TARGETS += lint-node
BENCH_TARGETS += bench-node
DEMO_TARGETS += demo-node

NODE_DIR := bindings-node
NPM ?= npm
# npm ci only when the lock changed since the last install (node_modules/.package-lock.json).
NODE_DEPS = cd $(NODE_DIR) && if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	$(NPM) ci --ignore-scripts --no-audit --no-fund; fi

.PHONY: node-deps node-build-debug test-node lint-node bench-node bench-node-build demo-node

node-deps: ## install the Node package's npm dependencies (npm ci from the committed lock)
	$(NODE_DEPS)

node-build-debug: node-deps ## build the Node addon (debug) with napi build --platform
	cd $(NODE_DIR) && npx napi build --platform

test-node: node-build-debug ## Node: build the addon (debug) and run node --test (conformance + sandbox integration)
	cd $(NODE_DIR) && RUST_BACKTRACE=0 node --test --test-reporter=tap test/*.test.mjs

lint-node: node-deps ## Node: clippy, generated index.js/index.d.ts must match the Rust source, tsc --noEmit
	$(CARGO) clippy -p wa360-node --all-targets -- -D warnings
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  (cd $(NODE_DIR) && npx napi build --platform --output-dir $$tmp >/dev/null) && \
	  diff -u $(NODE_DIR)/index.d.ts $$tmp/index.d.ts && diff -u $(NODE_DIR)/index.js $$tmp/index.js || \
	  { echo "lint-node: index.js / index.d.ts drifted from the Rust source: run 'npm run build:debug' in $(NODE_DIR) and commit them"; exit 1; }
	cd $(NODE_DIR) && npx tsc --noEmit -p .

demo-node: node-build-debug ## Node echo bot on the local sandbox: inbound → Express receiver → reply → statuses
	cd $(NODE_DIR) && RUST_BACKTRACE=0 node examples/echo-bot.mjs

NODE_RELEASE_DIR := bench/node/.release
NODE_RELEASE_LIB = NAPI_RS_NATIVE_LIBRARY_PATH=$(CURDIR)/$(NODE_RELEASE_DIR)/$$(cd $(NODE_RELEASE_DIR) && ls *.node | head -1)
bench-node-build: node-deps ## Node: the release addon and the bench package (used by bench-node, bench-client)
	cd $(NODE_DIR) && npx napi build --platform --release --output-dir ../$(NODE_RELEASE_DIR)
	cd bench/node && if [ ! -d node_modules/whatsapp-api-js ] || [ package.json -nt node_modules/.package-lock.json ]; then \
		$(NPM) ci --ignore-scripts --no-audit --no-fund; fi
bench-node: bench-node-build ## Node: parseWebhook vs JSON.parse vs whatsapp-api-js (release addon; rounds, CPU time)
	$(NODE_RELEASE_LIB) node bench/node/bench.mjs
