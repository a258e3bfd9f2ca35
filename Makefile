# mpp: the two commands are `make demo` and `make check`; each installs what it needs first
# (scripts/deps.sh GROUP: building needs no runtime nor engine).
BUILD       ?= build
CHECK_BUILD ?= build-check
ASAN_BUILD  ?= build-asan
PREFIX      ?= /usr/local
PYTHON      ?= /usr/bin/python3
MESON_COMMON = --buildtype=debugoptimized -Dwerror=true

.PHONY: all deps deps-build deps-check deps-demo deps-bench deps-fuzz build check check-unit \
	check-system demo bench bench-quick install format format-check clean fuzz

all: build

# Everything; the targets below ask only for their group.
deps:
	@scripts/deps.sh

deps-build deps-check deps-bench deps-fuzz:
	@scripts/deps.sh $(@:deps-%=%)

# The demo's engine, when DEMO_ENGINE asks for one.
deps-demo:
	@scripts/deps.sh demo $(if $(filter docker podman,$(DEMO_ENGINE)),engines)

build: deps-build
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) $(MESON_COMMON) --prefix=$(abspath $(PREFIX)) --libdir=lib
	ninja -C $(BUILD)

# The check builds carry the fault points the crash tests use; the installed build does not.
$(CHECK_BUILD)/build.ninja:
	meson setup $(CHECK_BUILD) $(MESON_COMMON) -Dfault_injection=true

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) $(MESON_COMMON) -Dfault_injection=true \
		-Db_sanitize=address,undefined -Db_lundef=false

# The format check comes last: a tree merged from branches is formatted once (make format) after
# its tests ran.
check: deps-check $(CHECK_BUILD)/build.ninja $(ASAN_BUILD)/build.ninja
	ninja -C $(CHECK_BUILD)
	ninja -C $(ASAN_BUILD)
	meson test -C $(CHECK_BUILD) --print-errorlogs
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs
	MPP_BUILD=$(abspath $(CHECK_BUILD)) $(PYTHON) -m pytest -q tests/system
	MPP_BUILD=$(abspath $(ASAN_BUILD)) MPP_SANITIZED=1 $(PYTHON) -m pytest -q tests/system
	MPP_BUILD=$(abspath $(CHECK_BUILD)) $(PYTHON) -m pytest -q tests/e2e
	$(MAKE) --no-print-directory format-check

# DEMO_ENGINE=docker|podman runs it through a real engine; DEMO_QUICK=1 without pauses.
demo: deps-demo build
	MPP_BUILD=$(abspath $(BUILD)) scripts/demo.sh

bench: deps-bench build
	MPP_BUILD=$(abspath $(BUILD)) $(PYTHON) bench/bench.py

bench-quick: deps-bench build
	MPP_BUILD=$(abspath $(BUILD)) $(PYTHON) bench/bench.py --quick

install: build
	meson configure $(BUILD) --prefix=$(abspath $(PREFIX)) >/dev/null
	meson install -C $(BUILD) --no-rebuild

# libFuzzer: each target of fuzz/ for FUZZ_SECONDS, starting from its seeds in fuzz/corpus/T/.
# What it finds goes to $(FUZZ_BUILD)/fuzz/work-T/ (new inputs) and art-T/ (crashes): a crash
# becomes a regression by copying its file into fuzz/regressions/T/ (replayed by make check).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= codec matcher bundle adapter config sdk response

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true -Dtests=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false

fuzz: deps-fuzz $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $(addprefix fuzz/fuzz-,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/fuzz/work-$$t $(FUZZ_BUILD)/fuzz/art-$$t; \
		echo "== fuzz-$$t for $(FUZZ_SECONDS)s"; \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(FUZZ_BUILD)/fuzz/fuzz-$$t $(FUZZ_BUILD)/fuzz/work-$$t fuzz/corpus/$$t \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/fuzz/art-$$t/; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# Fails when a tracked C file differs from what `make format` would make of it.
format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
