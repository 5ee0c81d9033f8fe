# tern: one build. bpf/*.bpf.c -> build/bpf/*.bpf.o -> build/*.skel.h ->
# build/ternd, build/ternctl, build/tern-cni. `make test` runs every layer.
#
# clang-14: Debian 12's default clang (the `clang` package), so a fresh
# machine needs no extra toolchain, and CI and laptops hand the verifier the
# same bytecode. Nothing here needs a newer BPF backend.
CLANG      ?= clang-14
LLVM_STRIP ?= llvm-strip-14
BPFTOOL    ?= bpftool
CC         ?= gcc
B          := build
ARCH_INC   := /usr/include/$(shell $(CC) -print-multiarch)

BPF_CFLAGS := -target bpf -g -O2 -mcpu=v3 -Wall -Wextra -Werror \
              -Wno-unused-function -Iinclude -I$(ARCH_INC)
CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -I$(B) -I.
LDLIBS     := -lbpf -lelf -lz -lmnl -lyaml -ljson-c -lcurl -lmicrohttpd -lcrypto -lm
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(BPF_SRCS:bpf/%.bpf.c=$(B)/bpf/%.bpf.o)
SKELS      := $(BPF_SRCS:bpf/%.bpf.c=$(B)/%.skel.h)
BPF_HDRS   := $(wildcard bpf/lib/*.h include/tern/*.h)

# userspace: agent/ maps/ policy/ are one library; ternd and ternctl link it
LIB_SRCS   := $(filter-out agent/main.c,$(wildcard agent/*.c maps/*.c policy/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(B)/obj/%.o)
SAN_OBJS   := $(LIB_SRCS:%.c=$(B)/san/%.o)
HDRS       := $(wildcard agent/*.h maps/*.h policy/*.h ctl/*.h cni/*.h include/tern/*.h)
CTL_SRCS   := $(wildcard ctl/*.c)
CNI_SRCS   := $(wildcard cni/*.c)

UNIT_SRCS  := $(wildcard test/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:test/unit/%.c=$(B)/test/unit/%)
BPFT_SRCS  := $(wildcard test/bpf/*.c)
BENCH_SRCS := $(wildcard test/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:test/bench/%.c=$(B)/test/bench/%)
E2E_HELPER_SRCS := $(wildcard test/e2e/*.c)
E2E_HELPERS := $(E2E_HELPER_SRCS:test/e2e/%.c=$(B)/test/e2e/%)

DEPS_STAMP := $(B)/.deps

.PHONY: all deps test unit bpf-test e2e bench demo clean
# keep every object: the sanitizer builds are intermediates of pattern rules
.SECONDARY:
all: $(B)/ternd $(B)/ternctl $(if $(CNI_SRCS),$(B)/tern-cni) $(BPF_OBJS)

deps $(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(B)
	@scripts/deps.sh build
	@touch $(DEPS_STAMP)

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@

$(B)/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name tern_$* > $@

$(B)/obj/%.o: %.c $(HDRS) $(SKELS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/san/%.o: %.c $(HDRS) $(SKELS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

$(B)/ternd: $(B)/obj/agent/main.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(B)/ternctl: $(CTL_SRCS:%.c=$(B)/obj/%.o) $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# tern-cni runs on the host, outside the image: it links only what it uses
# (the naming rule, tcx links for its fail-closed programs; libbpf, libmnl,
# json-c), the closure deploy/install-cni.sh ships.
CNI_AGENT_OBJS := naming tc_hook link_pin log nl_ctl
$(B)/tern-cni: $(CNI_SRCS:%.c=$(B)/obj/%.o) $(CNI_AGENT_OBJS:%=$(B)/obj/agent/%.o)
	$(CC) $(CFLAGS) $^ -lbpf -lmnl -ljson-c -o $@

$(B)/test/unit/%: test/unit/%.c test/unit/unit.h $(SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) $< $(SAN_OBJS) $(LDLIBS) -o $@

$(B)/test/bpf_tests: $(BPFT_SRCS) $(wildcard test/bpf/*.h) $(LIB_OBJS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BPFT_SRCS) $(LIB_OBJS) $(LDLIBS) -o $@

$(B)/test/bench/%: test/bench/%.c $(LIB_OBJS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(LIB_OBJS) $(LDLIBS) -o $@

$(B)/test/e2e/%: test/e2e/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -lbpf -o $@

test: all $(UNIT_BINS) $(B)/test/bpf_tests $(E2E_HELPERS)
	@scripts/deps.sh test
	@test/run.sh all

unit: $(UNIT_BINS)
	@test/run.sh unit

bpf-test: all $(B)/test/bpf_tests
	@test/run.sh bpf

e2e: all $(E2E_HELPERS)
	@scripts/deps.sh test
	@test/run.sh e2e

bench: all $(BENCH_BINS) $(E2E_HELPERS)
	@scripts/deps.sh test
	@test/bench/run.sh

demo: all
	@scripts/deps.sh test
	@scripts/demo.sh

clean:
	rm -rf $(B)
