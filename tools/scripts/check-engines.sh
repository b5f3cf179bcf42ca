#!/bin/sh
# check-engines.sh [--validation] RUNNER -- runs every real-engine adapter of
# tools/engines/ in each class its engine computes in, on the numerics (the
# valid cases: lmr-run --numerics-only), against its strict known-failure
# list tools/engines/known/ENGINE-CLASS.txt: any unlisted failure, and any
# listed case that passes, fails the check. Every line exchanged is checked
# against the protocol's JSON Schemas. Then prints the per-engine, per-class
# table (tools/engines/engine_table.py). The JSON reports, TAP and
# transcripts stay in build/engines/.
#
# With --validation, each adapter also runs on every case, invalid ones
# included, and the table adds what the engine does with bad input
# (rejected or accepted); that run never fails the check, since engines do
# not validate their input and are not asked to (spec/engines.md).
#
# Needs the Node packages of tools/engines (make engines-deps) and Debian's
# python3-scipy (make deps).
set -u
usage="usage: check-engines.sh [--validation] path/to/lmr-run"
validation=0
if [ "${1:-}" = "--validation" ]; then validation=1; shift; fi
runner=${1:?$usage}
python=/usr/bin/python3
out=build/engines
timeout=60
status=0

if ! command -v node >/dev/null 2>&1; then
    echo "check-engines: node is not installed (make deps installs Debian's when missing)"
    exit 1
fi
if [ ! -d tools/engines/node_modules/onnxruntime-node ]; then
    echo "check-engines: the Node packages are missing; run 'make engines-deps'"
    exit 1
fi
rm -rf "$out"
mkdir -p "$out/validation"

# engine|class|command: each adapter in each class it computes in
adapters="onnxruntime|fp32|node tools/engines/adapter_onnxruntime.js --class fp32
onnxruntime|fp64|node tools/engines/adapter_onnxruntime.js --class fp64
onnxruntime|fp16|node tools/engines/adapter_onnxruntime.js --class fp16
tfjs|fp32|node tools/engines/adapter_tfjs.js --class fp32
transformers|fp64|node tools/engines/adapter_transformers.js --class fp64
transformers|fp32|node tools/engines/adapter_transformers.js --class fp32
scipy|fp64|$python tools/engines/adapter_scipy.py --class fp64
scipy|fp32|$python tools/engines/adapter_scipy.py --class fp32"

echo "== real engines, numerics only: every failure must be a listed one =="
echo "$adapters" | while IFS='|' read -r engine class command; do
    name=$engine-$class
    # shellcheck disable=SC2086 # the command is meant to split into words
    "$runner" --numerics-only --timeout "$timeout" \
        --known-failures "tools/engines/known/$name.txt" \
        --report "$out/$name.json" --transcript "$out/$name.transcript" \
        -- $command > "$out/$name.tap" 2> "$out/$name.err"
    code=$?
    if [ "$code" -ne 0 ]; then
        echo "check-engines: $name: unlisted failures or stale entries (exit $code):"
        grep -A2 -e '^not ok' "$out/$name.tap" | grep -v -e '# TODO' | head -n 20
        tail -n 5 "$out/$name.err"
        echo 1 > "$out/failed"
    fi
    if [ "$validation" -eq 1 ]; then
        # shellcheck disable=SC2086
        "$runner" --timeout "$timeout" --known-failures "tools/engines/known/$name.txt" \
            --report "$out/validation/$name.json" -- $command \
            > "$out/validation/$name.tap" 2> "$out/validation/$name.err"
    fi
done
[ -f "$out/failed" ] && status=1

# Every line each adapter wrote (and every request), against the protocol's
# JSON Schemas (spec/protocol-*.schema.json).
$python tools/scripts/validate-protocol.py spec "$out"/*.transcript || status=1

reports=$(for name in onnxruntime-fp64 onnxruntime-fp32 onnxruntime-fp16 tfjs-fp32 transformers-fp64 \
    transformers-fp32 scipy-fp64 scipy-fp32; do
    if [ "$validation" -eq 1 ]; then echo "$out/validation/$name.json"; else echo "$out/$name.json"; fi
done)
# shellcheck disable=SC2086 # one path per word
$python tools/engines/engine_table.py --vectors vectors $reports || status=1
[ "$status" -eq 0 ] && echo "engines-check: every engine's numerics match its known-failure list"
exit "$status"
