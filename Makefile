# Set-up is two idempotent commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch and torchvision are installed as one pair built for each other: a torchvision
# built for another torch fails on import ("operator torchvision::nms does not exist").
# x86_64 Linux: 2.14.1/0.29.1 (a CUDA build, which also runs on the CPU); aarch64 Linux:
# 2.9.1/0.24.1 (a CPU build); elsewhere (macOS) the newest pair. Override both for
# another build, e.g.  make run TORCH_SPEC="torch==2.9.1" TORCHVISION_SPEC="torchvision==0.24.1"
OS := $(shell uname -s)
ARCH := $(shell uname -m)
ifeq ($(OS)-$(ARCH),Linux-x86_64)
TORCH_SPEC ?= torch==2.14.1
TORCHVISION_SPEC ?= torchvision==0.29.1
else ifeq ($(OS)-$(ARCH),Linux-aarch64)
TORCH_SPEC ?= torch==2.9.1
TORCHVISION_SPEC ?= torchvision==0.24.1
else
TORCH_SPEC ?= torch
TORCHVISION_SPEC ?= torchvision
endif
STAMP := $(VENV)/.installed
# The pair the venv was set up with: a change (an override) re-runs the install.
PAIR := $(VENV)/.torch-pair
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint bench dot qt-libs clean FORCE install-desktop uninstall-desktop icons

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(PAIR): FORCE | $(BIN)/python
	@echo "$(TORCH_SPEC) $(TORCHVISION_SPEC)" | cmp -s - $@ \
	  || echo "$(TORCH_SPEC) $(TORCHVISION_SPEC)" > $@

$(STAMP): pyproject.toml $(PAIR)
	$(BIN)/python -m pip install -q -e ".[test,export,train]" "$(TORCH_SPEC)" "$(TORCHVISION_SPEC)"
	$(BIN)/python -c "import torch, torchvision" \
	  || { echo "error: torch and torchvision do not import together: set TORCH_SPEC and" \
	    "TORCHVISION_SPEC to a matching pair" >&2; exit 1; }
	@touch $(STAMP)

FORCE:

# Graphviz's dot is a system program: install it where we can (root on Debian);
# without it the app and CLI fall back to a built-in layered layout.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) \
	      || echo "note: could not install Graphviz; using the built-in layout"; \
	  else echo "note: Graphviz 'dot' not found; using the built-in layout"; fi; }

# Qt's X11 plugin needs system libraries pip cannot install; with a display, install
# them where we can (root on Debian). Without them the app says which are missing.
QT_X11_DEBS := libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0
qt-libs:
	@if [ -n "$$DISPLAY" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && ! dpkg -s $(QT_X11_DEBS) >/dev/null 2>&1; then \
	  (apt-get update -qq && apt-get install -y -qq $(QT_X11_DEBS) >/dev/null) \
	    || echo "note: could not install Qt's X11 libraries ($(QT_X11_DEBS))"; fi

# Without a display the app prints one line pointing to the headless commands and
# exits 2; that is an answer, not a failure of `make run`.
run: $(STAMP) dot qt-libs
	@$(BIN)/python main.py; code=$$?; [ $$code -eq 2 ] || exit $$code

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

test: $(STAMP) dot lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(STAMP) dot
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

# The desktop entry and its icons, for this user only (no root), where XDG says: the entry
# runs this checkout's app (.venv, from `make run`) or else the resnet-designer-gui on PATH
# (`pip install` or `pipx install`); it installs neither.
XDG_DATA_HOME ?= $(HOME)/.local/share
DESKTOP_APPS = $(XDG_DATA_HOME)/applications
DESKTOP_ICONS = $(XDG_DATA_HOME)/icons/hicolor
ICON_SIZES := 48 64 128 256 512
install-desktop:
	@exe="$$(cd "$(BIN)" 2>/dev/null && pwd)/resnet-designer-gui"; \
	[ -x "$$exe" ] || exe=$$(command -v resnet-designer-gui) || { \
	  echo "error: no resnet-designer-gui to run: 'make run' (this checkout's .venv)," \
	    "or 'pipx install .' first" >&2; exit 1; }; \
	mkdir -p "$(DESKTOP_APPS)" "$(DESKTOP_ICONS)/scalable/apps" \
	  && sed -e "s|^Exec=resnet-designer-gui|Exec=\"$$exe\"|" -e "s|^TryExec=.*|TryExec=$$exe|" \
	    resources/resnet-designer.desktop > "$(DESKTOP_APPS)/resnet-designer.desktop" \
	  && cp resources/icons/app.svg "$(DESKTOP_ICONS)/scalable/apps/resnet-designer.svg" \
	  && for size in $(ICON_SIZES); do \
	    mkdir -p "$(DESKTOP_ICONS)/$${size}x$${size}/apps" && cp resources/icons/app-$$size.png \
	      "$(DESKTOP_ICONS)/$${size}x$${size}/apps/resnet-designer.png" || exit 1; done \
	  && { command -v update-desktop-database >/dev/null \
	    && update-desktop-database -q "$(DESKTOP_APPS)" || true; } \
	  && { command -v gtk-update-icon-cache >/dev/null \
	    && gtk-update-icon-cache -q -t "$(DESKTOP_ICONS)" 2>/dev/null || true; } \
	  && echo "installed $(DESKTOP_APPS)/resnet-designer.desktop (runs $$exe) and its icons"

uninstall-desktop:
	rm -f "$(DESKTOP_APPS)/resnet-designer.desktop" \
	  "$(DESKTOP_ICONS)/scalable/apps/resnet-designer.svg" \
	  $(foreach size,$(ICON_SIZES),"$(DESKTOP_ICONS)/$(size)x$(size)/apps/resnet-designer.png")

# After editing resources/icons/app.svg: redraw the PNG icons (then commit them)
icons: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python resources/icons/render_png.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
