#!/usr/bin/env node
'use strict';
/*
 * adapter_tfjs.js -- TensorFlow.js (npm @tensorflow/tfjs, the pure
 * JavaScript "cpu" backend, no native addon) behind lmr-run.
 *
 *   node tools/engines/adapter_tfjs.js --class fp32
 *
 * TensorFlow.js has one floating-point dtype, float32, so the adapter runs
 * in class fp32 only; ids are int32 tensors (its integer dtype). Each case's
 * inputs go to the library's own ops; what they return is answered "ok",
 * what they throw is "rejected", and ops without a TensorFlow.js
 * counterpart are "unsupported" (they are left out of the hello).
 *
 * The spec's op and the library's:
 *   embed_lookup, pos_learned   tf.gather(table, ids)
 *   embed_onehot                tf.matMul(onehot, E)
 *   compose (learned)           tf.add(tf.mul(tf.gather(E, ids), c), tf.gather(P, tf.range(start, start + n)))
 *   layernorm                   tf.layers.layerNormalization({axis: -1, epsilon}), weights [gamma, beta]
 *   compose_layernorm (learned) the same after compose
 *   head_tied                   tf.matMul(h, E, false, true)
 *   head_untied                 tf.add(tf.matMul(h, W), b)
 *   head_transformed            tf.matMul(tf.matMul(h, T), E, false, true)
 *   head_mlp                    tf.relu(h W1 + b1), then W2 (or E transposed) and b2
 *   softmax, log_softmax        tf.softmax / tf.logSoftmax(tf.div(logits, tau))
 *   cross_entropy               tf.losses.softmaxCrossEntropy(tf.oneHot(targets, |V|), logits,
 *                               weights 0 at ignore_index and 1 elsewhere,
 *                               reduction NONE / SUM / SUM_BY_NONZERO_WEIGHTS for none / sum / mean)
 *   argmax                      tf.argMax(logits, -1)
 *   logit_lens                  [layer normalisation], tf.matMul(x, E, false, true), tf.softmax,
 *                               tf.topk(u, k, true), tf.gather(probs, indices, axis 2, batchDims 2)
 * tf.multinomial draws its own random numbers, so sample has no
 * counterpart that takes the case's r.
 */
const P = require('./protocol.js');

const tf = require('@tensorflow/tfjs');

const USAGE = 'usage: adapter_tfjs.js --class fp32';

/* ---- tensors ---------------------------------------------------------------- */

function real(array) {
    return tf.tensor(Float32Array.from(array.data), array.shape, 'float32');
}

function int32(array) {
    return tf.tensor(Int32Array.from(array.data), array.shape, 'int32');
}

async function out(tensor) {
    return P.floatOutput(tensor.shape, await tensor.data());
}

async function outInt(tensor) {
    return P.intOutput(tensor.shape, await tensor.data());
}

/* Runs fn inside tf.tidy-like scoping for async code: every tensor made
 * while it runs is disposed afterwards. */
async function scoped(fn) {
    tf.engine().startScope();
    try {
        return await fn();
    } finally {
        tf.engine().endScope();
    }
}

/* ---- the ops ------------------------------------------------------------------ */

function compose(request) {
    if (P.param(request, 'positions') !== 'learned')
        throw new P.Unsupported('TensorFlow.js has no sinusoidal position op');
    const E = real(P.floats(request, 'E')), ids = P.ints(request, 'ids');
    const start = P.param(request, 'start');
    let token = tf.gather(E, int32(ids));
    if (P.param(request, 'scale_by_sqrt_d')) token = tf.mul(token, tf.scalar(Math.sqrt(E.shape[1])));
    const positions = tf.range(start, start + ids.data.length, 1, 'int32');
    return tf.add(token, tf.gather(real(P.floats(request, 'P')), positions));
}

/* tf.layers' LayerNormalization over the last axis, with the case's gamma
 * and beta as its weights. */
function layerNorm(request, x) {
    const layer = tf.layers.layerNormalization({ axis: -1, epsilon: P.param(request, 'eps') });
    layer.build(x.shape);
    layer.setWeights([real(P.floats(request, 'gamma')), real(P.floats(request, 'beta'))]);
    return layer.apply(x);
}

const REDUCTIONS = {
    none: tf.Reduction.NONE,
    sum: tf.Reduction.SUM,
    mean: tf.Reduction.SUM_BY_NONZERO_WEIGHTS,
};

