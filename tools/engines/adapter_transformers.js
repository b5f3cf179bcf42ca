#!/usr/bin/env node
'use strict';
/*
 * adapter_transformers.js -- transformers.js (npm @huggingface/transformers)
 * behind lmr-run: its softmax and log_softmax, its logits warpers, and its
 * samplers, fed the case's uniform number. No model is loaded and nothing
 * is fetched (env.allowRemoteModels = false).
 *
 *   node tools/engines/adapter_transformers.js --class fp64|fp32
 *
 * The library's maths helpers compute in JavaScript doubles and keep the
 * typed array they are given, so a Float64Array gives class fp64 and a
 * Float32Array (storage rounded to binary32) class fp32. Its samplers take
 * the top k through ONNX Runtime's TopK on float32 tensors, so argmax and
 * sample run in fp32 only... argmax does not need top-k and runs in both.
 *
 * The spec's op and the library's:
 *   softmax, log_softmax   TemperatureLogitsWarper(tau) on the [n, |V|] logits, then
 *                          softmax / log_softmax (utils/maths.js) of each row
 *   argmax                 the greedy sampler (LogitsSampler.getSampler with
 *                          do_sample false), one row at a time
 *   sample                 what generate() does for one step with do_sample: the
 *                          warpers of PreTrainedModel._get_logits_processor
 *                          (TemperatureLogitsWarper when tau != 1; the top-k and
 *                          top-p warpers are commented out there), then the
 *                          multinomial sampler with the config's top_k
 *                          and top_p, one row at a time
 * The samplers are not exported by the package, so they are imported from
 * its shipped sources (src/generation/logits_sampler.js), as is everything
 * else here, to keep one copy of each module.
 *
 * The case's r: the sampler draws its uniform number inside
 * randomSelect(probabilities), from the library's Mersenne Twister. The
 * adapter replaces that one method on its sampler instance with the same
 * selection fed the case's r: walking the probabilities in the order the
 * sampler passes them, it returns the first index at which r times their
 * total, minus the probabilities seen so far, drops below 0 (the last one
 * if rounding never gets there). The distribution it is handed is also
 * the `probs` output, scattered back to vocabulary order with the indices
 * of the library's topk, which the sampler calls the same way.
 */
const path = require('path');

const P = require('./protocol.js');

const USAGE = 'usage: adapter_transformers.js --class fp64|fp32';
const SRC = path.join(__dirname, 'node_modules', '@huggingface', 'transformers', 'src');

let lib = null; /* the library's modules, loaded in main() */
let Real = null; /* Float64Array or Float32Array: the class's storage */

async function loadLibrary() {
    const load = (file) => import(path.join(SRC, file));
    const [env, tensor, maths, processors, sampler, config] = await Promise.all([
        load('env.js'), load('utils/tensor.js'), load('utils/maths.js'),
        load('generation/logits_process.js'), load('generation/logits_sampler.js'),
        load('generation/configuration_utils.js')]);
    env.env.allowRemoteModels = false;
    return { Tensor: tensor.Tensor, topk: tensor.topk, softmax: maths.softmax, log_softmax: maths.log_softmax,
        TemperatureLogitsWarper: processors.TemperatureLogitsWarper, LogitsProcessorList: processors.LogitsProcessorList,
        LogitsSampler: sampler.LogitsSampler, GenerationConfig: config.GenerationConfig };
}

/* The logits as a tensor of the class's type, [rows, |V|]. */
function logitsTensor(array) {
    return new lib.Tensor(Real === Float64Array ? 'float64' : 'float32', Real.from(array.data), array.shape);
}

function rowOf(tensor, t) {
    const width = tensor.dims[tensor.dims.length - 1];
    return new lib.Tensor(tensor.type, tensor.data.slice(t * width, (t + 1) * width), [1, width]);
}

/* softmax or log_softmax after the temperature warper, row by row. */
function softmaxLike(request, fn, name) {
    const logits = logitsTensor(P.floats(request, 'logits'));
    new lib.TemperatureLogitsWarper(P.param(request, 'tau'))._call(null, logits);
    const [rows, width] = logits.dims;
    const result = new Real(rows * width);
    for (let t = 0; t < rows; t++)
        result.set(fn(logits.data.subarray(t * width, (t + 1) * width)), t * width);
    return { [name]: P.floatOutput(logits.dims, result) };
}

/* The selection of randomSelect with a given uniform number r. */
function selectWith(r, probabilities) {
    let total = 0;
    for (const p of probabilities) total += p;
    let remaining = r * total;
    for (let i = 0; i < probabilities.length; i++) {
        remaining -= probabilities[i];
        if (remaining < 0) return i;
    }
    return probabilities.length - 1;
}

const handlers = {
    softmax: async (request) => softmaxLike(request, lib.softmax, 'probs'),
    log_softmax: async (request) => softmaxLike(request, lib.log_softmax, 'logprobs'),

    async argmax(request) {
        const logits = logitsTensor(P.floats(request, 'logits'));
        const greedy = lib.LogitsSampler.getSampler(new lib.GenerationConfig({ do_sample: false }));
        const tokens = [];
        for (let t = 0; t < logits.dims[0]; t++)
            tokens.push(Number((await greedy.sample(rowOf(logits, t)))[0][0]));
        return { token: P.intOutput([tokens.length], tokens) };
    },

    async sample(request) {
        const logits = logitsTensor(P.floats(request, 'logits'));
        const r = P.floats(request, 'r').data;
        const tau = P.param(request, 'tau');
        const config = new lib.GenerationConfig({ do_sample: true, num_beams: 1, temperature: tau,
            top_k: P.param(request, 'top_k'), top_p: P.param(request, 'top_p') });
        const processors = new lib.LogitsProcessorList();
        if (config.temperature !== null && config.temperature !== 1.0)
            processors.push(new lib.TemperatureLogitsWarper(config.temperature));
        processors(null, logits);
        const sampler = lib.LogitsSampler.getSampler(config);
        const [rows, width] = logits.dims;
        const probs = new Real(rows * width), tokens = [];
        for (let t = 0; t < rows; t++) {
            let handed = null;
            sampler.randomSelect = (probabilities) => {
                handed = probabilities;
                return selectWith(r[t], probabilities);
            };
            const row = rowOf(logits, t);
            tokens.push(Number((await sampler.sample(row))[0][0]));
            const k = config.top_k > 0 ? Math.min(config.top_k, width) : width;
            const [, indices] = await lib.topk(row, k);
            for (let m = 0; m < k; m++) probs[t * width + Number(indices.data[m])] = handed[m];
        }
        return { probs: P.floatOutput([rows, width], probs), token: P.intOutput([rows], tokens) };
    },
};

async function main(argv) {
    const klass = P.classFromArgs(argv, ['fp64', 'fp32'], USAGE);
    Real = klass === 'fp64' ? Float64Array : Float32Array;
    lib = await loadLibrary();
    const served = { ...handlers };
    if (klass === 'fp64') delete served.sample; /* its top-k runs on float32 tensors only */
    const name = `transformers.js-${P.packageVersion('@huggingface/transformers')}-${klass}`;
    return P.serve({ name, klass, handlers: served });
}

main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`adapter_transformers: ${error.stack || error}\n`);
    process.exit(1);
});
