#!/usr/bin/env python3
"""The communication model of docs/scaling.md: predicted parallel efficiency of one
distributed Hessian-vector product (block of k) and of the Lanczos step around it.

  bench/scaling_model.py [--rate GFLOPS] [--alpha S] [--beta GBPS] [--reuse R ...]
                         [--basis M] [--k K] [--json]

Per product on P ranks, each holding N/P samples (docs/scaling.md):
  compute   T_c = 16 n r N / (P R)      16 flops per weight use (bench: hvp_flops_formula),
                                        r weight uses per sample (1: MLP, ~50: ResNet-18-CIFAR)
  reduce    T_r = 2 (P-1) a + 2 (P-1)/P 8 k n / b        ring allreduce of k n doubles
            + 2 (P-1) a                                  the agreement on failures (1 double)
  solver    T_s = 4 n M 8 / B_mem                        reorthogonalisation against M basis
                                                         vectors, replicated on every rank
  efficiency E(P) = (T_c(1) + T_s) / (P (T_c(P) + T_r + T_s))
Defaults: R per rank and the memory bandwidth from this machine's benchmarks (pass yours),
a and b for a 100 Gb/s InfiniBand-class network; --alpha/--beta for others.
"""
import argparse
import json


def model(n, N, P, r, k, rate, alpha, beta, basis, mem_bw):
    tc1 = 16.0 * n * r * N / (rate * 1e9)
    tc = tc1 / P
    tr = 0.0 if P == 1 else 4 * (P - 1) * alpha + 2 * (P - 1) / P * 8 * k * n / (beta * 1e9)
    ts = 4 * n * basis * 8 / (mem_bw * 1e9)  # two passes over the basis, read twice (DGKS)
    return tc1, tc, tr, ts, (tc1 + ts) / (P * (tc + tr + ts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=40.0, help="GFLOP/s of products per rank")
    ap.add_argument("--alpha", type=float, default=2e-6, help="latency per message, seconds")
    ap.add_argument("--beta", type=float, default=12.5, help="link bandwidth, GB/s")
    ap.add_argument("--mem-bw", type=float, default=20.0, help="memory bandwidth per rank, GB/s")
    ap.add_argument("--reuse", type=float, nargs="+", default=[1.0, 50.0])
    ap.add_argument("--basis", type=int, default=60, help="Lanczos basis vectors (top-20: ~60)")
    ap.add_argument("--k", type=int, default=1, help="vectors per product (block)")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 8, 64, 512])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    for r in a.reuse:
        for n in (1e6, 1e7, 1e8):
            for N in (50_000, 1_200_000):
                row = {"n": n, "samples": N, "reuse": r, "basis_gib_per_rank": n * a.basis * 8 / 2**30}
                for P in a.ranks:
                    tc1, tc, tr, ts, e = model(n, N, P, r, a.k, a.rate, a.alpha, a.beta, a.basis,
                                               a.mem_bw)
                    row[f"P{P}"] = {"product_s": tc + tr + ts, "compute_s": tc, "reduce_s": tr,
                                    "solver_s": ts, "efficiency": e}
                rows.append(row)
    if a.json:
        print(json.dumps({"params": vars(a), "rows": rows}, indent=1))
        return
    print(f"R = {a.rate} GFLOP/s per rank, alpha = {a.alpha:g} s, beta = {a.beta} GB/s, "
          f"memory {a.mem_bw} GB/s, basis {a.basis}, block {a.k}")
    head = " ".join(f"{'P=' + str(P):>16s}" for P in a.ranks)
    print(f"{'reuse':>5s} {'n':>6s} {'N':>9s} {'basis GiB':>9s} {head}")
    for row in rows:
        cells = " ".join(f"{row[f'P{P}']['product_s']:8.3g}s {100 * row[f'P{P}']['efficiency']:5.1f}%"
                         for P in a.ranks)
        print(f"{row['reuse']:5g} {row['n']:6.0e} {row['samples']:9d} "
              f"{row['basis_gib_per_rank']:9.1f} {cells}")


if __name__ == "__main__":
    main()
