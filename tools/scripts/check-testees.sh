#!/bin/sh
# check-testees.sh [--tables] [--reports DIR] [--correct-only] RUNNER -- runs
# the conformance runner against every bundled correct testee (each must
# pass every case it supports: zero false failures) and against every mutant
# of the NumPy testee (tools/testees/mutants.py; each must fail cases in
# every class its bug shows in), then prints the mutation score per class;
# unless --correct-only, every line the correct testees and the runner
# exchanged is then validated against the protocol's JSON Schemas. With
# --tables, the runner's per-op summary of each correct
# testee is printed too; with --reports DIR, each correct testee's JSON
# report is kept as DIR/NAME.json (for tools/report and tools/plots); with
# --correct-only, the mutants are not run. Exit status 0 only if all hold.
set -u
usage="usage: check-testees.sh [--tables] [--reports DIR] [--correct-only] path/to/lmr-run"
tables=0
reports=""
mutants=1
# how many failing cases each mutant needs in every class its bug shows in
min_cases=2
while [ "$#" -gt 1 ]; do
    case "$1" in
        --tables) tables=1; shift ;;
        --reports) reports=${2:?$usage}; shift 2 ;;
        --correct-only) mutants=0; shift ;;
        *) break ;;
    esac
done
runner=${1:?$usage}
python=/usr/bin/python3
timeout=120
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT INT TERM
status=0
[ -n "$reports" ] && mkdir -p "$reports"

# name|command: the correct testees and the class each declares
correct="reference|build/lmr-testee-ref
numpy-fp64|$python tools/testees/testee_numpy.py --class fp64
numpy-fp32|$python tools/testees/testee_numpy.py --class fp32
torch-fp64|$python tools/testees/testee_torch.py --class fp64
torch-fp32|$python tools/testees/testee_torch.py --class fp32
torch-bf16|$python tools/testees/testee_torch.py --class bf16
torch-fp16|$python tools/testees/testee_torch.py --class fp16"

echo "== correct testees: every supported case must pass =="
printf '%-12s %8s %8s %12s %s\n' testee passed failed unsupported verdict
echo "$correct" | while IFS='|' read -r name command; do
    # shellcheck disable=SC2086 # the command is meant to split into words
    "$runner" --timeout "$timeout" --report "$log/$name.json" \
        --transcript "$log/$name.transcript" -- $command \
        > "$log/$name.tap" 2> "$log/$name.err"
    code=$?
    passed=$(grep -c '^ok ' "$log/$name.tap")
    skipped=$(grep -c '^ok .*# SKIP' "$log/$name.tap")
    failed=$(grep -c '^not ok ' "$log/$name.tap")
    verdict=$([ "$code" -eq 0 ] && echo pass || echo FAIL)
    printf '%-12s %8d %8d %12d %s\n' "$name" $((passed - skipped)) "$failed" \
        "$skipped" "$verdict"
    if [ "$tables" -eq 1 ]; then
        sed -n '/^# summary/,/^# total/p' "$log/$name.tap" | sed 's/^# /    /'
    fi
    [ -n "$reports" ] && [ -f "$log/$name.json" ] && cp "$log/$name.json" "$reports/$name.json"
    if [ "$code" -ne 0 ]; then
        grep -A3 '^not ok' "$log/$name.tap" | head -n 20
        tail -n 5 "$log/$name.err"
        echo 1 > "$log/false-failures"
    fi
done
[ -f "$log/false-failures" ] && status=1
[ "$mutants" -eq 0 ] && exit "$status"

echo
echo "== every line exchanged, against the protocol's JSON Schemas =="
# The hello and responses of each correct testee, and every request the
# runner wrote, against spec/protocol-*.schema.json.
$python tools/scripts/validate-protocol.py spec "$log"/*.transcript || status=1

echo
echo "== mutants of the NumPy testee (tools/testees/mutants.py): each must be caught =="
# The fast loop: every case read once, the correct responses computed once
# per class, and each mutant's responses that differ from them judged
# offline by the runner, in fp64 and fp32 (and the fp32 ones by the bf16 and
# fp16 bounds too), two jobs at a time.
$python tools/testees/mutants.py --score "$runner" --jobs 2 --min-cases "$min_cases" || status=1
exit "$status"
