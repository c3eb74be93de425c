# Installable artifacts (make dist) and a test that installs each of them outside the
# repository and runs a smoke script (make test-dist). Both use release builds, so they are
# not part of `make test`; .ci/run runs test-dist after make test.
DIST_DIR       := $(CURDIR)/target/dist
DIST_CRATES    := wa360 wa360-sandbox wa360-cli
NODE_STAGE     := $(CURDIR)/target/dist-npm-stage

.PHONY: dist dist-python dist-node dist-crates test-dist

dist: dist-python dist-node dist-crates ## build target/dist: Python sdist + abi3 wheel, npm tarball with the prebuilt .node, crate packages
	@ls -l $(DIST_DIR)/python $(DIST_DIR)/npm $(DIST_DIR)/crates

# mk/python.mk is read after this file: expand its variables when the rule is used.
.SECONDEXPANSION:
dist-python: $$(PY_STAMP) ## Python sdist and abi3 wheel (release) into target/dist/python
	rm -rf $(DIST_DIR)/python && mkdir -p $(DIST_DIR)/python
	cd bindings-python && $(PY_VENV)/bin/maturin sdist --out $(DIST_DIR)/python
	cd bindings-python && $(PY_VENV)/bin/maturin build --release --quiet \
		--interpreter $(PY) --out $(DIST_DIR)/python

# The package directory is staged (the committed files plus the release .node) and packed
# there, so `npm pack` applies the package.json `files` list exactly as `npm publish` would.
dist-node: node-deps ## npm tarball with this platform's release .node into target/dist/npm
	rm -rf $(DIST_DIR)/npm $(NODE_STAGE) && mkdir -p $(DIST_DIR)/npm $(NODE_STAGE)
	git ls-files -z $(NODE_DIR) | xargs -0 -I{} cp --parents {} $(NODE_STAGE)/
	cd $(NODE_DIR) && npx napi build --platform --release --output-dir $(NODE_STAGE)/$(NODE_DIR)
	cd $(NODE_STAGE)/$(NODE_DIR) && $(NPM) pack --ignore-scripts --pack-destination $(DIST_DIR)/npm
	tar -tzf $(DIST_DIR)/npm/*.tgz | grep -q '^package/wa360\..*\.node$$' || \
		{ echo "dist-node: the tarball has no .node"; exit 1; }

# cargo package verifies each crate against the others through a temporary local registry
# (target/package/tmp-registry) and unpacks those crates under
# $CARGO_HOME/registry/src/-<hash of that path>/. It does not unpack again over an existing
# copy of the same name and version, so a second run on one machine (or a CI image that keeps
# CARGO_HOME) would verify wa360-sandbox and wa360-cli against the first run's wa360 sources.
# Our own crates' unpacked copies are removed first; nothing else in CARGO_HOME is touched.
CARGO_HOME_DIR := $(or $(CARGO_HOME),$(HOME)/.cargo)

dist-crates: ## cargo package (with its verification build) of the publishable crates into target/dist/crates
	rm -rf $(DIST_DIR)/crates && mkdir -p $(DIST_DIR)/crates
	rm -rf $(foreach c,$(DIST_CRATES),$(CARGO_HOME_DIR)/registry/src/-*/$(c)-[0-9]*)
	$(CARGO) package --allow-dirty $(addprefix -p ,$(DIST_CRATES))
	cp $(foreach c,$(DIST_CRATES),target/package/$(c)-[0-9]*.crate) $(DIST_DIR)/crates/

test-dist: dist ## install every artifact in fresh directories outside the repo and run the smoke scripts
	PYTHON3="$(PYTHON3)" NPM="$(NPM)" tests/dist/run.sh $(DIST_DIR)
