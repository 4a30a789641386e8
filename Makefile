# gencost — build, test, run.  `make run` and `make test` are the two commands a newcomer needs.
#
# `make run` and `make test` work in two stages: the first installs what is missing
# (scripts/install-deps.sh: `make deps-run` what running needs, `make deps` that and what the
# tests need: cmocka, clang, the AArch64 cross compiler and qemu), the second is a new make that reads the configuration (pkg-config,
# cross compilers) only after the install, so a fresh machine builds on the first try.
# Sources are found at any depth under the source folders, so adding a module (or a folder)
# means adding files, not editing this file.
# Per-ISA micro-kernels are named for their ISA (`*_avx2.c`, `*_avx512.c`, `*_neon.c`,
# `*_dotprod.c`, `*_i8mm.c`) and compiled with only that ISA's flags; the binary picks one at
# run time from CPU features, so it runs on any x86-64 or AArch64.

BUILD    ?= build
CC       ?= cc
CC       := $(if $(filter cc,$(CC)),gcc,$(CC))
VERSION  := 0.1.0
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

PKGS      := hwloc jansson libcurl sqlite3 inih libpng libmicrohttpd
# What pkg-config cannot find: the libraries always, cmocka too when tests are asked for.
missing_pkgs = $(strip $(foreach p,$(1),$(if $(shell pkg-config --exists $(p) 2>/dev/null && echo y),,$(p))))
MISSING_BUILD := $(if $(filter-out deps deps-run clean,$(or $(MAKECMDGOALS),all)),$(call missing_pkgs,$(PKGS) $(if $(filter test,$(MAKECMDGOALS)),cmocka)))
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

MACHINE  := $(shell $(CC) -dumpmachine 2>/dev/null)
ifneq (,$(findstring x86_64,$(MACHINE)))
  ARCH := x86_64
else ifneq (,$(findstring aarch64,$(MACHINE)))
  ARCH := aarch64
else
  ARCH := other
endif

WARN     := -Wall -Wextra
# cmocka fixes every test's signature as `void test(void **state)`, which most tests ignore.
TEST_WARN := -Wno-unused-parameter
BASEFLAGS := -std=c17 -D_GNU_SOURCE -I. $(WARN) -pthread -DGK_HAVE_HWLOC $(PKG_CFLAGS)
OPT      ?= -O2 -g
SANITIZE := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDLIBS   := $(PKG_LIBS) -lm -ldl -pthread

# ISA-specific flags, by file-name suffix.
FLAGS_avx2    := -mavx2 -mfma -mf16c
FLAGS_avx512  := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mf16c
FLAGS_amx     := $(FLAGS_avx512) -mamx-tile -mamx-int8 -mamx-bf16
FLAGS_neon    := -march=armv8-a
FLAGS_dotprod := -march=armv8.2-a+dotprod+fp16
FLAGS_i8mm    := -march=armv8.6-a+i8mm+dotprod+fp16
X86_ONLY  := %_avx2.c %_avx512.c %_amx.c
ARM_ONLY  := %_neon.c %_dotprod.c %_i8mm.c
isa_flags = $(foreach s,avx2 avx512 amx neon dotprod i8mm,$(if $(filter %_$(s).c,$(1)),$(FLAGS_$(s))))

# Layers, lowest first: base/ -> kernels/ -> bench/ -> reports/ -> cli/ (tests/test_layers.c).
SRC_DIRS  := base kernels bench reports cli
find_src   = $(sort $(shell find $(1) -name '*.$(2)' 2>/dev/null))
ALL_SRC   := $(call find_src,$(SRC_DIRS),c)
ifeq ($(ARCH),x86_64)
  ALL_SRC := $(filter-out $(ARM_ONLY),$(ALL_SRC))
else ifeq ($(ARCH),aarch64)
  ALL_SRC := $(filter-out $(X86_ONLY),$(ALL_SRC))
else
  ALL_SRC := $(filter-out $(X86_ONLY) $(ARM_ONLY),$(ALL_SRC))
