# mpp: the two commands are `make demo` and `make check`; both install what they need first.
BUILD       ?= build
CHECK_BUILD ?= build-check
ASAN_BUILD  ?= build-asan
PREFIX      ?= /usr/local
PYTHON      ?= /usr/bin/python3
MESON_COMMON = --buildtype=debugoptimized -Dwerror=true

.PHONY: all deps build check check-unit check-system demo bench bench-quick install format clean fuzz

all: build

deps:
	@scripts/deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) $(MESON_COMMON) --prefix=$(abspath $(PREFIX)) --libdir=lib
	ninja -C $(BUILD)

# The check builds carry the fault points the crash tests use; the installed build does not.
$(CHECK_BUILD)/build.ninja:
	meson setup $(CHECK_BUILD) $(MESON_COMMON) -Dfault_injection=true

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) $(MESON_COMMON) -Dfault_injection=true \
		-Db_sanitize=address,undefined -Db_lundef=false

check: deps $(CHECK_BUILD)/build.ninja $(ASAN_BUILD)/build.ninja
	ninja -C $(CHECK_BUILD)
	ninja -C $(ASAN_BUILD)
	meson test -C $(CHECK_BUILD) --print-errorlogs
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs
	MPP_BUILD=$(abspath $(CHECK_BUILD)) $(PYTHON) -m pytest -q tests/system
	MPP_BUILD=$(abspath $(ASAN_BUILD)) MPP_SANITIZED=1 $(PYTHON) -m pytest -q tests/system
	MPP_BUILD=$(abspath $(CHECK_BUILD)) $(PYTHON) -m pytest -q tests/e2e

# DEMO_ENGINE=docker|podman runs it through a real engine; DEMO_QUICK=1 without pauses.
demo: build
	MPP_BUILD=$(abspath $(BUILD)) scripts/demo.sh

bench: build
	MPP_BUILD=$(abspath $(BUILD)) $(PYTHON) bench/bench.py

bench-quick: build
	MPP_BUILD=$(abspath $(BUILD)) $(PYTHON) bench/bench.py --quick

install: build
	meson configure $(BUILD) --prefix=$(abspath $(PREFIX)) >/dev/null
	meson install -C $(BUILD) --no-rebuild

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(ASAN_BUILD)
