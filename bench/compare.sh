#!/bin/sh
# hesse vs PyTorch, side by side in one run: gradient and Hessian-vector product times on
# the standard cases (f64; batch 1000, vit-tiny 256 images, gpt-tiny 64 windows of 64 bytes),
# with the same BLAS core and thread count.
#
#   bench/compare.sh [--threads T] [--repeat R] [--batch B] [--cases C1,C2] [--out DIR]
#
# Prints a table and writes DIR/hesse.json, DIR/torch.json and DIR/compare.json
# (default DIR: build/bench). Ratios below 1 mean hesse is faster. Compare ratios, not
# absolute times: machines are shared and noisy. --batch applies to the MNIST-shaped cases;
# vit-tiny and gpt-tiny run on hesse's weights, batch and probe vector (DIR/<case>.safetensors)
# in both programs, and hvp_rel_diff is the relative difference of the two products.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
hesse="${HESSE:-$here/build/hesse}"
python="${PYTHON:-/usr/bin/python3}"
threads=$(nproc)
repeat=5
batch=1000
out="$here/build/bench"
cases="mlp-small,mlp-large,lenet5,vit-tiny,gpt-tiny"
while [ $# -gt 0 ]; do
    case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --cases) cases="$2"; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option '$1'" >&2; exit 1 ;;
    esac
done
[ -x "$hesse" ] || { echo "compare.sh: $hesse not built (run make)" >&2; exit 1; }
"$python" -c "import torch" 2>/dev/null || {
    echo "compare.sh: PyTorch missing: run scripts/install-deps.sh --bench" >&2
    exit 1
}
mkdir -p "$out"

# Both programs get the BLAS core hesse runs with (its own choice unless the user set one).
core=$("$hesse" info --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["blas"]["core"])')
export OPENBLAS_CORETYPE="$core" OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
echo "BLAS core $core, $threads threads, batch $batch, median of $repeat runs, load $(cut -d" " -f1-3 /proc/loadavg)" >&2

# The MNIST-shaped cases at --batch, the transformer ones at their own batch; one document each.
mnist=$(echo "$cases" | tr ',' '\n' | grep -Ev '^(vit|gpt)-tiny$' | paste -sd, -) || true
tfm=$(echo "$cases" | tr ',' '\n' | grep -E '^(vit|gpt)-tiny$' | paste -sd, -) || true
rm -f "$out/hesse-mnist.json" "$out/hesse-tfm.json" "$out/torch-mnist.json" "$out/torch-tfm.json"
if [ -n "$mnist" ]; then
    "$hesse" bench --case "$mnist" --batch "$batch" --repeat "$repeat" --threads "$threads" \
        --block 16 -q -o "$out/hesse-mnist.json"
    "$python" "$here/bench/torch_hvp.py" --case "$mnist" --batch "$batch" --repeat "$repeat" \
        --threads "$threads" -o "$out/torch-mnist.json" 2>/dev/null
fi
if [ -n "$tfm" ]; then
    "$hesse" bench --case "$tfm" --repeat "$repeat" --threads "$threads" -q --dgemm 0 \
        --save-dir "$out" -o "$out/hesse-tfm.json"
    "$python" "$here/bench/torch_hvp.py" --case "$tfm" --from "$out" --repeat "$repeat" \
        --threads "$threads" -o "$out/torch-tfm.json" 2>/dev/null
fi
"$python" - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
for prog in ("hesse", "torch"):
    docs = [json.load(open(os.path.join(out, f"{prog}-{k}.json"))) for k in ("mnist", "tfm")
            if os.path.exists(os.path.join(out, f"{prog}-{k}.json"))]
    doc = docs[0]
    for d in docs[1:]:
        doc["cases"] += d["cases"]
        for k, v in d.items():
            doc.setdefault(k, v)
    with open(os.path.join(out, prog + ".json.tmp"), "w") as f:
        json.dump(doc, f, indent=2)
    os.replace(os.path.join(out, prog + ".json.tmp"), os.path.join(out, prog + ".json"))
PY

"$python" - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
h = {c["case"]: c for c in json.load(open(os.path.join(out, "hesse.json")))["cases"]}
hj = json.load(open(os.path.join(out, "hesse.json")))
t = {c["case"]: c for c in json.load(open(os.path.join(out, "torch.json")))["cases"]}
rows = []
print(f"{'case':10s} {'n_params':>9s} | {'grad ms':>8s} {'torch':>8s} {'ratio':>5s} | "
      f"{'hvp ms':>8s} {'torch':>8s} {'ratio':>5s} | {'cached':>8s} {'reuse':>8s} {'ratio':>5s}")
