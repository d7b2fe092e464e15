SWIFT ?= swift
BUILD_FLAGS ?=

.PHONY: deps build demo test bench release clean format fuzz

# Installs missing Debian packages (as root), or names them and stops.
deps:
	@scripts/install-deps

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

# Build, then compile the bundled example cluster and print its ruleset.
demo: build
	$(SWIFT) run -q svc2nft compile $$(cat fixtures/shop/args) fixtures/shop/input.yaml

# Every test: unit, golden fixtures, and (as root with nft) kernel and packet tests.
test: deps
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	$(SWIFT) test --skip-build $(BUILD_FLAGS)

release:
	$(SWIFT) build -c release

clean:
	rm -rf .build

# Speed and memory: 1,000 and 10,000 Services x 10 endpoints, side by side with nft -f,
# Python's json.load and kube-proxy's partial sync of one Service (root); growth to 50,000.
bench:
	$(SWIFT) build -c release
	.build/release/svc2nft-bench run $(BENCH_FLAGS)

# The input layer under libFuzzer for FUZZ_SECONDS (README "Fuzzing"); findings in .build/fuzz/crashes.
FUZZ_SECONDS ?= 600
fuzz: deps
	SWIFT=$(SWIFT) scripts/fuzz $(FUZZ_SECONDS)

# Format as swift format does, with the committed .swift-format.
format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift
