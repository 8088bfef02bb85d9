# kagi — the two commands: `make run` and `make test`. See README.md.
JOBS ?= $(shell nproc)
BUILD ?= build/release
TEST_BUILD ?= build/asan

.PHONY: all run test deps test-deps build test-build bench clean fuzz

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

test: test-build build
	@cd $(TEST_BUILD) && KAGI_RELEASE_BIN=$(CURDIR)/$(BUILD)/kagi ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench: build
	@bash scripts/install-deps.sh bench
	@bash bench/run.sh $(BUILD)

clean:
	rm -rf build
