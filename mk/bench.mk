# Benchmarks across languages (issue #14): the client's own CPU per message against a sandbox
# in its own release process, and the report that prints every figure with its target and
# renders README.md's performance table from bench/results.json.
BENCH_TARGETS += bench-client

.PHONY: bench-client bench-report

bench-client: bench-node-build bench-python-build ## client CPU/msg, msg/s, p50/p99: AsyncClient vs aiohttp/httpx, Client vs undici (sandbox pinned to its own core)
	$(CARGO) build --release --quiet -p wa360-cli
	$(NODE_RELEASE_LIB) bench/client.sh $(CURDIR)/target/release/wa360 $(PY_BENCH)

bench-report: ## print the last run's figures with their targets; rewrite README.md's table from bench/results.json
	python3 bench/report.py --record --readme
