# SPDX-License-Identifier: BSD-3-Clause
# Makefile - the front door of libleader's build. It installs what is
# missing (scripts/bootstrap), then drives CMake out of tree and CTest:
#
#   make               build everything in build/
#   make test          build, then run the whole suite through CTest (the
#                      integration tests against Redis, then Valkey too)
#   make asan          the suite under AddressSanitizer + UBSan (build-asan/)
#   make tsan          the suite under ThreadSanitizer (build-tsan/)
#   make demo          build, then run scripts/demo
#   make bench         build, then print handover and failover figures
#   make fuzz          run each libFuzzer target FUZZ_SECONDS (default 60)
#   make chaos         a chaos soak of SECONDS (default 600), random seed
#   make model         the Promela models of the protocol, checked with spin
#   make abi-check     libleader.so's ABI against abi/libleader.abi
#   make check-bare    the README's quick start in a throwaway bare Debian 12
#                      root (debootstrap; root and network needed)
#   make install       build the library and the CLI, then install them under
#                      $(PREFIX) (default /usr/local), staged in $(DESTDIR)
#   make uninstall     remove what make install installs (same PREFIX, DESTDIR)
#   make dist          libleader-X.Y.Z.tar.gz: the committed tree, from git
#   make deb           the Debian packages, built from a copy of the tree in
#                      build-deb/ and checked with lintian
#   make format        clang-format -i every C file
#   make format-check  fail if any C file is not formatted
#   make clean         remove the build directories (distclean: also .deps/)

SHELL := /bin/bash
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
JOBS ?= 2

