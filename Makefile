# lmref -- reference implementation and conformance vectors for the math at
# both ends of a transformer language model.
#
#   make deps      install the Debian packages the project needs (idempotent)
#   make           build the library, the tools and the tests
#   make demo      the main job: regenerate the vectors, confirm they are
#                  byte-identical to the committed ones, validate them against
#                  the schema, check the reference, print the per-op summary
#   make check     the whole TAP suite under prove, then under Valgrind, then
#                  the vector reproducibility, schema and install checks
#   make vectors   regenerate vectors/ and its manifest (after a change)
#   make install   PREFIX=/usr/local DESTDIR= : library, headers, pkg-config

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PYTHON := /usr/bin/python3
VERSION := 0.1.0

WARNINGS := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARNINGS) $(CFLAGS) -MMD -MP
GSL_LIBS := -lgsl -lgslcblas -lm

B := build

# ---- the reference library (ref/) ----------------------------------------
LIB_SRC := ref/lmr_status.c ref/lmr_check.c ref/lmr_embed.c \
           ref/lmr_sinusoid.c ref/lmr_compose.c ref/lmr_layernorm.c \
           ref/lmr_head.c ref/lmr_softmax.c ref/lmr_sample.c ref/lmr_lens.c \
           ref/lmr_params.c ref/lmr_variants.c ref/lmr_grad_input.c \
           ref/lmr_grad_head.c ref/lmr_grad_variants.c ref/lmr_tied_lm.c
LIB_OBJ := $(LIB_SRC:ref/%.c=$(B)/ref/%.o)
PUBLIC_HEADERS := ref/lmr.h ref/lmr_status.h ref/lmr_embed.h \
                  ref/lmr_sinusoid.h ref/lmr_compose.h ref/lmr_layernorm.h \
                  ref/lmr_head.h ref/lmr_softmax.h ref/lmr_sample.h \
                  ref/lmr_lens.h ref/lmr_params.h ref/lmr_variants.h \
                  ref/lmr_grad_input.h ref/lmr_grad_head.h \
                  ref/lmr_grad_variants.h ref/lmr_tied_lm.h
LIB_A := $(B)/liblmref.a
LIB_SO := $(B)/liblmref.so.0

# ---- tools/ ----------------------------------------------------------------
ORACLE_SRC := tools/oracle_embed.c tools/oracle_sinusoid.c tools/oracle_layernorm.c \
              tools/oracle_head.c tools/oracle_softmax.c tools/oracle_sample.c \
              tools/oracle_lens.c tools/oracle_variants.c tools/oracle_errnum.c \
              tools/oracle_grad.c tools/oracle_grad_variants.c
GEN_SRC := tools/gen_main.c tools/gen_case.c tools/gen_random.c \
           tools/gen_embed.c tools/gen_sinusoid.c tools/gen_compose.c \
           tools/gen_layernorm.c tools/gen_head.c tools/gen_softmax.c \
           tools/gen_loss.c tools/gen_sample.c tools/gen_lens.c tools/gen_params.c \
           tools/gen_gpt2.c tools/gen_variants.c tools/gen_mixture.c \
           tools/gen_grad_input.c tools/gen_grad_head.c \
           tools/gen_grad_variants.c tools/gen_tied_lm.c tools/gen_grad.c \
           tools/vecio.c tools/recipe.c $(ORACLE_SRC)
VERIFY_SRC := tools/vecio.c tools/recipe.c tools/judge.c tools/ref_ops.c tools/ref_ops_grad.c tools/verify.c
GEN := $(B)/lmr-gen
VERIFY := $(B)/lmr-verify
RUNNER_SRC := tools/runner.c tools/runner_testee.c tools/runner_verdict.c \
              tools/runner_report.c tools/runner_input.c tools/vecio.c \
              tools/recipe.c tools/judge.c
RUNNER := $(B)/lmr-run
TESTEE_REF := $(B)/lmr-testee-ref
TOOLS_OBJ = $(patsubst tools/%.c,$(B)/tools/%.o,$(1))

# ---- tests/ ----------------------------------------------------------------
TESTS := tests/vectors.t tests/errors.t tests/properties.t tests/format.t \
         tests/errors_output.t tests/properties_output.t tests/errors_grad.t \
         tests/judge.t tests/oracle_selfcheck.t tests/oracle_head_selfcheck.t \
         tests/oracle_variants_selfcheck.t tests/oracle_grad_selfcheck.t \
         tests/oracle_grad_variants_selfcheck.t \
         tests/cli.t tests/runner.t tests/gradcheck.t
TAP_OBJ := $(B)/tests/tap.o
# Misbehaving (and one well-behaved) testees for tests/runner.t.
TESTEES := $(B)/tests/testees/replay

