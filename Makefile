# The front door: `make demo` and `make test` are the two commands of the
# README; everything else is here for developers. meson + ninja do the work.

BUILD      ?= build
ASAN_BUILD ?= build-asan
E2E_WORKERS ?= 4
BROWSER_FILES_AT_ONCE ?= 3
E2E_PARALLEL = $(if $(filter 0,$(E2E_WORKERS)),,-n $(E2E_WORKERS) --dist loadfile)
RELEASE_BUILD ?= build-release
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_TARGETS ?=
DEMO_DIR   ?= demo
MESON_OPTS ?=
PREFIX     ?= /usr/local
DESTDIR    ?=

NDX = $(BUILD)/src/cli/ndx

.PHONY: all build build-tests build-release install deps deps-demo npm npm-runtime demo test test-unit test-valgrind test-asan test-asan-unit test-asan-e2e test-e2e \
	test-e2e-microhttpd \
	test-oidc \
	test-browser fuzz fuzz-smoke bench clean distclean

all: build

deps:
	@scripts/install-deps
deps-demo:
	@scripts/install-deps demo

$(BUILD)/build.ninja:
	@scripts/install-deps --check demo
	meson setup $(BUILD) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# The build with its unit tests (meson's `tests` option is `auto`: a build
# set up by `make demo`, before cmocka was installed, has none, and a test
# target must never find an empty suite and pass).
build-tests: $(BUILD)/build.ninja
	@scripts/install-deps --check
	@meson introspect --buildoptions $(BUILD) | /usr/bin/python3 -c \
	  'import json, sys; sys.exit(0 if {"name": "tests", "value": "enabled"} in [{k: o[k] for k in ("name", "value")} for o in json.load(sys.stdin)] else 1)' \
	  || meson configure $(BUILD) -Dtests=enabled
	ninja -C $(BUILD)

# The web UI's design system and the browser/OIDC test tools, exactly as
# package-lock.json pins them: `npm` all of them, `npm-runtime` only the web
# UI's (`dependencies`, not the test tools in `devDependencies`). `npm ci`
# empties node_modules first, so each stamp is made after it.
node_modules/.ndx-all: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.ndx-runtime $@
node_modules/.ndx-runtime: package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund
	touch $@
npm: node_modules/.ndx-all
npm-runtime: node_modules/.ndx-runtime

# Builds, then brings up the demo federation in the foreground (Ctrl-C stops it).
demo: deps-demo
	$(MAKE) build npm-runtime
	$(NDX) demo run --dir $(DEMO_DIR)

# Every test: -Werror build (and the -O3 release build), unit tests plainly, under valgrind and under
# ASan+UBSan, every store's tests and their end-to-end files on a real
# PostgreSQL (test-pg), a short run of every fuzzer, the end-to-end suite
# against the daemons built with ASan+UBSan, ndx-id with a real OpenID
# Connect client, the portal in a real browser. The end-to-end suite runs
# once, against the sanitized build (test-asan-e2e): the plain debug build's
# run (test-e2e, for working on a test) would test the same code again
# without the checks, and took `make test` past its half hour. The
# PostgreSQL end-to-end files mostly wait (on leases running out, on nodes
# killed and restarted), so the builds of the fuzzers and of the release and
# the valgrind run share the cores with them, three targets at a time in the
# order given.
test: deps
	$(MAKE) build-tests npm
	$(MAKE) test-unit
	$(MAKE) test-asan-unit
	$(MAKE) --output-sync=target -j3 test-pg-e2e test-pg-stores fuzz-smoke build-release test-valgrind
	$(MAKE) test-asan-e2e
	$(MAKE) test-oidc
	$(MAKE) test-browser

# The optimised build (-O3) also compiles without a warning: GCC warns at
# -O3 about things it cannot see at -O2.
$(RELEASE_BUILD)/build.ninja:
	meson setup $(RELEASE_BUILD) -Dbuildtype=release -Dtests=disabled
build-release: $(RELEASE_BUILD)/build.ninja
	ninja -C $(RELEASE_BUILD)

# Installs the release build under PREFIX (binaries, man pages, the web UI
# with GOV.UK Frontend and Chart.js, systemd units, sysusers.d, example
# configuration; docs/install.md), into DESTDIR when it is set. The
# configuration directory is /etc/ndx whatever the prefix.
install: npm-runtime $(RELEASE_BUILD)/build.ninja
	meson configure $(RELEASE_BUILD) -Dprefix=$(PREFIX) -Dsysconfdir=/etc
	ninja -C $(RELEASE_BUILD)
	meson install -C $(RELEASE_BUILD) --no-rebuild $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))

test-unit: build-tests
	meson test -C $(BUILD) --suite unit --print-errorlogs

# Three times each test's timeout: in make test it shares the cores with
# the fuzzers' build and the PostgreSQL files (below).
test-valgrind: build-tests
	meson test -C $(BUILD) --suite unit --print-errorlogs --timeout-multiplier 3 --logbase testlog-valgrind \
	  --wrapper 'valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --quiet --suppressions=$(CURDIR)/tests/unit/h2o.supp'

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Dbuildtype=debug -Dtests=enabled

