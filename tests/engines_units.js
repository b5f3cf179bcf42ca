#!/usr/bin/env node
'use strict';
// engines_units.js -- TAP tests of the engine adapters' own arithmetic
// (tools/engines/): binary16.js's rounding of doubles to IEEE half
// precision, recipe.js's generated inputs and their checksum, and
// onnx_model.js's varints. Run by make engines-check (prove -e node).
const path = require('path');
const fs = require('fs');

const root = path.join(__dirname, '..');
const binary16 = require(path.join(root, 'tools', 'engines', 'binary16.js'));
const recipe = require(path.join(root, 'tools', 'engines', 'recipe.js'));
const onnx = require(path.join(root, 'tools', 'engines', 'onnx_model.js'));

let count = 0, failures = 0;
function ok(condition, name) {
    count++;
    if (!condition) failures++;
    console.log(`${condition ? 'ok' : 'not ok'} ${count} - ${name}`);
}
const bits = (x) => binary16.toBits([x])[0];

// ---- binary16: exact values ----------------------------------------------
ok(bits(1) === 0x3c00 && bits(-2) === 0xc000, '1 and -2');
ok(bits(65504) === 0x7bff, '65504, the largest half');
ok(bits(65519.99) === 0x7bff && bits(65520) === 0x7c00, '65520 and above round to infinity');
ok(bits(Infinity) === 0x7c00 && bits(-Infinity) === 0xfc00, 'infinities');
ok((bits(NaN) & 0x7c00) === 0x7c00 && (bits(NaN) & 0x3ff) !== 0, 'NaN');
ok(bits(-0) === 0x8000 && bits(0) === 0, 'signed zeros');
ok(bits(2 ** -24) === 1 && bits(2 ** -14) === 0x400, 'smallest subnormal and normal');
ok(bits(2 ** -25) === 0 && bits(3 * 2 ** -25) === 2, 'subnormal ties go to even');
ok(bits(0.1) === 0x2e66, '0.1');
ok(bits(1 + 2 ** -11) === 0x3c00 && bits(1 + 3 * 2 ** -11) === 0x3c02, 'normal ties go to even');

// ---- binary16: every half, and every midpoint between neighbours -----------
const all = new Uint16Array(0x7c00);
for (let b = 0; b < 0x7c00; b++) all[b] = b;
const values = binary16.fromBits(all);
const back = binary16.toBits(values);
ok(back.every((b, i) => b === i), 'every finite half survives decoding and encoding');
let wrong = 0;
for (let b = 0; b + 1 < 0x7c00; b++) {
    const mid = (values[b] + values[b + 1]) / 2; // exact in a double
    const even = b % 2 === 0 ? b : b + 1;
    if (bits(mid) !== even || bits(mid * (1 - 2 ** -40)) !== b || bits(mid * (1 + 2 ** -40)) !== b + 1)
        wrong++;
}
ok(wrong === 0, `round to nearest, ties to even, between all 31743 neighbours (${wrong} wrong)`);

// ---- recipe.js: a generated input of the vectors ---------------------------
const file = JSON.parse(fs.readFileSync(path.join(root, 'vectors', 'softmax_gpt2.json'), 'utf8'));
const logits = file.cases[0].inputs.logits;
let generated = null;
try { generated = recipe.regenerate(logits); } catch (error) { generated = null; }
ok(generated !== null && generated.length === logits.shape[0] * logits.shape[1],
    'softmax/gpt2-logits regenerates with its checksum');
const corrupt = JSON.parse(JSON.stringify(logits));
corrupt.checksum.fnv1a64 = corrupt.checksum.fnv1a64.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
let threw = false;
try { recipe.regenerate(corrupt); } catch (error) { threw = /checksum/.test(error.message); }
ok(threw, 'a wrong checksum is refused');

// ---- onnx_model.js: an int64 attribute of -1 is ten varint bytes -----------
const nodeBytes = onnx.node('ArgMax', ['x'], ['y'], { axis: onnx.attrInt(-1) });
ok(nodeBytes.includes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])),
    'attrInt(-1) is written as the two\'s complement varint');

console.log(`1..${count}`);
process.exit(failures ? 1 : 0);