const handlers = {
    embed_lookup: (request) => scoped(async () => ({
        Y: await out(tf.gather(real(P.floats(request, 'E')), int32(P.ints(request, 'ids')))) })),
    pos_learned: (request) => scoped(async () => ({
        Y: await out(tf.gather(real(P.floats(request, 'P')), int32(P.ints(request, 'positions')))) })),
    embed_onehot: (request) => scoped(async () => ({
        Y: await out(tf.matMul(real(P.floats(request, 'onehot')), real(P.floats(request, 'E')))) })),

    compose: (request) => scoped(async () => ({ Y: await out(compose(request)) })),
    layernorm: (request) => scoped(async () => ({
        Y: await out(layerNorm(request, real(P.floats(request, 'x')))) })),
    compose_layernorm: (request) => scoped(async () => ({
        Y: await out(layerNorm(request, compose(request))) })),

    head_tied: (request) => scoped(async () => ({
        logits: await out(tf.matMul(real(P.floats(request, 'h')), real(P.floats(request, 'E')), false, true)) })),
    head_untied: (request) => scoped(async () => {
        let logits = tf.matMul(real(P.floats(request, 'h')), real(P.floats(request, 'W')));
        const b = P.floats(request, 'b');
        if (b) logits = tf.add(logits, real(b));
        return { logits: await out(logits) };
    }),
    head_transformed: (request) => scoped(async () => {
        const hT = tf.matMul(real(P.floats(request, 'h')), real(P.floats(request, 'T')));
        return { logits: await out(tf.matMul(hT, real(P.floats(request, 'E')), false, true)) };
    }),
    head_mlp: (request) => scoped(async () => {
        let a = tf.matMul(real(P.floats(request, 'h')), real(P.floats(request, 'W1')));
        const b1 = P.floats(request, 'b1'), b2 = P.floats(request, 'b2');
        if (b1) a = tf.add(a, real(b1));
        const h1 = tf.relu(a);
        let logits = P.param(request, 'tied')
            ? tf.matMul(h1, real(P.floats(request, 'E')), false, true)
            : tf.matMul(h1, real(P.floats(request, 'W2')));
        if (b2) logits = tf.add(logits, real(b2));
        return { logits: await out(logits) };
    }),

    softmax: (request) => scoped(async () => ({
        probs: await out(tf.softmax(tf.div(real(P.floats(request, 'logits')), tf.scalar(P.param(request, 'tau'))))) })),
    log_softmax: (request) => scoped(async () => ({
        logprobs: await out(tf.logSoftmax(tf.div(real(P.floats(request, 'logits')), tf.scalar(P.param(request, 'tau'))))) })),

    cross_entropy: (request) => scoped(async () => {
        const logits = real(P.floats(request, 'logits'));
        const targets = P.ints(request, 'targets');
        const ignore = P.param(request, 'ignore_index');
        const weights = tf.tensor(Float32Array.from(targets.data, (t) => (t === ignore ? 0 : 1)), targets.shape);
        const reduction = P.param(request, 'reduction');
        const onehot = tf.oneHot(int32(targets), logits.shape[logits.shape.length - 1]);
        const loss = tf.losses.softmaxCrossEntropy(onehot, logits, weights, 0,
            Object.prototype.hasOwnProperty.call(REDUCTIONS, reduction) ? REDUCTIONS[reduction] : reduction);
        return { loss: await out(loss) };
    }),

    argmax: (request) => scoped(async () => ({
        token: await outInt(tf.argMax(real(P.floats(request, 'logits')), -1)) })),

    logit_lens: (request) => scoped(async () => {
        const hidden = real(P.floats(request, 'hidden')), E = real(P.floats(request, 'E'));
        const [layers, n, d] = hidden.shape;
        const x = P.param(request, 'final_layernorm') ? layerNorm(request, hidden) : hidden;
        const u = tf.reshape(tf.matMul(tf.reshape(x, [layers * n, d]), E, false, true), [layers, n, E.shape[0]]);
        const probs = tf.softmax(u);
        const { indices } = tf.topk(u, P.param(request, 'k'), true);
        const topProbs = tf.gather(probs, indices, 2, 2);
        return { probs: await out(probs), top_tokens: await outInt(indices), top_probs: await out(topProbs) };
    }),
};

async function main(argv) {
    const klass = P.classFromArgs(argv, ['fp32'], USAGE);
    await tf.setBackend('cpu');
    await tf.ready();
    const name = `tfjs-${P.packageVersion('@tensorflow/tfjs')}-${tf.getBackend()}-${klass}`;
    return P.serve({ name, klass, handlers });
}

main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`adapter_tfjs: ${error.stack || error}\n`);
    process.exit(1);
});
