#!/usr/bin/env python3
"""The width sweep of papyan_width.sh as a table (stdout, Markdown) and a plot (SVG).

Usage: papyan_width_plot.py RESULTS_DIR OUT.svg

Reads width-<tag>-classes.json and width-<tag>-eval.json for every tag present; plots, against
the parameter count (log scale), the averaging-subspace overlap with H, tr G_means / tr G and
the outlier count / C, one line per family (MLP, LeNet-5). Standard library only."""
import glob
import json
import math
import os
import sys


def rows(folder):
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "width-*-classes.json"))):
        tag = os.path.basename(path)[len("width-"):-len("-classes.json")]
        c = json.load(open(path))
        ev = os.path.join(folder, "width-%s-eval.json" % tag)
        e = json.load(open(ev)) if os.path.exists(ev) else {}
        top = c["spectra"]["hessian"]["top"]
        out.append({
            "tag": tag,
            "family": "LeNet-5" if tag.startswith("lenet") else "MLP",
            "params": c["n_params"],
            "accuracy": e.get("accuracy"),
            "loss": e.get("loss"),
            "outliers": c["outliers"]["count"],
            "gap": c["outliers"]["gap_ratio"],
            "means_share": c["trace"]["means"] / c["trace"]["ggn"],
            "overlap_h": c["overlap"]["averaging_vs_hessian"],
            "overlap_g": c["overlap"]["averaging_vs_ggn"],
            "gap_at_c": top[9] / top[10] if len(top) > 10 and top[10] > 0 else float("nan"),
            "classes": c["classes"],
        })
    return sorted(out, key=lambda r: (r["family"], r["params"]))


def table(rs):
    print("| model | parameters | loss / accuracy (measured samples) | outliers (gap) | "
          "λ_C/λ_C+1 | tr G_means / tr G | overlap with H / G |")
    print("|---|---|---|---|---|---|---|")
    for r in rs:
        acc = "%.4f / %.2f %%" % (r["loss"], 100 * r["accuracy"]) if r["accuracy"] is not None else "-"
        print("| %s | %s | %s | %d (%.2f) | %.2f | %.1f %% | %.3f / %.3f |" % (
            r["tag"], format(r["params"], ","), acc, r["outliers"], r["gap"], r["gap_at_c"],
            100 * r["means_share"], r["overlap_h"], r["overlap_g"]))


def svg(rs, path):
    W, H, L, R, T, B = 640, 400, 70, 170, 40, 55
    xs = [math.log10(r["params"]) for r in rs]
    x0, x1 = math.floor(min(xs) * 2) / 2, math.ceil(max(xs) * 2) / 2
    if x1 == x0:
        x1 = x0 + 1
    px = lambda v: L + (math.log10(v) - x0) / (x1 - x0) * (W - L - R)
    py = lambda v: T + (1 - v) * (H - T - B)
    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
         'font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="14">Papyan\'s hierarchy against width (Fashion-MNIST, '
         '1,000 balanced samples)</text>' % L]
    for k in range(6):
        v = k / 5
        s.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (L, W - R, py(v), py(v)))
        s.append('<text x="%d" y="%.1f" text-anchor="end">%.1f</text>' % (L - 6, py(v) + 4, v))
    e = math.ceil(x0)
    while e <= x1:
        s.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>' % (px(10 ** e), px(10 ** e), T, H - B))
        s.append('<text x="%.1f" y="%d" text-anchor="middle">1e%d</text>' % (px(10 ** e), H - B + 16, e))
        e += 1
    s.append('<text x="%d" y="%d" text-anchor="middle">parameters</text>' % ((L + W - R) // 2, H - 12))
    series = [("overlap_h", "overlap (averaging vs H)", "#1f77b4"),
              ("means_share", "tr G_means / tr G", "#d62728"),
              ("outliers_frac", "outliers / C", "#2ca02c")]
    for r in rs:
        r["outliers_frac"] = r["outliers"] / r["classes"]
    ly = T + 10
    for key, label, colour in series:
        for fam, dash in (("MLP", ""), ("LeNet-5", ' stroke-dasharray="5,3"')):
            pts = [(px(r["params"]), py(min(1, r[key]))) for r in rs if r["family"] == fam]
            if not pts:
                continue
            s.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>' % (
                colour, dash, " ".join("%.1f,%.1f" % p for p in pts)))
            for p in pts:
                s.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (p[0], p[1], colour))
        s.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>' % (
            W - R + 10, W - R + 30, ly, ly, colour))
        s.append('<text x="%d" y="%d">%s</text>' % (W - R + 34, ly + 4, label))
        ly += 18
    s.append('<text x="%d" y="%d">solid: MLP 784-w-w-10</text>' % (W - R + 10, ly + 10))
    s.append('<text x="%d" y="%d">dashed: LeNet-5 ×K</text>' % (W - R + 10, ly + 28))
    s.append("</svg>")
    open(path, "w").write("\n".join(s) + "\n")


if __name__ == "__main__":
    rs = rows(sys.argv[1])
    table(rs)
    if rs and len(sys.argv) > 2:
        svg(rs, sys.argv[2])
