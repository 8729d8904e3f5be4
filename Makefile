# smaudit: passive port-matrix auditor for Cisco SocialMiner hosts.
#
#   make            build build/smaudit
#   make deps       install what is missing (apt-get; sudo when not root)
#   make run        deps + build + audit the demo capture + print findings
#   make test       deps + build + the whole test suite (Criterion)
#   make sanitize   the test suite under ASan + UBSan
#   make fuzz       libFuzzer on the packet path (FUZZ_SECONDS=60)
#   make bench      speed and memory benchmarks
#   make report-check  the demo's audit report, checked by an HTML5 parser and
#                   rendered by headless Chromium (light, dark, A4 PDF) to look at
#   make install    PREFIX=/usr/local DESTDIR=
#
# Things you may reasonably want to change: PREFIX, CC, CFLAGS (appended
# after ours), DEMO_HOST, SYSTEMDUNITDIR (where make install puts the unit).

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/smaudit
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
CC      ?= cc
PKGS    := libpcap libndpi sqlite3 libcrypto jansson
VERSION := 0.1.0

BUILD   := build
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
ifneq ($(CI),)
WARN    += -Werror
endif
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 -O2 -g $(WARN) $(HARDEN) -Iinclude -Isrc -I$(BUILD) \
             $(PKG_CFLAGS) -DSMAUDIT_VERSION='"$(VERSION)"' \
             -DSMAUDIT_DATADIR='"$(DATADIR)"' -MMD -MP $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS    = $(PKG_LIBS) -lpthread -lm

