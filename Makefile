# tinyscene — the two commands a new user needs are `make setup` and `make test`.
SHELL := /bin/bash
PY      := .venv/bin/python
TS      := .venv/bin/tinyscene
# Debian packages, each for a reason:
#   gcc                             host C compiler: the front-end shared library, host builds of the firmware
#   gcc-arm-none-eabi               the Cortex-M cross compiler (C)
#   libnewlib-arm-none-eabi         newlib for it: libc, rdimon.specs (semihosting), nano.specs
#   libstdc++-arm-none-eabi-newlib  its C++ library and headers (<cstdarg>, <new>): TFLM is C++
#   qemu-system-arm                 the emulated boards (mps2-an386, mps2-an500, mps3-an547)
#   openocd                         programming real boards (`make flash`)
APT_PKGS := gcc gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm openocd
# Offline mirror of the pinned C dependencies (TFLM, CMSIS-NN, ...); empty = fetch from the source host.
TS_THIRD_PARTY_MIRROR ?= $(wildcard ../shared/third_party)
export TS_THIRD_PARTY_MIRROR
# pytest workers: both cores by default
JOBS ?= 2

.PHONY: setup apt venv third-party assets test test-all demo flash clean help

help:
	@echo "make setup     install Debian packages and the .venv (pinned), build host libraries"
	@echo "make test      the test suite (fast tests, QEMU included)"
	@echo "make test-all  the test suite including slow tests"
	@echo "make demo      the whole pipeline on synthetic data"
	@echo "make flash BOARD=B BUNDLE=export/NAME [RUNTIME=aot|tflm] [EXEC=stream|tensor] [TOOL=pyocd|openocd]"
	@echo "               build the classifier of a bundle and program a real board"

setup: apt venv third-party assets

# TensorFlow Lite Micro + CMSIS-NN (`--runtime tflm|tflm-ref`): the sources pinned in third_party.lock,
# from $(TS_THIRD_PARTY_MIRROR) or the source host, verified, into the user cache; then their libraries,
# one per CPU kind of the boards, so that the tests and the first `tinyscene run` do not pay the build.
third-party: venv
	$(TS) third-party fetch
	$(TS) third-party build

# Downloaded inputs the tests and the demo use: the real example recording (dcase_util sdist on PyPI).
assets: venv
	$(TS) data example

# Debian packages: installed only where missing (needs root or sudo).
apt:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing; \
	else echo "Debian packages present: $(APT_PKGS)"; fi

venv: .venv/.installed

.venv/.installed: requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -r requirements.lock
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $@

test:
	$(PY) -m pytest -n $(JOBS) -m "not slow" tests/py

test-all:
	$(PY) -m pytest -n $(JOBS) tests/py

demo:
	$(TS) demo --out build/demo

# The classifier of a bundle on a real board (programmer from boards/<B>/board.yaml, TOOL overrides).
RUNTIME ?= aot
flash:
	@if [ -z "$(BOARD)" ] || [ -z "$(BUNDLE)" ]; then \
	  echo "usage: make flash BOARD=<board> BUNDLE=export/<name> [RUNTIME=aot|tflm] [EXEC=stream|tensor] [TOOL=pyocd|openocd]"; exit 2; fi
	$(TS) flash --bundle $(BUNDLE) --board $(BOARD) --runtime $(RUNTIME) $(if $(EXEC),--exec $(EXEC)) $(if $(TOOL),--tool $(TOOL))

clean:
	rm -rf build .pytest_cache

# Front-end benchmark: tinyscene and CMSIS-DSP (f32, q31, q15; built from the pinned sources) measured in
# the same run on the three QEMU boards for both presets: instructions per channel-frame, flash/RAM, log-mel
# SNR vs librosa, int8 within one step, device == host, streaming == clip (a few minutes).
.PHONY: bench-fe
bench-fe:
	@mkdir -p build
	$(TS) bench-fe --configs paper,m4-small --boards qemu-an386,qemu-an500,qemu-an547 --out build/bench-fe.json

# The int8 compiler against TFLM + CMSIS-NN (same board, same input) on the test networks, the paper model and
# TFLM's micro_speech, on the Cortex-M4 and M55 (qemu-an386, qemu-an547): fails on an output that is not
# bit-exact, a model above 0.8x TFLM's instructions, or a flash image or arena above TFLM's
# (build/bench-nn/bench.{md,csv,png}); then the kernel families (reference vs Armv7E-M / Helium) per network and
# per layer on the three QEMU boards (build/bench-kernels/bench-kernels.{md,json,png}). About ten minutes.
BENCH_NN_MODELS ?= resnet8 dscnn scene paper micro_speech
.PHONY: bench-nn
bench-nn:
	$(TS) bench --model $(BENCH_NN_MODELS) --boards qemu-an386,qemu-an547 --runtimes aot,tflm \
	  --per-layer --fail-on ratio=0.8,flash=1.0,arena=1.0,layer=1.0 --out build/bench-nn
	$(TS) bench-kernels --out build/bench-kernels --repeat 2

# Training on synthetic data, small: synth (200 clips, once) -> train the paper ResNet on the
# m4-small features (10 epochs) -> evaluate. A few minutes on 2 CPU cores.
DEMO_TRAIN ?= build/demo-train
.PHONY: demo-train
demo-train: $(DEMO_TRAIN)/data/meta.csv
	$(TS) train --data $(DEMO_TRAIN)/data --model paper --features m4-small --out $(DEMO_TRAIN)/run \
	  --epochs 10 --seed 1 --force
	$(TS) evaluate --run $(DEMO_TRAIN)/run --data $(DEMO_TRAIN)/data --out $(DEMO_TRAIN)/evaluate.json

$(DEMO_TRAIN)/data/meta.csv:
	$(TS) data synth --out $(DEMO_TRAIN)/data --clips-per-scene 20 --seed 7 --force
