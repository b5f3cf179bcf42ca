"""Generated inputs of the GPT-2-size vectors, in NumPy (spec/format.md#generated-inputs).

splitmix64_dyadic(seed, bits, shift, count) regenerates the values;
fnv1a64_hex(values) is the 64-bit FNV-1a checksum over their little-endian
binary64 bytes, vectorised so that a 50257 x 768 table takes seconds, not
minutes.  regenerate(array_object) does both and refuses a checksum mismatch.

Shared by tools/testees/testee_numpy.py and tools/testees/testee_torch.py; written from the
spec, independent of tools/common/recipe.c.
"""
import concurrent.futures

import numpy as np

U64 = np.uint64
GOLDEN = U64(0x9E3779B97F4A7C15)
MIX1 = U64(0xBF58476D1CE4E5B9)
MIX2 = U64(0x94D049BB133111EB)
FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
MASK64 = (1 << 64) - 1
CHUNK = 1 << 22


def _splitmix_top(seed, bits, count, table=None, first=0, out=None):
    """The top `bits` bits of SplitMix64 outputs first .. first+count-1 (uint32),
    and, with a table, table[those bits] (into out if given)."""
    top = np.empty(count, dtype=np.uint32)
    vals = None if table is None else (np.empty(count, dtype=table.dtype) if out is None else out)
    step = 1 << 20
    s30, s27, s31, sb = U64(30), U64(27), U64(31), U64(64 - bits)
    with np.errstate(over="ignore"):
        for lo in range(0, count, step):
            hi = min(count, lo + step)
            z = np.arange(first + lo + 1, first + hi + 1, dtype=U64)
            z *= GOLDEN
            z += U64(seed & MASK64)
            z ^= z >> s30
            z *= MIX1
            z ^= z >> s27
            z *= MIX2
            z ^= z >> s31
            z >>= sb
            t = z.astype(np.uint32)
            top[lo:hi] = t
            if table is not None:
                np.take(table, t, out=vals[lo:hi])
    return top, vals


def splitmix64_dyadic(seed, bits, shift, count):
    """(values as float64, symbol index per value, the 2^bits distinct values)."""
    if not (1 <= bits <= 16):
        raise ValueError("bits outside 1..16 not supported")
    table = np.ldexp(np.arange(1 << bits, dtype=np.float64) - float(1 << (bits - 1)), -shift)
    sym, vals = _splitmix_top(seed, bits, count, table)
    return vals, sym, table


def _powers(base, n):
    """base^0 .. base^(n-1) mod 2^64 as uint64."""
    out = np.empty(n, dtype=U64)
    acc = 1
    # blocked: a Python loop over n would be slow for n in the millions
    blk = 1024
    small = []
    for j in range(min(n, blk)):
        small.append(acc)
        acc = (acc * base) & MASK64
    small = np.array(small, dtype=U64)
    step = pow(base, len(small), 1 << 64)
    cur = 1
    with np.errstate(over="ignore"):
        for lo in range(0, n, blk):
            hi = min(n, lo + blk)
            out[lo:hi] = small[: hi - lo] * U64(cur)
            cur = (cur * step) & MASK64
    return out


