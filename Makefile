# The course's commands. Students on Windows without make: see README, "Without make".
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements
DEV_STAMP := $(VENV)/.installed-requirements-dev
# TORCH=cpu: install PyTorch's CPU-only build first (a few hundred MB; on Linux the default build is the
# CUDA one, several GB). Any build name of download.pytorch.org/whl works, e.g. TORCH=cu126.
TORCH  ?=
# Extra options for `jupyter lab`, e.g. make lab LAB_ARGS="--no-browser --port=8890".
LAB_ARGS ?=
PINNED_TORCH := $(shell grep -E '^torch(vision)?==' constraints.txt)

.PHONY: setup dev-setup lab lint test notebooks colab-links student slides site browser clean

# Create .venv and install requirements.txt with the tested torch/torchvision builds (constraints.txt),
# showing pip's progress; redone only when those files change (make clean first to switch TORCH builds).
$(STAMP): requirements.txt constraints.txt
	@echo "Installing requirements.txt into $(VENV). A first install downloads PyTorch: several GB on Linux (the CUDA build) unless TORCH=cpu."
	$(PYTHON) -m venv $(VENV)
	$(if $(TORCH),$(BIN)/python -m pip install $(PINNED_TORCH) --index-url https://download.pytorch.org/whl/$(TORCH))
	$(BIN)/python -m pip install -r requirements.txt -c constraints.txt
	touch $(STAMP)

setup: $(STAMP)

# The maintainers' tools (requirements-dev.txt: linters, pytest, nbval) on top; only test, lint and the
# notebook tools need them, so `make lab` stays lean.
$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install -r requirements-dev.txt -c constraints.txt
	touch $(DEV_STAMP)

dev-setup: $(DEV_STAMP)

# Open the course in JupyterLab. As root (a container, a cloud VM) Jupyter needs --allow-root.
lab: setup
	@if [ "$$(id -u)" = 0 ]; then echo "Running as root: starting JupyterLab with --allow-root."; allow_root=--allow-root; fi; \
	exec $(BIN)/jupyter lab $$allow_root $(LAB_ARGS) notebooks

# Style and types of utils/ and tools/ (settings in pyproject.toml): lint, formatting, mypy.
# `ruff format utils tools` fixes what the second check reports.
lint: dev-setup
	$(BIN)/python -m ruff check utils tools
	$(BIN)/python -m ruff format --check utils tools
	$(BIN)/python -m mypy utils tools

# The whole test suite in fast mode, after lint: utils unit tests, hygiene checks, every notebook through
# nbval. pytest's exit code 5 ("no tests collected") is turned into a failure.
test: lint browser
	COURSE_FAST=1 $(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; \
	exit $$status

# Re-execute every notebook in full mode, in place (restart and run all), then refresh the docs.
notebooks: dev-setup
	$(BIN)/python tools/run_notebooks.py notebooks/week*.ipynb
	$(BIN)/python tools/build_docs.py

# Regenerate colab_links.md, README's tables and every notebook's badge and setup cell
# from the GitHub slug in utils/course.py.
colab-links: dev-setup
	$(BIN)/python tools/build_docs.py

# The student edition in student/ (git-ignored): solutions become stubs that raise NotImplementedError,
# worked solutions are removed, Colab links point to the `student` branch (README, "Exercises and the student edition").
student: setup
	$(BIN)/python tools/student_edition.py --out student

# Every notebook as a reveal.js deck in build/slides/ (reveal.js and MathJax copied beside them: no network
# when the decks are shown). Open build/slides/week01_introduction.slides.html in a browser.
slides: dev-setup
	$(BIN)/python tools/build_slides.py

# The course website in build/site/ (mkdocs + mkdocs-jupyter, from the committed notebooks and their outputs;
# nothing is executed and nothing is fetched). Open build/site/index.html, or serve it:
# $(BIN)/python -m http.server -d build/site
site: dev-setup
	$(BIN)/python tools/build_site.py

# Headless Chromium and its driver (Debian's chromium + chromium-driver) for the browser test of the site:
# installed with apt-get where they are missing and this is root on a machine with apt-get; otherwise the
# test skips and says why.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing chromium and chromium-driver with apt-get for the browser test (tests/test_site.py)."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	else echo "Chromium is missing and cannot be installed here (needs root and apt-get): tests/test_site.py will skip its browser check."; fi

clean:
	rm -rf $(VENV) student build data/torchvision notebooks/results/fast notebooks/results/local .pytest_cache .mypy_cache .ruff_cache
