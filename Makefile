# wherefore: make demo (analyse the bundled capture), make test, make bench.
GO      ?= go
BIN     ?= bin/wherefore
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Packages outside ./... (the go tool skips testdata/ in patterns).
EXTRA_PKGS := ./testdata/synth/ ./testdata/gen/ ./testdata/bench/

.PHONY: all build demo test vet bench install setcap deps clean

all: build

# libpcap's headers are needed to build; install them when missing (as root
# with apt-get), or say how.
deps:
	@if [ ! -f /usr/include/pcap.h ] && [ ! -f /usr/include/pcap/pcap.h ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing libpcap-dev"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpcap-dev >/dev/null; \
		else \
			echo "libpcap headers missing: run 'sudo apt-get install libpcap-dev' (Debian/Ubuntu)" >&2; exit 1; \
		fi; \
	fi
	@command -v tcpdump >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump >/dev/null || true; }

build: deps
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# Analyse the bundled demo capture: alerts on stdout (JSON lines), summary on stderr.
demo: build
	./$(BIN) -pcapfile testdata/demo.pcap -host demo

vet: deps
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./... $(EXTRA_PKGS)

test: vet
	$(GO) test -race -count=1 -timeout 20m ./... $(EXTRA_PKGS)

# Whole-process throughput and memory on generated captures, against
# tcpdump on the same files, plus the Go micro-benchmarks.
bench: build
	$(GO) run ./testdata/bench -wherefore $(BIN)
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./capture/ ./flow/ ./anomaly/ | tee bench.txt

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/wherefore
	$(MAKE) --no-print-directory setcap BIN=$(DESTDIR)$(PREFIX)/bin/wherefore

# Let a normal user capture with the binary: only the two capabilities
# libpcap needs, no root.
setcap:
	setcap cap_net_raw,cap_net_admin=eip $(BIN)

clean:
	rm -rf bin bench.txt