# hiredis built by scripts/bootstrap, when the system has no hiredis >= 1.0.
export PKG_CONFIG_PATH := $(ROOT)/.deps/prefix/lib/pkgconfig$(if \
	$(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
# The redis-server link scripts/bootstrap makes when there is none on PATH;
# last, so that a real redis-server on PATH wins.
export PATH := $(PATH):$(ROOT)/.deps/bin
# For scripts/demo and other scripts run from here.
export LEADER_BUILD_DIR := $(ROOT)/build

# Our own make flags (-j, jobserver) must not leak into the make that CMake
# runs: it gets -j$(JOBS) itself.
CLEAN_ENV := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL

# configure DIR, CMAKE-ARGS: configure DIR unless it already is. Later
# changes to CMakeLists.txt are picked up by the build step itself.
define configure
	@if [ ! -f $(1)/CMakeCache.txt ] || [ ! -f $(1)/Makefile ]; then \
		$(CLEAN_ENV) cmake -S $(ROOT) -B $(1) $(2); \
	fi
endef

define cmake-build
	@$(CLEAN_ENV) cmake --build $(1) -j$(JOBS)
endef

# run-tests DIR: the whole suite; CTest's summary is the last output.
define run-tests
	@$(CLEAN_ENV) ctest --test-dir $(1) --output-on-failure -j$(JOBS)
endef

ASAN_ENV := ASAN_OPTIONS=halt_on_error=1:print_stacktrace=1:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

FORMAT_DIRS := include src tools examples tests bench bindings

.PHONY: all bootstrap build test asan tsan demo bench fuzz format format-check clean \
	distclean chaos check-bare abi-check abi-baseline install uninstall dist deb \
	model

all: build

bootstrap:
	@$(ROOT)/scripts/bootstrap

build: bootstrap
	$(call configure,$(ROOT)/build,)
	$(call cmake-build,$(ROOT)/build)

test: build
	$(call run-tests,$(ROOT)/build)

asan: bootstrap
	$(call configure,$(ROOT)/build-asan,-DCMAKE_BUILD_TYPE=Debug -DLEADER_ASAN=ON)
	$(call cmake-build,$(ROOT)/build-asan)
	@export $(ASAN_ENV); $(CLEAN_ENV) ctest --test-dir $(ROOT)/build-asan \
		--output-on-failure -j$(JOBS)

tsan: bootstrap
	$(call configure,$(ROOT)/build-tsan,-DCMAKE_BUILD_TYPE=Debug -DLEADER_TSAN=ON)
	$(call cmake-build,$(ROOT)/build-tsan)
	@export $(TSAN_ENV); $(CLEAN_ENV) ctest --test-dir $(ROOT)/build-tsan \
		--output-on-failure -j$(JOBS)

demo: build
	@$(ROOT)/scripts/demo

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := url reply cluster

# Each target runs on a scratch copy of its corpus; what it finds is kept
# in build-fuzz/found-<target>/ (add a regression test and the input to
# tests/fuzz/corpus/ for each).
fuzz:
	@$(ROOT)/scripts/bootstrap fuzz
	$(call configure,$(ROOT)/build-fuzz,-DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=Debug -DLEADER_ASAN=ON -DLEADER_FUZZ=ON)
	$(call cmake-build,$(ROOT)/build-fuzz)
	@set -e; for t in $(FUZZ_TARGETS); do \
		work=$(ROOT)/build-fuzz/corpus-$$t; mkdir -p $$work \
			$(ROOT)/build-fuzz/found-$$t; \
		cp -n $(ROOT)/tests/fuzz/corpus/$$t/* $$work/; \
		echo "fuzz $$t for $(FUZZ_SECONDS) s"; \
		$(ROOT)/build-fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(ROOT)/build-fuzz/found-$$t/ \
			-print_final_stats=1 $$work 2>&1 | tail -n 12; \
	done

bench: build
	@$(ROOT)/scripts/bootstrap bench
	@$(ROOT)/bench/run $(if $(QUICK),--quick)

# A long run of tests/chaos/leader-chaos on a random seed (printed, with
# the command that replays it); the summary table is the last output.
chaos: build
	@$(CLEAN_ENV) cmake --build $(ROOT)/build --target leader-chaos -j$(JOBS)
	@$(ROOT)/build/tests/chaos/leader-chaos --seconds $(or $(SECONDS),600)

# The Promela models of the protocol, checked with spin (model/README.md);
# SECONDS per search (default 120).
model:
	@command -v spin >/dev/null || $(ROOT)/scripts/bootstrap model
	@$(ROOT)/model/check.sh $(or $(SECONDS),120)

# Not part of `make test`: it downloads a base system.
check-bare:
	@$(ROOT)/scripts/check-bare

PREFIX ?= /usr/local

# What is installed: the library and the CLI (built in build/, which the
# suite shares; the tests themselves need not be built to install).
install: bootstrap
	$(call configure,$(ROOT)/build,)
	@$(CLEAN_ENV) cmake --build $(ROOT)/build -j$(JOBS) \
		--target leader_shared leader_static leader
	@DESTDIR="$(DESTDIR)" cmake --install $(ROOT)/build --prefix "$(PREFIX)"

# Removes the files an install of build/ with this PREFIX writes under
# DESTDIR, and libleader's own directories (cmake/LeaderUninstall.cmake).
uninstall: bootstrap
	$(call configure,$(ROOT)/build,)
	@$(CLEAN_ENV) cmake --build $(ROOT)/build -j$(JOBS) \
		--target leader_shared leader_static leader
	@DESTDIR="$(DESTDIR)" cmake -DBUILD_DIR=$(ROOT)/build -DPREFIX="$(PREFIX)" \
		-P $(ROOT)/cmake/LeaderUninstall.cmake

dist:
	@$(ROOT)/scripts/dist

deb: bootstrap
	@$(ROOT)/scripts/bootstrap deb
	@$(ROOT)/scripts/deb $(ROOT)/build-deb

# The ABI of libleader.so against the baseline in abi/ (docs/abi.md):
# fails on an incompatible change; abi-baseline records a new one.
abi-check abi-baseline: bootstrap
	@$(ROOT)/scripts/bootstrap abi
	$(call configure,$(ROOT)/build-abi,-DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DLEADER_TESTS=OFF -DLEADER_CLI=OFF -DLEADER_EXAMPLES=OFF)
	@$(CLEAN_ENV) cmake --build $(ROOT)/build-abi -j$(JOBS) --target leader_shared
	@$(ROOT)/scripts/abi $(if $(filter abi-baseline,$@),--baseline) \
		$(ROOT)/build-abi/libleader.so

# Every C file of ours (not bench/'s node_modules).
FORMAT_FILES = $(shell cd $(ROOT) && find $(FORMAT_DIRS) \
	-name node_modules -prune -o -name '*.[ch]' -print 2>/dev/null)

format:
	@command -v clang-format >/dev/null || \
		{ echo "clang-format missing: apt-get install clang-format"; exit 1; }
	@cd $(ROOT) && $(if $(FORMAT_FILES),clang-format -i $(FORMAT_FILES),true)

format-check:
	@command -v clang-format >/dev/null || \
		{ echo "clang-format missing: apt-get install clang-format"; exit 1; }
	@cd $(ROOT) && $(if $(FORMAT_FILES),clang-format --dry-run --Werror \
		$(FORMAT_FILES),true)

clean:
	rm -rf $(ROOT)/build $(ROOT)/build-asan $(ROOT)/build-tsan $(ROOT)/build-fuzz \
		$(ROOT)/build-abi \
		$(ROOT)/build-deb

distclean: clean
	rm -rf $(ROOT)/.deps
