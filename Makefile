# lmref -- reference implementation and conformance vectors for the math at
# both ends of a transformer language model.
#
#   make deps      install the Debian packages the project needs (idempotent;
#                  the only target that runs apt-get, and demo/check call it)
#   make           build the library, the tools and the tests (never installs)
#   make test      the TAP suite under prove: the fast loop (seconds)
#   make demo      the main job: regenerate the vectors, confirm they are
#                  byte-identical to the committed ones, validate them against
#                  the schema, check the reference, run every bundled testee
#   make check     the whole TAP suite under prove, then under Valgrind, then
#                  the vector reproducibility, schema and install checks and
#                  the runner against every bundled testee and mutant, the
#                  sanitizer build, a brief fuzz run and bits-check; every
#                  compile with -Werror
#   make bits-check  the reference testee built by gcc and clang, -O2 and
#                  -O3 -march=native, must give every case's outputs bit for
#                  bit as tests/data/reference-digests.txt records them
#                  (make bits-digests rewrites it)
#   make sanitize  everything rebuilt with ASan + UBSan (build-sanitize/):
#                  the TAP programs and the runner against the reference
#   make fuzz      each libFuzzer harness of tests/fuzz/ for FUZZ_SECONDS
#                  (default 60; make check runs them 10 s each)
#   make vectors   regenerate vectors/ and its manifest (after a change)
#   make format    clang-format ref/ with .clang-format; make format-check
#                  fails on any difference (part of make check)
#   make ops       rewrite tools/common/ops.json from the op table
#   make protocol-tables  rewrite spec/protocol.md's generated tables
#   make engines-check    the real engines (tools/engines/) against their
#                  known-failure lists; make engines-deps installs their
#                  Node packages (npm ci, pinned by the lockfile)
#   make install   PREFIX=/usr/local DESTDIR= : library, headers, pkg-config
#   make bench     the benchmarks (not a test)
#   make report    the HTML conformance report of every bundled testee
#   make plots     the study figures (build/plots/); make docs-figures
#                  copies the README's into docs/figures/
#
# Layout: ref/ is the library; every folder of tools/ is one program or one
# library of the tools (tools/README.md). A folder's sources are every .c
# file in it, so a new file needs no edit here; what a folder may include is
# the list of include paths below, so a file that includes a header it must
# not see (the oracle or the generator including ref/) does not compile.

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PYTHON := /usr/bin/python3
PKG_CONFIG ?= pkg-config
VERSION := 0.1.0

WARNINGS := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
# WERROR=-Werror turns every warning into an error (make check sets it).
WERROR ?=
CFLAGS ?= -O2 -g
LDFLAGS ?=
# No floating-point contraction anywhere: a compiler may otherwise fuse
# a*b + c into one fused multiply-add, rounded once instead of twice, and
# whether it does depends on the compiler, its version and -march (clang
# contracts within an expression by default and gcc in GNU mode across
# them), so the reference's results -- and the generator's inputs -- would
# change from one build to the next. After CFLAGS so that CFLAGS cannot
# undo it; make bits-check proves it holds (FP_CFLAGS=-ffp-contract=fast
# shows what it prevents).
FP_CFLAGS ?= -ffp-contract=off
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARNINGS) $(WERROR) $(CFLAGS) \
              $(FP_CFLAGS) -MMD -MP

# The libraries, from their pkg-config files (Debian ships one for each).
pkg_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null || echo $(2))
GSL_LIBS := $(call pkg_libs,gsl,-lgsl -lgslcblas -lm)
JANSSON_LIBS := $(call pkg_libs,jansson,-ljansson)
MPFR_LIBS := $(call pkg_libs,mpfr,-lmpfr -lgmp) -lm

