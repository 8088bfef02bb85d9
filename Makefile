# kagi — the two commands: `make run` and `make test`. See README.md.
JOBS ?= $(shell nproc)
BUILD ?= build/release
TEST_BUILD ?= build/asan
# ThreadSanitizer build of the unit tests that run threads (only those are
# built and run there: TSAN_TESTS)
TSAN_BUILD ?= build/tsan
TSAN_TESTS ?= test_risk_concurrent test_risk_entity test_store_commit test_http

.PHONY: all run test deps test-deps build test-build tsan-build test-tsan bench clean fuzz fuzz-build \
	fuzz-run test-fuzz install deb

all: build

deps:
	@bash scripts/install-deps.sh build

test-deps:
	@bash scripts/install-deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKG_DEV=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@bash scripts/run.sh $(BUILD)

test-build: test-deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKG_DEV=ON -DKG_SANITIZE=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)

tsan-build: test-deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKG_DEV=ON -DKG_TSAN=ON >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TESTS)

# halt_on_error: a race fails the test (TSan's exit code 66)
test-tsan: tsan-build
	@cd $(TSAN_BUILD) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		ctest --output-on-failure -j $(JOBS) -R '^unit\.($(subst $() ,|,$(strip $(TSAN_TESTS))))$$'

test: test-build build tsan-build fuzz-build
	@cd $(TEST_BUILD) && KAGI_RELEASE_BIN=$(CURDIR)/$(BUILD)/kagi ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-fuzz

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the default policy,
# templates, console files, a sample config and the systemd unit
# (docs/operations.md "Installing"). make deb: the Debian package (debian/).
PREFIX ?= /usr/local
install: deps
	@cmake -S . -B build/install -DCMAKE_BUILD_TYPE=Release -DKG_DEV=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build build/install -j $(JOBS) --target kagi
	@DESTDIR=$(DESTDIR) cmake --install build/install

deb: deps
	@bash scripts/build-deb.sh

bench: build
	@bash scripts/install-deps.sh bench
	@bash bench/run.sh $(BUILD)

# libFuzzer (clang, ASan+UBSan) on every tests/fuzz/fuzz_<name>.c, each for
# FUZZ_SECONDS; FUZZ_TARGETS="rules event" picks some. New inputs are kept in
# build/fuzz/corpus-<name>, crashes in build/fuzz/crash-<name>-*. `make test`
# replays the seed corpora (tests/fuzz/corpus/<name>) without libFuzzer, and
# then fuzzes every target for FUZZ_TEST_SECONDS (make test-fuzz; about
# 1.5 minutes for all of them, the http target starts a server each time).
# docs/fuzzing.md.
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 6
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz-build:
	@bash scripts/install-deps.sh fuzz
	@CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DKG_DEV=ON -DKG_FUZZ=ON >/dev/null
	@cmake --build build/fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@$(MAKE) --no-print-directory fuzz-run

test-fuzz: fuzz-build
	@$(MAKE) --no-print-directory fuzz-run FUZZ_SECONDS=$(FUZZ_TEST_SECONDS)

fuzz-run:
	@failed=; for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus-$$t; \
		dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
		data=; [ -d tests/data/$$t ] && data=tests/data/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		build/fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			-artifact_prefix=build/fuzz/crash-$$t- $$dict \
			build/fuzz/corpus-$$t tests/fuzz/corpus/$$t $$data >build/fuzz/log-$$t.txt 2>&1 \
			|| { failed="$$failed $$t"; tail -40 build/fuzz/log-$$t.txt; }; \
		tail -1 build/fuzz/log-$$t.txt; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed (build/fuzz/crash-*, build/fuzz/log-*.txt)"; exit 1; fi
