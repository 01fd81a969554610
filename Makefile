# The front door: `make demo` and `make test` are the two commands of the
# README; everything else is here for developers. meson + ninja do the work.

BUILD      ?= build
ASAN_BUILD ?= build-asan
DEMO_DIR   ?= demo
MESON_OPTS ?=

NDX = $(BUILD)/src/cli/ndx

.PHONY: all build deps demo test test-unit test-valgrind test-asan test-e2e clean distclean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	@scripts/install-deps --check
	meson setup $(BUILD) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Builds, then brings up the demo federation in the foreground (Ctrl-C stops it).
demo: deps
	$(MAKE) build
	$(NDX) demo run --dir $(DEMO_DIR)

# Every test: -Werror build, unit tests plainly, under valgrind and under
# ASan+UBSan, then the end-to-end suite against the real binaries.
test: deps
	$(MAKE) build
	$(MAKE) test-unit
	$(MAKE) test-valgrind
	$(MAKE) test-asan
	$(MAKE) test-e2e

test-unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

test-valgrind: build
	meson test -C $(BUILD) --suite unit --print-errorlogs \
	  --wrapper 'valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --quiet'

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Dbuildtype=debug

test-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs

test-e2e: build
	NDX_BUILD_DIR=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q tests/e2e

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

distclean: clean
	rm -rf $(DEMO_DIR)
