# Clerk: `make demo` and `make test` set up whatever is missing (venv, pinned packages,
# Debian's chromium), then run. Re-running them reinstalls nothing that has not changed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed


export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: demo test setup browser ocr pdftools postgres lint bench lock clean

demo: setup
	$(BIN)/clerk demo

test: setup pdftools
	$(BIN)/python -m pytest -q

setup: $(STAMP) browser ocr postgres xvfb

# Pinned packages: reinstalled only when requirements.lock or pyproject.toml change.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Clerk needs $(PYTHON)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		echo "Installing Debian's python3-venv (needed to create $(VENV))"; rm -rf $(VENV); \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-venv >/dev/null && \
		$(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e '.[dev]'
	touch $@

# A browser for the bots: $CLERK_BROWSER if set, else an installed chromium, else Debian's package.
browser:
	@if [ -n "$$CLERK_BROWSER" ]; then \
		test -x "$$CLERK_BROWSER" || { echo "CLERK_BROWSER=$$CLERK_BROWSER is not an executable file"; exit 1; }; \
	elif command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then \
		true; \
	else \
		echo "Installing Debian's chromium (no browser found; set CLERK_BROWSER to use another)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# OCR for scanned forms: Debian's tesseract (English), if it is not installed yet. Without it Clerk
# still runs and answers scans with ATTACHMENT_SCANNED.
ocr:
	@command -v tesseract >/dev/null && test -n "$$(ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata 2>/dev/null)" || { \
		echo "Installing Debian's tesseract-ocr (reads scanned forms)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null; }

# A virtual display for `clerk record` where there is no screen (and its tests): Debian's xvfb, if missing.
.PHONY: xvfb
xvfb:
	@command -v Xvfb >/dev/null || { \
		echo "Installing Debian's xvfb (clerk record's virtual display)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq xvfb >/dev/null; }

# The tests flatten PDF forms as staff's tools do: Debian's qpdf and pdftocairo (poppler-utils), if missing.
pdftools:
	@command -v qpdf >/dev/null && command -v pdftocairo >/dev/null || { \
		echo "Installing Debian's qpdf and poppler-utils (the tests flatten PDF forms with them)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq qpdf poppler-utils >/dev/null; }

# PostgreSQL for the shared ledger's tests (tests/ledger: database test on 127.0.0.1:5432, user postgres).
# Nothing to do when one answers there; else Debian's postgresql is installed if missing (its new cluster
# trusts loopback connections to the test database only) and the cluster started.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		if ! command -v pg_ctlcluster >/dev/null; then \
			echo "Installing Debian's postgresql (the shared ledger's tests)"; \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null && \
			$$SUDO sed -i '1i host test postgres 127.0.0.1/32 trust' /etc/postgresql/$$(ls /etc/postgresql)/main/pg_hba.conf || exit 1; \
		fi; \
		echo "Starting PostgreSQL $$(ls /etc/postgresql)"; \
		if pg_isready -q -h 127.0.0.1 -p 5432; then ACTION=reload; else ACTION=start; fi; \
		$$SUDO pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main $$ACTION || exit 1; \
		$$SUDO runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 || \
			$$SUDO runuser -u postgres -- createdb test; }

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/keying.py

# Refresh the pins from a clean venv of pyproject's ranges.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet --upgrade pip && .lockvenv/bin/pip install --quiet '.[dev]'
	{ echo '# Exact versions `make` installs (pip freeze of a working environment). Regenerate with `make lock`.'; \
	  .lockvenv/bin/pip freeze --exclude clerk; } > requirements.lock
	rm -rf .lockvenv

clean:
	rm -rf $(VENV) .clerk .pytest_cache
