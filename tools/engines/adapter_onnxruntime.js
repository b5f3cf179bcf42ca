#!/usr/bin/env node
'use strict';
/*
 * adapter_onnxruntime.js -- ONNX Runtime (npm onnxruntime-node, CPU
 * execution provider) behind lmr-run.
 *
 *   node tools/engines/adapter_onnxruntime.js --class fp64|fp32|fp16 [--shapes static|symbolic]
 *
 * For each case the adapter writes one small ONNX graph (onnx_model.js)
 * from the engine's own operators, creates an inference session and runs
 * it on the case's inputs, rounded to the class's element type (double for
 * fp64, float for fp32, float16 for fp16; ids int64): every operator used
 * here has CPU kernels for all three. The graph's inputs have the case's
 * shapes (--shapes static, the default) or a symbolic size per dimension
 * (--shapes symbolic, as a model exported with dynamic axes has). What the
 * session returns is answered "ok", with the shapes ONNX Runtime gives
 * (a reduced loss is a 0-d tensor); what it throws is "rejected"; a
 * missing kernel for the class's type, and every op without a matching
 * ONNX operator, is "unsupported".
 *
 * The spec's op and its graph:
 *   embed_lookup, pos_learned   Gather(table, ids)  (axis 0)
 *   embed_onehot                MatMul(onehot, E)
 *   compose (learned)           Add(Mul(Gather(E, ids), c), Gather(P, start + t))
 *   layernorm                   LayerNormalization(x, gamma, beta; axis -1, epsilon)
 *   compose_layernorm (learned) LayerNormalization(compose)
 *   head_tied                   Gemm(h, E; transB = 1)
 *   head_untied                 Gemm(h, W, b)
 *   head_transformed            Gemm(MatMul(h, T), E; transB = 1)
 *   head_mlp                    Gemm(Relu(Gemm(h, W1, b1)), W2 or E (transB), b2)
 *   softmax, log_softmax        Softmax / LogSoftmax(Div(logits, tau); axis -1)
 *   cross_entropy               SoftmaxCrossEntropyLoss(logits, targets; reduction, ignore_index)
 *   argmax                      ArgMax(logits; axis -1, keepdims 0, select_last_index 0)
 *   logit_lens                  [LayerNormalization], MatMul(hidden, Transpose(E)),
 *                               Softmax, TopK(k; largest, sorted), GatherElements
 * No operator matches sample (no inverse-CDF draw), the sinusoid, the
 * parameter counts, the other head variants or the gradients.
 */
const ort = require('onnxruntime-node');

const { ELEM, attrInt, attrFloat, attrString, node, valueInfo, onnxModel } = require('./onnx_model.js');
const P = require('./protocol.js');
const binary16 = require('./binary16.js');

const OPSET = 17; /* LayerNormalization is opset 17 */
const USAGE = 'usage: adapter_onnxruntime.js --class fp64|fp32|fp16 [--shapes static|symbolic]';

/* Each class: the ONNX element type, the ort.Tensor type, and the
 * conversions of doubles to that tensor's storage and back (float16 tensors
 * hold bit patterns in a Uint16Array: binary16.js). */
const CLASSES = {
    fp64: { elem: ELEM.DOUBLE, type: 'float64', store: (d) => Float64Array.from(d), load: (d) => d },
    fp32: { elem: ELEM.FLOAT, type: 'float32', store: (d) => Float32Array.from(d), load: (d) => d },
    fp16: { elem: ELEM.FLOAT16, type: 'float16', store: binary16.toBits, load: binary16.fromBits },
};

let cls = null;       /* the entry of CLASSES */
let symbolic = false; /* --shapes symbolic */

/* ---- feeds ------------------------------------------------------------------ */

/* A real input as a tensor of the class's element type (rounded to
 * nearest). */
function real(array) {
    return { elem: cls.elem, tensor: new ort.Tensor(cls.type, cls.store(array.data), array.shape) };
}

/* A scalar parameter fed as a 0-d tensor of the class's type. */
function realScalar(value) {
    return { elem: cls.elem, tensor: new ort.Tensor(cls.type, cls.store([value]), []) };
}

/* An integer input as int64 (BigInt(x) of what JSON.parse gave). */
function int64(array) {
    return { elem: ELEM.INT64, tensor: new ort.Tensor('int64', BigInt64Array.from(array.data, (x) => BigInt(x)), array.shape) };
}

/* ---- graphs ----------------------------------------------------------------- */

/* Builds the graph of `nodes` over the named feeds, runs it in a fresh
 * session and returns the named outputs (ort Tensors). outputs: [[name,
 * elem], ...]. */
