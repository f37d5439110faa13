# kinsta-opsd: build and install. `make install` honours PREFIX and DESTDIR (for packaging).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(DESTDIR)$(PREFIX)/bin
UNITDIR ?= /etc/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
CONFDIR ?= /etc/kinsta-opsd
DOCDIR = $(DESTDIR)$(PREFIX)/share/doc/kinsta-opsd
BASHCOMPDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
RELEASE = .build-release/release

.PHONY: build test demo install uninstall
build:
	scripts/install-deps.sh
	swift build -c release --scratch-path .build-release

test:
	scripts/test.sh

demo:
	scripts/demo.sh

install: build
	install -d $(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(CONFDIR) $(DOCDIR) \
		$(BASHCOMPDIR) $(ZSHCOMPDIR) $(FISHCOMPDIR)
	install -m 0755 $(RELEASE)/kinsta-opsd $(RELEASE)/kinsta-ops $(RELEASE)/kinsta-sim $(BINDIR)/
	sed 's#/usr/local/bin/kinsta-opsd#$(PREFIX)/bin/kinsta-opsd#' systemd/kinsta-opsd.service \
		> $(DESTDIR)$(UNITDIR)/kinsta-opsd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/kinsta-opsd.service
	install -m 0644 systemd/kinsta-opsd.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/kinsta-opsd.conf
	# An existing configuration is never overwritten.
	[ -e $(DESTDIR)$(CONFDIR)/kinsta-opsd.toml ] || install -m 0644 config/kinsta-opsd.toml $(DESTDIR)$(CONFDIR)/
	install -m 0644 README.md docs/architecture.md $(DOCDIR)/
	$(RELEASE)/kinsta-ops --generate-completion-script bash > $(BASHCOMPDIR)/kinsta-ops
	$(RELEASE)/kinsta-ops --generate-completion-script zsh > $(ZSHCOMPDIR)/_kinsta-ops
	$(RELEASE)/kinsta-ops --generate-completion-script fish > $(FISHCOMPDIR)/kinsta-ops.fish

uninstall:
	rm -f $(BINDIR)/kinsta-opsd $(BINDIR)/kinsta-ops $(BINDIR)/kinsta-sim
	rm -f $(DESTDIR)$(UNITDIR)/kinsta-opsd.service $(DESTDIR)$(SYSUSERSDIR)/kinsta-opsd.conf
	rm -f $(BASHCOMPDIR)/kinsta-ops $(ZSHCOMPDIR)/_kinsta-ops $(FISHCOMPDIR)/kinsta-ops.fish
	rm -rf $(DOCDIR)
	@echo "kept $(DESTDIR)$(CONFDIR) and /var/lib/kinsta-opsd (configuration and job history)"
