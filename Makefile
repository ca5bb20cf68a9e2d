# The README's two commands are `make demo` and `make test`; both install missing
# Debian packages first (scripts/install-deps.sh is idempotent).
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all build deps test test-fast test-asan demo bench format clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Release build: every test. Sanitizer build (ASan + UBSan): the tests labelled `asan`.
test: build
	@scripts/install-deps.sh --test
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900
	@$(MAKE) --no-print-directory test-asan

test-asan: deps
	@scripts/install-deps.sh --test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHESSE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L asan --timeout 900

demo: build
	@scripts/demo.sh

bench: build
	@scripts/install-deps.sh --bench
	@bench/compare.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
