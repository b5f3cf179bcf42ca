'use strict';
/*
 * recipe.js -- the generated inputs of the GPT-2-size vectors
 * (spec/format.md#generated-inputs) in JavaScript, written from the spec:
 * SplitMix64, the top `bits` bits as a signed numerator over 2^shift, and
 * the 64-bit FNV-1a checksum over the values' little-endian binary64 bytes.
 *
 * JavaScript has no 64-bit integer arithmetic short of BigInt, which is far
 * too slow for 38.6 million values, so every 64-bit quantity here is a pair
 * of unsigned 32-bit words (hi, lo) and the products are formed from 16-bit
 * pieces, each partial product exact in a double.
 *
 *   regenerate(arrayObject) -> Float64Array (checksum verified, or throws)
 */

const TWO32 = 4294967296;

/* The high 32 bits of the 64-bit product of two unsigned 32-bit words. */
function mulHigh32(a, b) {
    const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
    const carry = Math.floor((a1 * b0 + a0 * b1 + Math.floor((a0 * b0) / 65536)) / 65536);
    return (a1 * b1 + carry) >>> 0;
}

/* x * c mod 2^64 for x = (xh, xl) and a constant c = (ch, cl); returns the
 * pair through out[0] (hi) and out[1] (lo). */
function mul64(xh, xl, ch, cl, out) {
    out[0] = (mulHigh32(xl, cl) + Math.imul(xh, cl) + Math.imul(xl, ch)) >>> 0;
    out[1] = Math.imul(xl, cl) >>> 0;
}

const GOLDEN = [0x9e3779b9, 0x7f4a7c15];
const MIX1 = [0xbf58476d, 0x1ce4e5b9];
const MIX2 = [0x94d049bb, 0x133111eb];

/* The top `bits` (1..8) bits of SplitMix64 outputs 1 .. count from `seed`
 * (a non-negative integer below 2^53), as a Uint16Array. */
function splitmixTop(seed, bits, count) {
    const top = new Uint16Array(count);
    let sh = Math.floor(seed / TWO32) >>> 0, sl = seed >>> 0;
    const p = [0, 0];
    for (let i = 0; i < count; i++) {
        const lo = (sl + GOLDEN[1]) >>> 0; /* state += golden (mod 2^64) */
        sh = (sh + GOLDEN[0] + (lo < sl ? 1 : 0)) >>> 0;
        sl = lo;
        let zh = sh, zl = sl;
        zl = (zl ^ ((zl >>> 30) | (zh << 2))) >>> 0; zh = (zh ^ (zh >>> 30)) >>> 0;
        mul64(zh, zl, MIX1[0], MIX1[1], p); zh = p[0]; zl = p[1];
        zl = (zl ^ ((zl >>> 27) | (zh << 5))) >>> 0; zh = (zh ^ (zh >>> 27)) >>> 0;
        mul64(zh, zl, MIX2[0], MIX2[1], p); zh = p[0];
        zh = (zh ^ (zh >>> 31)) >>> 0; /* the top bits need only the high word */
        top[i] = zh >>> (32 - bits);
    }
    return top;
}

/* FNV-1a 64 over the 8 little-endian bytes of each symbol's value, in
 * order; symbolBytes holds 8 bytes per symbol. Returns 16 hex digits.
 *
 * One step is h <- (h xor b) * P. The xor touches only the low byte l of h,
 * so h xor b = h + ((l xor b) - l), and eight steps over a symbol's bytes
 * give h <- h * P^8 + D[symbol][l] (mod 2^64), where D depends only on the
 * symbol and the low byte it starts from (the low byte of a product
 * depends only on the low bytes of its factors). D is tabulated once, with
 * BigInt, for the at most 256 symbols of the vectors (bits <= 8); then each
 * value costs one 64-bit multiply and add instead of eight byte steps. */
const FNV_OFFSET = 0xcbf29ce484222325n, FNV_PRIME = 0x100000001b3n, MASK64 = (1n << 64n) - 1n;

function fnv1a64Symbols(symbols, symbolBytes, nSymbols) {
    const p8 = (FNV_PRIME ** 8n) & MASK64;
    const dHi = new Uint32Array(nSymbols * 256), dLo = new Uint32Array(nSymbols * 256);
    for (let s = 0; s < nSymbols; s++) {
        for (let l = 0; l < 256; l++) {
            let h = BigInt(l);
            for (let j = 0; j < 8; j++) h = ((h ^ BigInt(symbolBytes[s * 8 + j])) * FNV_PRIME) & MASK64;
            const d = (h - BigInt(l) * p8) & MASK64;
            dHi[s * 256 + l] = Number(d >> 32n);
            dLo[s * 256 + l] = Number(d & 0xffffffffn);
        }
    }
    const ph = Number(p8 >> 32n), pl = Number(p8 & 0xffffffffn);
    let hh = Number(FNV_OFFSET >> 32n), hl = Number(FNV_OFFSET & 0xffffffffn);
    const p = [0, 0];
    for (let i = 0; i < symbols.length; i++) {
        const t = symbols[i] * 256 + (hl & 255);
        mul64(hh, hl, ph, pl, p);
        const lo = (p[1] + dLo[t]) >>> 0;
        hh = (p[0] + dHi[t] + (lo < p[1] ? 1 : 0)) >>> 0;
        hl = lo;
    }
    return hh.toString(16).padStart(8, '0') + hl.toString(16).padStart(8, '0');
}

/* The values of a generated array object, after checking its checksum. */
function regenerate(array) {
    const gen = array.generator;
    if (!gen || gen.name !== 'splitmix64_dyadic')
        throw new Error('unknown generator ' + JSON.stringify(gen && gen.name));
    const bits = gen.bits, shift = gen.shift, seed = gen.seed;
    if (!Number.isInteger(bits) || bits < 1 || bits > 8 || !Number.isSafeInteger(seed) || seed < 0)
        throw new Error('generator parameters outside what this reader supports');
    const count = array.shape.reduce((a, b) => a * b, 1);
    const table = new Float64Array(1 << bits);
    for (let s = 0; s < table.length; s++) table[s] = (s - (1 << (bits - 1))) / 2 ** shift;
    const symbols = splitmixTop(seed, bits, count);
    const want = array.checksum && array.checksum.fnv1a64;
    if (want !== undefined) {
        const got = fnv1a64Symbols(symbols, new Uint8Array(table.buffer), table.length);
        if (got !== String(want).toLowerCase())
            throw new Error('generated input: checksum ' + got + ', want ' + want);
    }
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) values[i] = table[symbols[i]];
    return values;
}

module.exports = { regenerate };
