#!/usr/bin/env node
'use strict';
// The smallest testee of spec/protocol.md, in JavaScript (Node, no packages):
// class fp64, one op, softmax with temperature (spec/softmax.md#softmax).
//   build/lmr-run --op softmax -- node tools/testees/testee_minimal.js
const SPECIAL = { inf: Infinity, '-inf': -Infinity, nan: NaN, '-0': -0 };
const decode = (v) => (typeof v === 'string' ? SPECIAL[v] : v);
const say = (object) => process.stdout.write(JSON.stringify(object) + '\n');

function softmax(logits, tau) { // logits: {shape: [n, V], data}; returns probs
    const [n, V] = logits.shape, x = logits.data.map(decode), probs = [];
    if (!(tau > 0 && tau < Infinity)) throw new Error('tau must be finite and > 0');
    if (V === 0 || x.some((u) => Number.isNaN(u) || u === Infinity))
        throw new Error('an empty row, or a +inf or NaN logit');
    for (let t = 0; t < n; t++) {
        const row = x.slice(t * V, (t + 1) * V), a = Math.max(...row);
        if (a === -Infinity) throw new Error('a row of only -inf');
        const e = row.map((u) => (u === -Infinity ? 0 : Math.exp((u - a) / tau)));
        const S = e.reduce((sum, v) => sum + v, 0);
        probs.push(...e.map((v) => v / S));
    }
    return { shape: [n, V], data: probs };
}

say({ protocol: 1, name: 'minimal-js', class: 'fp64', ops: ['softmax'] });
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
    const request = JSON.parse(line), logits = request.inputs.logits;
    if (logits.generator) // a GPT-2-size input to regenerate (spec/format.md)
        return say({ id: request.id, status: 'unsupported', reason: 'no generated inputs' });
    try {
        const tau = request.params.tau === undefined ? 1 : decode(request.params.tau);
        say({ id: request.id, status: 'ok', outputs: { probs: softmax(logits, tau) } });
    } catch (error) {
        say({ id: request.id, status: 'rejected', reason: error.message });
    }
});
