'use strict';
/*
 * binary16.js -- IEEE binary16 (half precision) storage for JavaScript,
 * which has no Float16Array before Node 22: doubles rounded once to the
 * nearest half (ties to even), as bit patterns in a Uint16Array, and back.
 *
 * Rounding goes straight from the double, never through binary32, which
 * could round twice. A half has 10 fraction bits and exponents -14 .. 15;
 * below 2^-14 it is subnormal, a multiple of 2^-24.
 *
 *   toBits(Float64Array or Array) -> Uint16Array
 *   fromBits(Uint16Array) -> Float64Array (exact)
 */

/* n rounded to the nearest integer, ties to even (n >= 0, exact in a double). */
function roundHalfEven(n) {
    const floor = Math.floor(n), rest = n - floor;
    if (rest > 0.5 || (rest === 0.5 && floor % 2 === 1)) return floor + 1;
    return floor;
}

/* The binary16 bits of the half nearest to x. */
function halfBits(x) {
    if (Number.isNaN(x)) return 0x7e00;
    const sign = x < 0 || (x === 0 && 1 / x < 0) ? 0x8000 : 0;
    const a = Math.abs(x);
    if (a === Infinity) return sign | 0x7c00;
    if (a < 2 ** -14) {
        /* subnormal (or zero): a multiple of 2^-24; rounding may reach 2^-14 */
        return sign | roundHalfEven(a * 2 ** 24); /* 0x400 is the smallest normal */
    }
    let exponent = Math.floor(Math.log2(a));
    if (2 ** exponent > a) exponent -= 1; /* log2 may round up near a power of 2 */
    if (2 ** (exponent + 1) <= a) exponent += 1;
    let fraction = roundHalfEven(a / 2 ** (exponent - 10)); /* in [1024, 2048] */
    if (fraction === 2048) {
        fraction = 1024;
        exponent += 1;
    }
    if (exponent > 15) return sign | 0x7c00; /* beyond 65504 rounds to infinity */
    return sign | ((exponent + 15) << 10) | (fraction - 1024);
}

function toBits(values) {
    return Uint16Array.from(values, halfBits);
}

function halfValue(bits) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f, fraction = bits & 0x3ff;
    if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
    if (exponent === 0) return sign * fraction * 2 ** -24;
    return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

function fromBits(bits) {
    return Float64Array.from(bits, halfValue);
}

module.exports = { toBits, fromBits };
