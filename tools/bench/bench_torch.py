#!/usr/bin/python3
"""bench_torch.py -- the second half of `make bench`: the tied LM head in
PyTorch float64, timed on the same machine and the same inputs as the C
reference, reported as ratios reference_time / torch_time.

Usage: /usr/bin/python3 tools/bench/bench_torch.py RESULTS_FILE

RESULTS_FILE is what build/lmr-bench-head wrote: the sizes (vocab, d), the
SplitMix64 seeds of E and h, the core count, the reference's best time for
each n ("ref_seconds n seconds") and sampled reference logits ("sample t v
logit scale"). This script rebuilds the same E (vocab, d) and h (n_max, d)
bit for bit, times torch.nn.functional.linear(h[:n], E) -- logits = h E^T,
E read in place -- as the best of several calls after a warm-up, first with
torch.set_num_threads(cores), then with 1 thread (the reference is
single-threaded, so that ratio is the like-for-like one), and checks that
torch's logits agree with the reference's at the sampled entries within the
tied head's tolerance (d + 2) 2^-53 sum_j |h_j E_vj|.

If torch (or numpy) cannot be imported it says so and exits 0: the C part of
the benchmark stands on its own.
"""
import os
import resource
import sys
import time

UNIT = 2.0 ** -53
MIN_REPS = 2
MAX_REPS = 5
BUDGET_SECONDS = 6.0  # stop repeating one n after this long
CHUNK = 1 << 22  # elements generated at a time, to bound the temporaries


def read_results(path):
    """The C benchmark's figures: a dict of scalars, plus 'ref_seconds'
    {n: seconds} and 'samples' [(t, v, logit, scale)]."""
    results = {"ref_seconds": {}, "samples": []}
    with open(path, encoding="ascii") as stream:
        for line in stream:
            key, *values = line.split()
            if key == "ref_seconds":
                results["ref_seconds"][int(values[0])] = float(values[1])
            elif key == "sample":
                t, v = int(values[0]), int(values[1])
                results["samples"].append((t, v, float(values[2]),
                                           float(values[3])))
            else:
                results[key] = int(values[0]) if values[0].isdigit() \
                    else float(values[0])
    return results


def fill_dyadic(np, count, seed):
    """The C benchmark's fill_dyadic: entry i is (top 53 bits of
    SplitMix64(seed, i) - 2^52) * 2^-52. Returns a float64 array (count)."""
    u64 = np.uint64
    out = np.empty(count, dtype=np.float64)
    for start in range(0, count, CHUNK):
        index = np.arange(start, min(start + CHUNK, count), dtype=u64)
        z = u64(seed) + (index + u64(1)) * u64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
        z ^= z >> u64(31)
        numerator = (z >> u64(11)).astype(np.int64) - (1 << 52)
        out[start:start + len(index)] = numerator * 2.0 ** -52
    return out


def best_time(torch, h, E, n):
    """Best seconds of linear(h[:n], E) over MIN_REPS..MAX_REPS calls after
    a warm-up. h is (n_max, d), E is (vocab, d)."""
    rows = h[:n]
    start = time.perf_counter()
    torch.nn.functional.linear(rows, E)
    spent = time.perf_counter() - start
    best, reps = float("inf"), 0
    while reps < MAX_REPS and (reps < MIN_REPS or spent < BUDGET_SECONDS):
        start = time.perf_counter()
        torch.nn.functional.linear(rows, E)
        seconds = time.perf_counter() - start
        spent += seconds
        reps += 1
        best = min(best, seconds)
    return best


def blas_description(torch):
    """Which BLAS torch runs on: its build's BLAS_INFO and the BLAS shared
    libraries mapped into this process."""
    config = torch.__config__.show()
    info = "?"
    for part in config.replace(",", "\n").splitlines():
        if "BLAS_INFO=" in part:
            info = part.strip().split("=", 1)[1]
    libraries = set()
    with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
        for line in maps:
            name = os.path.basename(line.split()[-1])
            if any(word in name for word in ("blas", "mkl", "lapack")):
                libraries.add(os.path.realpath(line.split()[-1]))
    return info, sorted(libraries)


