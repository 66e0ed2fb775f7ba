# sigrid — the two commands a user needs: `make run` and `make test`.
BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc)

.PHONY: all deps build run test test-build unit e2e fuzz-replay clean format lint

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/sigrid serve $(ARGS)

# Test build: clang, -Wall -Wextra -Werror, ASan + UBSan (LSan on), libFuzzer targets.
test-build: deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	      -DSIGRID_TEST=ON -DSIGRID_FUZZ=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j$(JOBS)

test: test-build
	@bash scripts/run-tests.sh $(TEST_BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'bench/*.c')

lint:
	@bash scripts/lint.sh
