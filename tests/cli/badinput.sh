# The bad-input table (docs/errors.md): every row, by its ID. Each case must give one line on
# stderr naming the culprit (the pattern), the exit code the table documents (read from the
# table, so the two cannot drift apart), and no output file; the sanitizer build runs this
# with LeakSanitizer, so no case may leak either. The table and this script must list the
# same IDs.
. "$(dirname "$0")/lib.inc"
: "${HESSE_SOURCE:?HESSE_SOURCE must name the source tree}"
DOC="$HESSE_SOURCE/docs/errors.md"
FM=/usr/share/datasets/fashion-mnist
tested=""
skipped=""

# The exit code the table gives for a row.
doc_code() {
    awk -F'|' -v id="$1" '{ gsub(/ /, "", $2); if ($2 == id) { gsub(/ /, "", $6); print $6 } }' "$DOC"
}

# row ID PATTERN -- command...: expect_error with the table's exit code.
row() {
    id=$1
    shift
    code=$(doc_code "$id")
    case "$code" in
    [0-9]*) ;;
    *)
        fail "$id: no exit code for this row in docs/errors.md"
        return
        ;;
    esac
    tested="$tested $id "
    expect_error "$code" "$@"
}


# A small model, and the bad files made from it or written from scratch.
arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 200 --epochs 1 --no-test -o "$T/m.safetensors" ||
    fail "training the fixture model"
"$HESSE" spectrum -q --model "$T/m.safetensors" --samples 300 --top 3 --basis 8 --max-restarts 2 \
    --checkpoint "$T/lz.ckpt" --checkpoint-every 0 -o "$T/lz.json" 2>/dev/null ||
    fail "the fixture checkpoint"
"$HESSE" density -q --model "$T/m.safetensors" --samples 300 --probes 2 --steps 6 \
    --checkpoint "$T/slq.ckpt" --checkpoint-every 0 -o "$T/slq.json" || fail "the SLQ checkpoint"
"$HESSE" train -q --arch 'mlp(20,4,3)' --data 'gaussmix:classes=3,dim=20,separation=4,seed=1,samples=60,test=30' \
    --epochs 2 --batch 20 --no-test --checkpoint "$T/tr.ckpt" --checkpoint-every 0 -o "$T/tr.safetensors" ||
    fail "the training checkpoint"
"$PY" - "$T" "$FM" <<'PY' || fail "making the bad files"
import copy, gzip, json, os, struct, sys
t, fm = sys.argv[1], sys.argv[2]
def path(name): return os.path.join(t, name)

def st_write(name, header, blob):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    open(path(name), "wb").write(struct.pack("<Q", len(h)) + h + blob)

def st(name, tensors):
    header, blob = {}, b""
    for k, (dtype, shape, data) in tensors.items():
        header[k] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    st_write(name, header, blob)

# Model files derived from the fixture model.
raw = open(path("m.safetensors"), "rb").read()
hl = struct.unpack("<Q", raw[:8])[0]
head, data = json.loads(raw[8:8 + hl]), raw[8 + hl:]
open(path("empty.safetensors"), "wb").write(b"")
open(path("garbage.safetensors"), "wb").write(b"hello, not a safetensors file")
open(path("truncated.safetensors"), "wb").write(raw[:-100])
open(path("badjson.safetensors"), "wb").write(raw[:8] + raw[8:8 + hl].replace(b":", b";", 1) + data)
h = copy.deepcopy(head); del h["4.bias"]; st_write("missing.safetensors", h, data)
h = copy.deepcopy(head)
h["5.weight"] = {"dtype": "F64", "shape": [1], "data_offsets": [len(data), len(data) + 8]}
st_write("extra.safetensors", h, data + bytes(8))
h = copy.deepcopy(head); h["2.weight"]["shape"] = [49, 6]; st_write("misshaped.safetensors", h, data)
h = copy.deepcopy(head); h["4.bias"]["dtype"] = "I64"; st_write("dtype.safetensors", h, data)
b = bytearray(data)
at = head["2.weight"]["data_offsets"][0] + 8 * (3 * 49 + 10)
b[at:at + 8] = struct.pack("<d", float("nan"))
st_write("nan.safetensors", head, bytes(b))
h = copy.deepcopy(head); h["4.bias"]["data_offsets"] = [0, 80]; st_write("overlap.safetensors", h, data)
h = copy.deepcopy(head); h["4.bias"]["shape"] = [2 ** 32] * 3; st_write("dims.safetensors", h, data)

# Datasets: safetensors, IDX (raw and gzip), CIFAR-10.
st("labels12.safetensors", {"x": ("U8", [4, 1, 28, 28], bytes(4 * 784)),
                            "y": ("I64", [4], struct.pack("<4q", 1, 2, 12, 3))})
st("small8.safetensors", {"x": ("U8", [4, 1, 8, 8], bytes(4 * 64)),
                          "y": ("I64", [4], struct.pack("<4q", 1, 2, 3, 4))})
vals = [0.5] * 1568
vals[1000] = float("nan")
st("xnan.safetensors", {"x": ("F64", [2, 1, 28, 28], struct.pack("<1568d", *vals)),
                        "y": ("I64", [2], struct.pack("<2q", 1, 2))})
st("xint.safetensors", {"x": ("I32", [2, 1, 28, 28], bytes(4 * 1568)),
                        "y": ("I64", [2], struct.pack("<2q", 1, 2))})
st("noy.safetensors", {"x": ("U8", [2, 1, 28, 28], bytes(1568))})
img = gzip.open(os.path.join(fm, "train-images-idx3-ubyte.gz")).read(16 + 784 * 100)
img = img[:4] + struct.pack(">I", 100) + img[8:]
lab = gzip.open(os.path.join(fm, "train-labels-idx1-ubyte.gz")).read(8 + 100)
lab = lab[:4] + struct.pack(">I", 100) + lab[8:]
def idx_dir(name, images, labels, gz=False):
    os.makedirs(path(name))
    ext = ".gz" if gz else ""
    open(path(name + "/train-images-idx3-ubyte" + ext), "wb").write(images)
    open(path(name + "/train-labels-idx1-ubyte" + ext), "wb").write(labels)
