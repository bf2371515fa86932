# Set-up and checks. `make test` and (with the web chat) `make run` do everything from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test index lint clean

install: $(STAMP)

# torch first, pinned: 2.13.0 is the CPU wheel on disk; left to pip, sentence-transformers
# would pull the newest torch with several GB of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

index: install
	$(BIN)/assistant index

lint: install
	$(BIN)/ruff check .

test: install lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest

clean:
	rm -rf $(VENV) index .pytest_cache
