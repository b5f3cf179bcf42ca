'use strict';
/*
 * protocol.js -- the testee's side of spec/protocol.md, shared by the
 * JavaScript engine adapters: the hello line, one response per request,
 * the number encoding of spec/format.md, generated inputs, and the params'
 * defaults from tools/common/ops.json.
 *
 * An adapter supplies one async handler per op: handler(request) returns
 * the outputs ({name: floatOutput(...) or intOutput(...)}), throws
 * Unsupported where the engine has no matching op, and lets the engine's
 * own exceptions through, which become "rejected" with the engine's
 * message. Nothing here validates an input: that is the engine's job, and
 * what the suite measures.
 */
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const util = require('util');

const { regenerate } = require('./recipe.js');

/* The protocol owns standard output. Engines print banners and warnings
 * with console.log (TensorFlow.js greets Node users there): send them to
 * standard error, which the runner shows when a case fails. */
const writeOut = process.stdout.write.bind(process.stdout);
for (const method of ['log', 'info', 'debug', 'warn'])
    console[method] = (...args) => process.stderr.write(util.format(...args) + '\n');

class Unsupported extends Error {}

/* ---- the op table: params' defaults ------------------------------------- */

const OPS_JSON = path.join(__dirname, '..', 'common', 'ops.json');
const opTable = new Map(JSON.parse(fs.readFileSync(OPS_JSON, 'utf8')).ops.map((op) => [op.name, op]));

/* The value of param `name` of the request: as sent, else the op's default
 * (spec/protocol.md's table), else undefined. */
function param(request, name) {
    if (request.params && Object.prototype.hasOwnProperty.call(request.params, name))
        return decodeParam(request.params[name]);
    const op = opTable.get(request.op);
    const entry = op && op.params.find((p) => p.name === name);
    return entry && entry.default !== null ? entry.default : undefined;
}

/* ---- numbers ---------------------------------------------------------------- */

const SPECIAL = { inf: Infinity, '-inf': -Infinity, nan: NaN, '-0': -0 };

function decodeNumber(v) {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(SPECIAL, v)) return SPECIAL[v];
    throw new Error('not a number in the request: ' + JSON.stringify(v));
}

function decodeParam(v) {
    return typeof v === 'string' && Object.prototype.hasOwnProperty.call(SPECIAL, v) ? SPECIAL[v] : v;
}

function encodeNumber(x) {
    if (Number.isNaN(x)) return 'nan';
    if (x === Infinity) return 'inf';
    if (x === -Infinity) return '-inf';
    if (x === 0 && 1 / x < 0) return '-0';
    return x;
}

/* ---- arrays ----------------------------------------------------------------- */

/* A real input of the request: {shape, data: Float64Array}, generated
 * inputs regenerated (and their checksum checked). */
function floats(request, name) {
    const array = request.inputs[name];
    if (array === undefined) return undefined;
    const data = array.generator ? regenerate(array) : Float64Array.from(array.data, decodeNumber);
    return { shape: array.shape.slice(), data };
}

/* An integer input: {shape, data: array of Numbers}. JSON.parse reads every
 * number as a double, so an id beyond 2^53 arrives rounded (the warning in
 * spec/protocol.md); the adapters pass on what the language gives them. */
function ints(request, name) {
    const array = request.inputs[name];
    if (array === undefined) return undefined;
    return { shape: array.shape.slice(), data: array.data.slice() };
}

/* An output as the protocol wants it: shape as the engine gave it, data in
 * the number encoding; values of a narrow type are exact as doubles. */
function floatOutput(shape, data) {
    return { shape: Array.from(shape, Number), data: Array.from(data, encodeNumber) };
}

function intOutput(shape, data) {
    return { shape: Array.from(shape, Number), data: Array.from(data, Number) };
}

/* ---- the conversation ------------------------------------------------------ */

function reply(object) {
    writeOut(JSON.stringify(object) + '\n');
}

/* Serves requests until standard input closes: hello first, then one line
 * per request, strictly in order (handlers may be async). */
async function serve({ name, klass, handlers }) {
    reply({ protocol: 1, name, class: klass, ops: Object.keys(handlers).sort() });
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
        if (line.trim() === '') continue;
        const request = JSON.parse(line);
        const handler = handlers[request.op];
        try {
            if (!handler) throw new Unsupported('no handler for ' + request.op);
            const outputs = await handler(request);
            reply({ id: request.id, status: 'ok', outputs });
        } catch (error) {
            const reason = String((error && error.message) || error).split('\n')[0].slice(0, 500);
            const status = error instanceof Unsupported ? 'unsupported' : 'rejected';
            reply({ id: request.id, status, reason });
        }
    }
}

/* --class CLASS from argv, one of `classes`; exits 2 on a bad command line. */
function classFromArgs(argv, classes, usage) {
    let klass = null;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === '--class' && i + 1 < argv.length) klass = argv[++i];
        else if (argv[i].startsWith('--class=')) klass = argv[i].slice(8);
        else klass = undefined;
    }
    if (!klass || !classes.includes(klass)) {
        process.stderr.write(usage + '\n');
        process.exit(2);
    }
    return klass;
}

/* The installed version of an npm package, for the hello's name. */
function packageVersion(pkg) {
    const file = path.join(__dirname, 'node_modules', pkg, 'package.json');
    return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

module.exports = {
    Unsupported, param, floats, ints, floatOutput, intOutput, serve,
    classFromArgs, packageVersion,
};