for name in ["mlp-small", "mlp-large", "lenet5", "vit-tiny", "gpt-tiny"]:
    if name not in h or name not in t:
        continue
    a, b = h[name], t[name]
    rg, rh = a["grad_ms"] / b["grad_ms"], a["hvp_ms"] / b["hvp_ms"]
    rc = a["hvp_cached_ms"] / b["hvp_reuse_ms"]
    print(f"{name:10s} {a['n_params']:9d} | {a['grad_ms']:8.2f} {b['grad_ms']:8.2f} {rg:5.2f} | "
          f"{a['hvp_ms']:8.2f} {b['hvp_ms']:8.2f} {rh:5.2f} | {a['hvp_cached_ms']:8.2f} "
          f"{b['hvp_reuse_ms']:8.2f} {rc:5.2f}")
    rows.append({"case": name, "n_params": a["n_params"], "hesse_grad_ms": a["grad_ms"],
                 "torch_grad_ms": b["grad_ms"], "grad_ratio": rg, "hesse_hvp_ms": a["hvp_ms"],
                 "torch_hvp_ms": b["hvp_ms"], "hvp_ratio": rh,
                 "hesse_hvp_cached_ms": a["hvp_cached_ms"], "torch_hvp_reuse_ms": b["hvp_reuse_ms"],
                 "hvp_cached_ratio": rc})
    if "hvp_rel_diff" in b:
        rows[-1].update({"hvp_rel_diff": b["hvp_rel_diff"],
                         "hvp_f32_rel_diff": b["hvp_f32_rel_diff"],
                         "torch_hvp_f32_ms": b["hvp_f32_ms"],
                         "hvp_f32_ratio": a["hvp_f32_ms"] / b["hvp_f32_ms"]})
        print(f"{'':10s} {'':9s}   same product: |hesse - torch| / |torch| = "
              f"{b['hvp_rel_diff']:.1e} (f64), {b['hvp_f32_rel_diff']:.1e} (hesse f32); "
              f"f32 hvp {a['hvp_f32_ms']:.2f} vs torch f32 {b['hvp_f32_ms']:.2f} ms")
print("hvp: from scratch (forward, backward, both R-passes) in both; cached: hesse with its "
      "forward/backward cache vs PyTorch reusing one retained graph (double backward only)")
print()
dg = hj.get("dgemm")
if dg:
    # The reference: the better of one multiply on all threads and the threads x one-thread
    # rate (what independent single-threaded GEMMs reach, as the engine's workers run them).
    ref = max(dg["gflops"], dg["threads"] * dg["gflops_one_thread"])
    print(f"DGEMM reference: C = A B, n = {dg['n']} (2 n^3 flops), same OpenBLAS: "
          f"{dg['gflops']:.1f} GFLOP/s on {dg['threads']} threads, {dg['gflops_one_thread']:.1f} "
          f"on 1 thread; reference {ref:.1f} GFLOP/s = max(all threads, threads x one thread)")
    dg["reference_gflops"] = ref
print(f"{'case':10s} | {'f64 ms':>8s} {'f32 ms':>8s} {'f32 x':>6s} | {'block16':>9s} {'in hvps':>7s} "
      f"{'f32 in hvps':>11s} | {'hvp GFLOP':>9s} {'GFLOP/s':>8s} {'of DGEMM':>8s}")
for r in rows:
    a = h[r["case"]]
    frac = a["hvp_gflops"] / dg["reference_gflops"] if dg else float("nan")
    print(f"{r['case']:10s} | {a['hvp_ms']:8.2f} {a['hvp_f32_ms']:8.2f} {a['f32_speedup']:6.2f} | "
          f"{a.get('hvp_block_ms', float('nan')):9.2f} {a.get('block_cost_in_hvps', float('nan')):7.2f} "
          f"{a.get('block_f32_cost_in_hvps', float('nan')):11.2f} | {a['hvp_flops'] / 1e9:9.2f} "
          f"{a['hvp_gflops']:8.1f} {100 * frac:7.1f}%")
    r.update({"hesse_hvp_f32_ms": a["hvp_f32_ms"], "f32_speedup": a["f32_speedup"],
              "block16_cost_in_hvps": a.get("block_cost_in_hvps"), "hvp_flops": a["hvp_flops"],
              "hvp_gflops": a["hvp_gflops"], "hvp_fraction_of_dgemm": frac})
print("hvp flops: " + hj["hvp_flops_formula"])
load = os.getloadavg()
print(f"load average (1, 5, 15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
doc = {"schema": "hesse.compare/1", "blas": hj["blas"], "dgemm": dg, "cases": rows,
       "loadavg_end": list(load)}
tmp = os.path.join(out, "compare.json.tmp")
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2)
os.replace(tmp, os.path.join(out, "compare.json"))
PY
