# sigrid — the two commands a user needs: `make run` and `make test`.
BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc)

.PHONY: all deps build run test test-build unit e2e fuzz-replay clean format lint

all: build

deps:
	@bash scripts/install-deps.sh

# Builds are quiet: the full compiler output goes to <build>/build.log, shown on failure.
# `make V=1 ...` prints everything.
V ?= 0
ifeq ($(V),1)
  QUIET_BUILD = cmake --build $(1) -j$(JOBS)
else
  QUIET_BUILD = echo "build: $(1)/ (log: $(1)/build.log)"; \
	cmake --build $(1) -j$(JOBS) >$(1)/build.log 2>&1 || { \
	  grep -E -A5 "error|Error|undefined reference" $(1)/build.log | head -n 80; \
	  echo "build failed: see $(1)/build.log"; exit 1; }; \
	w=$$(grep -cE "warning:" $(1)/build.log); if [ "$$w" -gt 0 ]; then \
	  grep -E "warning:" $(1)/build.log | sort -u | head -n 5; \
	  echo "build: $$w compiler warning line(s), see $(1)/build.log"; fi
endif

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@$(call QUIET_BUILD,$(BUILD))

run: build
	./$(BUILD)/sigrid serve $(ARGS)

# Test build: clang, -Wall -Wextra -Werror, ASan + UBSan (LSan on), libFuzzer targets.
test-build: deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	      -DSIGRID_TEST=ON -DSIGRID_FUZZ=ON >/dev/null
	@$(call QUIET_BUILD,$(TEST_BUILD))

test: test-build
	@bash scripts/run-tests.sh $(TEST_BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'bench/*.c')

lint:
	@bash scripts/lint.sh
