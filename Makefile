# The README's two commands are `make demo` and `make test`; both install missing
# Debian packages first (scripts/install-deps.sh is idempotent).
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
# Fuzzing (fuzz/README.md): clang's libFuzzer build, and how long `make fuzz` runs each harness.
FUZZ_BUILD ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
LINT_BUILD ?= build-lint
# make install PREFIX=... (DESTDIR=... to stage into a root)
PREFIX ?= /usr/local

.PHONY: all build deps test test-fast test-asan test-fuzz demo bench format clean fuzz fuzz-build lint \
	install install-built uninstall install-python uninstall-python test-python-asan

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# bin/hesse, libhesse.so.* and libhesse.a, include/hesse/, lib/pkgconfig/hesse.pc,
# lib/cmake/hesse/ and share/man/man1/ under PREFIX (docs/library.md). install-built installs
# an already built tree without building (tests/examples/installed.sh uses it); uninstall
# removes every file the last install wrote (BUILD/install_manifest.txt; give the same DESTDIR).
install: build
	@$(MAKE) --no-print-directory install-built

install-built:
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

uninstall:
	@DESTDIR="$(DESTDIR)" cmake -DMANIFEST=$(BUILD)/install_manifest.txt -P cmake/uninstall.cmake

# The Python package (python/hesse, pure Python over libhesse.so) copied into PYTHON_SITE, with
# the installed library's path recorded in hesse/_config.py (docs/python.md). `pip install
# --no-build-isolation ./python` is the other way in, e.g. into a virtual environment.
PYTHON ?= /usr/bin/python3
PYTHON_SITE ?= $(PREFIX)/lib/python$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages
install-python:
	@mkdir -p "$(DESTDIR)$(PYTHON_SITE)/hesse"
	@mkdir -p "$(DESTDIR)$(PYTHON_SITE)/hesse/_tools"
	@cp python/hesse/*.py "$(DESTDIR)$(PYTHON_SITE)/hesse/"
	@cp tools/hesse_export.py tools/hesse_arch.py tools/hesse_st.py tools/models.py "$(DESTDIR)$(PYTHON_SITE)/hesse/_tools/"
	@echo 'LIBRARY = "$(PREFIX)/lib/libhesse.so.0"' > "$(DESTDIR)$(PYTHON_SITE)/hesse/_config.py"
	@echo "install-python: hesse -> $(DESTDIR)$(PYTHON_SITE)/hesse (library $(PREFIX)/lib/libhesse.so.0)"

uninstall-python:
	@rm -rf "$(DESTDIR)$(PYTHON_SITE)/hesse"

# The Python tests against the sanitizer build's libhesse.so, its runtimes preloaded into the
# interpreter (leak detection off: the interpreter's own allocations would be reported; the
# tests check the error paths' frees themselves).
test-python-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHESSE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target hesse_shared hesse_cli
	@LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
		ASAN_OPTIONS=detect_leaks=0 HESSE=$(ASAN_BUILD)/hesse HESSE_LIBRARY=$(ASAN_BUILD)/libhesse.so \
		$(PYTHON) -m pytest -q -p no:cacheprovider python/tests

# Release build: every test. Sanitizer build (ASan + UBSan, with LeakSanitizer): the tests
# labelled `asan`, which include the command-line tests and the fuzz harnesses' smoke runs
# (standalone drivers). Then the same smoke runs under libFuzzer when clang has it.
test: build
	@scripts/install-deps.sh --test
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-fuzz

test-asan: deps
	@scripts/install-deps.sh --test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHESSE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L asan --timeout 900

# libFuzzer smoke runs of every harness (a few seconds each over its seed corpus and a few
# thousand generated inputs); skipped with a note when clang or libFuzzer is missing.
test-fuzz: deps
	@if fuzz/have_libfuzzer.sh $(FUZZ_CC); then \
		$(MAKE) --no-print-directory fuzz-build && \
		cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS) -L fuzz --timeout 300; \
	else \
		echo "test-fuzz: $(FUZZ_CC) cannot build libFuzzer targets (scripts/install-deps.sh --fuzz);" \
			"the standalone fuzz drivers ran in the builds above"; \
	fi

fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=$(FUZZ_CC) -DCMAKE_BUILD_TYPE=Release \
		-DHESSE_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz-harnesses

# Every harness for FUZZ_SECONDS (default 60) at nice 19; FUZZ_JOBS harnesses at a time.
fuzz: deps
	@scripts/install-deps.sh --fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# cppcheck and clang-tidy over src/ and fuzz/ with the checks of .clang-tidy and
# scripts/lint.sh; CI runs it after make test.
lint:
	@scripts/install-deps.sh --lint
	@scripts/lint.sh $(LINT_BUILD)

demo: build
	@scripts/demo.sh

bench: build
	@scripts/install-deps.sh --bench
	@bench/compare.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(LINT_BUILD)
