# wherefore: make demo (analyse the bundled capture), make test, make bench.
GO      ?= go
BIN     ?= bin/wherefore
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Packages outside ./... (the go tool skips testdata/ in patterns).
EXTRA_PKGS := ./testdata/synth/ ./testdata/gen/ ./testdata/bench/ ./testdata/eval/

.PHONY: all build demo test vet bench eval install setcap deps clean

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

# Analyse the bundled demo capture: alerts on stdout (JSON lines), summary on
# stderr, and the HTML report in demo.html (open it in a browser).
demo: build
	./$(BIN) -pcapfile testdata/demo.pcap -host demo -report demo.html

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

# Detection quality: recall per attack class, delay, false alerts per 1000
# flow-hours on held-out backgrounds, and the alerts on the public captures
# in ../shared/pcaps, one column per configuration. Wherefore's original
# defaults: its -anom_sensitivity 2.0 (which silenced every alert) is given
# as 1, the largest value accepted; its other flags did not exist.
EVAL_ORIGINAL ?= -detectors none -f tcp -anom_methods diff,fence,highrank,lowrank,magnitude -anom_upper_bound 5 -anom_lower_bound 0 -anom_sensitivity 1 -alert_min_bytes 0 -anom_delay=false
# This project's defaults before the detectors of issue 10: the anomaly
# tests alone.
EVAL_PREVIOUS ?= -detectors none -anom_methods magnitude,highrank,lowrank,diff
EVAL_FLAGS ?=
eval: build
	$(GO) run ./testdata/eval -wherefore $(BIN) $(EVAL_FLAGS) \
		-row "Wherefore original defaults=$(EVAL_ORIGINAL)" \
		-row "previous defaults=$(EVAL_PREVIOUS)" \
		-row "new defaults="

# Install the daemon: binary with capture capabilities, systemd unit, a
# config and an environment file for secrets under /etc/wherefore, the
# wherefore system user and its log and archive directories. Existing
# config and env files are kept.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/wherefore
	install -D -m 0644 wherefore.service $(DESTDIR)/etc/systemd/system/wherefore.service
	install -d -m 0750 $(DESTDIR)/etc/wherefore
	@if [ ! -f $(DESTDIR)/etc/wherefore/wherefore.yaml ]; then \
		iface=$$(ip -o route show default 2>/dev/null | awk '{print $$5; exit}'); \
		{ echo "# Written by make install; every key is a flag of wherefore -h."; \
		  echo "i: $${iface:-eth0}"; \
		  echo "l: /var/log/wherefore"; \
		  echo "archive_dir: /var/lib/wherefore/archive"; \
		  echo "metrics_addr: 127.0.0.1:9120"; \
		  echo; cat wherefore.example.yaml; } > $(DESTDIR)/etc/wherefore/wherefore.yaml; \
		chmod 0640 $(DESTDIR)/etc/wherefore/wherefore.yaml; \
		echo "wrote /etc/wherefore/wherefore.yaml (interface $${iface:-eth0})"; \
	fi
	@if [ ! -f $(DESTDIR)/etc/wherefore/wherefore.env ]; then \
		printf '%s\n' '# Secrets for wherefore, read by systemd (EnvironmentFile); mode 0600.' \
			'#WHEREFORE_SLACK_URL=https://hooks.slack.com/services/...' \
			'#WHEREFORE_PAGERDUTY_ROUTING_KEY=...' '#WHEREFORE_WEBHOOK_SECRET=...' \
			'#WHEREFORE_OPSGENIE_API_KEY=...' > $(DESTDIR)/etc/wherefore/wherefore.env; \
		chmod 0600 $(DESTDIR)/etc/wherefore/wherefore.env; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
		id -u wherefore >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /var/lib/wherefore \
			--shell /usr/sbin/nologin wherefore; \
		install -d -o wherefore -g wherefore -m 0750 /var/log/wherefore /var/lib/wherefore /var/lib/wherefore/archive; \
		chgrp wherefore /etc/wherefore /etc/wherefore/wherefore.yaml; \
		$(MAKE) --no-print-directory setcap BIN=$(PREFIX)/bin/wherefore; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
		echo "installed: systemctl enable --now wherefore"; \
	fi

# Let a normal user capture with the binary: only the two capabilities
# libpcap needs, no root.
setcap:
	setcap cap_net_raw,cap_net_admin=eip $(BIN)

clean:
	rm -rf bin bench.txt demo.html
