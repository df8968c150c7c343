# Two commands on a fresh machine with Python >= 3.10 and pip:
#   make figures   build .venv if missing, write the synthetic benchmark, run every notebook
#                  full-size with papermill, rebuild figures/ and figures/results.md
#   make test      build .venv if missing, lint (ruff), run the test suite (every notebook in smoke mode)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# known-good torch for the paper's runs; the package itself accepts a range
TORCH  ?= torch==2.13.0
# the index to take torch from ("" = pip's default; PyPI's Linux wheel brings CUDA libraries,
# https://download.pytorch.org/whl/cpu a CPU-only build of a few hundred MB)
TORCH_INDEX ?=
# the linter `make test` runs first, pinned so that a new release cannot fail a clean clone
RUFF   ?= ruff==0.17.6
PRESET ?= small
DATA   ?= data/synth-$(PRESET)
ONLY   ?=
# -e: an editable install (edit vcl_core/ and rerun); CI installs without it (INSTALL=) to test
# the package as `pip install` ships it
INSTALL ?= -e
# notebooks executed side by side (cores/JOBS torch threads each); 0 = picked from the machine
# (tools/paper.py default_jobs: 2 on a 2-core CPU, cores/2 on a larger one; with a CUDA device the runs
# share it, cores/2 of them and at most 6)
JOBS   ?= 0
# run records to read runs missing from runs/ from, and to record the runs used in (figures/runs:
# the paper's; `make figures RECORDS=figures/runs` re-renders every figure in minutes); empty:
# train every run
RECORDS ?=

.PHONY: figures sync test venv data lab clean-runs

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)",)
	$(BIN)/python -m pip install --quiet "$(RUFF)"
	$(BIN)/python -m pip install --quiet $(INSTALL) ".[notebooks,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (vcl)" >/dev/null
	touch $@

data: venv
	$(BIN)/vcl synth --out $(DATA) --preset $(PRESET)

figures: data
	$(BIN)/python tools/paper.py notebooks --data $(DATA) --jobs $(JOBS) $(if $(ONLY),--only $(ONLY),) $(if $(RECORDS),--records $(RECORDS),)

sync: venv
	$(BIN)/python tools/paper.py sync

test: venv
	$(BIN)/ruff check .
	$(BIN)/pytest -q  # not `python -m pytest`, which would put the source tree before the installed package

lab: venv
	$(BIN)/python -m pip install --quiet jupyterlab
	VCL_DATA=$(DATA) $(BIN)/jupyter lab notebooks/

clean-runs:
	rm -rf runs/ build/
