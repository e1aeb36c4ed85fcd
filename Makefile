# comsg: co-processes, cocall and capabilities on Linux.
# Targets: all (default), test, test-mpk, demo, bench, stress, fuzz, model, install,
# clean.  See README.md.
include mk/config.mk
export BUILD CC OPT SANITIZE PREFIX
MAKEFLAGS += --no-print-directory

PROGDIRS := src/comsgd tools examples test bench stress

.PHONY: all lib progs test test-mpk count-mpk demo bench stress fuzz model install clean

all: progs

lib:
	$(MAKE) -C src/lib
	$(MAKE) -C src/compart

progs: lib
	+@for d in $(PROGDIRS); do $(MAKE) -C $$d || exit 1; done

test: all
	@test/runtests.sh $(BUILD)/test

# The compartment tests in mpk mode inside a QEMU virtual machine whose
# emulated CPU has protection keys (test/vm/mpk.sh), for machines without.
# count-mpk: instructions per empty cross-compartment call in each mode,
# counted by the same machine (see test/vm/mpk.sh).
test-mpk: all
	@test/vm/mpk.sh $(BUILD)

count-mpk: all
	@test/vm/mpk.sh $(BUILD) count

demo: all
	@examples/demo.sh $(BUILD)

bench: all
	@bench/run.sh $(BUILD)

# Throughput against message size of bench/coport, drawn with gnuplot into
# $(BUILD)/plots/coport.png (MB/s) and coport-msgs.png (messages/s), from
# the last run's data ($(BUILD)/bench/results/coport.dat); the benchmark
# runs first if there is none, or with COPORT_ARGS (e.g. COPORT_ARGS=-q).
.PHONY: plots
plots: all
	@bench/plots.sh $(BUILD) $(COPORT_ARGS)

# The Promela models of the cocall handshake, the COCHANNEL ring, the
# COPIPE pairs and COCARRIER's two ways (model/, needs spin).
model:
	@model/run.sh

# Fault injection: services and callers killed at random under load.
STRESS_SECONDS ?= 30
stress: all
	@$(BUILD)/stress/stress -t $(STRESS_SECONDS)

# libFuzzer harnesses, built with clang into build-fuzz: each runs for
# FUZZ_SECONDS (default 60); fails if one finds a crash.  See fuzz/Makefile.
fuzz:
	+@$(MAKE) -C fuzz run

install: all
	$(MAKE) -C src/lib install
	$(MAKE) -C src/compart install
	$(MAKE) -C tools install
	$(MAKE) -C src/comsgd install
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man2 \
		$(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.2 $(DESTDIR)$(PREFIX)/share/man/man2/
	install -m 644 man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/

clean:
	rm -rf $(BUILD)