class Fnv1a64Symbols:
    """FNV-1a over the concatenation of sym_bytes[s] for a stream of symbols s
    (each row of sym_bytes is L bytes), fed in chunks with update().

    h <- (h xor b) * P touches only the low byte with the xor, so
    h xor b = h + ((l xor b) - l) with l = h mod 256, and the low byte evolves
    on its own (an automaton on 256 states whose bit k depends on bits <= k
    only).  The low-byte sequence is found bit by bit with prefix parities,
    then h is a sum of independent terms times powers of P.
    """

    STEP = 1 << 18

    def __init__(self, sym_bytes):
        sym_bytes = np.asarray(sym_bytes, dtype=np.uint8)
        S, L = sym_bytes.shape
        # per symbol and starting low byte: the low byte after, and the additive term
        lb = np.tile(np.arange(256, dtype=U64), (S, 1))          # S x 256
        D = np.zeros((S, 256), dtype=U64)
        P = U64(FNV_PRIME)
        with np.errstate(over="ignore"):
            for j in range(L):
                b = sym_bytes[:, j].astype(U64)[:, None]
                d = (lb ^ b) - lb                                  # wraps mod 2^64
                D = D * P + d * P
                lb = (((lb ^ b) * P) & U64(255))
        self.M = lb.astype(np.uint8)                               # S x 256
        self.G = [((self.M >> np.uint8(k)) & np.uint8(1)).ravel() for k in range(8)]
        self.D = D.ravel()
        self.PL = pow(FNV_PRIME, L, 1 << 64)
        self.R = _powers(self.PL, self.STEP)[::-1].copy()          # PL^(STEP-1) ... PL^0
        self.h = FNV_OFFSET
        self.l = FNV_OFFSET & 255

    def update(self, sym):
        sym = np.asarray(sym)
        with np.errstate(over="ignore"):
            for lo in range(0, sym.shape[0], self.STEP):
                self._block(sym[lo: lo + self.STEP])

    def _block(self, s):
        T = s.shape[0]
        l = self.l
        base = s.astype(np.int32)
        base <<= 8
        low = np.zeros(T, dtype=np.uint8)
        bit = np.empty(T, dtype=np.uint8)
        for k in range(8):
            g = self.G[k][base | low]
            acc = np.bitwise_xor.accumulate(g)
            lk = np.uint8((l >> k) & 1)
            bit[0] = lk
            np.bitwise_xor(acc[:-1], lk, out=bit[1:])
            bit <<= np.uint8(k)
            low |= bit
        terms = self.D[base | low]
        terms *= self.R[self.STEP - T:]
        self.h = (self.h * pow(self.PL, T, 1 << 64) + int(terms.sum(dtype=U64))) & MASK64
        self.l = int(self.M[s[-1], low[-1]])
        assert self.l == (self.h & 255)

    def hexdigest(self):
        return "%016x" % self.h


def fnv1a64_symbols(sym, sym_bytes):
    f = Fnv1a64Symbols(sym_bytes)
    f.update(sym)
    return f.hexdigest()


def fnv1a64_hex(values):
    """Checksum of arbitrary float64 values (byte-level symbols)."""
    v = np.ascontiguousarray(np.asarray(values, dtype="<f8"))
    by = v.view(np.uint8)
    return fnv1a64_symbols(by, np.arange(256, dtype=np.uint8)[:, None])


def fnv1a64_naive(values):
    h = FNV_OFFSET
    for byte in np.ascontiguousarray(np.asarray(values, dtype="<f8")).tobytes():
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return "%016x" % h


_cache = {}


def regenerate(arr):
    """The float64 values of a generated array object, checksum verified."""
    gen = arr["generator"]
    shape = tuple(int(x) for x in arr["shape"])
    key = (gen.get("name"), gen.get("seed"), gen.get("bits"), gen.get("shift"), shape)
    if key in _cache:
        return _cache[key]
    if gen.get("name") != "splitmix64_dyadic":
        raise ValueError("unknown generator %r" % gen.get("name"))
    count = 1
    for s in shape:
        count *= s
    bits, shift = int(gen["bits"]), int(gen["shift"])
    if not (1 <= bits <= 16):
        raise ValueError("generator bits outside 1..16")
    table = np.ldexp(np.arange(1 << bits, dtype=np.float64) - float(1 << (bits - 1)), -shift)
    want = arr.get("checksum", {}).get("fnv1a64")
    fnv = Fnv1a64Symbols(np.ascontiguousarray(table.astype("<f8")).view(np.uint8).reshape(-1, 8))
    vals = np.empty(count, dtype=np.float64)
    # generate chunk i+1 while a worker thread hashes chunk i (NumPy drops the GIL)
    step = 1 << 21
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        jobs = []
        for lo in range(0, count, step):
            hi = min(count, lo + step)
            sym, _ = _splitmix_top(int(gen["seed"]), bits, hi - lo, table, first=lo, out=vals[lo:hi])
            jobs.append(pool.submit(fnv.update, sym))
        for j in jobs:
            j.result()
    if want is not None and fnv.hexdigest() != want.lower():
        raise ValueError("checksum mismatch: %s, want %s" % (fnv.hexdigest(), want))
    vals = vals.reshape(shape)
    _cache.clear()
    _cache[key] = vals
    return vals
