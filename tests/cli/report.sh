# hesse report over real results of a small network: a well-formed, self-contained page with
# one section and the expected plots per document, every number traceable to the exact value
# at its JSON path; bad inputs fail naming the file. When /usr/bin/chromium exists, the page
# loads headless without console messages (the page has no scripts, and its
# Content-Security-Policy turns any attempt to fetch something into one) and renders.
. "$(dirname "$0")/lib.inc"

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 300 --epochs 3 --lr 0.1 --test-samples 500 \
    --json "$T/train.json" -o "$T/m.safetensors" || fail "train"
common="--model $T/m.safetensors --samples 300 -q"
"$HESSE" eval $common -o "$T/eval.json" || fail "eval"
"$HESSE" dense $common -o "$T/dense.json" || fail "dense"
"$HESSE" spectrum $common --top 5 --bottom 3 -o "$T/spectrum.json" || fail "spectrum"
"$HESSE" density $common -o "$T/density.json" || fail "density"
"$HESSE" trace $common -o "$T/trace.json" || fail "trace"

docs="$T/train.json $T/eval.json $T/dense.json $T/spectrum.json $T/density.json $T/trace.json"
checks=$((checks + 1))
# shellcheck disable=SC2086
"$HESSE" report -q $docs --title 'tiny <net> & "friends"' -o "$T/report.html" || fail "report"
# the same page on stdout without -o
# shellcheck disable=SC2086
"$HESSE" report $docs --title 'tiny <net> & "friends"' >"$T/stdout.html" 2>"$T/stderr" ||
    fail "report to stdout"
checks=$((checks + 1))
cmp -s "$T/report.html" "$T/stdout.html" || fail "the page on stdout differs from the file"

# Structure, provenance and traceability, checked by parsing the page.
checks=$((checks + 1))
# shellcheck disable=SC2086
"$PY" - "$T/report.html" $docs <<'PY' || fail "report page"
import html.parser, json, math, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
files = sys.argv[2:]
docs = [json.load(open(f)) for f in files]
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}
problems = []

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.ids, self.hrefs, self.titles = [], set(), [], []
        self.section = None
        self.counts = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            if a["id"] in self.ids: problems.append("duplicate id " + a["id"])
            self.ids.add(a["id"])
        if tag == "a" and "href" in a: self.hrefs.append(a["href"])
        for k, v in attrs:
            if k in ("src", "href") and not (v or "").startswith("#"):
                problems.append("external reference %s=%s" % (k, v))
        if tag == "section":
            self.section = int(re.match(r"s(\d+)-", a["id"]).group(1)) - 1
        if self.section is not None:
            c = self.counts.setdefault(self.section, {})
            c[tag] = c.get(tag, 0) + 1
            if "title" in a and tag in ("td", "dd"): self.titles.append((self.section, a["title"], a.get("class", "")))
        if tag not in VOID: self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        pass  # <line .../> in SVG
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            problems.append("</%s> closes <%s>" % (tag, self.stack[-1] if self.stack else "nothing"))
            return
        self.stack.pop()
        if tag == "section": self.section = None

p = Page()
p.feed(page)
p.close()
if p.stack: problems.append("left open: %s" % p.stack)
if re.search(r"<script", page, re.I): problems.append("a <script> element")
urls = re.findall(r"https?://[^\s\"'<>)]*", page)
if any(u != "http://www.w3.org/2000/svg" for u in urls): problems.append("URLs: %s" % set(urls))
for h in p.hrefs:
    if h.startswith("#") and h[1:] not in p.ids: problems.append("dangling link " + h)
# one section per document, in order, with its file, schema, created time and command line
sections = re.findall(r'<section id="s\d+-[a-z]+">.*?</section>', page, re.S)
if len(sections) != len(docs): problems.append("%d sections for %d documents" % (len(sections), len(docs)))
expected_svgs = {"train": 2, "eval": 0, "dense": 2, "spectrum": 1, "density": 2, "trace": 0}
for i, (sec, d, f) in enumerate(zip(sections, docs, files)):
    cmd = d["schema"].split(".")[1].split("/")[0]
    for what in (f.replace("&", "&amp;"), d["schema"], d["created"], "<pre class=\"cmd\">hesse " + cmd):
        if what not in sec: problems.append("section %d lacks %r" % (i + 1, what))
    n = sec.count("<svg")
    if n != expected_svgs[cmd]: problems.append("section %d (%s): %d plots, expected %d" % (i + 1, cmd, n, expected_svgs[cmd]))
    if "Not in this document" in sec: problems.append("section %d reports missing keys" % (i + 1))
    if ('<a href="#s%d-%s">' % (i + 1, cmd)) not in page: problems.append("no contents entry for section %d" % (i + 1))
if page.count("<svg") != sum(expected_svgs.values()): problems.append("%d plots in all" % page.count("<svg"))
if "tiny &lt;net&gt; &amp; &quot;friends&quot;" not in page: problems.append("title not escaped")

