# hibernate: `make demo` shows a computation surviving a power-off; `make test` proves it all.
GO       ?= go
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    := build
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/hibernate-linux/hibernate/cmd/hibernate/cli.Version=$(VERSION)
GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
BASE     := $(BUILD)/lib/hibernate/initramfs-base.cpio
# What goes into the initramfs base: /init and everything it imports.
BASE_SRC := $(shell find cmd/hibernate-init internal -name '*.go' -not -name '*_test.go') go.mod go.sum
# Kernels, Debian roots and peers' builds live outside the clone, keyed by what they are built
# from, so that every clone on a machine (CI's among them) reuses them. The Go code finds the same
# folder (internal/testutil.CacheDir).
export HIBERNATE_CACHE ?= $(or $(XDG_CACHE_HOME),$(or $(HOME),/var/tmp)/.cache)/hibernate

.PHONY: all build deps kernels demo test vet unit e2e fuzz-short fuzz fixtures install install-check deb deb-check deb-test clean bench FORCE

all: build

build: $(BUILD)/bin/hibernate $(BUILD)/bin/hibernate-guest-agent $(BUILD)/bin/hibernate-demo-job $(BASE)

# What ships is under cmd/; the guest agent and the demo job are the tests' (qemu-tests/cmd/).
$(BUILD)/bin/hibernate: FORCE
	$(GOBUILD) -o $@ ./cmd/hibernate

# Those two carry no version: stamped, their bytes (and the guest disks and the tools guest's
# initramfs cached with them, keyed by what they hold) would change with every commit.
$(BUILD)/bin/hibernate-%: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $@ ./qemu-tests/cmd/hibernate-$*

# The u-root part of the initramfs, compiled once with hibernate (needs the Go toolchain);
# `hibernate initramfs build` adds a kernel's modules to it on the user's machine.
$(BASE): $(BASE_SRC)
	$(GO) run ./internal/initramfs/mkbase -o $@

deps:
	qemu-tests/scripts/deps.sh

# The kernels the guests boot: Debian 12's generic and cloud kernels (bookworm: Linux 6.1) and Debian
# 13's (trixie: Linux 6.12), each suite through apt lists of its own in the cache (fetch-kernel.sh
# says how; the machine's apt configuration is not changed), so that the guests are the same
# whatever the host's release (scenario.DefaultFlavour).
kernels: deps
	qemu-tests/scripts/fetch-kernel.sh bookworm-amd64 $(HIBERNATE_CACHE)/kernels >/dev/null
	qemu-tests/scripts/fetch-kernel.sh bookworm-cloud-amd64 $(HIBERNATE_CACHE)/kernels >/dev/null
	qemu-tests/scripts/fetch-kernel.sh trixie-amd64 $(HIBERNATE_CACHE)/kernels >/dev/null

demo: deps kernels build
	$(GO) run ./qemu-tests/cmd/demo

# gofmt, imports in three groups (standard, others, this module's), go vet, every import
# running down the layers (tools/layercheck, drawn in docs/architecture.md), go.mod tidy.
GOFILES = $$(git ls-files -co --exclude-standard '*.go')
vet:
	@test -z "$$(gofmt -l $(GOFILES))" || { echo "gofmt needed:"; gofmt -l $(GOFILES); exit 1; }
	@test -z "$$($(GO) tool goimports -local github.com/hibernate-linux/hibernate -l $(GOFILES))" || \
		{ echo "imports to group (go tool goimports -local github.com/hibernate-linux/hibernate -w FILE):"; \
		$(GO) tool goimports -local github.com/hibernate-linux/hibernate -l $(GOFILES); exit 1; }
	$(GO) vet ./...
	$(GO) run ./tools/layercheck
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod is not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

unit: kernels build
	$(GO) test -timeout 10m $$($(GO) list ./... | grep -v /qemu-tests/scenario)

# End-to-end scenarios in QEMU guests (each keeps its logs under build/test-logs/), in two
# groups side by side (qemu-tests/scripts/e2e.sh: the Debian guests, the rest).
# TestDebianFromPackage installs the .deb in a Debian guest: make deb first (a tree with changes
# allowed, as for deb-check).
e2e: deps kernels build
	@$(MAKE) -s deb DEB_ALLOW_DIRTY=1 >/dev/null
	GO=$(GO) qemu-tests/scripts/e2e.sh

