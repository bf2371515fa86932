# Set-up and checks. `make test` and (with the web chat) `make run` do everything from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast index lint browser peers clean

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

# The web chat at http://127.0.0.1:7860; app.py builds or updates the index first.
run: install
	HF_HUB_OFFLINE=1 $(BIN)/python app.py

# A Milvus server (milvus-lite) for the milvus backend by hand: ASSISTANT_BACKEND=milvus then talks to it.
# Loopback only; its data stay in index/milvus-lite/ (the tests start servers of their own).
.PHONY: milvus
MILVUS_PORT ?= 19530
milvus: install
	$(BIN)/milvus-lite server --data-dir index/milvus-lite --host 127.0.0.1 --port $(MILVUS_PORT)

# ruff everywhere; mypy --strict on the package (pyproject.toml says which libraries lack types).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Debian's chromium for the browser tests; Playwright never downloads a browser of its own.
browser:
	@test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

test: install lint browser
	HF_HUB_OFFLINE=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pytest

# The fast tier: no model (a hashing stand-in embeds), no browser, no servers; seconds, for the edit loop.
test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/pytest -m "not slow" -q

# LlamaIndex and Haystack beside our pipeline (benchmarks/peers.py), in their own environment.
PEERS := .venv-peers
peers:
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet torch==2.13.0
	$(PEERS)/bin/pip install --quiet -e '.[peers]'
	cd benchmarks && HF_HUB_OFFLINE=1 ../$(PEERS)/bin/python peers.py

clean:
	rm -rf $(VENV) $(PEERS) index .pytest_cache