# every number shown names its JSON path, and the exact value there is the document's
def resolve(d, path):
    assert path.startswith("$")
    for m in re.finditer(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]', path[1:]):
        d = d[m.group(1)] if m.group(1) else d[int(m.group(2))] if m.group(2) else d[json.loads('"%s"' % m.group(3))]
    return d
numbers = 0
for sec, title, cls in p.titles:
    if "computed" in cls or " = " not in title: continue
    path, value = title.split(" = ", 1)
    try:
        got = resolve(docs[sec], path)
    except (KeyError, IndexError, TypeError):
        problems.append("section %d: %s is not in %s" % (sec + 1, path, files[sec])); continue
    value = value.split(" (")[0]
    want = None if value == "null" else float(value)
    if got != want and not (got is None and want is None):
        problems.append("section %d: %s shows %s, the document has %r" % (sec + 1, path, value, got))
    numbers += 1
if numbers < 100: problems.append("only %d traceable numbers" % numbers)
numeric_cells = len(re.findall(r'<(?:td|dd) class="n"', page))
if numeric_cells != numbers: problems.append("%d numeric cells, %d traced" % (numeric_cells, numbers))
for x in problems[:20]: print(x)
sys.exit(1 if problems else 0)
PY

# Errors name the file; nothing is written
printf 'not json\n' >"$T/bad.json"
printf '{"created": "x"}\n' >"$T/noschema.json"
expect_error 2 "bad\\.json: not JSON \\(syntax error at line 1" -- "$HESSE" report "$T/eval.json" "$T/bad.json" -o "$T/out.html"
expect_error 2 "noschema\\.json: not a hesse result document" -- "$HESSE" report "$T/noschema.json" -o "$T/out.html"
expect_error 2 "missing\\.json" -- "$HESSE" report "$T/missing.json" -o "$T/out.html"
expect_error 1 "no result files given" -- "$HESSE" report -o "$T/out.html"
expect_error 1 "unknown option '--frobnicate'" -- "$HESSE" report "$T/eval.json" --frobnicate -o "$T/out.html"
checks=$((checks + 1))
"$HESSE" report --help | grep -q "Usage: hesse report FILE.json" || fail "report --help"
# other commands still refuse operands
expect_error 1 "unexpected argument 'extra'" -- "$HESSE" eval extra --model "$T/m.safetensors"

# The page in a real browser: no console messages, the plots in the DOM, a screenshot with
# content. A page with a script error checks that such messages would be seen.
CHROMIUM=${HESSE_TEST_CHROMIUM:-/usr/bin/chromium} # override to test the skip
if [ -x "$CHROMIUM" ]; then
    t0=$(date +%s.%N)
    mkdir -p "$T/home"
    browse() { # browse OUT ERR ARGS... (a fresh profile each time; nothing outside $T)
        out=$1
        err=$2
        shift 2
        HOME="$T/home" timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
            --no-first-run --disable-background-networking --disable-component-update \
            --disable-sync --user-data-dir="$(mktemp -d "$T/profile.XXXXXX")" \
            --enable-logging=stderr --v=0 "$@" >"$out" 2>"$err"
    }
    consoled() { grep -E "CONSOLE|Uncaught" "$1"; }
    printf '<!DOCTYPE html><title>x</title><script>console.error("seen"); nosuch()</script>\n' \
        >"$T/control.html"
    checks=$((checks + 1))
    browse "$T/control.dom" "$T/control.err" --dump-dom "file://$T/control.html"
    consoled "$T/control.err" | grep -q "nosuch" ||
        fail "chromium: a script error in a control page was not seen on stderr ($(tail -n 3 "$T/control.err"))"

    checks=$((checks + 1))
    browse "$T/dom.html" "$T/dom.err" --dump-dom "file://$T/report.html" || fail "chromium --dump-dom exited $?"
    if consoled "$T/dom.err" >"$T/console"; then fail "chromium console: $(head -n 5 "$T/console")"; fi
    checks=$((checks + 1))
    svgs=$(grep -o "<svg" "$T/dom.html" | wc -l)
    polylines=$(grep -o "<polyline" "$T/dom.html" | wc -l)
    [ "$svgs" -eq 7 ] && [ "$polylines" -ge 5 ] ||
        fail "chromium DOM: $svgs svg and $polylines polyline elements, expected 7 and >= 5"

    checks=$((checks + 1))
    browse "$T/shot.out" "$T/shot.err" --screenshot="$T/shot.png" --window-size=1366,900 \
        "file://$T/report.html" || fail "chromium --screenshot exited $?"
    if consoled "$T/shot.err" >"$T/console"; then fail "chromium console: $(head -n 5 "$T/console")"; fi
    # a PNG of the window's size; a blank page of that size compresses to a few kilobytes
    "$PY" - "$T/shot.png" <<'PY' || fail "screenshot"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", b[16:24])
assert (w, h) == (1366, 900), (w, h)
assert len(b) > 30000, "only %d bytes: nothing drawn?" % len(b)
PY
    t1=$(date +%s.%N)
    echo "report.sh: chromium checks took $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")s" >&2
else
    echo "report.sh: $CHROMIUM not found: the browser checks are skipped (scripts/install-deps.sh installs it)" >&2
fi

finish