endif
MAIN_SRC  := cli/main.c
LIB_SRC   := $(filter-out $(MAIN_SRC),$(ALL_SRC))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
# Kernel tests link only kernels/, so they can also be cross-built for AArch64 and run under qemu.
KTEST_SRC := $(filter tests/test_kernels%,$(TEST_SRC))
KERN_SRC  := $(call find_src,kernels,c)

# ---- CUDA (optional) -------------------------------------------------------------------------
# TOOLKIT: the CUDA toolkit to build with, by its folder (make TOOLKIT=/usr/local/cuda-12.8);
# default: the one the nvcc on PATH belongs to. The runtime is linked statically, and a runtime
# needs a driver of its major version or newer: CUDA 13 needs R580+, CUDA 12 R525+ (any 12.x
# runs on any R525+ driver). Many A100/H100 images and laptops run R535-R570: build there with
# a CUDA 12.x toolkit; `gencost info` names the driver and runtime when they do not match.
TOOLKIT ?=
ifneq ($(TOOLKIT),)
  ifeq ($(wildcard $(TOOLKIT)/bin/nvcc),)
    $(error gencost: TOOLKIT=$(TOOLKIT) has no bin/nvcc (give the toolkit's folder, e.g. /usr/local/cuda-12.8))
  endif
  NVCC      := $(TOOLKIT)/bin/nvcc
  CUDA_HOME := $(realpath $(TOOLKIT))
endif
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CU_SRC := $(call find_src,kernels,cu)
# nvcc is often a wrapper script or symlink outside the toolkit (/usr/local/bin/nvcc), so the
# toolkit root comes from nvcc itself (its dry run prints TOP), not from where nvcc was found.
ifneq ($(NVCC),)
ifneq ($(CU_SRC),)
  CUDA_HOME  ?= $(realpath $(or $(shell $(NVCC) --dryrun -c -x cu /dev/null -o /dev/null 2>&1 | \
                  sed -n 's/^\#\$$ TOP=//p' | head -1),$(patsubst %/bin/nvcc,%,$(NVCC))/bin/..))
  CUDART     := $(firstword $(wildcard $(CUDA_HOME)/lib64/libcudart_static.a \
                  $(CUDA_HOME)/targets/*/lib/libcudart_static.a))
ifneq ($(CUDART),)
  CUDA_ARCHS ?= -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
                -gencode arch=compute_86,code=sm_86 -gencode arch=compute_89,code=sm_89 \
                -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
  NVCCFLAGS  ?= -O3 -std=c++17 -I. --compiler-options -fPIC,-Wall,-Wextra
  # Where the backend also looks for cuBLAS (a runfile install, a toolkit off the loader's path).
  CUBLAS_DIR := $(patsubst %/,%,$(dir $(firstword $(wildcard $(CUDA_HOME)/lib64/libcublas.so.* \
                  $(CUDA_HOME)/targets/*/lib/libcublas.so.*))))
  CU_DEFS    := $(if $(CUBLAS_DIR),-DGK_CUDA_LIBDIR='"$(CUBLAS_DIR)"')
  CUDA_RELEASE := $(shell $(NVCC) --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\),.*/\1/p')
  BASEFLAGS  += -DGC_HAVE_CUDA
  # cudart is linked statically so the binary starts on machines with no NVIDIA driver;
  # cuBLAS is opened at run time by the CUDA backend for the same reason.
  CUDA_LIBS  := -L$(dir $(CUDART)) -lcudart_static -lrt -lstdc++
  HAVE_CUDA  := 1
else
  CUDA_NOTE  := (CUDA left out: nvcc found but no libcudart_static.a under $(or $(CUDA_HOME),its toolkit))
endif
endif
endif
CU_OBJ = $(if $(HAVE_CUDA),$(patsubst %.cu,$(BUILD)/cuda/%.o,$(CU_SRC)))

# ---- objects ---------------------------------------------------------------------------------
OBJ      := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
TOBJ     := $(patsubst %.c,$(BUILD)/tobj/%.o,$(LIB_SRC))
DEPS     := $(OBJ:.o=.d) $(TOBJ:.o=.d)

