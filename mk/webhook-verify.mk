# Webhook verification / registration fixtures (owner: webhook-verify).
LINT_TARGETS += lint-webhook-fixtures

.PHONY: lint-webhook-fixtures
lint-webhook-fixtures: ## check the webhook_verify / webhook_url fixtures match their generators
	@set -e; for s in webhook_verify webhook_url; do \
	  tmp=$$(mktemp -d); \
	  python3 tests/conformance/$$s/_generate.py $$tmp >/dev/null; \
	  diff -r --exclude=_generate.py --exclude=README.md $$tmp tests/conformance/$$s \
	    || { echo "tests/conformance/$$s differs from _generate.py: rerun it"; rm -rf $$tmp; exit 1; }; \
	  rm -rf $$tmp; \
	done; echo "webhook fixtures match their generators"
