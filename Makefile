# Model Registry: `make run` starts the registry with demo data; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
REGISTRY_DATA_DIR ?= $(CURDIR)/data
export REGISTRY_DATA_DIR

.PHONY: install sdk prepare run web serve worker migrate demo test pytest lint format typecheck \
        migrations-check deploy-check fuzz bench clean

# The server, then the modelreg CLI from its own small distribution in cli/. Second,
# so that in a venv made when the server shipped the CLI, reinstalling the server
# (which removes its old `modelreg` script) cannot remove the new one.
$(BIN)/.installed: pyproject.toml cli/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check -e ./cli
	touch $@

install: $(BIN)/.installed

# The SageMaker Python SDK, both majors, each in a virtual environment of its own (they
# share the `sagemaker` package name, and 2.x pins older protobuf and packaging than
# the registry uses): tests/sagemaker_api/test_sdk.py runs pipelines with them.
SDK_VENV ?= .venv-sdk
$(SDK_VENV)/%/.installed: tests/sagemaker_api/sdk/%.txt
	$(PYTHON) -m venv $(SDK_VENV)/$*
	$(SDK_VENV)/$*/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

sdk: $(SDK_VENV)/v2/.installed $(SDK_VENV)/v3/.installed

# The data folder's sub-folders and generated secret key (settings only read them).
prepare: install
	$(BIN)/python -m registry_site.prepare > /dev/null

migrate: prepare
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

run: demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python -m registry_site.launcher --host $(HOST) --port $(PORT)

web: migrate
	$(BIN)/python -m registry_site.launcher --only web --host $(HOST) --port $(PORT)

# Predictions only (invocations, /v2/ and health checks), on the same database and
# data folder: run it on more machines behind a load balancer.
serve: prepare
	$(BIN)/python -m registry_site.launcher --only serve --host $(HOST) --port $(PORT)

worker: prepare
	$(BIN)/python -m registry_site.launcher --only workers

test: install sdk
	./scripts/test.sh

pytest: prepare
	$(BIN)/pytest $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy .

migrations-check: install
	$(BIN)/python manage.py makemigrations --check --dry-run

deploy-check: install
	./scripts/deploy_check.sh

# The schemathesis run of `make test` with many more examples per operation.
fuzz: prepare
	SCHEMATHESIS_MAX_EXAMPLES=$${SCHEMATHESIS_MAX_EXAMPLES:-200} $(BIN)/pytest -p no:cacheprovider tests/test_schemathesis.py

bench: install
	./bench/run.sh

clean:
	rm -rf $(VENV) $(SDK_VENV) data *.egg-info cli/*.egg-info
