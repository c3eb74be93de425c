# The end-to-end demo on the local sandbox (no key, no internet).
# Other demos reuse demo/with-sandbox.sh CMD… (exports WA360_BASE_URL, D360_API_KEY, WA360_BIN).
DEMO_TARGETS += demo-rust

.PHONY: demo-rust

demo-rust: ## Rust echo bot on the sandbox: inbound message, reply through the client, delivered/read statuses
	CARGO="$(CARGO)" demo/with-sandbox.sh demo/rust-echo.sh