VECTOR_FILES := $(wildcard vectors/*.json)
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full \
            --show-leak-kinds=all --errors-for-leak-kinds=all

.PHONY: all deps demo check test memcheck vectors vectors-check schema-check \
        install install-check bench clean runner-check testees-check

all: $(LIB_A) $(LIB_SO) $(GEN) $(VERIFY) $(B)/lmr $(RUNNER) $(TESTEE_REF) $(TESTS)

deps:
	@sh tools/install-deps.sh

# Every compile needs the Debian packages: make them an order-only prerequisite.
$(B)/ref/%.o: ref/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -Iref -c $< -o $@

$(B)/tools/%.o: tools/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iref -Itools -c $< -o $@

$(B)/tests/%.o: tests/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iref -Itools -Itests -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,liblmref.so.0 -o $@ $^ $(GSL_LIBS)

# The generator links the oracle, never ref/.
$(GEN): $(call TOOLS_OBJ,$(GEN_SRC))
	$(CC) -o $@ $^ -ljansson -lmpfr -lgmp $(GSL_LIBS)

$(VERIFY): $(call TOOLS_OBJ,$(VERIFY_SRC) tools/lmr_verify.c) $(LIB_A)
	$(CC) -o $@ $^ -ljansson $(GSL_LIBS)

# The command-line tool runs ref/ through the same decoding as the vectors.
$(B)/lmr: $(call TOOLS_OBJ,tools/vecio.c tools/recipe.c tools/ref_ops.c tools/ref_ops_grad.c tools/op_shapes.c tools/cli.c tools/cli_explain.c tools/cli_explain_grad.c tools/cli_explain_grad_variants.c tools/cli_explain_variants.c tools/lmr_cli.c) $(LIB_A)
	$(CC) -o $@ $^ -ljansson $(GSL_LIBS)

# The runner links judge.c and vecio.c, never ref/; the reference reaches it
# only as a testee, through the protocol.
$(RUNNER): $(call TOOLS_OBJ,$(RUNNER_SRC) tools/lmr_run.c)
	$(CC) -o $@ $^ -ljansson -lm

$(TESTEE_REF): $(call TOOLS_OBJ,tools/vecio.c tools/recipe.c tools/ref_ops.c tools/ref_ops_grad.c tools/op_shapes.c tools/testee_ref.c) $(LIB_A)
	$(CC) -o $@ $^ -ljansson $(GSL_LIBS)

tests/vectors.t: $(B)/tests/vectors.o $(TAP_OBJ) $(call TOOLS_OBJ,$(VERIFY_SRC)) $(LIB_A)
	$(CC) -o $@ $^ -ljansson $(GSL_LIBS)

tests/gradcheck.t: $(B)/tests/gradcheck.o $(TAP_OBJ) $(call TOOLS_OBJ,tools/vecio.c tools/recipe.c tools/ref_ops.c tools/ref_ops_grad.c) $(LIB_A)
	$(CC) -o $@ $^ -ljansson $(GSL_LIBS)

tests/errors.t tests/properties.t tests/errors_output.t tests/properties_output.t tests/errors_grad.t: tests/%.t: $(B)/tests/%.o $(TAP_OBJ) $(B)/tests/check.o $(LIB_A)
	$(CC) -o $@ $^ $(GSL_LIBS)

tests/format.t: $(B)/tests/format.o $(TAP_OBJ) $(call TOOLS_OBJ,$(VERIFY_SRC)) $(LIB_A)
	$(CC) -o $@ $^ -ljansson $(GSL_LIBS)

tests/cli.t: $(B)/tests/cli.o $(TAP_OBJ) $(call TOOLS_OBJ,tools/vecio.c tools/recipe.c tools/ref_ops.c tools/ref_ops_grad.c tools/op_shapes.c tools/cli.c tools/cli_explain.c tools/cli_explain_grad.c tools/cli_explain_grad_variants.c tools/cli_explain_variants.c) $(LIB_A)
	$(CC) -o $@ $^ -ljansson $(GSL_LIBS)

tests/runner.t: $(B)/tests/runner.o $(TAP_OBJ) $(call TOOLS_OBJ,$(RUNNER_SRC)) | $(TESTEES)
	$(CC) -o $@ $^ -ljansson -lm

$(TESTEES): $(B)/tests/testees/%: $(B)/tests/testees/%.o
	$(CC) -o $@ $^ -ljansson

tests/judge.t: $(B)/tests/judge.o $(TAP_OBJ) $(call TOOLS_OBJ,tools/judge.c tools/vecio.c tools/recipe.c)
	$(CC) -o $@ $^ -ljansson -lm

tests/oracle_selfcheck.t tests/oracle_head_selfcheck.t tests/oracle_variants_selfcheck.t tests/oracle_grad_selfcheck.t tests/oracle_grad_variants_selfcheck.t: tests/%.t: $(B)/tests/%.o $(TAP_OBJ) $(call TOOLS_OBJ,$(ORACLE_SRC))
	$(CC) -o $@ $^ -lmpfr -lgmp -lm

# ---- the main job -------------------------------------------------------------
demo: all
	@sh tools/check-vectors.sh $(GEN)
	@$(PYTHON) tools/validate-schema.py spec/vector.schema.json vectors/*.json
	@echo
	@echo "== the reference (ref/) against every vector, class fp64 =="
	@$(VERIFY) vectors/*.json
	@echo
	@echo "== the bundled testees through lmr-run, per op; then the mutants =="
	@sh tools/check-testees.sh --tables $(RUNNER)

# ---- tests --------------------------------------------------------------------
test: all
	prove -e '' $(TESTS)

memcheck: all
	prove -e '$(VALGRIND)' $(TESTS)

vectors-check: $(GEN)
	@sh tools/check-vectors.sh $(GEN)

schema-check: | deps
	@$(PYTHON) tools/validate-schema.py spec/vector.schema.json vectors/*.json
	@$(PYTHON) tools/validate-schema.py --expect-invalid spec/vector.schema.json tests/malformed/*.json

check: test memcheck vectors-check schema-check install-check runner-check \
       testees-check

# Every bundled correct testee (reference, NumPy, PyTorch) must pass in its
# class, and every mutant of the NumPy testee must be caught.
testees-check: $(RUNNER) $(TESTEE_REF) | deps
	@sh tools/check-testees.sh $(RUNNER)

# The reference library as a testee of lmr-run: every case must pass (no
# failure, no unsupported case). The TAP stays in build/runner-check.tap.
runner-check: $(RUNNER) $(TESTEE_REF)
	@$(RUNNER) --vectors vectors -- $(TESTEE_REF) > $(B)/runner-check.tap; \
	status=$$?; sed -n '/^# summary/,$$p' $(B)/runner-check.tap; \
	if [ $$status -ne 0 ] || grep -q -e '^not ok' -e '# SKIP' $(B)/runner-check.tap; then \
	    echo "runner-check: not every case passed (see $(B)/runner-check.tap)"; \
	    exit 1; \
	fi; \
	echo "runner-check: every case passed (TAP in $(B)/runner-check.tap)"

vectors: $(GEN)
	$(GEN) vectors
	cd vectors && sha256sum *.json > SHA256SUMS

# ---- install --------------------------------------------------------------------
install: $(LIB_A) $(LIB_SO)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/lmref
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf liblmref.so.0 $(DESTDIR)$(LIBDIR)/liblmref.so
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/lmref/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    tools/lmref.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/lmref.pc

install-check: $(LIB_A) $(LIB_SO)
	@sh tools/check-install.sh

# ---- benchmark (not a test; not run by `make check`) ----------------------------
# The C program times the reference tied head at GPT-2 size and this machine's
# Copy bandwidth and writes its figures to BENCH_RESULTS; bench_torch.py then
# times PyTorch's float64 head on the same inputs and prints the ratios.
BENCH := $(B)/lmr-bench-head
BENCH_RESULTS := $(B)/bench_head.txt

$(BENCH): $(B)/tools/bench_head.o $(LIB_A)
	$(CC) -o $@ $^ $(GSL_LIBS) -lpthread

$(B)/lmr-bench-judge: $(call TOOLS_OBJ,tools/bench_judge.c tools/judge.c tools/vecio.c tools/recipe.c)
	$(CC) -o $@ $^ -ljansson -lm

bench: $(BENCH) $(B)/lmr-bench-judge $(RUNNER) $(TESTEE_REF)
	@echo "== the runner: judging throughput, and the whole suite against the C testee =="
	@$(B)/lmr-bench-judge vectors/*.json
	@start=$$(date +%s.%N); $(RUNNER) -- $(TESTEE_REF) > $(B)/bench-runner.tap; \
	end=$$(date +%s.%N); \
	echo "  whole suite ($$(grep -c '^ok' $(B)/bench-runner.tap) cases passed) against lmr-testee-ref: $$(awk "BEGIN { printf \"%.2f\", $$end - $$start }") s wall time (target < 60 s)"
	@sh tools/install-deps.sh python3-torch python3-numpy || \
	    echo "bench: PyTorch could not be installed; its comparison is skipped"
	@$(BENCH) $(BENCH_RESULTS)
	@$(PYTHON) tools/bench_torch.py $(BENCH_RESULTS)

clean:
	rm -rf $(B) tests/*.t

# Header dependencies written by -MMD, so a changed header rebuilds its users.
-include $(shell find $(B) -name '*.d' 2>/dev/null)