# The whole suite against the ASan+UBSan build: unit tests, then the
# end-to-end tests with every daemon built that way.
test-asan: test-asan-unit test-asan-e2e

test-asan-unit: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs

# The end-to-end suite against the ASan+UBSan daemons. Their reports go to
# files (a daemon's stderr is a test's log, read by nobody once it passed),
# and any report fails the run, leaks found at a clean exit included, but
# not h2o 2.2.5's per-thread cache of memory-pool chunks (tests/unit/h2o.lsan).
ASAN_REPORTS = $(abspath $(ASAN_BUILD))/sanitizer-reports
test-asan-e2e: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	NDX_BUILD_DIR=$(abspath $(ASAN_BUILD)) \
	  ASAN_OPTIONS=log_path=$(ASAN_REPORTS)/asan:detect_leaks=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/unit/h2o.lsan:print_suppressions=0 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(ASAN_REPORTS)/ubsan \
	  /usr/bin/python3 -m pytest -q $(E2E_PARALLEL) tests/e2e
	@if [ -n "$$(ls -A $(ASAN_REPORTS))" ]; then \
	  echo "sanitizer reports in $(ASAN_REPORTS):"; head -50 $(ASAN_REPORTS)/*; exit 1; fi

# The stores' tests again on a real PostgreSQL server that
# tests/with-postgres starts for the run (initdb in a temporary directory,
# a loopback port, removed at the end): the message log's and the
# registry store's, the consent service's store's and ndx-id's store's
# (suite pg), then
# gateways whose message logs are in it (tests/e2e/test_gateway_pg.py), two
# registry nodes on one database with gateways failing over between them
# (tests/e2e/test_registry_pg.py), a consent service on it, killed with
# SIGKILL and restarted, whose consents the gateways honour
# (tests/e2e/test_consent_pg.py), a provider gateway of two nodes behind
# HAProxy on one log, one node killed with SIGKILL under load
# (tests/e2e/test_gateway_cluster.py, about 15 s), and a registry on a
# primary with a synchronous standby that keeps an acknowledged change when
# the primary is lost and the standby promoted
# (tests/e2e/test_registry_pg_failover.py, its own two servers), and the
# population registry seeded through COPY and served from it, read by number,
# by name and through /verify, with what is not on PostgreSQL yet refused
# (tests/e2e/test_sector_pg.py, about 15 s), and ndx-id on it: a sign-in and its
# tokens, a death event applied once, kill -9 and a restart losing nothing
# acknowledged, a second ndx-id on the same schema (tests/e2e/test_id_pg.py, a
# few seconds).
# The two halves each have a server of their own and run side by side
# (the stores' tests stop and start theirs; the end-to-end files, E2E_WORKERS
# at a time, mostly wait: on leases running out, on nodes killed and
# restarted), and make test runs them beside the fuzzers' build and smoke
# run: 5 min on two cores, where test-pg alone one half after the other took
# 4 min and the fuzzers 3 more. The same stores' suite under ASan+UBSan
# (test-pg-asan) and valgrind (test-pg-valgrind) run on their own.
.PHONY: test-pg test-pg-stores test-pg-e2e test-pg-asan test-pg-valgrind
test-pg: build-tests
	$(MAKE) --output-sync=target -j2 test-pg-stores test-pg-e2e

test-pg-stores: build-tests
	tests/with-postgres meson test -C $(BUILD) --suite pg --print-errorlogs --logbase testlog-pg

test-pg-e2e: build-tests
	tests/with-postgres sh -c 'NDX_BUILD_DIR=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q -rs $(E2E_PARALLEL) tests/e2e/test_gateway_pg.py \
	    tests/e2e/test_registry_pg.py tests/e2e/test_consent_pg.py tests/e2e/test_gateway_cluster.py \
	    tests/e2e/test_gateway_events_pg.py tests/e2e/test_opmon_pg.py \
	    tests/e2e/test_registry_pg_failover.py tests/e2e/test_sector_pg.py tests/e2e/test_id_pg.py \
	    tests/e2e/test_portal_pg.py tests/e2e/test_monitor_pg.py'

test-pg-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  tests/with-postgres meson test -C $(ASAN_BUILD) --suite pg --print-errorlogs

test-pg-valgrind: build-tests
	tests/with-postgres meson test -C $(BUILD) --suite pg --print-errorlogs \
	  --wrapper 'valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --quiet'

# The end-to-end files run E2E_WORKERS at a time (pytest-xdist), each file's
# tests on one worker in their order (--dist loadfile): they mostly wait on
# fsyncs, sockets and timers, so one worker leaves the cores idle (a whole
# `make test` with two used 41 % of this machine's two cores). Each
# worker hands out ports from its own slice (tests/e2e/conftest.py
# _port_slice). E2E_WORKERS=0 runs them in one process.
test-e2e: build-tests
	NDX_BUILD_DIR=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q $(E2E_PARALLEL) tests/e2e

# The end-to-end suite with every gateway's ports on libmicrohttpd ("http":
# {"engine": "microhttpd"}, docs/gateway.md) instead of h2o, their default.
# Not part of `make test`: the suite would take it past its half hour.
test-e2e-microhttpd: build-tests
	NDX_GATEWAY_HTTP_ENGINE=microhttpd NDX_BUILD_DIR=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q $(E2E_PARALLEL) tests/e2e

# ndx-id driven by a real OpenID Connect client library (openid-client).
test-oidc: build-tests npm
	NDX_BUILD_DIR=$(abspath $(BUILD)) node --test tests/oidc/

# The portal in Debian's chromium through Playwright, with axe-core on every
# page; a page whose check fails is saved in tests/browser/artifacts/ (every
# checked page with NDX_BROWSER_SCREENSHOTS=1). BROWSER_FILES_AT_ONCE
# files run at a time; five files that cannot disturb one another share one
# demo federation, the four others each bring up their own on its own ports
# (tests/browser/lib.mjs sharedDemo, startDemo, and why). Measured in one
# run: a demo comes up in about 22 s of a file's 80-480 s; most of the rest
# is Chromium drawing and checking pages (axe-core alone about 30 % of the
# registry console's file), with the two cores busy throughout.
test-browser: build-tests npm
	NDX_BUILD_DIR=$(abspath $(BUILD)) node --test --test-concurrency=$(BROWSER_FILES_AT_ONCE) tests/browser/

# libFuzzer targets (tests/fuzz/README.md): clang, ASan+UBSan, libndx with
# coverage. `fuzz` runs each for FUZZ_SECONDS and keeps what it discovers in
# $(FUZZ_BUILD)/corpus; `fuzz-smoke` gives each FUZZ_SMOKE_SECONDS from the
# committed seeds. Both fail on a finding, left in $(FUZZ_BUILD)/crashes/.
$(FUZZ_BUILD)/build.ninja:
	@scripts/install-deps --check
	CC=clang CXX=clang++ meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=disabled \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) fuzzers
	tests/fuzz/run-fuzzers --build $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) fuzzers
	tests/fuzz/run-fuzzers --smoke --build $(FUZZ_BUILD) --seconds $(FUZZ_SMOKE_SECONDS) \
	  $(FUZZ_TARGETS)

# Direct, nginx two-hop mTLS baseline and ndx, on loopback, in one run
# (bench/README.md); writes bench/results/latest.{json,md}.
bench: deps
	$(MAKE) build
	NDX_BUILD_DIR=$(abspath $(BUILD)) bench/run

# The ndx chain across hosts (bench/README.md "Across hosts"): each agency in a
# network namespace, and 0, 5 and 50 ms each way between the two gateways;
# writes bench/results/hosts-latest.{json,md}. Needs root (namespaces).
.PHONY: bench-hosts
bench-hosts: deps
	$(MAKE) build
	bench/hosts --build $(abspath $(BUILD))

# The misuse detector on a held-out generated month (bench/README.md "Misuse
# detection"): explained share, recall and precision per kind, legitimate
# reads flagged, reads/s; writes bench/results/misuse-latest.{md,json}.
.PHONY: bench-misuse
bench-misuse: $(BUILD)/build.ninja
	ninja -C $(BUILD) src/monitor/ndx-monitor
	NDX_BUILD_DIR=$(abspath $(BUILD)) bench/misuse/run

# Reconciliation of the six sector registries with the population registry
# at scale (bench/README.md "Reconciliation at scale"): seed with defects,
# reconcile through the demo's gateways, precision and recall per kind, time,
# extrapolated to 10 and 100 million; writes bench/results/reconcile-latest.*.
# RECONCILE_CITIZENS=100000,1000000 by default.
RECONCILE_CITIZENS ?= 100000,1000000
.PHONY: bench-reconcile
bench-reconcile: build
	bench/reconcile/run --build $(abspath $(BUILD)) --citizens $(RECONCILE_CITIZENS)

# The population registry on PostgreSQL at national scale (bench/README.md
# "Population registry on PostgreSQL (issue 20)"): its own server started by
# tests/with-postgres, seed time and size, reads by number and by name at 64
# connections (wrk, loopback), fitted and extrapolated to 100 million; writes
# bench/results/population-pg-latest.{json,md}. POPULATION_CITIZENS=100000,200000
# by default (about a minute); the national run is
# `make bench-population POPULATION_CITIZENS=5000000,10000000,20000000`.
POPULATION_CITIZENS ?= 100000,200000
.PHONY: bench-population
bench-population: build
	bench/population-pg/run --build $(abspath $(BUILD)) --citizens $(POPULATION_CITIZENS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(RELEASE_BUILD)

distclean: clean
	rm -rf $(DEMO_DIR)