def agreement_ratio(torch, h, E, results):
    """Max over the sampled entries of |torch - reference| divided by the
    tied head's tolerance (d + 2) u sum|h_j E_vj|."""
    d = results["d"]
    n_max = max(results["ref_seconds"])
    logits = torch.nn.functional.linear(h[:n_max], E)
    worst = 0.0
    for t, v, reference, scale in results["samples"]:
        error = abs(float(logits[t, v]) - reference)
        bound = (d + 2) * UNIT * scale
        worst = max(worst, error / bound if bound > 0 else error)
    return worst


def time_all(torch, h, E, batch_sizes, threads):
    torch.set_num_threads(threads)
    print(f"  timing torch at {threads} thread(s) ...", flush=True)
    return {n: best_time(torch, h, E, n) for n in batch_sizes}


def print_table(results, by_threads, cores):
    ref = results["ref_seconds"]
    print(f"\n-- PyTorch float64 tied head, linear(h, E), best of "
          f"{MIN_REPS}..{MAX_REPS} calls --")
    print(f"  {'n':>4}  {'reference':>11}  {'torch 1 thr':>11}  "
          f"{'ref/torch':>9}  {f'torch {cores} thr':>11}  {'ref/torch':>9}")
    for n in sorted(ref):
        one, many = by_threads[1][n], by_threads[cores][n]
        print(f"  {n:>4}  {1e3 * ref[n]:>8.2f} ms  {1e3 * one:>8.2f} ms  "
              f"{ref[n] / one:>9.2f}  {1e3 * many:>8.2f} ms  "
              f"{ref[n] / many:>9.2f}")
    e_bytes = 8.0 * results["vocab"] * results["d"]
    copy = results["copy_bytes_per_s_1thread"]
    n_min = min(ref)
    rate = e_bytes / by_threads[1][n_min]
    print(f"  torch at n = {n_min}, 1 thread: {rate / 1e9:.2f} GB/s of E, "
          f"{100 * rate / copy:.1f}% of the 1-thread Copy bandwidth")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_torch.py RESULTS_FILE")
    results = read_results(sys.argv[1])
    try:
        import numpy as np
        import torch
    except ImportError as error:
        print(f"\n-- PyTorch comparison: unavailable ({error}); "
              f"the torch ratio is not reported --")
        return 0
    vocab, d, cores = results["vocab"], results["d"], results["cores"]
    batch_sizes = sorted(results["ref_seconds"])
    n_max = batch_sizes[-1]
    print(f"\n== PyTorch {torch.__version__} (/usr/bin/python3), "
          f"same inputs ==", flush=True)
    E = torch.from_numpy(fill_dyadic(np, vocab * d, results["seed_E"])
                         .reshape(vocab, d))  # (vocab, d), float64
    h = torch.from_numpy(fill_dyadic(np, n_max * d, results["seed_h"])
                         .reshape(n_max, d))  # (n_max, d), float64
    info, libraries = blas_description(torch)
    print(f"  BLAS: BLAS_INFO={info}; loaded: {', '.join(libraries) or 'none'}")
    if any("/blas/libblas.so" in name for name in libraries):
        print("  note: that is Netlib's reference BLAS (libblas3, Debian's "
              "default provider): an\n  unblocked, single-threaded loop much "
              "like gslcblas, so torch.set_num_threads\n  does not speed "
              "its matrix product up; with libopenblas0 installed torch "
              "would use\n  OpenBLAS instead (and then OPENBLAS_CORETYPE "
              "would matter).")
    print(f"  OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
          f", OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    by_threads = {cores: time_all(torch, h, E, batch_sizes, cores)}
    by_threads[1] = time_all(torch, h, E, batch_sizes, 1)
    print_table(results, by_threads, cores)
    worst = agreement_ratio(torch, h, E, results)
    verdict = "OUTSIDE TOLERANCE" if worst > 1 else \
        "OK, bitwise equal" if worst == 0 else "OK"
    print(f"\n-- agreement: {len(results['samples'])} sampled logits at "
          f"n = {n_max}, |torch - reference| / ((d+2) u sum|h E|): "
          f"max {worst:.3g} ({verdict})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"  peak memory of this Python process: {peak / 1e6:.1f} MB; "
          f"load average now {os.getloadavg()[0]:.2f}")
    return 0 if worst <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