B := build
LINK = $(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^

# ---- the reference library (ref/) ----------------------------------------
LIB_SRC := $(wildcard ref/*.c)
LIB_OBJ := $(LIB_SRC:ref/%.c=$(B)/ref/%.o)
# Installed headers: every ref/*.h except the library's internal ones.
INTERNAL_HEADERS := ref/lmr_check.h ref/lmr_layernorm_stats.h ref/lmr_mixture.h
PUBLIC_HEADERS := $(filter-out $(INTERNAL_HEADERS),$(wildcard ref/*.h))
LIB_A := $(B)/liblmref.a
LIB_SO := $(B)/liblmref.so.0

# ---- tools/: one folder per program or library ---------------------------
# What each folder may include. The oracle sees only itself; the generator
# sees the oracle and the common library; neither sees ref/, and neither does
# the runner, which meets the reference only as a testee over pipes.
INC_common := -Itools/common
INC_oracle := -Itools/oracle
INC_gen := -Itools/gen -Itools/oracle -Itools/common
INC_runner := -Itools/runner -Itools/common
INC_refops := -Itools/refops -Itools/common -Iref
INC_verify := -Itools/verify -Itools/refops -Itools/common -Iref
INC_cli := -Itools/cli -Itools/refops -Itools/common -Iref
INC_testees := -Itools/refops -Itools/common -Iref
INC_bench := -Itools/common -Iref

# The objects of every .c file in a folder (a program's main.c excluded).
folder_objs = $(patsubst tools/%.c,$(B)/tools/%.o,$(filter-out tools/$(1)/main.c,$(wildcard tools/$(1)/*.c)))
COMMON_OBJ := $(call folder_objs,common)
ORACLE_OBJ := $(call folder_objs,oracle)
GEN_OBJ := $(call folder_objs,gen)
RUNNER_OBJ := $(call folder_objs,runner)
REFOPS_OBJ := $(call folder_objs,refops)
VERIFY_OBJ := $(call folder_objs,verify)
CLI_OBJ := $(call folder_objs,cli)

GEN := $(B)/lmr-gen
VERIFY := $(B)/lmr-verify
CLI := $(B)/lmr
RUNNER := $(B)/lmr-run
TESTEE_REF := $(B)/lmr-testee-ref
PROGRAMS := $(GEN) $(VERIFY) $(CLI) $(RUNNER) $(TESTEE_REF)

# ---- tests/ ----------------------------------------------------------------
# Each test program is tests/NAME.c, built to build/tests/NAME.t; the groups
# say what it links (and so what it may include).
T := $(B)/tests
REF_TESTS := errors properties errors_output properties_output errors_grad errors_variants \
             errors_attention properties_attention \
             errors_pca properties_pca
ORACLE_TESTS := oracle_selfcheck oracle_head_selfcheck oracle_variants_selfcheck \
                oracle_grad_selfcheck oracle_grad_variants_selfcheck \
                oracle_attention_selfcheck oracle_pca_selfcheck \
                oracle_validate_selfcheck
REFOPS_TESTS := vectors format gradcheck
CLI_TESTS := cli op_table explain
TESTS := $(patsubst %,$(T)/%.t,$(REF_TESTS) $(ORACLE_TESTS) $(REFOPS_TESTS) \
                                $(CLI_TESTS) judge runner)
TAP_OBJ := $(T)/tap.o
# TAP programs in Python (run by make test after the C ones): the testees'
# validator against every vector case, the testees failing closed, and the
# coverage rule of spec/coverage.md on the vectors, the marking of spec/
# (spec_pages.py) and spec/errors.md against ops.json, vectors and ref/
# (spec_errors.py).
PY_TESTS := tests/testees_validate.py tests/testees_fail_closed.py tests/coverage.py \
            tests/spec_pages.py tests/spec_errors.py tests/fuzz_seeds.py
# Misbehaving (and one well-behaved) testees for tests/runner.t.
TEST_TESTEES := $(T)/testees/replay

INC_tests_ref := -Itests -Iref
INC_tests_oracle := -Itests -Itools/oracle
INC_tests_refops := -Itests -Itools/refops -Itools/verify -Itools/common -Iref
INC_tests_judge := -Itests -Itools/common
INC_tests_cli := -Itests -Itools/cli -Itools/refops -Itools/common -Iref
INC_tests_runner := -Itests -Itools/runner -Itools/common
test_group = $(if $(filter $(1),$(REF_TESTS) check),ref,$(if $(filter $(1),$(ORACLE_TESTS)),oracle,$(if $(filter $(1),$(REFOPS_TESTS)),refops,$(if $(filter $(1),$(CLI_TESTS)),cli,$(if $(filter $(1),tap),judge,$(1))))))

VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full \
            --show-leak-kinds=all --errors-for-leak-kinds=all

.PHONY: all deps demo check test memcheck vectors vectors-check exactness-check schema-check \
        ops ops-check \
        install install-check bench clean runner-check testees-check \
        independence-check demo-after-deps check-after-deps report \
        report-check plots plots-check docs-figures protocol-tables \
        protocol-tables-check minimal-testee-check engines-deps engines-check

all: $(LIB_A) $(LIB_SO) $(PROGRAMS) $(TESTS) $(TEST_TESTEES)

deps:
	@sh tools/scripts/install-deps.sh

# ---- compiling --------------------------------------------------------------
# The library exports only what its installed headers mark LMR_API
# (ref/lmr_api.h); every other function stays hidden in liblmref.so.
LIB_CFLAGS := -fPIC -fvisibility=hidden
$(B)/ref/%.o: ref/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LIB_CFLAGS) -Iref -c $< -o $@

# The op table leaves a row's trailing fields out where they are zero (the
# C rule for an initializer list), which clang's -Wextra reports field by
# field.
$(B)/tools/common/op_table.o: ALL_CFLAGS += -Wno-missing-field-initializers

# A tools/ object is compiled with the include paths of its folder, the
# first component of its path under tools/ (INC_gen for tools/gen/x.c).
tools_folder = $(firstword $(subst /, ,$(1)))
$(B)/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(INC_$(call tools_folder,$*)) -c $< -o $@

$(T)/testees/%.o: tests/testees/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(T)/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(INC_tests_$(call test_group,$*)) -c $< -o $@

# ---- linking ----------------------------------------------------------------
$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,liblmref.so.0 -o $@ $^ $(GSL_LIBS)

# The generator links the oracle, never ref/.
$(GEN): $(B)/tools/gen/main.o $(GEN_OBJ) $(ORACLE_OBJ) $(COMMON_OBJ)
	$(LINK) $(JANSSON_LIBS) $(MPFR_LIBS) $(GSL_LIBS)

$(VERIFY): $(B)/tools/verify/main.o $(VERIFY_OBJ) $(REFOPS_OBJ) $(COMMON_OBJ) $(LIB_A)
	$(LINK) $(JANSSON_LIBS) $(GSL_LIBS)

# The command-line tool runs ref/ through the same decoding as the vectors.
$(CLI): $(B)/tools/cli/main.o $(CLI_OBJ) $(REFOPS_OBJ) $(COMMON_OBJ) $(LIB_A)
	$(LINK) $(JANSSON_LIBS) $(GSL_LIBS)

# The runner links the common library, never ref/; the reference reaches it
# only as a testee, through the protocol.
$(RUNNER): $(B)/tools/runner/main.o $(RUNNER_OBJ) $(COMMON_OBJ)
	$(LINK) $(JANSSON_LIBS) -lm

$(TESTEE_REF): $(B)/tools/testees/testee_ref.o $(REFOPS_OBJ) $(COMMON_OBJ) $(LIB_A)
	$(LINK) $(JANSSON_LIBS) $(GSL_LIBS)

$(patsubst %,$(T)/%.t,$(REF_TESTS)): $(T)/%.t: $(T)/%.o $(TAP_OBJ) $(T)/check.o $(LIB_A)
	$(LINK) $(GSL_LIBS)

$(patsubst %,$(T)/%.t,$(ORACLE_TESTS)): $(T)/%.t: $(T)/%.o $(TAP_OBJ) $(ORACLE_OBJ)
	$(LINK) $(MPFR_LIBS)

$(patsubst %,$(T)/%.t,$(REFOPS_TESTS)): $(T)/%.t: $(T)/%.o $(TAP_OBJ) $(VERIFY_OBJ) $(REFOPS_OBJ) $(COMMON_OBJ) $(LIB_A)
	$(LINK) $(JANSSON_LIBS) $(GSL_LIBS)

$(T)/judge.t: $(T)/judge.o $(TAP_OBJ) $(COMMON_OBJ)
	$(LINK) $(JANSSON_LIBS) -lm

$(patsubst %,$(T)/%.t,$(CLI_TESTS)): $(T)/%.t: $(T)/%.o $(TAP_OBJ) $(CLI_OBJ) $(REFOPS_OBJ) $(COMMON_OBJ) $(LIB_A)
	$(LINK) $(JANSSON_LIBS) $(GSL_LIBS)

$(T)/runner.t: $(T)/runner.o $(TAP_OBJ) $(RUNNER_OBJ) $(COMMON_OBJ) | $(TEST_TESTEES)
	$(LINK) $(JANSSON_LIBS) -lm

$(TEST_TESTEES): $(T)/testees/%: $(T)/testees/%.o
	$(LINK) $(JANSSON_LIBS)

# ---- the main job -------------------------------------------------------------
# demo and check install the Debian packages first (make deps), then build.
demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory demo-after-deps

demo-after-deps: all engines-deps
	@sh tools/scripts/check-vectors.sh $(GEN)
	@$(PYTHON) tools/scripts/validate-schema.py spec/vector.schema.json vectors/*.json
	@echo
	@echo "== the reference (ref/) against every vector, class fp64 =="
	@$(VERIFY) vectors/*.json
	@echo
	@echo "== the bundled testees through lmr-run, per op; then the mutants =="
	@sh tools/scripts/check-testees.sh --tables $(RUNNER)
	@echo
	@echo "== real engines through lmr-run, per engine and class (tools/engines/) =="
	@sh tools/scripts/check-engines.sh --validation $(RUNNER)

# ---- tests --------------------------------------------------------------------
test: all
	prove -e '' $(TESTS)
	prove -e '$(PYTHON)' $(PY_TESTS)

memcheck: all
	prove -e '$(VALGRIND)' $(TESTS)

vectors-check: $(GEN)
	@sh tools/scripts/check-vectors.sh $(GEN)

# The oracle's exactness self-check: every golden regenerated at 1024 bits
# must be the same double as at 256 (an exact 0 stored as a rounding
# residue would not be).
exactness-check: $(GEN)
	@$(PYTHON) tools/scripts/check-exactness.py $(GEN) vectors

schema-check:
	@$(PYTHON) tools/scripts/validate-schema.py spec/vector.schema.json vectors/*.json
	@$(PYTHON) tools/scripts/validate-schema.py --expect-invalid spec/vector.schema.json tests/malformed/*.json

# The independence rule, checked on the sources as well as by the include
# paths: no file of the oracle, the generator, the common library or the
# runner names a header of ref/, and no tools/ file reaches another folder by
# a relative path.
independence-check:
	@sh tools/scripts/check-independence.sh

# make check compiles with -Werror (WERROR, passed on to the sanitizer,
# fuzzing and bits-check builds, gcc's and clang's): a warning fails it. An
# object built earlier without it is not rebuilt; CI starts from a clean tree.
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory check-after-deps WERROR=-Werror

check-after-deps: independence-check ops-check test memcheck vectors-check exactness-check \
                  schema-check install-check runner-check report-check \
                  plots-check protocol-tables-check minimal-testee-check \
                  engines-check testees-check sanitize fuzz-check bits-check \
                  format-check

# Every bundled correct testee (reference, NumPy, PyTorch) must pass in its
# class, and every mutant of the NumPy testee (tools/testees/mutants.py) must
# be caught in every class its bug shows in.
testees-check: $(RUNNER) $(TESTEE_REF)
	@sh tools/scripts/check-testees.sh $(RUNNER)

# The reference library as a testee of lmr-run: every case must pass (no
# failure, no unsupported case). The TAP stays in build/runner-check.tap,
# the JSON report in build/runner-check.json (for report-check).
runner-check: $(RUNNER) $(TESTEE_REF)
	@$(RUNNER) --vectors vectors --report $(B)/runner-check.json \
	    -- $(TESTEE_REF) > $(B)/runner-check.tap; \
	status=$$?; sed -n '/^# summary/,$$p' $(B)/runner-check.tap; \
	if [ $$status -ne 0 ] || grep -q -e '^not ok' -e '# SKIP' $(B)/runner-check.tap; then \
	    echo "runner-check: not every case passed (see $(B)/runner-check.tap)"; \
	    exit 1; \
	fi; \
	echo "runner-check: every case passed (TAP in $(B)/runner-check.tap)"

# ---- pictures: the HTML conformance report (tools/report/) -------------------
# make report: every bundled correct testee's run (check-testees.sh keeps
# their JSON reports in build/reports/) in one page, build/report.html.
# ENGINE_REPORTS="a.json b.json" adds real engines' runs to its engines'
# section.
REPORTS := $(B)/reports
ENGINE_REPORTS ?=
HTML_REPORT := $(PYTHON) tools/report/html_report.py

$(REPORTS)/stamp: $(RUNNER) $(TESTEE_REF) vectors/SHA256SUMS $(wildcard tools/testees/*.py)
	@sh tools/scripts/check-testees.sh --reports $(REPORTS) --correct-only $(RUNNER) || \
	    echo "a bundled testee failed: the report shows where"
	@touch $@

report: $(REPORTS)/stamp
	@$(HTML_REPORT) --out $(B)/report.html $(addprefix --engine ,$(ENGINE_REPORTS)) \
	    $(REPORTS)/*.json

# Part of make check: the page built from two real runs, the reference's
# (runner-check) and a mutant's with a known failure and a stale entry, is
# opened in headless chromium and checked against the JSON reports; its bad
# input handling is checked too.
REPORT_MUTANT := $(PYTHON) tools/testees/mutants.py --class fp32 --mutant softmax-no-max
report-check: runner-check
	@$(RUNNER) --known-failures tests/data/report-known-failures.txt \
	    --report $(B)/report-check-mutant.json -- $(REPORT_MUTANT) \
	    > $(B)/report-check-mutant.tap; \
	status=$$?; if [ $$status -ne 1 ]; then \
	    echo "report-check: the mutant run should fail (exit 1), got $$status"; exit 1; fi
	@$(HTML_REPORT) --out $(B)/report-check.html $(B)/runner-check.json \
	    $(B)/report-check-mutant.json
	@prove -e '$(PYTHON)' tests/report_browser.py :: $(B)/report-check.html vectors \
	    $(B)/report-check.png $(B)/runner-check.json $(B)/report-check-mutant.json
	@prove -e '$(PYTHON)' tests/report_input.py :: $(B)/runner-check.json vectors

# ---- pictures: the study figures (tools/plots/) -----------------------------
# make plots: every figure in build/plots/, each number computed by the
# reference through its protocol program (never its C API), the
# error-to-bound figure from the bundled testees' runs (as for make report).
# make docs-figures copies the ones the README shows into docs/figures/;
# plots-check (part of make check) draws them all from the runs of
# report-check and requires the committed ones to be current.
PLOTS := $(PYTHON) tools/plots/plots.py --testee $(TESTEE_REF) --vectors vectors
DOC_FIGURES := sinusoid temperature tied_gradient error_to_bound attention pca_projection

plots: $(TESTEE_REF) $(REPORTS)/stamp
	@$(PLOTS) --out $(B)/plots $(REPORTS)/*.json

docs-figures: plots
	@mkdir -p docs/figures
	@for name in $(DOC_FIGURES); do cp $(B)/plots/$$name.png docs/figures/; done
	@ls -l $(DOC_FIGURES:%=docs/figures/%.png)

plots-check: report-check
	@prove -e '$(PYTHON)' tests/plots.py :: $(TESTEE_REF) vectors \
	    $(B)/runner-check.json $(B)/report-check-mutant.json

vectors: $(GEN)
	$(GEN) vectors
	cd vectors && sha256sum *.json > SHA256SUMS

# tools/common/ops.json: the op table as JSON, for the Python testees and
# other languages. `make ops` rewrites it after a change to the table;
# `make ops-check` (part of make check) fails when it is out of date.
OPS_JSON := tools/common/ops.json
ops: $(CLI)
	$(CLI) --list --json > $(OPS_JSON).tmp && mv $(OPS_JSON).tmp $(OPS_JSON)

ops-check: $(CLI)
	@$(CLI) --list --json | cmp -s - $(OPS_JSON) || { \
	    echo "ops-check: $(OPS_JSON) differs from the op table; run 'make ops'"; \
	    exit 1; }
	@echo "ops-check: $(OPS_JSON) matches the op table"

# spec/protocol.md's generated tables (params and their defaults, output
# names, the cases with integers beyond 2^53): `make protocol-tables`
# rewrites them; the check (part of make check) fails when they are stale.
protocol-tables:
	@$(PYTHON) tools/scripts/protocol_tables.py

protocol-tables-check:
	@$(PYTHON) tools/scripts/protocol_tables.py --check

# The minimal JavaScript testee (tools/testees/testee_minimal.js) must pass
# every softmax case but the two whose generated inputs it does not read.
minimal-testee-check: $(RUNNER)
	@$(RUNNER) --vectors vectors --op softmax -- node tools/testees/testee_minimal.js \
	    > $(B)/minimal-testee.tap; \
	status=$$?; passed=$$(grep -c '^ok [0-9]* - softmax/[^#]*$$' $(B)/minimal-testee.tap); \
	skipped=$$(grep -c '^ok .* # SKIP' $(B)/minimal-testee.tap); \
	if [ $$status -ne 0 ] || [ $$passed -lt 20 ] || [ $$skipped -ne 2 ] || \
	    grep -q '^not ok' $(B)/minimal-testee.tap; then \
	    echo "minimal-testee-check: failed (exit $$status, $$passed passed, $$skipped skipped; $(B)/minimal-testee.tap)"; \
	    exit 1; fi; \
	echo "minimal-testee-check: testee_minimal.js passed $$passed softmax cases ($$skipped generated-input cases unsupported)"

# ---- real engines under test (tools/engines/) ----------------------------------
# engines-deps: the adapters' Node packages, exactly as pinned in
# tools/engines/package-lock.json, installed by npm ci with no install
# script run (onnxruntime-node's would fetch the CUDA provider from NuGet;
# the CPU runtime ships in its npm tarball), so nothing is downloaded at
# run time. engines-check (part of make check): the adapters' own
# arithmetic (tests/engines_units.js: binary16 rounding, generated inputs),
# then every adapter in each class its engine computes in, on the valid
# cases, against its strict known-failure list (tools/engines/known/).
ENGINES := tools/engines
ENGINES_STAMP := $(ENGINES)/node_modules/.package-lock.json

engines-deps: $(ENGINES_STAMP)

$(ENGINES_STAMP): $(ENGINES)/package.json $(ENGINES)/package-lock.json
	cd $(ENGINES) && ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

engines-check: $(RUNNER) $(ENGINES_STAMP)
	@prove -e node tests/engines_units.js
	@sh tools/scripts/check-engines.sh $(RUNNER)

# ---- install --------------------------------------------------------------------
install: $(LIB_A) $(LIB_SO)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/lmref
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf liblmref.so.0 $(DESTDIR)$(LIBDIR)/liblmref.so
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/lmref/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    tools/scripts/lmref.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/lmref.pc

install-check: $(LIB_A) $(LIB_SO)
	@sh tools/scripts/check-install.sh

# ---- benchmark (not a test; not run by `make check`) ----------------------------
# The C program times the reference tied head at GPT-2 size and this machine's
# Copy bandwidth and writes its figures to BENCH_RESULTS; bench_torch.py then
# times PyTorch's float64 head on the same inputs and prints the ratios.
BENCH := $(B)/lmr-bench-head
BENCH_RESULTS := $(B)/bench_head.txt

$(BENCH): $(B)/tools/bench/bench_head.o $(LIB_A)
	$(LINK) $(GSL_LIBS) -lpthread

$(B)/lmr-bench-judge: $(B)/tools/bench/bench_judge.o $(COMMON_OBJ)
	$(LINK) $(JANSSON_LIBS) -lm

$(B)/lmr-bench-lce: $(B)/tools/bench/bench_lce.o $(B)/tools/common/recipe.o $(LIB_A)
	$(LINK) $(GSL_LIBS) -lm

bench: $(BENCH) $(B)/lmr-bench-judge $(B)/lmr-bench-lce $(RUNNER) $(TESTEE_REF)
	@echo "== the runner: judging throughput, and the whole suite against the C testee =="
	@$(B)/lmr-bench-judge vectors/*.json
	@start=$$(date +%s.%N); $(RUNNER) -- $(TESTEE_REF) > $(B)/bench-runner.tap; \
	end=$$(date +%s.%N); \
	echo "  whole suite ($$(grep -c '^ok' $(B)/bench-runner.tap) cases passed) against lmr-testee-ref: $$(awk "BEGIN { printf \"%.2f\", $$end - $$start }") s wall time (target < 60 s)"
	@sh tools/scripts/install-deps.sh python3-torch python3-numpy || \
	    echo "bench: PyTorch could not be installed; its comparison is skipped"
	@$(BENCH) $(BENCH_RESULTS)
	@$(PYTHON) tools/bench/bench_torch.py $(BENCH_RESULTS)
	@$(B)/lmr-bench-lce

clean:
	rm -rf $(B)

# ---- the runner's tests (tests/runner*.c) -------------------------------------
# tests/runner.t and tests/runner_hostile.t share tests/runner_fixture.c (the
# fixtures and an in-process lmr-run); both run the replay testee.
TESTS += $(T)/runner_hostile.t
INC_tests_runner_hostile := $(INC_tests_runner)
INC_tests_runner_fixture := $(INC_tests_runner)
all: $(T)/runner_hostile.t
$(T)/runner.t: $(T)/runner_fixture.o
$(T)/runner_hostile.t: $(T)/runner_hostile.o $(T)/runner_fixture.o $(TAP_OBJ) \
                       $(RUNNER_OBJ) $(COMMON_OBJ) | $(TEST_TESTEES)
	$(LINK) $(JANSSON_LIBS) -lm

# ---- sanitizers: make sanitize (part of make check) ------------------------------
# Everything rebuilt with clang's AddressSanitizer (and its leak checker) and
# UBSan, aborting at the first report, in build-sanitize/; then every TAP
# program, and the runner against the reference testee (both sanitized),
# which must pass every case and exit cleanly. A minute or two.
SANITIZE_B := build-sanitize
SANITIZE_CC := clang-14
SANITIZERS := -fsanitize=address,undefined -fno-sanitize-recover=all
SANITIZE_CFLAGS := -O1 -g -fno-omit-frame-pointer $(SANITIZERS)
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87

.PHONY: sanitize
sanitize:
	@$(MAKE) --no-print-directory B=$(SANITIZE_B) CC=$(SANITIZE_CC) \
	    CFLAGS="$(SANITIZE_CFLAGS)" LDFLAGS="$(SANITIZERS)" all
	@echo "== the TAP programs, sanitized =="
	@$(SANITIZE_ENV) LMR_BUILD=$(SANITIZE_B) prove -e '' \
	    $(patsubst $(B)/%,$(SANITIZE_B)/%,$(TESTS))
	@echo "== the sanitized runner against the sanitized reference =="
	@$(SANITIZE_ENV) $(SANITIZE_B)/lmr-run --vectors vectors \
	    -- $(SANITIZE_B)/lmr-testee-ref > $(SANITIZE_B)/runner-check.tap; \
	status=$$?; tail -n 3 $(SANITIZE_B)/runner-check.tap; \
	if [ $$status -ne 0 ] || grep -q -e '^not ok' -e '# SKIP' -e '^# note: at the end' \
	    $(SANITIZE_B)/runner-check.tap; then \
	    echo "sanitize: the runner or the reference failed (see $(SANITIZE_B)/runner-check.tap)"; \
	    exit 1; \
	fi; \
	echo "sanitize: every TAP program and every case clean under ASan and UBSan"

# ---- the same bits from every build: make bits-check (part of make check) -------
# The reference testee built four ways, each in build-bits/NAME/: gcc and
# clang, -O2 and -O3 -march=native (the name says which). Every case's
# outputs must be, bit for bit, those tests/data/reference-digests.txt
# records (one SHA-256 per case, tools/scripts/check-bits.py). A build is
# redone from scratch when its compiler or flags change (build-bits/NAME/
# flags), so `make bits-check FP_CFLAGS=-ffp-contract=fast` shows what
# -ffp-contract=off prevents. make bits-digests rewrites the file, and only
# when all four builds agree.
BITS_B := build-bits
BITS_DIGESTS := tests/data/reference-digests.txt
BITS_BUILDS := gcc-O2 clang-O2 gcc-O3-native clang-O3-native
BITS_CLANG := clang-14
BITS_CHECK = $(PYTHON) tools/scripts/check-bits.py --runner $(RUNNER) \
    --vectors vectors --digests $(BITS_DIGESTS) \
    $(foreach name,$(BITS_BUILDS),$(name)=$(BITS_B)/$(name)/lmr-testee-ref)

.PHONY: bits-build bits-check bits-digests
bits-build:
	@for name in $(BITS_BUILDS); do \
	    case $$name in gcc-*) cc=gcc ;; *) cc=$(BITS_CLANG) ;; esac; \
	    case $$name in *-native) flags="-O3 -march=native" ;; *) flags=-O2 ;; esac; \
	    dir=$(BITS_B)/$$name; want="$$cc $$flags $(FP_CFLAGS) $(WERROR)"; \
	    if [ "$$(cat $$dir/flags 2>/dev/null)" != "$$want" ]; then \
	        rm -rf $$dir; mkdir -p $$dir; echo "$$want" > $$dir/flags; fi; \
	    $(MAKE) --no-print-directory -s B=$$dir CC=$$cc CFLAGS="$$flags" \
	        $$dir/lmr-testee-ref || exit 1; \
	done

bits-check: $(RUNNER) bits-build
	@$(BITS_CHECK)

bits-digests: $(RUNNER) bits-build
	@$(BITS_CHECK) --write

# ---- fuzzing: make fuzz FUZZ_SECONDS=N; make fuzz-check (part of make check) ----
# libFuzzer harnesses (tests/fuzz/fuzz_NAME.c), built with clang in
# build-fuzz/ against the code compiled with coverage and ASan + UBSan.
# Each runs FUZZ_SECONDS seconds from its committed seeds
# (tests/fuzz/corpus/NAME/) plus what earlier runs found
# (build-fuzz/corpus/NAME/, where new inputs go); a crash, leak, timeout or
# sanitizer report fails, and the input that caused it is left in
# build-fuzz/ (crash-*, leak-*, timeout-*). fuzz-check: 10 s each.
FUZZ_B := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := vecio reference response cli
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_OPTIONS = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2560 \
               -print_final_stats=1 -artifact_prefix=$(FUZZ_B)/

INC_fuzz_vecio := -Itools/common
INC_fuzz_reference := -Itools/refops -Itools/common -Iref
INC_fuzz_response := -Itools/runner -Itools/common
INC_fuzz_cli := -Itools/cli -Itools/refops -Itools/common -Iref

$(B)/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(INC_$*) -c $< -o $@

$(B)/fuzz/fuzz_vecio: $(B)/fuzz/fuzz_vecio.o $(COMMON_OBJ)
	$(LINK) $(JANSSON_LIBS) -lm
$(B)/fuzz/fuzz_reference: $(B)/fuzz/fuzz_reference.o $(REFOPS_OBJ) $(COMMON_OBJ) $(LIB_A)
	$(LINK) $(JANSSON_LIBS) $(GSL_LIBS)
$(B)/fuzz/fuzz_response: $(B)/fuzz/fuzz_response.o $(RUNNER_OBJ) $(COMMON_OBJ)
	$(LINK) $(JANSSON_LIBS) -lm
$(B)/fuzz/fuzz_cli: $(B)/fuzz/fuzz_cli.o $(CLI_OBJ) $(REFOPS_OBJ) $(COMMON_OBJ) $(LIB_A)
	$(LINK) $(JANSSON_LIBS) $(GSL_LIBS)

.PHONY: fuzz fuzz-build fuzz-harnesses fuzz-check
fuzz-harnesses: $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_HARNESSES))

fuzz-build:
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(SANITIZE_CC) \
	    CFLAGS="$(FUZZ_CFLAGS)" LDFLAGS="$(FUZZ_LDFLAGS)" fuzz-harnesses

fuzz: fuzz-build
	@for name in $(FUZZ_HARNESSES); do \
	    mkdir -p $(FUZZ_B)/corpus/$$name; \
	    echo "== fuzz_$$name, $(FUZZ_SECONDS) s =="; \
	    $(FUZZ_B)/fuzz/fuzz_$$name $(FUZZ_OPTIONS) $(FUZZ_B)/corpus/$$name \
	        tests/fuzz/corpus/$$name > $(FUZZ_B)/fuzz_$$name.log 2>&1; \
	    status=$$?; \
	    grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units|cov: ' \
	        $(FUZZ_B)/fuzz_$$name.log | tail -n 2; \
	    if [ $$status -ne 0 ]; then \
	        grep -E -A30 'ERROR|WARNING|runtime error' $(FUZZ_B)/fuzz_$$name.log | head -n 40; \
	        echo "fuzz: fuzz_$$name failed (exit $$status; log $(FUZZ_B)/fuzz_$$name.log)"; \
	        exit 1; \
	    fi; \
	done; \
	echo "fuzz: no crash, leak or sanitizer report in $(words $(FUZZ_HARNESSES)) harnesses"

fuzz-check:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# make clean removes the sanitizer, fuzzing and bits-check builds too.
# ---- formatting --------------------------------------------------------------
# The library's sources follow .clang-format (applied once with make format);
# format-check prints the first differences and fails when a file of ref/
# would change. The tools and tests keep their hand layout.
CLANG_FORMAT := clang-format-14
FORMAT_SOURCES := $(wildcard ref/*.c ref/*.h)

.PHONY: format format-check
format:
	$(CLANG_FORMAT) -i $(FORMAT_SOURCES)

format-check:
	@status=0; for f in $(FORMAT_SOURCES); do \
	  if ! $(CLANG_FORMAT) $$f | cmp -s $$f -; then \
	    echo "format-check: $$f differs from clang-format (make format):"; \
	    $(CLANG_FORMAT) $$f | diff $$f - | head -8; status=1; fi; \
	done; \
	[ $$status -eq 0 ] && echo "format-check: the $(words $(FORMAT_SOURCES)) files of ref/ as clang-format writes them"; \
	exit $$status

.PHONY: clean-instrumented
clean: clean-instrumented
clean-instrumented:
	rm -rf $(SANITIZE_B) $(FUZZ_B) $(BITS_B)

# Header dependencies written by -MMD, so a changed header rebuilds its users.
-include $(shell find $(B) -name '*.d' 2>/dev/null)
