# The course's commands. Students on Windows without make: see README, "Without make".
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements

.PHONY: setup lab test notebooks colab-links clean

# Create .venv and install requirements.txt; redone only when requirements.txt changes.
$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

# Open the course in JupyterLab.
lab: setup
	$(BIN)/jupyter lab notebooks

# The whole test suite in fast mode: utils unit tests, hygiene checks, every notebook through nbval.
# pytest's exit code 5 ("no tests collected") is turned into a failure.
test: setup
	COURSE_FAST=1 $(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; \
	exit $$status

# Re-execute every notebook in full mode, in place (restart and run all), then refresh the docs.
notebooks: setup
	$(BIN)/python tools/run_notebooks.py notebooks/week*.ipynb
	$(BIN)/python tools/build_docs.py

# Regenerate colab_links.md, README's tables and every notebook's badge and setup cell
# from the GitHub slug in utils/course.py.
colab-links: setup
	$(BIN)/python tools/build_docs.py

clean:
	rm -rf $(VENV) data/torchvision notebooks/results/fast .pytest_cache