idx_dir("badmagic", b"\0\0\x08\x04" + img[4:], lab)
idx_dir("truncraw", img[:-500], lab)
g = gzip.compress(img, mtime=0)
idx_dir("truncgz", g[:len(g) // 2], gzip.compress(lab, mtime=0), gz=True)
bad = bytearray(g)
for i in range(200, 260): bad[i] ^= 0xa5
idx_dir("corruptgz", bytes(bad), gzip.compress(lab, mtime=0), gz=True)
idx_dir("count", img, lab[:4] + struct.pack(">I", 99) + lab[8:-1])
os.makedirs(path("cifarsize"))
open(path("cifarsize/test_batch.bin"), "wb").write(bytes([3]) + bytes(3000))
os.makedirs(path("cifarlabel"))
open(path("cifarlabel/test_batch.bin"), "wb").write(bytes([3]) + bytes(3072) + bytes([10]) + bytes(3072))

# Checkpoints derived from a real one.
ck = open(path("lz.ckpt"), "rb").read()
open(path("badmagic.ckpt"), "wb").write(b"HESSECK9" + ck[8:])
open(path("truncated.ckpt"), "wb").write(ck[:-64])
b = bytearray(ck); b[-100] ^= 1
open(path("flipped.ckpt"), "wb").write(bytes(b))
chl = struct.unpack("<Q", ck[8:16])[0]
open(path("badjson.ckpt"), "wb").write(ck[:16] + ck[16:16 + chl].replace(b":", b";", 1) + ck[16 + chl:])

# Checkpoints refused for what they lack or hold: no CRC; cut in the header; a solver state of
# another version (its CRC recomputed, so that the solver's own check is what refuses it).
import zlib
hdr = json.loads(ck[16:16 + chl])
def ck_write(name, h, blob):
    t = json.dumps(h, separators=(",", ":")).encode()
    open(path(name), "wb").write(ck[:8] + struct.pack("<Q", len(t)) + t + blob)
h = dict(hdr); del h["blob_crc32"]; ck_write("nocrc.ckpt", h, ck[16 + chl:])
open(path("trhead.ckpt"), "wb").write(ck[:20])
blob = bytearray(ck[16 + chl:])
blob[8:12] = struct.pack("<I", struct.unpack("<I", bytes(blob[8:12]))[0] + 1)
h = dict(hdr); h["blob_crc32"] = "%08x" % zlib.crc32(bytes(blob)); ck_write("version.ckpt", h, bytes(blob))
# A training checkpoint whose history section claims more bytes than the state holds (its size
# and CRC recomputed, so that the state's own parser refuses it).
tr = open(path("tr.ckpt"), "rb").read()
thl = struct.unpack("<Q", tr[8:16])[0]
th, tblob = json.loads(tr[16:16 + thl]), bytearray(tr[16 + thl:])
tblob[8:16] = struct.pack("<Q", struct.unpack("<Q", bytes(tblob[8:16]))[0] + 8)
th["blob_crc32"] = "%08x" % zlib.crc32(bytes(tblob))
t2 = json.dumps(th, separators=(",", ":")).encode()
open(path("trstate.ckpt"), "wb").write(tr[:8] + struct.pack("<Q", len(t2)) + t2 + bytes(tblob))

# Data: an absurd class count; two data files of one shape (the second replaces the first
# under its name after a checkpoint); inputs too large for double precision's gradients.
n = 40
ys = struct.pack("<%dq" % n, *[i % 10 for i in range(n)])
st_write("classes.safetensors",
         {"__metadata__": {"num_classes": "2000000000"},
          "x": {"dtype": "U8", "shape": [n, 1, 28, 28], "data_offsets": [0, n * 784]},
          "y": {"dtype": "I64", "shape": [n], "data_offsets": [n * 784, n * 784 + 8 * n]}},
         bytes(n * 784) + ys)
st("d.safetensors", {"x": ("U8", [n, 1, 28, 28], bytes(range(256)) * (n * 784 // 256) + bytes(n * 784 % 256)),
                     "y": ("I64", [n], ys)})
st("d2.safetensors", {"x": ("U8", [n, 1, 28, 28], bytes(n * 784)), "y": ("I64", [n], ys)})
st("huge.safetensors", {"x": ("F64", [n, 1, 28, 28], struct.pack("<d", 1e308) * (n * 784)),
                        "y": ("I64", [n], ys)})
st("one.safetensors", {"x": ("U8", [8, 1, 28, 28], bytes(8 * 784)), "y": ("I64", [8], bytes(64))})

# Documents for hesse report and hesse powerlaw.
open(path("notjson.json"), "w").write("not JSON at all")
open(path("empty.json"), "w").write("")
open(path("eig.txt"), "w").write("3.5\n2\nabc\n")
PY

o="$T/out.json"
m="--model $T/m.safetensors"
s="--model $T/m.safetensors --samples 300 -q"

# ---- Files: a model --------------------------------------------------------------------------
row E01 "nope\.safetensors: cannot open: No such file" -- "$HESSE" eval --model "$T/nope.safetensors" -o "$o"
row E02 "empty\.safetensors: 0 bytes, too short for a safetensors file" -- "$HESSE" eval --model "$T/empty.safetensors" -o "$o"
row E03 "garbage\.safetensors: header length [0-9]+ is over the [0-9]+-byte limit; not a safetensors file" -- \
    "$HESSE" eval --model "$T/garbage.safetensors" -o "$o"
row E04 "truncated\.safetensors: tensor '4\.weight': data_offsets \[[0-9]+, [0-9]+\) reach beyond the data block" -- \
    "$HESSE" eval --model "$T/truncated.safetensors" -o "$o"
row E05 "badjson\.safetensors: header is not valid JSON" -- "$HESSE" eval --model "$T/badjson.safetensors" -o "$o"
row E06 "missing\.safetensors: tensor '4\.bias' is missing; linear\(6,10\) needs it with shape \[10\]" -- \
    "$HESSE" eval --model "$T/missing.safetensors" -o "$o"
row E07 "extra\.safetensors: tensor '5\.weight' is not a parameter of the architecture" -- \
    "$HESSE" eval --model "$T/extra.safetensors" -o "$o"
row E08 "misshaped\.safetensors: tensor '2\.weight' has shape \[49, 6\], expected \[6, 49\] for linear\(49,6\)" -- \
    "$HESSE" eval --model "$T/misshaped.safetensors" -o "$o"
row E09 "dtype\.safetensors: tensor '4\.bias' has dtype I64, expected a floating type" -- \
    "$HESSE" eval --model "$T/dtype.safetensors" -o "$o"
row E10 "nan\.safetensors: tensor '2\.weight' holds a non-finite value \(nan\) at \[3, 10\]" -- \
    "$HESSE" eval --model "$T/nan.safetensors" -o "$o"
row E11 "overlap\.safetensors: tensors '4\.bias' \[0, 80\) and '2\.weight' \[0, [0-9]+\) overlap" -- \
    "$HESSE" eval --model "$T/overlap.safetensors" -o "$o"
row E12 "dims\.safetensors: tensor '4\.bias': shape has more elements than fit in 64 bits" -- \
    "$HESSE" eval --model "$T/dims.safetensors" -o "$o"
row E83 "/dev/zero: header does not start with '\{'; not a safetensors file" -- \
    timeout 60 "$HESSE" eval --model /dev/zero -o "$o"

# ---- Files: data -----------------------------------------------------------------------------
row E13 "badmagic/train-images-idx3-ubyte: wrong magic 0x00000804 \(expected 0x00000803 for IDX images\)" -- \
    "$HESSE" eval $m --data "$T/badmagic" --samples 10 -o "$o"
row E14 "truncraw/train-images-idx3-ubyte: truncated file \(expected 78416 bytes, got 77916\)" -- \
    "$HESSE" eval $m --data "$T/truncraw" --samples 10 -o "$o"
row E15 "truncgz/train-images-idx3-ubyte\.gz: truncated gzip stream" -- \
    "$HESSE" eval $m --data "$T/truncgz" --samples 10 -o "$o"
row E16 "corruptgz/train-images-idx3-ubyte\.gz: corrupt gzip data \([a-z]" -- \
    "$HESSE" eval $m --data "$T/corruptgz" --samples 10 -o "$o"
row E17 "count/train-labels-idx1-ubyte: 99 labels, but .*count/train-images-idx3-ubyte holds 100 images" -- \
    "$HESSE" eval $m --data "$T/count" -o "$o"
row E18 "cifarsize/test_batch\.bin: size 3001 bytes is not a positive multiple of the 3073-byte CIFAR-10 record" -- \
    "$HESSE" eval $m --data "cifar10:$T/cifarsize" --split test -o "$o"
row E19 "cifarlabel/test_batch\.bin: record 1 has label 10 \(expected 0 to 9 for CIFAR-10\)" -- \
    "$HESSE" eval $m --data "cifar10:$T/cifarlabel" --split test -o "$o"
row E20 "sample 2 has label 12 but the model has 10 outputs \(labels must lie in \[0, 10\)\)" -- \
    "$HESSE" eval $m --data "$T/labels12.safetensors" -o "$o"
row E21 "xnan\.safetensors: tensor 'x': sample 1 holds a non-finite value \(nan\) at position 216" -- \
    "$HESSE" eval $m --data "$T/xnan.safetensors" -o "$o"
row E22 "xint\.safetensors: tensor 'x' has dtype I32, expected U8" -- \
    "$HESSE" eval $m --data "$T/xint.safetensors" -o "$o"
row E23 "noy\.safetensors: no tensor 'y'" -- "$HESSE" eval $m --data "$T/noy.safetensors" -o "$o"
row E24 "m\.safetensors: the model takes input 1,28,28 \(hesse\.input_shape\), not 1,8,8" -- "$HESSE" eval $m --data "$T/small8.safetensors" -o "$o"
row E25 "nodata: not a dataset directory" -- "$HESSE" eval $m --data "$T/nodata" -o "$o"
row E77 "classes\.safetensors: metadata num_classes is 2000000000, more than the 1048576 classes hesse takes" -- \
    "$HESSE" eval $m --data "$T/classes.safetensors" -o "$o"

# ---- Architecture strings --------------------------------------------------------------------
row E26 "unknown layer 'lienar' at index 1.*did you mean 'linear'" -- \
    "$HESSE" train --arch 'flatten,lienar(784,10)' --samples 10 -o "$T/out.safetensors"
row E27 "architecture: expected ',' or '\)' at character 22 of \"flatten,linear\(784,10\"" -- \
    "$HESSE" train --arch 'flatten,linear(784,10' --samples 10 -o "$T/out.safetensors"
row E28 "layer 1 linear has no argument 'biass'" -- \
    "$HESSE" train --arch 'flatten,linear(784,10,biass=True)' --samples 10 -o "$T/out.safetensors"
row E29 "layer 1 linear\(700,10\) expects 700 input features, the layers before it give 784" -- \
    "$HESSE" train --arch 'flatten,linear(700,10)' --samples 10 -o "$T/out.safetensors"
row E30 "layer 0 conv2d gives 1x2000000028x2000000028 values per sample, more than 2147483647" -- \
    "$HESSE" train --arch 'conv2d(1,1,1,padding=1000000000),flatten,linear(4,10)' --samples 10 -o "$T/out.safetensors"
for bias in "'True'" maybe None 7 TRUE; do
    row E74 "architecture: layer 1 linear: bias must be True or False" -- \
        "$HESSE" train --arch "flatten,linear(784,10,bias=$bias)" --samples 10 -o "$T/out.safetensors"
done
row E75 "architecture: integer out of range \(at most 1000000000 in absolute value\) at character 20 of" -- \
    "$HESSE" train --arch 'flatten,linear(784,2147483647)' --samples 10 -o "$T/out.safetensors"
row E76 "architecture: preset mlp\(a,b,\.\.\.\) is a whole architecture of at least two layer sizes" -- \
    "$HESSE" train --arch 'mlp(784,0,10)' --samples 10 -o "$T/out.safetensors"
row E129 "architecture: lenet5\(width=K\) takes K from 1 to 1024, not \"lenet5\(width=2000\)\"" -- \
    "$HESSE" train -q --arch 'lenet5(width=2000)' --samples 10 --epochs 0 -o "$T/out.safetensors"
# sequence layers: token ids (1, 5, 1) in a safetensors data set, one id per case made bad
for bad in 11 -1 2.5; do
    "$PY" - "$T/ids.safetensors" "$bad" <<'PY' || fail "making the token ids"
import json, struct, sys
x = [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 1, 1, float(sys.argv[2]), 1, 1, 2, 2, 2, 2, 2]
y = [0, 1, 2, 0]
h = {"__metadata__": {"num_classes": "3"},
     "x": {"dtype": "F64", "shape": [4, 1, 5, 1], "data_offsets": [0, 160]},
     "y": {"dtype": "I64", "shape": [4], "data_offsets": [160, 192]}}
h = json.dumps(h).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<20d", *x) + struct.pack("<4q", *y))
PY
    row E140 "^hesse train: bad input: sample 2 position 2 has token id $bad, but layer 0 embedding\(10,4\) takes integers in \[0, 10\)$" -- \
        "$HESSE" train -q --arch 'embedding(10,4),meanpool,linear(4,3)' --data "$T/ids.safetensors" --epochs 1 --no-test -o "$T/out.safetensors"
done
row E141 "architecture: layer 0 posembed\(20,28\) gets 28 positions: the context is longer than posembed's 20" -- \
    "$HESSE" train --arch 'posembed(20,28),meanpool,linear(28,10)' --samples 10 -o "$T/out.safetensors"
row E142 "architecture: layer 0 embedding\(10,4\) takes token ids of shape 1xTx1, not 1x28x28" -- \
    "$HESSE" train --arch 'embedding(10,4),meanpool,linear(4,10)' --samples 10 -o "$T/out.safetensors"
row E143 "architecture: layer 0 linear\(20,5\) on input 1x28x28 acts on its last dimension, which is 28, not 20" -- \
    "$HESSE" train --arch 'linear(20,5),meanpool,linear(5,10)' --samples 10 -o "$T/out.safetensors"
row E144 "architecture: layer 1 meanpool takes a sequence of shape 1xTxD, not 2x26x26" -- \
    "$HESSE" train --arch 'conv2d(1,2,3),meanpool,flatten,linear(52,10)' --samples 10 -o "$T/out.safetensors"
row E150 "architecture: layer 0 multiheadattention\(28,3\): num_heads 3 does not divide embed_dim 28" -- \
    "$HESSE" train --arch 'multiheadattention(28,3),flatten,linear(784,10)' --samples 10 -o "$T/out.safetensors"
row E151 "architecture: layer 0 multiheadattention\(30,2\) needs a sequence of width 30 \(1xTx30\) but gets 1x28x28" -- \
    "$HESSE" train --arch 'multiheadattention(30,2),flatten,linear(784,10)' --samples 10 -o "$T/out.safetensors"
row E152 "architecture: layer 1 multiheadattention\(1,1\): 1 heads of 60028x60028 attention scores per sample are more than 2147483647 values" -- \
    "$HESSE" train --arch 'conv2d(1,1,(1,28),padding=(30000,0)),multiheadattention(1,1),flatten,linear(60028,10)' --samples 10 -o "$T/out.safetensors"
row E174 "architecture: preset gpt-tiny takes num_classes=N, context=T \(up to 65536\), depth=L \(1 to 64\) and width=D \(a multiple of 4, its 4 heads, up to 4096\), each at most once, not \"gpt-tiny\(width=30\)\"" -- \
    "$HESSE" train -q --arch 'gpt-tiny(width=30)' --samples 10 --epochs 0 -o "$T/out.safetensors"
row E174 "architecture: preset vit-tiny takes num_classes=N, depth=L \(1 to 64\) and width=D" -- \
    "$HESSE" train -q --arch 'vit-tiny(context=32)' --samples 10 --epochs 0 -o "$T/out.safetensors"

# ---- Options ---------------------------------------------------------------------------------
row E31 "unknown option '--sample' for hesse eval" -- "$HESSE" eval $m --sample 5 -o "$o"
row E32 "option --samples: expected an integer, got 'abc'" -- "$HESSE" eval $m --samples abc -o "$o"
row E33 "option --probes: 0 is outside \[1, 1e\+06\]" -- "$HESSE" density $s --probes 0 -o "$o"
row E34 "option --lr: expected a finite number, got 'nan'" -- "$HESSE" train --arch "$arch" --lr nan -o "$T/out.safetensors"
row E35 "asked for 400 eigenvalues of an operator of dimension 370" -- "$HESSE" spectrum $s --top 400 -o "$o"
row E36 "cannot select 1000000000 samples, the split has 60000" -- "$HESSE" eval $m --samples 1000000000 -o "$o"
row E53 "option --basis applies to --method lanczos" -- "$HESSE" spectrum $s --top 3 --method power --basis 8 -o "$o"
row E54 "option --moments applies to --method kpm" -- "$HESSE" density $s --moments 64 -o "$o"
row E55 "option --probes applies to --method hutchinson or hutchpp" -- "$HESSE" trace $s --method exact --probes 10 -o "$o"
"$HESSE" train -q --arch 'avgpool2d(4),flatten,linear(49,1)' --loss mse --data "$T/one.safetensors" \
    --epochs 0 -o "$T/one-output.safetensors" || fail "the one-output model"
row E130 "option --operator gwithin: the model has 1 output \(a regression\); the class-mean decomposition needs at least 2 classes" -- \
    "$HESSE" density -q --model "$T/one-output.safetensors" --data "$T/one.safetensors" --samples 8 --operator gwithin -o "$o"
row E131 "option --layer: --operator gmeans is built from the class means over all parameters; it has no layer block" -- \
    "$HESSE" density $s --operator gmeans --layer 2 -o "$o"
row E132 "option --method exact: only the low-rank operators gmeans, gclass and gcross have an exact density here, not hessian" -- \
    "$HESSE" density $s --method exact -o "$o"
row E133 "option --deflate applies to --method slq or kpm" -- "$HESSE" density $s --operator gmeans --deflate 2 -o "$o"
# --track (hesse train): the spec is parsed, and checked against the model, before training
tk() { "$HESSE" train -q --arch "$arch" --samples 200 --epochs 1 --no-test --track "$1" -o "$T/out.safetensors"; }
row E190 "option --track: every=K is missing in 'top=1'" -- tk top=1
row E191 "option --track: unknown item 'tops=2'" -- tk every=5,tops=2
row E192 "option --track: every=ten: expected an integer, got 'ten'" -- tk every=ten
row E193 "option --track: trace=3: 'trace' takes no value" -- tk every=5,trace=3
row E194 "option --track: probes=10 applies to trace" -- tk every=5,probes=10
row E195 "option --track: top \+ bottom \(400\) and powerlaw \(0\) must not exceed the 370 parameters" -- tk every=5,top=400
row E134 "option --operator: expected hessian, ggn, residual, efisher, gmeans, gclass, gcross or gwithin, got 'gfoo'" -- \
    "$HESSE" density $s --operator gfoo -o "$o"
row E135 "option --density-steps applies with --density" -- "$HESSE" classes $s --density-steps 3 -o "$o"
row E165 "option --group: expected tensor, layer or qkv, got 'heads'" -- "$HESSE" blocks $s --group heads -o "$o"
row E166 "option --layer: hesse blocks splits the parameters into blocks itself; use --group tensor, layer or qkv" -- \
    "$HESSE" blocks $s --layer 2 -o "$o"
"$HESSE" train -q --arch 'flatten,linear(784,10)' --samples 10 --epochs 0 --no-test -o "$T/lin.safetensors" ||
    fail "the one-layer model"
row E167 "option --group layer: the model has 1 parameter block; JS0 compares at least 2" -- \
    "$HESSE" blocks -q --model "$T/lin.safetensors" --samples 20 --group layer -o "$o"
row E168 "option --sigma applies without --width \(--width gives the width in units of lambda_k and the grid from it\)" -- \
    "$HESSE" blocks $s --width 0.1 --sigma 0.01 -o "$o"
row E56 "option --checkpoint-every needs --checkpoint FILE" -- "$HESSE" spectrum $s --top 3 --checkpoint-every 10 -o "$o"
row E57 "option --hi given without --lo" -- "$HESSE" density $s --hi 5 -o "$o"
row E65 "option --margin widens an estimated support; with --lo/--hi the support is given" -- \
    "$HESSE" density $s --lo -1 --hi 1 --margin 0.1 -o "$o"
row E58 "option --tol: 0 is outside \[1e-15, 1\]" -- "$HESSE" spectrum $s --top 3 --tol 0 -o "$o"
row E59 "option --deflate: 370 directions of an operator of dimension 370 leave no bulk" -- \
    "$HESSE" density $s --deflate 370 -o "$o"
row E96 "option --mp: fits the bulk; give --deflate K" -- "$HESSE" density $s --mp -o "$o"
row E97 "option --mp: needs --method slq" -- "$HESSE" density $s --deflate 3 --mp --method kpm -o "$o"
row E98 "the top 69 eigenvalues span [0-9.]* decades .*below the 1e-13 that double precision attains here; fit fewer values" -- \
    "$HESSE" powerlaw $s --layer 4 -o "$o"
row E60 "option --top 200: the residual term's top and bottom 200 need 2 x 200 < 370 parameters" -- \
    "$HESSE" classes $s --top 200 -o "$o"
row E61 "options --min 100 --max 3200 --factor 1.01: more than 64 sizes" -- \
    "$HESSE" samples $m --min 100 --max 3200 --factor 1.01 -o "$o"
row E62 "option --min conflicts with --sizes" -- "$HESSE" samples $m --sizes 100,200 --min 100 -o "$o"
row E88 "layer '9' matches no parameter tensor \(the model has 2\.weight, 2\.bias, 4\.weight, 4\.bias\)" -- \
    "$HESSE" dense $s --layer 9 -o "$o"
row E89 "option --precision: expected f64 or f32, got 'f16'" -- "$HESSE" dense $s --precision f16 -o "$o"
row E90 "option --M: expected exact or ggn, got 'hessian'" -- "$HESSE" kronecker $s --M hessian -o "$o"
row E64 "option --sizes: size 100000: fashion-mnist/train: cannot select 100000 samples, the split has 60000" -- \
    "$HESSE" samples $m --sizes 100,100000 -o "$o"
row E71 "option --top is given twice; give it once" -- "$HESSE" spectrum $s --top 3 --top 5 -o "$o"
row E72 "option --split: .*d\.safetensors is a \.safetensors dataset, which holds one split" -- \
    "$HESSE" eval $m --data "$T/d.safetensors" --split test -o "$o"
row E73 "--mean/--std: std value \"1e-320\" is too small for double precision" -- \
    "$HESSE" eval $s --mean 0 --std 1e-320 -o "$o"
gm='gaussmix:classes=3,dim=20,separation=4,seed=1,samples=60,test=30'
tr() { "$HESSE" train -q --arch 'mlp(20,4,3)' --epochs 1 "$@" -o "$T/out.safetensors"; }
row E120 "option --label-noise: expected a fraction P with 0 <= P < 1, got 1" -- tr --data "$gm" --label-noise 1
row E120 "option --label-noise: expected a fraction P with 0 <= P < 1, got -0.1" -- tr --data "$gm" --label-noise -0.1
row E121 "option --label-noise: expected a finite number, got 'abc'" -- tr --data "$gm" --label-noise abc
row E122 "option --label-noise: corrupts training labels, but --split is test" -- \
    "$HESSE" eval $m --split test --samples 100 --label-noise 0.2 -o "$o"
row E123 "gaussmix:classes=3,dim=20: classes, dim and separation are required" -- \
    tr --data gaussmix:classes=3,dim=20
row E124 "separation expects a finite number > 0, got '-1'" -- tr --data gaussmix:classes=3,dim=20,separation=-1
row E125 "unknown key 'foo' \(expected classes, dim, separation, seed, samples, test, noise\)" -- \
    tr --data gaussmix:classes=3,dim=20,separation=1,foo=2
row E126 "3 classes need dim >= 3 \(the class means are orthogonal\), got dim=2" -- \
    tr --data gaussmix:classes=3,dim=2,separation=1
row E127 "300000 samples of dim 1000 exceed the 2\^28 values a split may hold" -- \
    tr --data gaussmix:classes=3,dim=1000,separation=1,samples=300000
row E128 "options --data and --model: describe one or the other" -- \
    "$HESSE" info --data "$gm" $m -o "$o"
row E170 "option --optimizer: expected sgd, adam, adamw or gd, got 'lamb'" -- tr --data "$gm" --optimizer lamb
row E171 "option --schedule: expected constant, step, cosine or warmup-cosine, got 'linear'" -- \
    tr --data "$gm" --schedule linear
row E172 "option --warmup applies to --schedule warmup-cosine, not 'constant'" -- tr --data "$gm" --warmup 2
row E173 "option --warmup 9: the run has 9 optimizer steps \(3 epochs x 3 minibatches\); the warm-up must leave at least one step of decay" -- \
    "$HESSE" train -q --arch 'mlp(20,4,3)' --data "$gm" --epochs 3 --batch 20 --no-test \
    --schedule warmup-cosine --warmup 9 -o "$T/out.safetensors"
row E230 "options --steps and --epochs: give one \(the length of the run\), not both" -- \
    tr --data "$gm" --steps 3
row E231 "option --steps 5: not a whole number of epochs \(3 minibatches of 20 per epoch\); give a multiple of 3 or --epochs" -- \
    "$HESSE" train -q --arch 'mlp(20,4,3)' --data "$gm" --batch 20 --steps 5 --no-test -o "$T/out.safetensors"
trk() { "$HESSE" train -q --arch 'mlp(20,4,3)' --data "$gm" --epochs 2 --batch 20 --no-test "$@" -o "$T/out.safetensors"; }
row E232 "option --checkpoint-every needs --checkpoint FILE" -- trk --checkpoint-every 5
row E233 "tr\.ckpt: the checkpoint is of another run: training is \"sgd lr 0\.01 .*\" there, \"sgd lr 0\.02 .*\" now" -- \
    trk --lr 0.02 --resume "$T/tr.ckpt"
row E234 "lz\.ckpt: the checkpoint is of another run: command is \"spectrum\" there, \"train\" now" -- \
    trk --resume "$T/lz.ckpt"
row E235 "trstate\.ckpt: checkpoint: training state section 1 of [0-9]+ bytes runs past the [0-9]+ bytes of the state" -- \
    trk --resume "$T/trstate.ckpt"
row E236 "option --track-csv needs --track SPEC" -- trk --track-csv "$T/out.csv"
row E237 "option --track: preconditioned is the sharpness of Adam's P\^-1 H; --optimizer gd has no preconditioner \(use adam or adamw\)" -- \
    trk --optimizer gd --track every=2,preconditioned

# Text data and sequence models (issue 18): a generated text, a model whose output is a
# sequence [16, 256] from layers that keep the shape (conv2d's padding widens the one id column
# to 256 classes), and one with 4 classes a position.
"$PY" -c 'import sys; open(sys.argv[1], "w").write("the cat sat on the mat. " * 40)' "$T/c.txt"
printf 'abcdefghijklmnopq' >"$T/c17.txt"
truncate -s 300M "$T/huge.txt"
mkdir -p "$T/nofortunes"
seq_arch='conv2d(1,2,(1,2),padding=(0,128)),tanh,conv2d(2,1,1)'
"$HESSE" train -q --arch "$seq_arch" --data "text:$T/c.txt" --context 16 --epochs 0 \
    -o "$T/seq.safetensors" || fail "the sequence model"
"$PY" - "$T/seq4.safetensors" <<'PY' || fail "the 4-class sequence model"
import json, struct, sys
# a PyTorch state_dict of conv2d(1,1,(1,2),padding=(0,2)): weight [1,1,1,2], bias [1], F64
h = json.dumps({"0.weight": {"dtype": "F64", "shape": [1, 1, 1, 2], "data_offsets": [0, 16]},
                "0.bias": {"dtype": "F64", "shape": [1], "data_offsets": [16, 24]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<3d", 0.5, -0.25, 0.1))
PY
sq="--model $T/seq.safetensors --data text:$T/c.txt --context 16"
row E155 "nope\.txt: cannot open: No such file" -- "$HESSE" eval $m --data "text:$T/nope.txt" -o "$o"
row E156 "text:.*c17\.txt: 17 bytes, shorter than one window of context 20 and its next byte \(21 bytes\)" -- \
    "$HESSE" info --data "text:$T/c17.txt" --context 20 -o "$o"
row E156 "text:.*c17\.txt: the test split \(the last 1 of 17 bytes\) is shorter than one window of context 16" -- \
    "$HESSE" info --data "text:$T/c17.txt" --context 16 --split test -o "$o"
row E157 "text:.*huge\.txt: 314572800 bytes, more than the 268435456 a text file may hold" -- \
    "$HESSE" info --data "text:$T/huge.txt" -o "$o"
row E158 "option --context: 0 is outside \[1, 65536\]" -- \
    "$HESSE" eval --model "$T/seq.safetensors" --data "text:$T/c.txt" --context 0 -o "$o"
row E158 "option --context: 100000 is outside \[1, 65536\]" -- "$HESSE" info --data "text:$T/c.txt" --context 100000 -o "$o"
row E159 "option --context: applies to text data \(--data text:FILE\), not to 'gaussmix:" -- \
    tr --data "$gm" --context 8
row E160 "text:c\.txt/train: token ids take no per-channel normalisation \(--mean/--std\)" -- \
    "$HESSE" eval $sq --mean 0 --std 1 -o "$o"
row E161 "text:fortunes: no file fortunes in .*nofortunes \(HESSE_FORTUNES_DIR\)" -- \
    env HESSE_FORTUNES_DIR="$T/nofortunes" "$HESSE" info --data text:fortunes -o "$o"
row E162 "the samples have 1 label each but the model .* has 3 output positions \(3 of 3 classes\)" -- \
    "$HESSE" train -q --arch 'conv2d(20,1,1,padding=1)' --data "$gm" --epochs 1 -o "$T/out.safetensors"
row E163 "classes: the model's output is a sequence \(16 positions of 256 classes\); the class structure this measures needs one class per sample" -- \
    "$HESSE" classes -q $sq --samples 20 -o "$o"
row E163 "option --operator gwithin: the model's output is a sequence \(16 positions of 256 classes\)" -- \
    "$HESSE" density $sq --samples 20 --operator gwithin -o "$o"
row E163 "samples: the model's output is a sequence \(16 positions of 256 classes\)" -- \
    "$HESSE" samples -q $sq --sizes 10,20 -o "$o"
row E164 "sample 0 has label 104 at position 0 but the model has 4 classes a position" -- \
    "$HESSE" eval --model "$T/seq4.safetensors" --arch 'conv2d(1,1,(1,2),padding=(0,2))' \
    --data "text:$T/c.txt" --context 16 -o "$o"

# ---- Checkpoints -----------------------------------------------------------------------------
row E37 "nope\.ckpt: cannot open: No such file" -- "$HESSE" spectrum $s --top 3 --basis 8 --resume "$T/nope.ckpt" -o "$o"
row E38 "badmagic\.ckpt: not a hesse checkpoint" -- "$HESSE" spectrum $s --top 3 --basis 8 --resume "$T/badmagic.ckpt" -o "$o"
row E39 "truncated\.ckpt: checkpoint is truncated or damaged: [0-9]+ bytes of solver state, its header says [0-9]+" -- \
    "$HESSE" spectrum $s --top 3 --basis 8 --resume "$T/truncated.ckpt" -o "$o"
row E40 "flipped\.ckpt: checkpoint is damaged: its solver state has CRC-32 [0-9a-f]{8}, its header says [0-9a-f]{8}" -- \
    "$HESSE" spectrum $s --top 3 --basis 8 --resume "$T/flipped.ckpt" -o "$o"
row E41 "badjson\.ckpt: checkpoint header is not a JSON object" -- \
    "$HESSE" spectrum $s --top 3 --basis 8 --resume "$T/badjson.ckpt" -o "$o"
row E42 "slq\.ckpt: the checkpoint is of another run: command is \"density\" there, \"spectrum\" now" -- \
    "$HESSE" spectrum $s --top 3 --basis 8 --resume "$T/slq.ckpt" -o "$o"
row E63 "lz\.ckpt: the checkpoint is of another run: loss is \"cross_entropy\" there, \"mse\" now" -- \
    "$HESSE" spectrum $s --loss mse --top 3 --basis 8 --max-restarts 2 --resume "$T/lz.ckpt" -o "$o"
row E79 "nocrc\.ckpt: checkpoint header has no blob_crc32: the size and CRC-32 of the solver state are required" -- \
    "$HESSE" spectrum $s --top 3 --basis 8 --max-restarts 2 --resume "$T/nocrc.ckpt" -o "$o"
row E80 "trhead\.ckpt: checkpoint is truncated in its header \(20 bytes, the header alone needs [0-9]+\)" -- \
    "$HESSE" spectrum $s --top 3 --basis 8 --max-restarts 2 --resume "$T/trhead.ckpt" -o "$o"
row E81 "version\.ckpt: Lanczos resume: .*version" -- \
    "$HESSE" spectrum $s --top 3 --basis 8 --max-restarts 2 --resume "$T/version.ckpt" -o "$o"
row E82 "/dev/zero: not a hesse checkpoint \(bad magic\)" -- \
    timeout 60 "$HESSE" spectrum $s --top 3 --basis 8 --resume /dev/zero -o "$o"
# The data file replaced under its name between the checkpoint and the resume.
"$HESSE" spectrum $m --data "$T/d.safetensors" --samples 40 -q --top 3 --basis 8 --max-restarts 2 \
    --checkpoint "$T/d.ckpt" --checkpoint-every 0 -o "$T/d.json" 2>/dev/null || fail "the E78 checkpoint"
cp "$T/d2.safetensors" "$T/d.safetensors"
row E78 "d\.ckpt: the checkpoint is of another run: data_sha256 is \"[0-9a-f]{64}\" there, \"[0-9a-f]{64}\" now" -- \
    "$HESSE" spectrum $m --data "$T/d.safetensors" --samples 40 -q --top 3 --basis 8 --max-restarts 2 \
    --resume "$T/d.ckpt" -o "$o"

# ---- Documents -------------------------------------------------------------------------------
row E43 "notjson\.json: not JSON \(syntax error at line 1, column 1\)" -- "$HESSE" report "$T/notjson.json" -o "$T/out.html"
row E44 "empty\.json: empty file \(expected a hesse result document" -- "$HESSE" report "$T/empty.json" -o "$T/out.html"
row E45 "eig\.txt:3: expected a number, got 'abc'" -- "$HESSE" powerlaw --eigenvalues "$T/eig.txt" -o "$o"
row E84 "/dev/zero: not JSON \(syntax error at line 1, column 1\)" -- timeout 60 "$HESSE" report /dev/zero -o "$T/out.html"
row E85 "/dev/zero: a binary file; expected JSON or one number per line" -- \
    timeout 60 "$HESSE" powerlaw --eigenvalues /dev/zero -o "$o"

# ---- Resources -------------------------------------------------------------------------------
row E46 "nodir/out\.json: directory '.*nodir' is not usable: No such file or directory" -- \
    "$HESSE" eval $s -o "$T/nodir/out.json"
row E47 "is a directory, expected a file name" -- "$HESSE" eval $s -o "$T"

# Not writable: a read-only file system (root, in a private mount namespace), or a directory
# without write permission (anyone else; root ignores permissions).
mkdir "$T/ro"
if [ "$(id -u)" -ne 0 ]; then
    chmod 555 "$T/ro"
    row E48 "ro/out\.json: directory '.*ro' is not writable: Permission denied" -- "$HESSE" eval $s -o "$T/ro/out.json"
    no_file "$T/ro/out.json"
    chmod 755 "$T/ro"
elif unshare -m true 2>/dev/null; then
    tested="$tested E48 "
    checks=$((checks + 1))
    # shellcheck disable=SC2016
    unshare -m sh -c 'mount -t tmpfs -o ro tmpfs "$1/ro" && shift && exec "$@"' sh "$T" \
        "$HESSE" eval $s -o "$T/ro/out.json" >"$T/stdout" 2>"$T/stderr"
    got=$?
    [ "$got" -eq "$(doc_code E48)" ] || fail "E48: exit $got: $(cat "$T/stderr")"
    [ "$(wc -l <"$T/stderr")" -eq 1 ] || fail "E48: stderr is not one line: $(cat "$T/stderr")"
    grep -Eq "ro/out\.json: directory '.*ro' is not writable: Read-only file system" "$T/stderr" ||
        fail "E48: $(cat "$T/stderr")"
else
    skipped="$skipped E48"
fi

# Disk full, 1: the file-size limit (RLIMIT_FSIZE; SIGXFSZ ignored, so writes fail with EFBIG):
# the result document, a model, and a checkpoint; nothing is left behind.
for what in eval train spectrum; do
    case $what in
    eval) set -- eval $s -o "$T/big.json" ;;
    train) set -- train --arch "$arch" --samples 100 --epochs 1 --no-test -q -o "$T/big.safetensors" ;;
    spectrum) set -- spectrum $s -q --top 3 --checkpoint "$T/big.ckpt" --checkpoint-every 0 -o "$T/big2.json" ;;
    esac
    tested="$tested E49 "
    checks=$((checks + 1))
    (
        trap '' XFSZ
        ulimit -f 1
        exec "$HESSE" "$@"
    ) >"$T/stdout" 2>"$T/stderr"
    got=$?
    [ "$got" -eq "$(doc_code E49)" ] || fail "E49 ($what): exit $got: $(cat "$T/stderr")"
    [ "$(wc -l <"$T/stderr")" -eq 1 ] || fail "E49 ($what): stderr is not one line: $(cat "$T/stderr")"
    grep -Eq "big[^ ]*: writing: File too large" "$T/stderr" || fail "E49 ($what): $(cat "$T/stderr")"
done
no_file "$T/big.json" "$T/big.safetensors" "$T/big.ckpt" "$T/big2.json"

# Disk full, 2: no space left on a small tmpfs filled up first (root, private mount namespace).
mkdir "$T/full"
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
    tested="$tested E50 "
    checks=$((checks + 1))
    # shellcheck disable=SC2016
    unshare -m sh -c 'd=$1; shift; mount -t tmpfs -o size=64k tmpfs "$d/full" || exit 99
        dd if=/dev/zero of="$d/full/fill" bs=1k 2>/dev/null
        "$@"; code=$?; ls -A "$d/full" >"$d/full.ls"; exit $code' sh "$T" \
        "$HESSE" eval $s -o "$T/full/out.json" >"$T/stdout" 2>"$T/stderr"
    got=$?
    [ "$got" -eq "$(doc_code E50)" ] || fail "E50: exit $got: $(cat "$T/stderr")"
    [ "$(wc -l <"$T/stderr")" -eq 1 ] || fail "E50: stderr is not one line: $(cat "$T/stderr")"
    grep -Eq "full/out\.json: writing: No space left on device" "$T/stderr" || fail "E50: $(cat "$T/stderr")"
    [ "$(cat "$T/full.ls")" = fill ] || fail "E50: files left on the full disk: $(cat "$T/full.ls")"
else
    skipped="$skipped E50"
fi

row E51 "Lanczos: a basis for 360 eigenvalues of n = 370 needs [0-9]+ bytes, the budget is [0-9]+" -- \
    "$HESSE" spectrum $s --top 360 --memory 0.001 -o "$o"
row E52 "a dense 370 x 370 matrix needs .* GiB .*more than the .* GiB available" -- \
    "$HESSE" dense $s --max-memory 0.001 -o "$o"
row E86 "SLQ: a basis of 300 steps for n = 370 needs [0-9]+ bytes for each probe, the budget is [0-9]+" -- \
    env HESSE_MEM_AVAILABLE=1000000 "$HESSE" density $s --steps 300 -o "$o"

# ---- Numbers ---------------------------------------------------------------------------------
"$HESSE" train -q --arch 'flatten,linear(784,32),relu,linear(32,10)' --samples 100 --epochs 1 --no-test \
    -o "$T/relu.safetensors" || fail "the ReLU model"
row E87 "the gradient is not finite \(-?nan in tensor '1\.weight' at flat index [0-9]+\)" -- \
    "$HESSE" eval --model "$T/relu.safetensors" --data "$T/huge.safetensors" --mean 0 --std 0.001 -o "$o"

# ---- Outputs ---------------------------------------------------------------------------------
cp "$T/m.safetensors" "$T/keep.safetensors"
row E66 "option --output: '.*m\.safetensors' is the same file as option --model '.*m\.safetensors': an output may not replace an input" -- \
    "$HESSE" eval $s -o "$T/m.safetensors"
row E67 "option --svg: '.*out\.json' is the same file as option --output '.*out\.json': two outputs of one run may not be one file" -- \
    "$HESSE" spectrum $s --top 2 --svg "$o" -o "$o"
checks=$((checks + 1))
cmp -s "$T/m.safetensors" "$T/keep.safetensors" || fail "E66: the model was changed"
echo '{}' >"$T/ro.json"
chmod 444 "$T/ro.json"
row E68 "ro\.json: is write-protected \(mode 0444\): make it writable or remove it first" -- \
    "$HESSE" eval $s -o "$T/ro.json"
checks=$((checks + 1))
[ "$(cat "$T/ro.json")" = '{}' ] || fail "E68: the protected file was changed"
row E69 "standard output: writing: No space left on device" -- sh -c 'exec "$@" >/dev/full' sh "$HESSE" eval $s
row E70 "standard output: writing: Bad file descriptor" -- sh -c 'exec "$@" >&-' sh "$HESSE" eval $s

# The table and this script list the same rows.
checks=$((checks + 1))
for id in $(awk -F'|' '$2 ~ /^ *E[0-9]+ *$/ { gsub(/ /, "", $2); print $2 }' "$DOC"); do
    case "$tested $skipped" in
    *" $id "* | *" $id") ;;
    *) fail "$id is in docs/errors.md but no case here tests it" ;;
    esac
done
for id in $tested; do
    [ -n "$(doc_code "$id")" ] || fail "$id is tested here but not in docs/errors.md"
done
[ -z "$skipped" ] || echo "badinput.sh: skipped (needs root and unshare):$skipped" >&2
finish
