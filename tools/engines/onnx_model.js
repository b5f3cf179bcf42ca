'use strict';
/*
 * onnx_model.js -- writes an ONNX model (a ModelProto in protobuf's binary
 * wire format) for one small graph, without a protobuf library.
 *
 * Only the fields the adapter needs are written; their numbers are those of
 * onnx/onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
 * ValueInfoProto, TypeProto.Tensor, TensorShapeProto, OperatorSetIdProto).
 * The wire format: each field is a key varint (field_number << 3 | wire
 * type), then a varint (type 0), a little-endian 32-bit value (type 5) or a
 * length-delimited byte string (type 2: embedded messages and strings).
 *
 *   const bytes = onnxModel({opset: 17, nodes: [node('Softmax', ['x'], ['y'],
 *       {axis: attrInt(-1)})], inputs: [valueInfo('x', ELEM.FLOAT, [2, 3])],
 *       outputs: [valueInfo('y', ELEM.FLOAT, [2, 3])]});
 */

/* TensorProto.DataType values. */
const ELEM = Object.freeze({ FLOAT: 1, INT64: 7, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 });

/* AttributeProto.AttributeType values. */
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_STRING = 3;

const WIRE_VARINT = 0, WIRE_BYTES = 2, WIRE_FIXED32 = 5;

/* The varint encoding of a non-negative or negative integer (int64 as two's
 * complement, ten bytes for a negative value), as an array of bytes. */
function varint(value) {
    let v = BigInt.asUintN(64, BigInt(value));
    const bytes = [];
    do {
        let byte = Number(v & 0x7fn);
        v >>= 7n;
        if (v !== 0n) byte |= 0x80;
        bytes.push(byte);
    } while (v !== 0n);
    return bytes;
}

function key(field, wire) {
    return varint((field << 3) | wire);
}

/* A message is built as an array of Buffers, one per field. */
function fieldVarint(field, value) {
    return Buffer.from([...key(field, WIRE_VARINT), ...varint(value)]);
}

function fieldBytes(field, bytes) {
    const body = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    return Buffer.concat([Buffer.from([...key(field, WIRE_BYTES), ...varint(body.length)]), body]);
}

function fieldString(field, text) {
    return fieldBytes(field, Buffer.from(text, 'utf8'));
}

/* A float field holds a binary32: the value is rounded to single precision
 * here, as in every ONNX writer (AttributeProto.f is a `float`). */
function fieldFloat32(field, value) {
    const body = Buffer.alloc(4);
    body.writeFloatLE(value, 0);
    return Buffer.concat([Buffer.from(key(field, WIRE_FIXED32)), body]);
}

function message(fields) {
    return Buffer.concat(fields.filter((f) => f !== null));
}

/* ---- attributes: {kind, value} objects, written by node() ---------------- */

function attrInt(value) { return { kind: ATTR_INT, value }; }
function attrFloat(value) { return { kind: ATTR_FLOAT, value }; }
function attrString(value) { return { kind: ATTR_STRING, value }; }

function attributeProto(name, attr) {
    const fields = [fieldString(1, name), fieldVarint(20, attr.kind)];
    if (attr.kind === ATTR_INT) fields.push(fieldVarint(3, attr.value));
    else if (attr.kind === ATTR_FLOAT) fields.push(fieldFloat32(2, attr.value));
    else fields.push(fieldBytes(4, Buffer.from(attr.value, 'utf8')));
    return message(fields);
}

/* A NodeProto: op_type, input and output names ('' for an omitted optional
 * input), attributes by name. */
function node(opType, inputs, outputs, attributes = {}) {
    const fields = [];
    for (const name of inputs) fields.push(fieldString(1, name));
    for (const name of outputs) fields.push(fieldString(2, name));
    fields.push(fieldString(4, opType));
    for (const [name, attr] of Object.entries(attributes))
        fields.push(fieldBytes(5, attributeProto(name, attr)));
    return message(fields);
}

/* A ValueInfoProto of a tensor: element type and shape, each dimension a
 * number (dim_value) or a string (dim_param, a symbolic size); dims null
 * leaves the shape out (to be inferred, as for the graph's outputs). */
function valueInfo(name, elemType, dims) {
    const fields = [fieldVarint(1, elemType)];
    if (dims !== null) {
        const dimFields = dims.map((d) => fieldBytes(1, typeof d === 'string'
            ? fieldString(2, d) : fieldVarint(1, d)));
        fields.push(fieldBytes(2, message(dimFields)));
    }
    const tensorType = message(fields);
    const typeProto = message([fieldBytes(1, tensorType)]);
    return message([fieldString(1, name), fieldBytes(2, typeProto)]);
}

/* The ModelProto: IR version 8 (ONNX 1.13+), one default-domain opset. */
function onnxModel({ opset, nodes, inputs, outputs, name = 'lmref_case' }) {
    const graph = message([
        ...nodes.map((n) => fieldBytes(1, n)),
        fieldString(2, name),
        ...inputs.map((v) => fieldBytes(11, v)),
        ...outputs.map((v) => fieldBytes(12, v)),
    ]);
    const opsetId = message([fieldString(1, ''), fieldVarint(2, opset)]);
    return message([
        fieldVarint(1, 8),
        fieldString(2, 'lmref-engines'),
        fieldBytes(7, graph),
        fieldBytes(8, opsetId),
    ]);
}

module.exports = { ELEM, attrInt, attrFloat, attrString, node, valueInfo, onnxModel };
