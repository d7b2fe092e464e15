SWIFT ?= swift
BUILD_FLAGS ?=

.PHONY: build demo test bench release clean

build:
	$(SWIFT) build $(BUILD_FLAGS)

# Build, then compile the bundled example cluster and print its ruleset.
demo: build
	$(SWIFT) run -q svc2nft compile $$(cat fixtures/shop/args) fixtures/shop/input.yaml

# Every test: unit, golden fixtures, and (as root with nft) kernel and packet tests.
test:
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	$(SWIFT) test --skip-build $(BUILD_FLAGS)

release:
	$(SWIFT) build -c release

clean:
	rm -rf .build
