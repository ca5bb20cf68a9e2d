# hesse report over train documents with "tracking" (issue 20): the hand-written fixtures
# tests/data/track_gd.json (GD reaching 2/eta and staying) and track_adam.json (Adam with the
# preconditioned sharpness), and documents made from them here: a long GD run that leaves the
# band, one that never reaches it, and an SGD run. Each section names its paper and states the
# verdict with the numbers, computed again here from the series; the sharpness plot, the time
# split and a table of the series (a sample of rows for a long run) are there. The documents
# pass the strict schema check.
. "$(dirname "$0")/lib.inc"
: "${HESSE_TEST_DATA:?HESSE_TEST_DATA must name tests/data}"
: "${HESSE_SCHEMA_CHECK:?HESSE_SCHEMA_CHECK must name the schema checker (test_schema)}"

gd="$HESSE_TEST_DATA/track_gd.json"
adam="$HESSE_TEST_DATA/track_adam.json"
checks=$((checks + 1))
"$PY" - "$gd" "$T" <<'PY' || fail "making the long documents"
import copy, json, math, sys
d = json.load(open(sys.argv[1]))
base = d["tracking"]["series"][0]
def run(name, lam, optimizer="gd"):
    e = copy.deepcopy(d)
    t = e["tracking"]
    t["optimizer"] = optimizer
    t["series"] = []
    for i, l in enumerate(lam):
        r = copy.deepcopy(base)
        r["step"], r["epoch"], r["top"] = 10 * i, 10.0 * i, [l]
        t["series"].append(r)
    json.dump(e, open("%s/%s.json" % (sys.argv[2], name), "w"))
# 200 measurements: sharpening to 0.9 * 40 (2/eta) at step 820, then up to 1.3 * 40
leaves = [min(0.44 * i, 36.5 + 15.5 * max(0, i - 90) / 110) for i in range(200)]
run("leaves", leaves)
run("never", [30.0 * i / 199 for i in range(200)])
run("sgd", [5.0, 20.0, 38.0, 41.0, 39.0], "sgd")
PY
docs="$gd $adam $T/leaves.json $T/never.json $T/sgd.json"

checks=$((checks + 1))
# shellcheck disable=SC2086
"$HESSE_SCHEMA_CHECK" $docs || fail "tracking documents outside the train schema"

checks=$((checks + 1))
# shellcheck disable=SC2086
"$HESSE" report -q $docs -o "$T/report.html" || fail "report"

checks=$((checks + 1))
# shellcheck disable=SC2086
"$PY" - "$T/report.html" $docs <<'PY' || fail "report page"
import html, json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
docs = [json.load(open(f)) for f in sys.argv[2:]]
problems = []
def need(cond, what):
    if not cond: problems.append(what)

def text(s):
    return html.unescape(re.sub(r"<[^>]+>", " ", s))

def verdict(sharp, thr):
    """first index with sharp >= 0.9 thr, and the range of sharp / thr from there"""
    r = [s / t for s, t in zip(sharp, thr)]
    first = next((i for i, x in enumerate(r) if x >= 0.9), None)
    if first is None:
        m = max(r)
        return None, m, r.index(m), None, None
    return first, r[first], None, min(r[first:]), max(r[first:])

sections = re.findall(r'<section id="s\d+-train".*?</section>', page, re.S)
need(len(sections) == len(docs), "%d train sections for %d documents" % (len(sections), len(docs)))
for k, (sec, d) in enumerate(zip(sections, docs)):
    t = d["tracking"]
    rows = t["series"]
    steps = [r["step"] for r in rows]
    body = text(sec)
    where = "section %d: " % (k + 1)
    need("Not in this document" not in body, where + "keys listed as missing")
    adam = t["optimizer"].startswith("adam")
    if adam:
        need("Adaptive Gradient Methods at the Edge of Stability" in body and "2022" in body,
             where + "the 2022 paper is not named")
        have = [i for i, r in enumerate(rows) if "preconditioned" in r]
        sharp = [rows[i]["preconditioned"][0] for i in have]
        thr = [(2 + 2 * t["beta1"]) / ((1 - t["beta1"]) * rows[i]["lr"]) for i in have]
        idx = have
    else:
        need("Cohen, Kaur, Li, Kolter & Talwalkar" in body and "ICLR 2021" in body
             and "Gradient Descent on Neural Networks Typically Occurs at the Edge of Stability"
             in body, where + "the 2021 paper is not named")
        sharp = [r["top"][0] for r in rows]
        thr = [2 / r["lr"] for r in rows]
        idx = list(range(len(rows)))
    need("Claim:" in body, where + "no claim")
    first, at, arg, lo, hi = verdict(sharp, thr)
    m = re.search(r'<p class="(verdict ok|verdict bad|note)">((?:Matches|Differs|Not reached|Not in the paper).*?)</p>', sec, re.S)
    need(m is not None, where + "no verdict paragraph")
    if m:
        cls, v = m.group(1), html.unescape(m.group(2))
        regime = t["optimizer"] != "sgd"
        if first is None:
            need(v.startswith("Not reached") and "%.4g" % at in v and
                 "at step %d" % steps[idx[arg]] in v, where + "verdict: " + v)
            need(cls == "verdict bad", where + "class " + cls)
        else:
            edge = 0.9 <= lo and hi <= 1.1
            head = ("Matches" if edge else "Differs") if regime else "Not in the paper's regime"
            need(v.startswith(head), where + "verdict %r, expected %s" % (v, head))
            need("at step %d" % steps[idx[first]] in v, where + "first step: " + v)
            need("[%.4g, %.4g]" % (lo, hi) in v, where + "range [%.4g, %.4g]: %s" % (lo, hi, v))
            need(cls == ("note" if not regime else "verdict ok" if edge else "verdict bad"),
                 where + "class " + cls)
    # the sharpness plot with its 2/eta line, and the threshold's label
    need("Sharpness" in sec and "2/η = %g" % (2 / t["lr"]) in body, where + "no sharpness plot")
    need(sec.count("<svg") >= 2, where + "history and sharpness plots")
    # time split and products
    for label in ("seconds training", "seconds measuring", "products (warm starts)",
                  "share of time measuring"):
        need(label in body, where + "no " + label)
    flat = " ".join(body.split())
    share = t["seconds_measuring"] / (t["seconds_training"] + t["seconds_measuring"])
    need("share of time measuring %.6g" % share in flat, where + "time share %.6g" % share)
    if "products_cold" in t:
        ratio = t["products"] / t["products_cold"]
        need("products warm / cold %.6g" % ratio in flat, where + "warm / cold %.6g" % ratio)
    # the table: every row of a short series, a sample of a long one with the first reached
    shown = re.findall(r'title="\$\.tracking\.series\[(\d+)\]\.top\[0\] = ([^"]+)"', sec)
    shown_rows = sorted({int(i) for i, _ in shown})
    for i, exact in shown:
        need(float(exact) == rows[int(i)]["top"][0], where + "row %s: %s" % (i, exact))
    if len(rows) <= 40:
        need(shown_rows == list(range(len(rows))), where + "rows shown %s" % shown_rows)
    else:
        need(20 <= len(shown_rows) <= 45 and 0 in shown_rows and len(rows) - 1 in shown_rows,
             where + "sample of %d rows: %s" % (len(shown_rows), shown_rows))
        if first is not None:
            need(idx[first] in shown_rows, where + "the first row at the edge is not shown")
        need("of %d measurements" % len(rows) in body, where + "the sample is not said")
    need("Glossary" in body, where + "no glossary")
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY

finish
