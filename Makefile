# Two commands a new user needs:  make run  (the default experiment)  and  make test.
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
PYTHON ?= python3
export PATH := $(BIN):$(PATH)

.PHONY: run test setup setup-dev lint dry-run lock clean

setup: $(VENV)/.runtime-installed
setup-dev: $(VENV)/.dev-installed

# The venv is rebuilt whenever a lock file or pyproject.toml changes.
$(VENV)/.runtime-installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.lock
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	touch $@

# CONFIG=experiments/x.yaml runs another experiment; check-config first names the file and the
# problem in one line (Snakemake's own message for a broken --configfile names neither).
CONFIG ?= config.yaml
run: setup
	prunebench check-config $(CONFIG)
	snakemake --profile workflow/profiles/local --configfile $(CONFIG)

# Under CI=true the system programs of the integration tests (Slurm, Chromium) are installed first.
# The kernel-path equalities (marker kernel_paths) run first with MKL forced onto two other code
# paths: an equality that holds only on this CPU's instruction set then fails on every machine.
test: setup-dev
	if [ "$$CI" = true ]; then bash tests/system/setup.sh; fi
	for isa in COMPATIBLE AVX2; do \
		MKL_CBWR=$$isa $(BIN)/python -m pytest -q -p no:cacheprovider -m kernel_paths || exit 1; \
	done
	$(BIN)/python -m pytest

lint: setup-dev
	ruff check .
	snakefmt --check Snakefile workflow
	prunebench schema --check
	snakemake --lint

dry-run: setup
	snakemake -n --profile workflow/profiles/local --configfile $(CONFIG)

# Refresh requirements.lock from the current venv (after changing a pin on purpose).
lock:
	$(BIN)/python -m pip freeze --exclude-editable \
		| grep -v -i -E '^(pytest|ruff|iniconfig|pluggy|snakefmt|black|mypy.extensions|pathspec|pytokens|shfmt-py|apricot-select|submodlib-py|nose)==' \
		> requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf results logs .snakemake