SRCS    := $(filter-out src/main.c,$(wildcard src/*.c))
OBJS    := $(SRCS:src/%.c=$(BUILD)/%.o) $(BUILD)/schema_sql.o
TESTS   := $(wildcard tests/test_*.c)
TESTBIN := $(TESTS:tests/%.c=$(BUILD)/tests/%)

.PHONY: all deps run run-demo test test-suite sanitize fuzz bench install uninstall clean \
        format format-check report-check
all: $(BUILD)/smaudit

# V=1 shows the full commands
ifeq ($(V),)
Q := @
endif

$(BUILD)/%.o: src/%.c | $(BUILD)
	@[ -n "$(Q)" ] && echo "  CC      $<" || true
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# The schema is compiled in, so the binary creates and migrates databases
# without finding db/schema.sql at run time.
$(BUILD)/schema_sql.c: db/schema.sql | $(BUILD)
	{ echo '/* generated from db/schema.sql: do not edit */'; \
	  echo 'const char store_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@
$(BUILD)/schema_sql.o: $(BUILD)/schema_sql.c
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libsmaudit.a: $(OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/smaudit: $(BUILD)/main.o $(BUILD)/libsmaudit.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $< $(BUILD)/libsmaudit.a $(LIBS) -o $@

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(BUILD)/libsmaudit.a | $(BUILD)/tests
	@echo "  TEST    $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests -DSMAUDIT_BIN='"$(BUILD)/smaudit"' \
	  $< $(BUILD)/libsmaudit.a $(LIBS) \
	  $$(pkg-config --libs criterion) -o $@

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

deps:
	@sh tests/deps.sh

DEMO_HOST ?= 127.0.0.10
DEMO_DB   ?= $(BUILD)/demo.db
# deps first, then a sub-make: safe with -j on a machine that lacks them
run: deps
	@$(MAKE) --no-print-directory run-demo

run-demo: $(BUILD)/smaudit
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BUILD)/smaudit read --host $(DEMO_HOST) --site rules/demo.site \
	  --db $(DEMO_DB) pcaps/demo.pcap
	@echo
	$(BUILD)/smaudit query coverage --format table --db $(DEMO_DB)

# Each test binary runs on its own so one crash names its suite.
test: deps
	@$(MAKE) --no-print-directory test-suite

test-suite: $(BUILD)/smaudit $(TESTBIN)
	@sh tests/run-tests.sh $(TESTBIN)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (with
# leak checks), in its own build directory. Undefined behaviour stops the
# process as ASan's errors do, so a test fails on it (by default UBSan only
# prints, unseen in a binary's captured stderr). Warnings stay on but are
# not errors here: the sanitizers' checks make GCC report false ones (a
# '%s' "argument is null" in capture.c); the plain CI build holds -Werror.
sanitize:
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(MAKE) --no-print-directory test BUILD=build-sanitize \
	  CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -O1 -Wno-error $(CFLAGS)" \
	  LDFLAGS="-fsanitize=address,undefined $(LDFLAGS)"

# libFuzzer on decode -> flow -> DPI, seeded with every shipped packet
# (clang; FUZZ_SECONDS=60 by default). Crashes land in build-fuzz/.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	  CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -O1 $(CFLAGS)" build-fuzz/libsmaudit.a
	clang -std=gnu11 -g -O1 -Iinclude -fsanitize=fuzzer,address,undefined \
	  tests/fuzz/fuzz_packet.c build-fuzz/libsmaudit.a $(LIBS) -o build-fuzz/fuzz_packet
	python3 tests/fuzz/seeds.py build-fuzz/seeds pcaps/*.pcap
	mkdir -p build-fuzz/corpus
	cd build-fuzz && ./fuzz_packet -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  corpus seeds

# The demo's report, held to pcaps/demo.verdicts by an HTML5 parser, then
# rendered by headless Chromium: build/report/demo.png (light), demo-dark.png,
# demo.pdf (A4). Look at them. tests/report/demo-report.png (the README's) is
# the top of demo.png: convert build/report/demo.png -crop 1200x1560+0+0 +repage
#   -resize 75% +dither -colors 64 PNG8:tests/report/demo-report.png
CHROMIUM = chromium --headless --no-sandbox --disable-gpu --hide-scrollbars
report-check: $(BUILD)/smaudit
	@sh tests/deps.sh report
	rm -rf $(BUILD)/report && mkdir -p $(BUILD)/report
	$(BUILD)/smaudit read -q --host $(DEMO_HOST) --rules rules/socialminer.rules --site rules/demo.site \
	  --db $(BUILD)/report/demo.db pcaps/demo.pcap > /dev/null
	$(BUILD)/smaudit report --db $(BUILD)/report/demo.db -o $(BUILD)/report/demo.html
	/usr/bin/python3 tests/report/check_report.py $(BUILD)/report/demo.html \
	  pcaps/demo.verdicts $(BUILD)/report/demo.db --roles all
	$(CHROMIUM) --window-size=1200,4200 --screenshot=$(BUILD)/report/demo.png \
	  file://$(CURDIR)/$(BUILD)/report/demo.html 2>/dev/null
	$(CHROMIUM) --window-size=1200,1400 --blink-settings=preferredColorScheme=0 \
	  --screenshot=$(BUILD)/report/demo-dark.png \
	  file://$(CURDIR)/$(BUILD)/report/demo.html 2>/dev/null
	$(CHROMIUM) --no-pdf-header-footer --print-to-pdf=$(BUILD)/report/demo.pdf \
	  file://$(CURDIR)/$(BUILD)/report/demo.html 2>/dev/null
	pdfinfo $(BUILD)/report/demo.pdf | grep -q 'Page size:.*(A4)'
	@echo "report-check: ok; look at $(BUILD)/report/demo.png, demo-dark.png, demo.pdf"

bench: $(BUILD)/smaudit
	@sh tests/deps.sh bench
	sh tests/bench/run.sh

install: $(BUILD)/smaudit
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 755 $(BUILD)/smaudit $(DESTDIR)$(BINDIR)/smaudit
	install -m 644 rules/*.rules rules/example.site rules/socialminer-ports.md db/schema.sql $(DESTDIR)$(DATADIR)/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' rules/smaudit.service \
	  > $(DESTDIR)$(SYSTEMDUNITDIR)/smaudit.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/smaudit.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smaudit $(DESTDIR)$(SYSTEMDUNITDIR)/smaudit.service
	rm -rf $(DESTDIR)$(DATADIR)

FORMATTED = src/*.c src/*.h include/smaudit/*.h tests/*.c tests/*.h tests/fuzz/*.c tests/bench/*.c
format:
	clang-format -i $(FORMATTED)

# Fails, naming the files, when code does not match .clang-format.
format-check:
	@bad=""; for f in $(FORMATTED); do \
	  clang-format "$$f" | cmp -s "$$f" - || bad="$$bad $$f"; done; \
	  [ -z "$$bad" ] || { echo "not formatted (make format):$$bad"; exit 1; }; \
	  echo "format-check: ok"

clean:
	rm -rf $(BUILD) build-sanitize build-fuzz

-include $(wildcard $(BUILD)/*.d $(BUILD)/tests/*.d)
