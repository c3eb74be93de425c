# API reference (make docs): rustdoc of the public crates, the Python reference (pdoc) and
# the TypeScript reference (TypeDoc), all into target/docs/, failing on any warning.
DOCS_DIR := $(CURDIR)/target/docs

.PHONY: docs docs-rust docs-python docs-node

docs: docs-rust docs-python docs-node ## API reference into target/docs/{rust,python,node} (warnings are errors)
	@echo "API reference: $(DOCS_DIR)/index.html"
	@printf '%s\n' '<!doctype html><meta charset="utf-8"><title>wa360 API reference</title>' \
		'<h1>wa360 API reference</h1><ul>' \
		'<li><a href="rust/wa360/index.html">Rust: crate wa360</a> (and <a href="rust/wa360_sandbox/index.html">wa360-sandbox</a>)</li>' \
		'<li><a href="python/wa360.html">Python: package wa360</a></li>' \
		'<li><a href="node/index.html">Node / TypeScript: package wa360</a></li></ul>' > $(DOCS_DIR)/index.html

# The CLI is documented by its --help and cli/README.md; rustdoc covers the library crates
# (whose crate roots #![deny(missing_docs)]).
docs-rust: ## rustdoc of the wa360 and wa360-sandbox crates (RUSTDOCFLAGS=-D warnings)
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p wa360 -p wa360-sandbox
	rm -rf $(DOCS_DIR)/rust && mkdir -p $(DOCS_DIR) && cp -r target/doc $(DOCS_DIR)/rust

docs-python: python-develop ## Python reference of the installed package with pdoc (warnings are errors)
	rm -rf $(DOCS_DIR)/python && mkdir -p $(DOCS_DIR)/python
	cd bindings-python && $(PY) -W error -m pdoc wa360 wa360.receivers wa360.testing wa360.errors wa360.webhook \
		--docformat google -o $(DOCS_DIR)/python

docs-node: node-build-debug ## TypeScript reference of the npm package's public .d.ts with TypeDoc (warnings are errors)
	rm -rf $(DOCS_DIR)/node
	cd $(NODE_DIR) && npx typedoc --options typedoc.json --out $(DOCS_DIR)/node
