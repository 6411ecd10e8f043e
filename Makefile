# tapsift - see README.md.  `make run` and `make test` install missing Debian
# packages first (scripts/deps.sh), then build.
#
# Layout of the build:
#   engine/*.c      -> build/obj/*.o -> build/tapsift (main.c) and build/libtapsift.a
#   tests/test_*.c  -> build/tests/test_*   (unit tests, linked with libtapsift.a)
#   bench/*.c       -> build/bench/*
#   fuzz/fuzz_*.c   -> build-fuzz/fuzz_*    (make fuzz, clang libFuzzer)
#   mk/*.mk         -> module fragments (generated tables, BPF skeleton, protobuf)

CC      ?= cc
BUILD   ?= build
PKGS    := libhs libpcap libzmq libprotobuf-c libsodium liburcu zlib libbrotlidec libbrotlienc libbpf icu-uc
OPT     ?= -O2
SAN     ?=
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror $(SAN) \
           -Iengine -I$(BUILD)/gen $(EXTRA_CFLAGS)
LDFLAGS := $(SAN) $(EXTRA_LDFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lpthread -lm

ENGINE_SRCS := $(filter-out engine/main.c,$(wildcard engine/*.c))
ENGINE_OBJS  = $(patsubst engine/%.c,$(BUILD)/obj/%.o,$(ENGINE_SRCS)) $(GEN_OBJS)
TEST_BINS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
BENCH_BINS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
# Generated headers every object may include; fragments append to it.
GEN_HDRS    :=
GEN_OBJS    :=

.PHONY: all deps run test test-only bench asan fuzz fuzz-run clean format check-format
all: $(BUILD)/tapsift $(TEST_BINS) $(BENCH_BINS)

-include mk/*.mk

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: engine/%.c $(GEN_HDRS) | $(BUILD)/obj
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libtapsift.a: $(ENGINE_OBJS)
	rm -f $@ && ar rcs $@ $^

# Objects, not the archive: weak fallbacks in cmd_pending.o must lose to real commands.
$(BUILD)/tapsift: $(BUILD)/obj/main.o $(ENGINE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: tests/%.c tests/unit.h tests/buf.h $(BUILD)/libtapsift.a | $(BUILD)/tests
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/libtapsift.a $(PKG_LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libtapsift.a | $(BUILD)/bench
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libtapsift.a $(PKG_LIBS)

$(BUILD)/obj $(BUILD)/tests $(BUILD)/bench $(BUILD)/gen:
	mkdir -p $@

# The main job on the bundled sample traffic and rules.
run: deps
	@$(MAKE) --no-print-directory $(BUILD)/tapsift
	scripts/run-demo.sh

# Every test; the last line is the suite's "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh $(BUILD)

test-only:
	@tests/run.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory all
	bench/run.sh $(BUILD)

# Tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run.sh build-asan

FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
fuzz: deps
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz OPT=-O1 \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined" \
	  $(patsubst fuzz/%.c,build-fuzz/%,$(FUZZ_SRCS))

build-fuzz/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) build-fuzz/libtapsift.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
	  build-fuzz/libtapsift.a $(PKG_LIBS)

# Runs every fuzz target for FUZZ_SECONDS each (corpora in build-fuzz/corpus/).
FUZZ_SECONDS ?= 60
fuzz-run: fuzz
	@for f in build-fuzz/fuzz_*; do \
	  n=$$(basename $$f); mkdir -p build-fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 build-fuzz/corpus/$$n 2>&1 | tail -1 || exit 1; \
	done

format:
	clang-format -i engine/*.c engine/*.h tests/*.c tests/*.h bench/*.c fuzz/*.c

check-format:
	clang-format --dry-run -Werror engine/*.c engine/*.h

clean:
	rm -rf build build-asan build-fuzz

-include $(wildcard $(BUILD)/obj/*.d)