.PHONY: all run test bench fuzz clean deps deps-run info-build check-warnings
all: $(BUILD)/gencost

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(OPT) $(call isa_flags,$<) -MMD -MP -c $< -o $@

$(BUILD)/tobj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(SANITIZE) $(call isa_flags,$<) -MMD -MP -c $< -o $@

$(BUILD)/cuda/%.o: %.cu $(call find_src,kernels,cuh) $(wildcard kernels/*.h)
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) $(CU_DEFS) $(CUDA_ARCHS) -c $< -o $@

# version.c is regenerated every time but replaced only when its text changes (commit, dirty
# state, compiler, flags), so an unchanged tree relinks nothing.
$(BUILD)/obj/version.c $(BUILD)/tobj/version.c: FORCE
	@mkdir -p $(@D)
	@printf '#include "base/version.h"\nconst char *const gc_version = "%s";\nconst char *const gc_git_commit = "%s";\nconst char *const gc_compiler = "%s";\nconst char *const gc_cflags = "%s";\n' \
	  '$(VERSION)' '$(GIT_COMMIT)' "$$($(CC) --version | head -1)" '$(if $(findstring tobj,$@),$(SANITIZE),$(OPT)) $(if $(HAVE_CUDA),+cuda $(CUDA_RELEASE))' > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi
$(BUILD)/obj/version.o $(BUILD)/tobj/version.o: %.o: %.c
	$(CC) $(BASEFLAGS) -c $< -o $@
FORCE:

$(BUILD)/libgencost.a: $(OBJ) $(CU_OBJ) $(BUILD)/obj/version.o
	@rm -f $@; ar rcs $@ $^

$(BUILD)/libgencost-test.a: $(TOBJ) $(CU_OBJ) $(BUILD)/tobj/version.o
	@rm -f $@; ar rcs $@ $^

$(BUILD)/gencost: $(BUILD)/obj/cli/main.o $(BUILD)/libgencost.a
	$(CC) $(OPT) -o $@ $^ $(CUDA_LIBS) $(LDLIBS)
	@echo "built $@$(if $(HAVE_CUDA), (with CUDA),$(if $(NVCC),$(if $(CUDA_NOTE), $(CUDA_NOTE), (no CUDA sources)), (CUDA left out: nvcc not found)))"

# The sanitized CLI that end-to-end tests drive.
$(BUILD)/gencost-test: $(BUILD)/tobj/cli/main.o $(BUILD)/libgencost-test.a
	$(CC) $(SANITIZE) -o $@ $^ $(CUDA_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libgencost-test.a $(wildcard tests/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(TEST_WARN) $(SANITIZE) -o $@ $< $(BUILD)/libgencost-test.a $(CUDA_LIBS) $(LDLIBS) -lcmocka

# The CUDA tests run the kernel bodies in host emulation: they include kernels/cuda/*.cuh.
$(BUILD)/tests/test_cuda $(BUILD)/tests/test_cuda_emul $(BUILD)/tests/test_cuda_mma_emul $(BUILD)/tests/test_cuda_train_emul \
  $(BUILD)/tests/test_cuda_image_emul: $(call find_src,kernels,cuh)

TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))

# The CUDA test without sanitizers, linked with the release objects: ASan's protected shadow
# gap can stop CUDA from creating a context (google/sanitizers#629) and LeakSanitizer counts
# the driver's own allocations, so on a GPU this is the build that proves the device path (and
# the one compute-sanitizer runs). `make cuda-test-nosan` builds and runs it; where a GPU is
# visible its device path is mandatory. make test runs it there too (tests/run.sh), and the
# ASan test_cuda with protect_shadow_gap=0 and tests/lsan-cuda.supp. The CUDA CLI for end-to-end
# checks without sanitizers is $(BUILD)/gencost (scripts/gpu-check.sh drives it).
NOSAN_TEST := $(BUILD)/nosan/test_cuda
$(NOSAN_TEST): tests/test_cuda.c $(BUILD)/libgencost.a $(wildcard tests/*.h) $(call find_src,kernels,cuh)
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(TEST_WARN) $(OPT) -o $@ $< $(BUILD)/libgencost.a $(CUDA_LIBS) $(LDLIBS) -lcmocka
.PHONY: cuda-test-nosan gpu-check
cuda-test-nosan: $(NOSAN_TEST)
	./$(NOSAN_TEST)

# The prepared check for a machine with a GPU (<= 10 minutes; skips its GPU steps with a line
# each where none is visible): scripts/gpu-check.sh, with GPU_CHECK_ARGS (e.g. --no-gpu).
gpu-check:
	@bash scripts/gpu-check.sh --build $(BUILD) $(GPU_CHECK_ARGS)

# ---- AArch64 kernels, cross-built and run under qemu ----------------------------------------
AARCH64_CC   ?= aarch64-linux-gnu-gcc
QEMU_AARCH64 ?= qemu-aarch64
HAVE_AARCH64 := $(shell command -v $(AARCH64_CC) >/dev/null 2>&1 && command -v $(QEMU_AARCH64) >/dev/null 2>&1 && \
                  test -e /usr/lib/aarch64-linux-gnu/libcmocka.so && echo 1)
A64_KSRC  := $(filter-out $(X86_ONLY),$(KERN_SRC))
A64_KOBJ  := $(patsubst %.c,$(BUILD)/aarch64/obj/%.o,$(A64_KSRC))
A64_BINS  := $(patsubst tests/%.c,$(BUILD)/aarch64/%,$(KTEST_SRC))
# Sanitized like the native tests when the cross toolchain has the runtimes (ASan works under
# qemu-user; LeakSanitizer does not, so tests/run.sh turns leak detection off there).
A64_SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
A64_SANITIZE := $(if $(wildcard $(shell $(AARCH64_CC) -print-file-name=libasan.so 2>/dev/null)),$(A64_SAN_FLAGS))
A64_CFLAGS := -std=c17 -D_GNU_SOURCE -I. $(WARN) -O1 -g -pthread $(A64_SANITIZE)
# One object per source (shared by every kernel test, so parallel builds never write one file twice).
.SECONDARY: $(A64_KOBJ)
$(BUILD)/aarch64/obj/%.o: %.c
	@mkdir -p $(@D)
	$(AARCH64_CC) $(A64_CFLAGS) $(call isa_flags,$<) -MMD -MP -c $< -o $@
$(BUILD)/aarch64/%: tests/%.c $(A64_KOBJ) $(wildcard tests/*.h)
	$(AARCH64_CC) $(A64_CFLAGS) $(TEST_WARN) -o $@ $< $(A64_KOBJ) -L/usr/lib/aarch64-linux-gnu -lcmocka -lm

# ---- fuzzing: every parser of untrusted input under libFuzzer + ASan/UBSan (clang) -------------
# One harness per parser, tests/fuzz/fuzz_<target>.c (a new file is a new target): gguf (GGUF
# files, the llama metadata and the Stable Diffusion file check), results (results files), profile (host-profile INI),
# meter_json (the HTTP meters' JSON body and path), history (results turned into history rows
# and read back), history_db (a history database changed by arbitrary SQL, then opened and
# read). The library code they reach (base/, bench/ top level and the folders of these
# parsers, kernels/ top level and platform/) is compiled with clang into one archive, so the
# linker takes only what each harness needs and a new file in those folders is found without
# editing this list. The CPU backends are stand-ins (tests/fuzz/stub_backends.c: named, never
# available): no parser runs a kernel, and compiling the micro-kernels with clang and ASan would
# triple the time this takes in make test. Seeds: tests/fuzz/corpus/<target>/ (gguf also
# tests/fixtures/gguf-*), dictionaries tests/fuzz/<target>.dict.
# `make test` builds every harness and runs each over its seeds plus FUZZ_SMOKE_RUNS inputs
# (tests/run.sh); `make fuzz` runs each for FUZZ_TIME seconds, one after the other, growing a
# working corpus per target in $(FUZZ_DIR)/corpus/<target>. How a target is run (seeds,
# dictionary, limits, where crashes go) is in one place: tests/fuzz/run-fuzz.sh.
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_FLAGS   := -std=c17 -D_GNU_SOURCE -I. $(WARN) -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC     := $(filter $(addsuffix /%,base bench/gguf bench/llm bench/sd bench/host bench/energy bench/regress \
                  kernels/platform) $(wildcard bench/*.c kernels/*.c),$(LIB_SRC)) tests/fuzz/stub_backends.c
FUZZ_OBJ     := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SRC)) $(FUZZ_DIR)/obj/version.o
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))
FUZZ_TIME ?= 60
FUZZ_SMOKE_RUNS ?= 20000
$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -MMD -MP -c $< -o $@
$(FUZZ_DIR)/obj/version.o: $(BUILD)/tobj/version.c
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -c $< -o $@
$(FUZZ_DIR)/libfuzzdeps.a: $(FUZZ_OBJ)
	@rm -f $@; ar rcs $@ $^
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_file.h $(FUZZ_DIR)/libfuzzdeps.a
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libfuzzdeps.a $(PKG_LIBS) -lm -ldl -pthread

# ---- the two commands -------------------------------------------------------------------------
# Stage 1 (what you type): install what is missing, then start stage 2, a new make that reads
# pkg-config and the cross tools after the install. `make run` installs only what running
# needs (deps-run: minutes saved on a rented GPU or Colab); test and fuzz install everything.
STAGED := run test fuzz
ifeq ($(GC_STAGE)$(filter $(STAGED),$(MAKECMDGOALS)),)
  GC_STAGE := 2
endif
ifeq ($(GC_STAGE),)
run: deps-run
test fuzz: deps
$(STAGED):
	@$(MAKE) --no-print-directory GC_STAGE=2 $@
else
ifneq ($(MISSING_BUILD),)
  $(error gencost: missing libraries: $(MISSING_BUILD) (pkg-config cannot find them; run `make deps` or install their development packages))
endif
test: $(BUILD)/gencost $(BUILD)/gencost-test $(TEST_BINS) $(NOSAN_TEST) $(if $(HAVE_AARCH64),$(A64_BINS)) $(FUZZ_BINS)
	@GENCOST_BIN=$(abspath $(BUILD)/gencost-test) GENCOST_REL_BIN=$(abspath $(BUILD)/gencost) \
	  CUDA_NOSAN_TEST=$(abspath $(NOSAN_TEST)) \
	  QEMU_AARCH64=$(QEMU_AARCH64) FUZZ_DIR=$(FUZZ_DIR) FUZZ_TARGETS="$(FUZZ_TARGETS)" \
	  FUZZ_SMOKE_RUNS=$(FUZZ_SMOKE_RUNS) \
	  bash tests/run.sh $(BUILD) "$(TEST_BINS)" "$(if $(HAVE_AARCH64),$(A64_BINS))"

# RUN_ARGS: more options for gencost run (make run RUN_ARGS="--suite smoke").
run: $(BUILD)/gencost
	@bash scripts/make-run.sh $(BUILD)/gencost $(RUN_ARGS)

fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  bash tests/fuzz/run-fuzz.sh $(FUZZ_DIR) $$t long -max_total_time=$(FUZZ_TIME) || exit 1; done
endif

deps:
	@bash scripts/install-deps.sh test
deps-run:
	@bash scripts/install-deps.sh run

bench: $(BUILD)/gencost
	$(BUILD)/gencost run --workload triad,kernels --quant q4_0,q8_0,f16,bf16 --reps 5 --out $(BUILD)/bench.json

# gencost beside llama.cpp's llama-bench on the same GGUF files (bench/peer/bench-peer.py, a
# measuring tool outside the build and make test); BENCH_PEER_ARGS are its options, LLAMA_BENCH
# the llama-bench binary.
.PHONY: bench-peer
bench-peer: $(BUILD)/gencost
	python3 bench/peer/bench-peer.py --gencost $(BUILD)/gencost $(BENCH_PEER_ARGS)

check-warnings:
	$(MAKE) --no-print-directory BUILD=build-clang CC=clang OPT="-O2 -Werror" build-clang/gencost

clean:
	rm -rf $(BUILD) build-clang

-include $(DEPS) $(A64_KOBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
