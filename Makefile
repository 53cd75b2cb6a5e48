# foureyes: the four-eyes rule for official social-media accounts.
#   make run    build and run the daemon for this user (loads nothing into your browser by itself:
#               README.md, first section, says how to load the extension)
#   make test   install test dependencies and run every test
#   make bench  benchmarks (figures in daemon/docs/benchmarks.md)
#   make packages  what IT deploys, into artifacts/packages/ (installer/README.md): .deb, .rpm,
#               the CRX and update.xml, the XPI, the browser policies, and the Windows and
#               macOS packages where their build scripts are present

GO      ?= go
BIN     ?= bin/foureyes
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build run test bench packages deps-run deps-test clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./daemon/cmd/foureyes

deps-run:
	bash .ci/deps.sh run

deps-test:
	bash .ci/deps.sh test

run: deps-run build
	$(BIN) extension allow --dev
	$(BIN) daemon

test: deps-test
	bash .ci/test.sh

bench: deps-test
	bash daemon/scripts/bench.sh

packages: deps-test
	bash installer/build.sh

clean:
	rm -rf bin artifacts
