#!/usr/bin/python3
"""JS0 of a hesse.blocks/1 document recomputed from its quadrature with another smoothing.

    tools/blocks_resmooth.py BLOCKS.json same        # hesse's own grid and width: reproduces js0
    tools/blocks_resmooth.py BLOCKS.json abs W       # width W in units of lambda_k for every
                                                     # block, grid spacing W/5 over [lo, hi]

The definitions are those of docs/analyses.md (natural log, square root of the divergence, the
mean over the included pairs); only the Gaussian width and the grid change. Needs torch.
"""
import json
import math
import sys

import torch


def densities(doc, grid, sigma):
    out = []
    for b in doc["blocks"]:
        if not b["included"]:
            continue
        x = torch.tensor([n / b["lambda_k"] for q in b["quadrature"] for n in q["nodes"]],
                         dtype=torch.float64)
        w = torch.tensor([v for q in b["quadrature"] for v in q["weights"]], dtype=torch.float64)
        rho = torch.zeros(len(grid), dtype=torch.float64)
        for k in range(0, len(x), 64):
            z = (grid[:, None] - x[None, k:k + 64]) / sigma
            rho += (torch.exp(-0.5 * z * z) * w[None, k:k + 64]).sum(1)
        out.append(rho / rho.sum())
    return out


def js(p, q):
    m = 0.5 * (p + q)
    t = 0.0
    for a in (p, q):
        keep = a >= 2.2250738585072014e-308
        t += 0.5 * float((a[keep] * (torch.log(a[keep]) - torch.log(m[keep]))).sum())
    return math.sqrt(max(t, 0.0))


def main():
    doc = json.load(open(sys.argv[1]))
    lo, hi = doc["lo"], doc["hi"]
    if sys.argv[2] == "same":
        sigma, points = doc["sigma"], doc["points"]
    else:
        sigma = float(sys.argv[3])
        points = min(1000000, math.ceil((hi - lo) / (sigma / 5)) + 1)  # as hesse blocks --width
    grid = torch.linspace(lo, hi, points, dtype=torch.float64)
    d = densities(doc, grid, sigma)
    vals = [js(d[i], d[j]) for i in range(len(d)) for j in range(i + 1, len(d))]
    print(f"sigma {sigma:.4g} points {points} pairs {len(vals)} JS0 {sum(vals) / len(vals):.6f} "
          f"(the document's: {doc['js0']:.4f})")


if __name__ == "__main__":
    main()
