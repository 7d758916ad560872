# Two commands on a fresh clone: `make demo` and `make test`. Each sets itself up.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
OUT     ?= out/demo
JOBS    ?= 2

.PHONY: demo test lint setup llvm envmaps bench clean unreal-stubs unreal-names

$(STAMP): setup.cfg requirements-lock.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-lock.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP) llvm envmaps unreal-stubs

# The UE 5.4/5.5/5.6 Python API dumps (unreal-stub 0.1/0.2.1/0.3) the Unreal tests check the
# plugin against, parsed once into .venv/unreal-stubs/. Offline, those tests skip and say why.
unreal-stubs: $(STAMP)
	@$(BIN)/python -W ignore::RuntimeWarning -m tests.fake_unreal.stub_oracle --fetch \
	  || echo "unreal-stub dumps not fetched: the per-version Unreal tests will skip"

# Names the Unreal plugin uses, per engine version: used / unknown / deprecated.
unreal-names: unreal-stubs
	$(BIN)/python -m tests.fake_unreal.name_check

# Mitsuba's fast llvm_ad_rgb variant needs LLVM >= 16 (Debian 12 ships 15, which crashes it).
# Best effort: without it the renderer falls back to scalar_rgb (about 2x slower).
llvm:
	@if ! ldconfig -p 2>/dev/null | grep -q 'libLLVM.so.19\|libLLVM-19'; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && apt-get install -y -qq libllvm19) >/dev/null 2>&1 \
	      && echo "installed libllvm19 (fast Mitsuba variant)" \
	      || echo "libllvm19 not installed: Mitsuba will use scalar_rgb"; \
	  else echo "libllvm19 missing and not root: Mitsuba will use scalar_rgb"; fi; \
	fi

# Eight CC0 HDR skies (Greg Zaal, HDRI Haven) for the Mitsuba envmap specs: Debian's
# blender-data (31 MB download, 102 MB installed). Best effort: without it those specs fall
# back to the analytic sky with a one-line notice.
envmaps:
	@if [ ! -f /usr/share/blender/datafiles/studiolights/world/city.exr ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && apt-get install -y -qq blender-data) >/dev/null 2>&1 \
	      && echo "installed blender-data (HDR environment maps)" \
	      || echo "blender-data not installed: envmap specs use the analytic sky"; \
	  else echo "blender-data missing and not root: envmap specs use the analytic sky"; fi; \
	fi

demo: setup
	$(BIN)/s2rhdr-render batch scene_specs/ --out $(OUT) --quality preview --jobs $(JOBS)
	$(BIN)/s2rhdr-render validate $(OUT)
	$(BIN)/s2rhdr-render report $(OUT) -o $(OUT)_report
	@echo "dataset: $(OUT)   report: $(OUT)_report/report.html"

test: setup
	$(BIN)/python -m pytest tests

lint: $(STAMP)
	$(BIN)/ruff check .

bench: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache
