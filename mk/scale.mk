# Sending at scale (#10): governor vs ungoverned loop under the sandbox's per-number limit.
BENCH_TARGETS += bench-scale

.PHONY: bench-scale

bench-scale: ## achieved/allowed send rate under the sandbox's 80 msg/s limit: governed client vs ungoverned loop (release)
	$(CARGO) run --release --quiet -p wa360-sandbox --example governor_bench