FUZZTIME ?= 5s
FUZZ_TARGETS := \
	./internal/swsusp:FuzzParsePage0 ./internal/swsusp:FuzzReadArea ./internal/swsusp:FuzzDecodeRecord \
	./internal/initramfs/modules:FuzzModinfo ./internal/initramfs/modalias:FuzzMatch ./internal/resume:FuzzParseCmdline \
	./internal/blockdev:FuzzProbe ./internal/initramfs:FuzzInspect ./internal/sysfs:FuzzParseMounts \
	./internal/resume:FuzzDiskPath ./internal/units:FuzzParseBytes ./internal/crypttab:FuzzParse \
	./internal/initramfs/elfdeps:FuzzParseObject ./internal/efivars:FuzzParseHibernateLocation ./internal/efivars:FuzzParseOSRelease \
	./internal/hibernate:FuzzFreezeFromLog ./internal/sdboot:FuzzParseEntry ./internal/initramfs/config:FuzzParseDevices

# A failing input the fuzzer finds is saved under the package's testdata/fuzz and fails the run
# again with -fuzztime=1x: then the target fails. A run that failed with no such input (its
# worker hung or was killed: seen once in a clean-clone make test on a loaded host) is said, its
# output shown, and not taken for a finding.
fuzz-short:
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg >"$$log" 2>&1 && continue; \
		$(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=1x $$pkg || exit 1; \
		echo "fuzz $$fn: WARNING: the run failed, but no failing input was saved (the rerun of its corpus passed); its output:"; \
		tail -n 20 "$$log"; \
	done

fuzz:
	$(MAKE) fuzz-short FUZZTIME=2m

# Real-image fixtures of internal/swsusp, captured from QEMU guests (committed; run again by hand).
fixtures: deps kernels build
	$(GO) run ./qemu-tests/cmd/capture-fixtures -out internal/swsusp/testdata

# deb-check here allows a dirty tree: it checks the packaging, not a release.
test: vet unit install-check deb-test fuzz-short e2e

deb-test:
	@$(MAKE) -s deb-check DEB_ALLOW_DIRTY=1

# Ours against initramfs-tools and dracut on the same kernel, disk and image (not part of test),
# and on an encrypted LVM machine against initramfs-tools with cryptsetup-initramfs: writes
# docs/benchmarks.md and docs/benchmarks-resume.png; the peers' chroots are made once
# (debootstrap) under $(HIBERNATE_CACHE)/debroot. About 40 minutes, the floor and hibernate now's share
# under -icount (the guest's clock) among them; BENCH_ONLY=luks runs the
# encrypted section alone (4 to 16 minutes with the host's load) and rewrites only its part of
# docs/benchmarks.md; BENCH_ONLY=floor (ours against the smallest initramfs, 2 minutes; with
# BENCH_ARGS='-icount 3' by the guest's clock, in two rounds, 4 minutes) and
# BENCH_ONLY=compressor (lzo against lz4 on Debian 13's kernel, 2 minutes) and BENCH_ONLY=scale
# (512 MiB to 4 GiB guests, 5 minutes, and docs/benchmarks-scale.png) and BENCH_ONLY=imagesize
# (--image-size kernel, min and auto against the job's interruption, 3 minutes) and BENCH_ONLY=firmware
# (power on to the job through OVMF and GRUB, ours against initramfs-tools, 7 minutes) likewise, and
# BENCH_ONLY=hibernate BENCH_ARGS='-icount 3' (hibernate now's share by the guest's clock, check by
# check, 3 minutes). BENCH_ARGS goes to qemu-tests/bench/cmd/bench as it is (-pairs N, -icount N).
# The floor's /init is C, built static with gcc.
BENCH_ONLY ?=
BENCH_ARGS ?=
bench: deps kernels build
	@command -v gnuplot >/dev/null || apt-get install -y -q gnuplot-nox
	@command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
	@{ command -v gcc >/dev/null && [ -f /usr/lib/x86_64-linux-gnu/libc.a ]; } || apt-get install -y -q gcc libc6-dev
	$(GO) run ./qemu-tests/bench/cmd/bench $(if $(BENCH_ONLY),-only $(BENCH_ONLY)) $(BENCH_ARGS)

# Installs the binary, its initramfs base, the Debian kernel hooks that build an initramfs for
# every kernel installed (and remove it with the kernel), the systemd units of hibernate watch
# and of the canary (none enabled), the drop-ins that put systemd-sleep's hibernation through
# hibernate prepare (systemctl daemon-reload after, on a running systemd) and the docs. DESTDIR and PREFIX are honoured; the hooks go to $(DESTDIR)/etc/kernel.
install: build
	install -D -m 0755 $(BUILD)/bin/hibernate $(DESTDIR)$(PREFIX)/sbin/hibernate
	install -D -m 0644 $(BASE) $(DESTDIR)$(PREFIX)/lib/hibernate/initramfs-base.cpio
	sed 's|@PREFIX@|$(PREFIX)|g' dist/kernel/zz-hibernate.in > $(BUILD)/zz-hibernate
	install -D -m 0755 $(BUILD)/zz-hibernate $(DESTDIR)/etc/kernel/postinst.d/zz-hibernate
	install -D -m 0755 $(BUILD)/zz-hibernate $(DESTDIR)/etc/kernel/postrm.d/zz-hibernate
	for u in hibernate-watch.service hibernate-canary.service hibernate-canary.timer; do \
		install -D -m 0644 dist/systemd/$$u $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u && \
		sed -i 's|/usr/local/sbin/hibernate|$(PREFIX)/sbin/hibernate|g' $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u || exit 1; done
	for v in hibernate hybrid-sleep suspend-then-hibernate; do \
		install -d $(DESTDIR)$(PREFIX)/lib/systemd/system/systemd-$$v.service.d && \
		sed 's|@PREFIX@|$(PREFIX)|g; s|@VERB@|'$$v'|g' dist/systemd/sleep-dropin.conf.in \
			> $(DESTDIR)$(PREFIX)/lib/systemd/system/systemd-$$v.service.d/hibernate.conf || exit 1; done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	install -d $(DESTDIR)$(PREFIX)/share/doc/hibernate
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/hibernate/

# make install into a temporary folder: every file in place, the hooks' shell syntax sound.
install-check: build
	@d=$$(mktemp -d) && $(MAKE) -s install DESTDIR=$$d PREFIX=/usr >/dev/null && \
	for f in usr/sbin/hibernate usr/lib/hibernate/initramfs-base.cpio etc/kernel/postinst.d/zz-hibernate \
		etc/kernel/postrm.d/zz-hibernate usr/lib/systemd/system/hibernate-watch.service usr/lib/systemd/system/hibernate-canary.service \
		usr/lib/systemd/system/hibernate-canary.timer usr/share/doc/hibernate/guide.md; do \
		test -e $$d/$$f || { echo "install-check: $$f missing"; rm -rf $$d; exit 1; }; done && \
	grep -q '^ExecStart=/usr/sbin/hibernate canary$$' $$d/usr/lib/systemd/system/hibernate-canary.service && \
	grep -q '^ExecStart=/usr/sbin/hibernate watch$$' $$d/usr/lib/systemd/system/hibernate-watch.service && \
	{ ! grep -Eq '^(PrivateTmp|ProtectHome|ProtectSystem)=' $$d/usr/lib/systemd/system/hibernate-watch.service || \
		{ echo "install-check: hibernate-watch.service hides /tmp or /home from the hooks it runs"; rm -rf $$d; exit 1; }; } && \
	for v in hibernate hybrid-sleep suspend-then-hibernate; do \
		grep -qx "ExecStartPre=/usr/sbin/hibernate prepare --for $$v" $$d/usr/lib/systemd/system/systemd-$$v.service.d/hibernate.conf || \
		{ echo "install-check: the drop-in of systemd-$$v.service does not run hibernate prepare --for $$v"; rm -rf $$d; exit 1; }; done && \
	sh -n $$d/etc/kernel/postinst.d/zz-hibernate && grep -q '/usr/sbin/hibernate initramfs build' $$d/etc/kernel/postinst.d/zz-hibernate && \
	echo "install-check: ok" && rm -rf $$d

# The Debian package: build/hibernate_VERSION_amd64.deb (dist/deb/build.sh says how; the
# version is dist/deb/version.sh's). Refuses a dirty tree unless DEB_ALLOW_DIRTY=1.
DEB = $(BUILD)/hibernate_$(shell dist/deb/version.sh)_amd64.deb
deb: $(BASE)
	@dist/deb/build.sh $(BUILD) $(BASE)

# The .deb checked: lintian (no error), the man pages rendered by man without a warning, the
# completions' tests, and a second build from nothing (its own initramfs base too, in
# $(BUILD)/repro) that must give the same bytes. Under a minute, most of it the second base;
# make test runs it.
deb-check: deb
	@command -v lintian >/dev/null || apt-get install -y -q lintian
	@command -v man >/dev/null || apt-get install -y -q man-db
	@echo "lintian $(DEB)" && lintian --fail-on error $(DEB)
	@for p in $(BUILD)/deb/root/usr/share/man/man8/*.8.gz; do \
		w=$$(MANWIDTH=80 man -l --warnings $$p 2>&1 >/dev/null); \
		test -z "$$w" || { echo "man -l $$p:"; echo "$$w"; exit 1; }; done; echo "man pages: render without a warning"
	$(GO) test -count=1 ./tools/gendoc/
	@rm -rf $(BUILD)/repro && $(MAKE) -s deb BUILD=$(BUILD)/repro >/dev/null && \
	a=$(DEB) && b=$(BUILD)/repro/$(notdir $(DEB)) && \
	if cmp -s $$a $$b; then echo "reproducible: $$(sha256sum < $$a | cut -c1-64) twice"; \
	else echo "NOT reproducible: $$a and $$b differ"; sha256sum $$a $$b; exit 1; fi

clean:
	rm -rf $(BUILD)

FORCE:
