#!/usr/bin/env python3
"""Summaries, comparisons and a plot of the edge-of-stability runs (eos.sh). Standard library
only.

    eos_plot.py summary RUN.json...           per run: the first measured step with
                                              lambda1 >= 0.9 x threshold, and the range of
                                              lambda1 / threshold from there to the end
    eos_plot.py compare HESSE.json TORCH.json lambda1 and loss of two runs of the same
                                              problem, step by step: where they part
    eos_plot.py svg OUT.svg TITLE RUN.json... sharpness / threshold and the loss against step,
                                              one line per run

A RUN.json is a `hesse train --track ... --json` document (its "tracking" object), the JSON
of eos_torch.py (the same series keys) or eos_torch.py's stdout (RUN.log, or RUN.log@LR for a log without its "lr" line: the printed
digits). The threshold is 2/lr for gradient descent (Cohen et
al. 2021), and for Adam's preconditioned series (2 + 2 beta1) / ((1 - beta1) lr), 38/lr at
beta1 = 0.9 (Cohen et al. 2022)."""
import json
import math
import sys


def load_log(path, lr):
    """The stdout of eos_torch.py (a run stopped before it wrote its JSON): the series from the
    step lines, lr from its "lr" line or given (PATH@LR)."""
    series, adam = [], False
    for line in open(path):
        w = line.split()
        if len(w) == 2 and w[0] == "lr" and lr is None:
            lr = float(w[1])
        if len(w) < 12 or w[0] != "step":
            continue
        row = {"step": int(w[1]), "loss": float(w[3]), "accuracy": float(w[5]),
               "top": [float(w[7])]}
        if "pre" in w:
            adam = True
            row["preconditioned"] = [float(w[w.index("pre") + 1])]
        series.append(row)
    return {"lr": lr, "optimizer": "adam" if adam else "gd", "series": series}


def load(path):
    path, _, lr = path.partition("@")
    doc = load_log(path, float(lr) if lr else None) if path.endswith(".log") else \
        json.load(open(path))
    t = doc.get("tracking", doc)
    lr = t["lr"]
    run = {"path": path, "lr": lr, "optimizer": t.get("optimizer", "gd"),
           "threshold": t.get("threshold", 2.0 / lr), "series": t["series"],
           "source": "hesse" if "tracking" in doc else "torch"}
    if "threshold_preconditioned" in t:
        run["threshold_preconditioned"] = t["threshold_preconditioned"]
    elif run["optimizer"] == "adam":  # a log: torch.optim.Adam's default beta1 = 0.9
        run["threshold_preconditioned"] = (2 + 2 * 0.9) / ((1 - 0.9) * lr)
    return run


def summarise(run, key="top"):
    """(first step with value >= 0.9 thr or None, min and max of value / thr from there on,
    the largest ratio seen, the number of measurements)."""
    thr = run["threshold_preconditioned" if key == "preconditioned" else "threshold"]
    rows = [(r["step"], r[key][0] / thr) for r in run["series"] if r.get(key)]
    first = next((i for i, (_, q) in enumerate(rows) if q >= 0.9), None)
    out = {"thr": thr, "n": len(rows), "max_ratio": max(q for _, q in rows) if rows else None,
           "first_step": None}
    if first is not None:
        after = [q for _, q in rows[first:]]
        out.update(first_step=rows[first][0], min_after=min(after), max_after=max(after),
                   within10=sum(1 for q in after if abs(q - 1) <= 0.1), after=len(after))
    return out


def describe(s, what):
    if s["first_step"] is None:
        return "%s never reaches 0.9 x %.4g (largest lambda/threshold %.3f over %d " \
               "measurements)" % (what, s["thr"], s["max_ratio"], s["n"])
    return ("%s >= 0.9 x %.4g first at step %d; afterwards lambda/threshold in [%.3f, %.3f], "
            "%d of %d measurements within +-10%%" % (what, s["thr"], s["first_step"],
                                                    s["min_after"], s["max_after"],
                                                    s["within10"], s["after"]))


def cmd_summary(paths):
    for p in paths:
        run = load(p)
        last = run["series"][-1]
        print("%s (%s, %s, lr %.6g, %d steps, final loss %.6g):" % (
            p, run["source"], run["optimizer"], run["lr"], last["step"], last["loss"]))
        print("  " + describe(summarise(run), "lambda1 vs 2/lr"))
        if "threshold_preconditioned" in run:
            print("  " + describe(summarise(run, "preconditioned"),
                                  "preconditioned lambda1 vs 38/lr"))


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def cmd_compare(hpath, tpath):
    h, t = load(hpath), load(tpath)
    hs = {r["step"]: r for r in h["series"]}
    rows = [(r["step"], hs[r["step"]], r) for r in t["series"] if r["step"] in hs]
    print("%s against %s: %d common measured steps" % (hpath, tpath, len(rows)))
    print("  step   loss (%s)      rel diff   lambda1 (%s)  lambda1 (%s)  rel diff" % (
        h["source"], h["source"], t["source"]))
    parted = {}
    for step, a, b in rows:
        dl, dk = rel(a["loss"], b["loss"]), rel(a["top"][0], b["top"][0])
        line = "  %5d  %.10f  %.1e    %.8f      %.8f      %.1e" % (
            step, a["loss"], dl, a["top"][0], b["top"][0], dk)
        for key in ("preconditioned",):
            if a.get(key) and b.get(key):
                dp = rel(a[key][0], b[key][0])
                line += "   pre %.6f / %.6f (%.1e)" % (a[key][0], b[key][0], dp)
                dk = max(dk, dp)
        print(line)
        for lim in (1e-6, 1e-3, 1e-1):
            if lim not in parted and max(dl, dk) > lim:
                parted[lim] = step
    for lim in (1e-6, 1e-3, 1e-1):
        print("  first common step with a relative difference above %g: %s" % (
            lim, parted.get(lim, "none")))


# ---- SVG -----------------------------------------------------------------------------------

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def ticks(lo, hi, n=5):
    span = hi - lo if hi > lo else 1.0
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    v = math.ceil(lo / step) * step
    out = []
    while v <= hi + 1e-9 * span:
        out.append(round(v, 10))
        v += step
    return out


def panel(x0, y0, w, h, xmax, ylo, yhi, lines, ylabel, logy=False, hline=None):
    """lines: [(colour, [(x, y)], dashed)]"""
    f = (lambda v: math.log10(v)) if logy else (lambda v: v)
    lo, hi = f(ylo), f(yhi)

    def X(v):
        return x0 + w * v / xmax

    def Y(v):
        return y0 + h - h * (f(v) - lo) / (hi - lo)

    out = ['<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#444"/>' % (
        x0, y0, w, h)]
    for t in ticks(0, xmax):
        out.append('<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#444"/>' % (
            X(t), y0 + h, X(t), y0 + h + 4))
        out.append('<text x="%.1f" y="%g" font-size="11" text-anchor="middle">%g</text>' % (
            X(t), y0 + h + 16, t))
    yt = [10 ** e for e in range(math.floor(lo), math.ceil(hi) + 1)] if logy else \
        ticks(ylo, yhi)
    if logy:
        yt = [v * m for v in yt for m in (1, 2, 3, 5) if ylo <= v * m <= yhi]
    for t in yt:
        out.append('<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>' % (
            x0, Y(t), x0 + w, Y(t)))
        out.append('<text x="%g" y="%.1f" font-size="11" text-anchor="end">%g</text>' % (
            x0 - 5, Y(t) + 4, t))
    if hline is not None:
        out.append('<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#000" '
                   'stroke-dasharray="6,4"/>' % (x0, Y(hline), x0 + w, Y(hline)))
    for colour, pts, dashed in lines:
        pts = [(x, y) for x, y in pts if ylo <= y <= yhi and x <= xmax]
        if not pts:
            continue
        d = " ".join("%.1f,%.1f" % (X(x), Y(y)) for x, y in pts)
        out.append('<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>' % (
            colour, ' stroke-dasharray="3,3"' if dashed else "", d))
    out.append('<text x="%g" y="%g" font-size="12" transform="rotate(-90 %g %g)" '
               'text-anchor="middle">%s</text>' % (x0 - 45, y0 + h / 2, x0 - 45, y0 + h / 2,
                                                   esc(ylabel)))
    out.append('<text x="%g" y="%g" font-size="12" text-anchor="middle">step</text>' % (
        x0 + w / 2, y0 + h + 32))
    return out


def cmd_svg(out, title, paths):
    runs = [load(p) for p in paths]
    xmax = max(r["series"][-1]["step"] for r in runs) or 1
    sharp, loss, legend = [], [], []
    for i, r in enumerate(runs):
        c = COLOURS[i % len(COLOURS)]
        pre = "threshold_preconditioned" in r
        key, thr = ("preconditioned", r["threshold_preconditioned"]) if pre else \
            ("top", r["threshold"])
        sharp.append((c, [(s["step"], s[key][0] / thr) for s in r["series"] if s.get(key)],
                      False))
        if pre:
            sharp.append((c, [(s["step"], s["top"][0] / r["threshold"]) for s in r["series"]],
                          True))
        loss.append((c, [(s["step"], s["loss"]) for s in r["series"]], False))
        legend.append((c, "%s lr %.4g (%s %.4g)%s" % (
            r["optimizer"], r["lr"], "38/lr" if pre else "2/lr", thr,
            "; dashed: lambda1 x lr/2" if pre else "")))
    ls = [y for _, pts, _ in loss for _, y in pts if y > 0]
    lo, hi = min(ls) / 1.1, max(ls) * 1.1
    qs = [y for _, pts, _ in sharp for _, y in pts]
    ymin = max(0.0, math.floor(min(qs) * 10) / 10 - 0.1)
    ymax = max(1.4, max(qs) * 1.05)
    W, H = 900, 330 + 18 * len(legend)
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="20" font-size="14" text-anchor="middle">%s</text>' % (W / 2,
                                                                                  esc(title))]
    svg += panel(70, 40, 360, 220, xmax, ymin, ymax, sharp,
                 "sharpness / threshold (GD: lambda1 lr/2)", hline=1.0)
    svg += panel(520, 40, 360, 220, xmax, lo, hi, loss, "training loss (MSE)", logy=True)
    for i, (c, text) in enumerate(legend):
        y = 305 + 18 * i
        svg.append('<line x1="70" y1="%d" x2="100" y2="%d" stroke="%s" stroke-width="2"/>' % (
            y - 4, y - 4, c))
        svg.append('<text x="108" y="%d" font-size="12">%s</text>' % (y, esc(text)))
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


def main(argv):
    if len(argv) >= 2 and argv[0] == "summary":
        cmd_summary(argv[1:])
    elif len(argv) == 3 and argv[0] == "compare":
        cmd_compare(argv[1], argv[2])
    elif len(argv) >= 4 and argv[0] == "svg":
        cmd_svg(argv[1], argv[2], argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