async function run(nodes, feeds, outputs) {
    const inputs = Object.entries(feeds).map(([name, f]) => valueInfo(name, f.elem,
        symbolic ? f.tensor.dims.map((_, axis) => `${name}_${axis}`) : f.tensor.dims));
    const model = onnxModel({
        opset: OPSET, nodes, inputs,
        outputs: outputs.map(([name, elem]) => valueInfo(name, elem, null)),
    });
    let session;
    try {
        session = await ort.InferenceSession.create(model, {
            executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 4,
        });
    } catch (error) {
        /* no kernel for this element type: the engine cannot run the class */
        if (/Could not find an implementation|Type Error: Type \(tensor\(/.test(error.message))
            throw new P.Unsupported(error.message.split('\n')[0]);
        throw error;
    }
    const tensors = {};
    for (const [name, f] of Object.entries(feeds)) tensors[name] = f.tensor;
    try {
        return await session.run(tensors);
    } finally {
        await session.release();
    }
}

function out(tensor) {
    return P.floatOutput(tensor.dims, cls.load(tensor.data));
}

function outInt(tensor) {
    return P.intOutput(tensor.dims, tensor.data);
}

/* ---- the ops ------------------------------------------------------------------ */

async function lookup(request, table, ids) {
    const r = await run([node('Gather', ['table', 'ids'], ['Y'], { axis: attrInt(0) })],
        { table: real(P.floats(request, table)), ids: int64(P.ints(request, ids)) },
        [['Y', cls.elem]]);
    return { Y: out(r.Y) };
}

/* The nodes and feeds of compose with learned positions: Y = c E[ids] + P[start + t]. */
function composeGraph(request, result) {
    if (P.param(request, 'positions') !== 'learned')
        throw new P.Unsupported('no ONNX operator computes the sinusoid');
    const E = P.floats(request, 'E'), ids = P.ints(request, 'ids');
    const start = P.param(request, 'start');
    const positions = { shape: ids.shape, data: ids.data.map((_, t) => BigInt(start) + BigInt(t)) };
    const feeds = { E: real(E), ids: int64(ids), P: real(P.floats(request, 'P')), positions: int64(positions) };
    const nodes = [node('Gather', ['E', 'ids'], ['e'], { axis: attrInt(0) }),
        node('Gather', ['P', 'positions'], ['p'], { axis: attrInt(0) })];
    let token = 'e';
    if (P.param(request, 'scale_by_sqrt_d')) {
        feeds.c = realScalar(Math.sqrt(E.shape[1]));
        nodes.push(node('Mul', ['e', 'c'], ['ce']));
        token = 'ce';
    }
    nodes.push(node('Add', [token, 'p'], [result]));
    return { nodes, feeds };
}

function layerNormNode(input, output, eps) {
    return node('LayerNormalization', [input, 'gamma', 'beta'], [output],
        { axis: attrInt(-1), epsilon: attrFloat(eps) });
}

async function softmaxLike(request, opType, output) {
    const r = await run([node('Div', ['logits', 'tau'], ['z']), node(opType, ['z'], [output], { axis: attrInt(-1) })],
        { logits: real(P.floats(request, 'logits')), tau: realScalar(P.param(request, 'tau')) },
        [[output, cls.elem]]);
    return { [output]: out(r[output]) };
}

const handlers = {
    embed_lookup: (request) => lookup(request, 'E', 'ids'),
    pos_learned: (request) => lookup(request, 'P', 'positions'),

    async embed_onehot(request) {
        const r = await run([node('MatMul', ['onehot', 'E'], ['Y'])],
            { onehot: real(P.floats(request, 'onehot')), E: real(P.floats(request, 'E')) }, [['Y', cls.elem]]);
        return { Y: out(r.Y) };
    },

    async compose(request) {
        const { nodes, feeds } = composeGraph(request, 'Y');
        const r = await run(nodes, feeds, [['Y', cls.elem]]);
        return { Y: out(r.Y) };
    },

    async layernorm(request) {
        const r = await run([layerNormNode('x', 'Y', P.param(request, 'eps'))],
            { x: real(P.floats(request, 'x')), gamma: real(P.floats(request, 'gamma')), beta: real(P.floats(request, 'beta')) },
            [['Y', cls.elem]]);
        return { Y: out(r.Y) };
    },

    async compose_layernorm(request) {
        const { nodes, feeds } = composeGraph(request, 'X');
        nodes.push(layerNormNode('X', 'Y', P.param(request, 'eps')));
        feeds.gamma = real(P.floats(request, 'gamma'));
        feeds.beta = real(P.floats(request, 'beta'));
        const r = await run(nodes, feeds, [['Y', cls.elem]]);
        return { Y: out(r.Y) };
    },

    async head_tied(request) {
        const r = await run([node('Gemm', ['h', 'E'], ['logits'], { transB: attrInt(1) })],
            { h: real(P.floats(request, 'h')), E: real(P.floats(request, 'E')) }, [['logits', cls.elem]]);
        return { logits: out(r.logits) };
    },

    async head_untied(request) {
        const feeds = { h: real(P.floats(request, 'h')), W: real(P.floats(request, 'W')) };
        const b = P.floats(request, 'b');
        if (b) feeds.b = real(b);
        const r = await run([node('Gemm', b ? ['h', 'W', 'b'] : ['h', 'W'], ['logits'])], feeds, [['logits', cls.elem]]);
        return { logits: out(r.logits) };
    },

    async head_transformed(request) {
        const r = await run([node('MatMul', ['h', 'T'], ['hT']),
            node('Gemm', ['hT', 'E'], ['logits'], { transB: attrInt(1) })],
        { h: real(P.floats(request, 'h')), T: real(P.floats(request, 'T')), E: real(P.floats(request, 'E')) },
        [['logits', cls.elem]]);
        return { logits: out(r.logits) };
    },

    async head_mlp(request) {
        const feeds = { h: real(P.floats(request, 'h')), W1: real(P.floats(request, 'W1')) };
        const b1 = P.floats(request, 'b1'), b2 = P.floats(request, 'b2');
        if (b1) feeds.b1 = real(b1);
        if (b2) feeds.b2 = real(b2);
        const tied = P.param(request, 'tied');
        const second = tied ? 'E' : 'W2';
        feeds[second] = real(P.floats(request, second));
        const r = await run([
            node('Gemm', b1 ? ['h', 'W1', 'b1'] : ['h', 'W1'], ['a']),
            node('Relu', ['a'], ['h1']),
            node('Gemm', b2 ? ['h1', second, 'b2'] : ['h1', second], ['logits'], tied ? { transB: attrInt(1) } : {}),
        ], feeds, [['logits', cls.elem]]);
        return { logits: out(r.logits) };
    },

    softmax: (request) => softmaxLike(request, 'Softmax', 'probs'),
    log_softmax: (request) => softmaxLike(request, 'LogSoftmax', 'logprobs'),

    async cross_entropy(request) {
        const r = await run([node('SoftmaxCrossEntropyLoss', ['logits', 'targets'], ['loss'], {
            reduction: attrString(P.param(request, 'reduction')),
            ignore_index: attrInt(P.param(request, 'ignore_index')),
        })], { logits: real(P.floats(request, 'logits')), targets: int64(P.ints(request, 'targets')) },
        [['loss', cls.elem]]);
        return { loss: out(r.loss) };
    },

    async argmax(request) {
        const r = await run([node('ArgMax', ['logits'], ['token'],
            { axis: attrInt(-1), keepdims: attrInt(0), select_last_index: attrInt(0) })],
        { logits: real(P.floats(request, 'logits')) }, [['token', ELEM.INT64]]);
        return { token: outInt(r.token) };
    },

    async logit_lens(request) {
        const feeds = { hidden: real(P.floats(request, 'hidden')), E: real(P.floats(request, 'E')),
            k: int64({ shape: [1], data: [P.param(request, 'k')] }) };
        const nodes = [];
        let x = 'hidden';
        if (P.param(request, 'final_layernorm')) {
            feeds.gamma = real(P.floats(request, 'gamma'));
            feeds.beta = real(P.floats(request, 'beta'));
            nodes.push(layerNormNode('hidden', 'x', P.param(request, 'eps')));
            x = 'x';
        }
        nodes.push(node('Transpose', ['E'], ['Et']), node('MatMul', [x, 'Et'], ['u']),
            node('Softmax', ['u'], ['probs'], { axis: attrInt(-1) }),
            node('TopK', ['u', 'k'], ['top_logits', 'top_tokens'], { axis: attrInt(-1), largest: attrInt(1), sorted: attrInt(1) }),
            node('GatherElements', ['probs', 'top_tokens'], ['top_probs'], { axis: attrInt(-1) }));
        const r = await run(nodes, feeds, [['probs', cls.elem], ['top_tokens', ELEM.INT64], ['top_probs', cls.elem]]);
        return { probs: out(r.probs), top_tokens: outInt(r.top_tokens), top_probs: out(r.top_probs) };
    },
};

function main(argv) {
    const klass = P.classFromArgs(argv.filter((a, i) => !(a === '--shapes' || argv[i - 1] === '--shapes')),
        Object.keys(CLASSES), USAGE);
    const shapes = argv.includes('--shapes') ? argv[argv.indexOf('--shapes') + 1] : 'static';
    if (shapes !== 'static' && shapes !== 'symbolic') {
        process.stderr.write(USAGE + '\n');
        process.exit(2);
    }
    cls = CLASSES[klass];
    symbolic = shapes === 'symbolic';
    const name = `onnxruntime-node-${P.packageVersion('onnxruntime-node')}-${klass}${symbolic ? '-symbolic' : ''}`;
    return P.serve({ name, klass, handlers });
}

main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`adapter_onnxruntime: ${error.stack || error}\n`);
    process.exit(1);
});
