#!/usr/bin/env python3
"""Writes the hand-made part of the seed corpora in fuzz/corpus/<harness>/ (deterministic).

    python3 fuzz/make_corpus.py [fuzz/corpus]

Seeds are small valid files of every format plus the hostile cases each parser must refuse
cleanly (huge, negative, overlapping and out-of-range offsets, dimensions whose product
overflows, truncated and corrupt streams, wrong magic...). The seeds that come from running
hesse itself (result documents, solver checkpoints) are written by fuzz/make_corpus.sh.
Files are named <what>.<ext>; regression inputs of fixed bugs are named regress-*.
"""
import gzip
import json
import math
import os
import struct
import sys
import zlib

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


# ---- safetensors -----------------------------------------------------------------------------

FMT = {"F64": "d", "F32": "f", "F16": "e", "I64": "q", "I32": "i", "I16": "h", "I8": "b",
       "U8": "B", "BOOL": "?", "U16": "H", "U32": "I", "U64": "Q"}


def st_raw(header, blob=b"", pad=True):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def st(tensors, meta=None):
    """tensors: list of (name, dtype, shape, values); values packed little-endian."""
    header, blob = {}, b""
    if meta is not None:
        header["__metadata__"] = meta
    for name, dtype, shape, values in tensors:
        if dtype == "BF16":
            data = b"".join(struct.pack("<f", v)[2:] for v in values)
        else:
            data = struct.pack("<%d%s" % (len(values), FMT[dtype]), *values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    return st_raw(header, blob)


def safetensors_seeds():
    h = "safetensors"
    every = [("f64", "F64", [2, 3], [0.5, -1, 2, 3e300, -0.0, 1e-310]),
             ("f32", "F32", [3], [1.5, -2, 3]), ("f16", "F16", [2], [1, -0.5]),
             ("bf16", "BF16", [2], [1.0, -2.0]), ("i64", "I64", [2], [-1, 2 ** 62]),
             ("i32", "I32", [1], [-7]), ("i16", "I16", [1], [300]), ("i8", "I8", [2], [-1, 1]),
             ("u8", "U8", [4], [0, 1, 254, 255]), ("bool", "BOOL", [2], [True, False]),
             ("u16", "U16", [1], [65535]), ("u32", "U32", [1], [2 ** 32 - 1]),
             ("u64", "U64", [1], [2 ** 64 - 1])]
    put(h, "every-dtype.safetensors", st(every, {"format": "pt", "k": "v"}))
    put(h, "scalar-and-empty.safetensors",
        st([("s", "F64", [], [4.0]), ("e", "F32", [0, 5], []), ("z", "U8", [0], [])]))
    put(h, "metadata-only.safetensors", st([], {"a": "1", "b": "two"}))
    put(h, "empty-object.safetensors", st_raw({}))
    ok = {"t": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}
    blob16 = struct.pack("<2d", 1, 2)
    put(h, "plain.safetensors", st_raw(ok, blob16))
    put(h, "unpadded.safetensors", st_raw(ok, blob16, pad=False))
    # header length: huge, beyond the file, zero, under 8 bytes of file
    put(h, "len-huge.safetensors", struct.pack("<Q", 2 ** 64 - 1) + b"{}")
    put(h, "len-beyond.safetensors", struct.pack("<Q", 1000) + b"{}")
    put(h, "len-zero.safetensors", struct.pack("<Q", 0))
    put(h, "short.safetensors", b"\x02\x00\x00")
    put(h, "empty.safetensors", b"")
    # offsets: negative, reversed, out of range, overlapping, huge, fractional, three values
    def one(offs, shape=(2,), dtype="F64", blob=blob16):
        return st_raw({"t": {"dtype": dtype, "shape": list(shape), "data_offsets": offs}}, blob)
    put(h, "off-negative.safetensors", one([-8, 8]))
    put(h, "off-reversed.safetensors", one([16, 0]))
    put(h, "off-beyond.safetensors", one([0, 24]))
    put(h, "off-huge.safetensors", one([2 ** 63, 2 ** 63 + 16]))
    put(h, "off-2p64.safetensors", one([18446744073709551600, 18446744073709551616]))
    put(h, "off-fraction.safetensors", one([0.5, 16.5]))
    put(h, "off-three.safetensors", one([0, 8, 16]))
    put(h, "off-strings.safetensors", one(["0", "16"]))
    overlap = {"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
               "b": {"dtype": "F64", "shape": [1], "data_offsets": [8, 16]}}
    put(h, "off-overlap.safetensors", st_raw(overlap, blob16))
    same = {"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
            "b": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}
    put(h, "off-same.safetensors", st_raw(same, blob16))
    # shapes: product overflowing 64 bits, above 2^53, negative, too many dimensions, wrong type
    put(h, "dims-overflow.safetensors", one([0, 16], shape=(2 ** 32, 2 ** 32, 2 ** 32)))
    put(h, "dims-overflow-zero.safetensors", one([0, 0], shape=(0, 2 ** 40, 2 ** 40)))
    put(h, "dims-2p53.safetensors", one([0, 16], shape=(9007199254740993,)))
    put(h, "dims-2p63.safetensors", one([0, 16], shape=(2 ** 61, 8)))
    put(h, "dims-negative.safetensors", one([0, 16], shape=(-2,)))
    put(h, "dims-nine.safetensors", one([0, 8], shape=(1,) * 9))
    put(h, "dims-float.safetensors", one([0, 16], shape=(2.0,)))
    put(h, "dims-string.safetensors",
        st_raw({"t": {"dtype": "F64", "shape": "2", "data_offsets": [0, 16]}}, blob16))
    put(h, "count-mismatch.safetensors", one([0, 16], shape=(3,)))
    put(h, "partial-element.safetensors", one([0, 12], shape=(2,), dtype="F64"))
    # dtypes and entries
    put(h, "dtype-unknown.safetensors", one([0, 16], dtype="F128"))
    put(h, "dtype-number.safetensors",
        st_raw({"t": {"dtype": 8, "shape": [2], "data_offsets": [0, 16]}}, blob16))
    put(h, "entry-missing-shape.safetensors",
        st_raw({"t": {"dtype": "F64", "data_offsets": [0, 16]}}, blob16))
    put(h, "entry-array.safetensors", st_raw({"t": [1, 2]}, blob16))
    put(h, "dup-name.safetensors",
        st_raw(b'{"t":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},'
               b'"t":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}', blob16))
    put(h, "dup-metadata.safetensors", st_raw(b'{"__metadata__":{},"__metadata__":{}}'))
    put(h, "dup-meta-key.safetensors", st_raw(b'{"__metadata__":{"a":"1","a":"2"}}'))
    put(h, "meta-number.safetensors", st_raw({"__metadata__": {"a": 1}}))
    put(h, "meta-array.safetensors", st_raw({"__metadata__": ["a"]}))
    # JSON text: invalid, not an object, trailing data, NUL inside, deep nesting, unicode
    put(h, "json-invalid.safetensors", st_raw(b'{"t": {"dtype": "F64",'))
    put(h, "json-array.safetensors", st_raw(b"[1, 2, 3]"))
    put(h, "json-trailing.safetensors", st_raw(b"{} {}"))
    put(h, "json-nul.safetensors", st_raw(b'{"a\x00b": 1}'))
    put(h, "json-deep.safetensors", st_raw(b'{"t":' + b"[" * 2000 + b"]" * 2000 + b"}"))
    put(h, "json-not-brace.safetensors", st_raw(b'  {"t": 1}'))
    put(h, "json-unicode.safetensors",
        st_raw({"\u00e9\u4e2d\n\"<x>": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}},
               b"\x07"))
    put(h, "name-metadata-tensor.safetensors",
        st_raw(b'{"__metadata__":{"dtype":"F64"}}'))


# ---- model files -------------------------------------------------------------------------------

MLP = "flatten,linear(4,3),relu,linear(3,2)"
CNN = "conv2d(1,2,2,padding=1),relu,maxpool2d(2),flatten,linear(2,2)"


def model_tensors(arch, dtype="F64", fill=0.25):
    if arch == MLP:
        shapes = [("1.weight", [3, 4]), ("1.bias", [3]), ("3.weight", [2, 3]), ("3.bias", [2])]
    else:
        shapes = [("0.weight", [2, 1, 2, 2]), ("0.bias", [2]), ("4.weight", [2, 2]),
                  ("4.bias", [2])]
    out = []
    for name, shape in shapes:
        n = math.prod(shape)
        out.append((name, dtype, shape, [fill * ((i % 5) - 2) for i in range(n)]))
    return out


def hesse_meta(arch, shape="1,2,2", loss="cross_entropy"):
    return {"hesse.format": "1", "hesse.arch": arch, "hesse.input_shape": shape,
            "hesse.loss": loss, "hesse.preprocess": '{"scale": 0.00392156862745098}',
            "hesse.seed": "0", "hesse.version": "0.1.0"}


def model_seeds():
    h = "model_file"
    # The first byte is the harness's mode: 0 the file's metadata, 1/3 an architecture given.
    put(h, "mlp.bin", b"\x00" + st(model_tensors(MLP), hesse_meta(MLP)))
    put(h, "mlp-f32-mse.bin", b"\xc0" + st(model_tensors(MLP, "F32"), hesse_meta(MLP, loss="mse")))
    put(h, "cnn.bin", b"\x00" + st(model_tensors(CNN), hesse_meta(CNN)))
    put(h, "cnn-f16.bin", b"\x00" + st(model_tensors(CNN, "F16"), hesse_meta(CNN)))
    put(h, "state-dict-mlp.bin", b"\x03" + st(model_tensors(MLP, "BF16")))
    put(h, "state-dict-cnn.bin", b"\x01" + st(model_tensors(CNN)))
    put(h, "no-arch.bin", b"\x00" + st(model_tensors(MLP)))
    t = model_tensors(MLP)
    put(h, "missing-tensor.bin", b"\x00" + st(t[:-1], hesse_meta(MLP)))
    put(h, "extra-tensor.bin", b"\x00" + st(t + [("9.weight", "F64", [1], [0.0])], hesse_meta(MLP)))
    bad = list(t)
    bad[0] = ("1.weight", "F64", [4, 3], bad[0][3])
    put(h, "mis-shaped.bin", b"\x00" + st(bad, hesse_meta(MLP)))
    bad = list(t)
    bad[1] = ("1.bias", "I64", [3], [1, 2, 3])
    put(h, "wrong-dtype.bin", b"\x00" + st(bad, hesse_meta(MLP)))
    for v, name in ((float("nan"), "nan"), (float("inf"), "inf")):
        bad = list(t)
        vals = list(bad[2][3])
        vals[4] = v
        bad[2] = (bad[2][0], "F64", bad[2][2], vals)
        put(h, "weight-%s.bin" % name, b"\x00" + st(bad, hesse_meta(MLP)))
    put(h, "format-2.bin", b"\x00" + st(t, dict(hesse_meta(MLP), **{"hesse.format": "2"})))
    put(h, "shape-bad.bin", b"\x00" + st(t, hesse_meta(MLP, shape="1,2")))
    put(h, "shape-huge.bin", b"\x00" + st(t, hesse_meta(MLP, shape="1000000,1000000,1000000")))
    put(h, "shape-zero.bin", b"\x00" + st(t, hesse_meta(MLP, shape="0,2,2")))
    put(h, "loss-bad.bin", b"\x00" + st(t, hesse_meta(MLP, loss="hinge")))
    put(h, "arch-typo.bin", b"\x00" + st(t, hesse_meta("flatten,lienar(4,3),relu,linear(3,2)")))
    put(h, "arch-huge.bin", b"\x00" + st(t, hesse_meta("flatten,linear(4,1000000000)")))
    put(h, "arch-wrong-input.bin", b"\x00" + st(t, hesse_meta(MLP, shape="1,3,3")))
    put(h, "input-given-mismatch.bin", b"\x02" + st(t, hesse_meta(MLP)))


# ---- safetensors datasets ------------------------------------------------------------------------


def dataset_seeds():
    h = "dataset_st"
    px = [(i * 37) % 256 for i in range(4 * 4)]
    put(h, "u8-nchw.safetensors", st([("x", "U8", [4, 1, 2, 2], px), ("y", "I64", [4], [0, 1, 2, 1])]))
    put(h, "u8-nhw.safetensors", st([("x", "U8", [4, 2, 2], px), ("y", "U8", [4], [3, 1, 2, 0])]))
    put(h, "f32-flat.safetensors",
        st([("x", "F32", [3, 4], [0.5] * 12), ("y", "I32", [3], [0, 1, 0])], {"num_classes": "5"}))
    put(h, "f64-rgb.safetensors",
        st([("x", "F64", [2, 3, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), ("y", "I16", [2], [1, 0])]))
    put(h, "bf16.safetensors", st([("x", "BF16", [2, 2], [1, 2, 3, 4]), ("y", "U64", [2], [0, 9])]))
    put(h, "label-out-of-range.safetensors",
        st([("x", "U8", [2, 2], [1, 2, 3, 4]), ("y", "I64", [2], [0, 12])], {"num_classes": "10"}))
    put(h, "label-negative.safetensors", st([("x", "U8", [2, 2], [1, 2, 3, 4]), ("y", "I8", [2], [0, -1])]))
    put(h, "label-huge.safetensors",
        st([("x", "U8", [1, 1], [1]), ("y", "I64", [1], [2 ** 40])]))
    put(h, "classes-bad.safetensors",
        st([("x", "U8", [1, 1], [1]), ("y", "I64", [1], [0])], {"num_classes": "ten"}))
    put(h, "x-nan.safetensors", st([("x", "F64", [2, 1], [1, float("nan")]), ("y", "I64", [2], [0, 1])]))
    put(h, "x-inf-f16.safetensors", st([("x", "F16", [1, 2], [1, float("inf")]), ("y", "I64", [1], [0])]))
    put(h, "y-shape.safetensors", st([("x", "U8", [2, 1], [1, 2]), ("y", "I64", [2, 1], [0, 1])]))
    put(h, "y-count.safetensors", st([("x", "U8", [2, 1], [1, 2]), ("y", "I64", [3], [0, 1, 1])]))
    put(h, "y-float.safetensors", st([("x", "U8", [2, 1], [1, 2]), ("y", "F32", [2], [0, 1])]))
    put(h, "x-int.safetensors", st([("x", "I32", [2, 1], [1, 2]), ("y", "I64", [2], [0, 1])]))
    put(h, "x-5d.safetensors", st([("x", "U8", [1, 1, 1, 1, 1], [1]), ("y", "I64", [1], [0])]))
    put(h, "x-1d.safetensors", st([("x", "U8", [2], [1, 2]), ("y", "I64", [2], [0, 1])]))
    put(h, "x-empty.safetensors", st([("x", "U8", [0, 2], []), ("y", "I64", [0], [])]))
    put(h, "x-zero-width.safetensors", st([("x", "U8", [2, 0], []), ("y", "I64", [2], [0, 1])]))
    put(h, "no-y.safetensors", st([("x", "U8", [2, 1], [1, 2])]))


# ---- IDX -------------------------------------------------------------------------------------------


def idx(magic_type, dims, payload):
    return struct.pack(">BBBB", 0, 0, magic_type, len(dims)) + \
        b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_pair(images, labels):
    return struct.pack("<I", len(images)) + images + labels


def idx_seeds():
    h = "idx"
    n, r, c = 3, 4, 4
    images = idx(8, [n, r, c], bytes((i * 7) % 256 for i in range(n * r * c)))
    labels = idx(8, [n], bytes([0, 9, 4]))
    put(h, "raw.idx", idx_pair(images, labels))
    put(h, "gz.idx", idx_pair(gz(images), gz(labels)))
    put(h, "gz-images-raw-labels.idx", idx_pair(gz(images), labels))
    put(h, "labels-over-9.idx", idx_pair(images, idx(8, [n], bytes([0, 200, 4]))))
    put(h, "wrong-magic.idx", idx_pair(idx(8, [n, r], b"\x00" * (n * r)), labels))
    put(h, "wrong-type.idx", idx_pair(idx(0x0d, [n, r, c], b"\x00" * (n * r * c * 4)), labels))
    put(h, "truncated.idx", idx_pair(images[:-5], labels))
    put(h, "truncated-header.idx", idx_pair(images[:10], labels))
    put(h, "trailing.idx", idx_pair(images + b"xx", labels))
    put(h, "count-mismatch.idx", idx_pair(images, idx(8, [2], bytes([1, 2]))))
    put(h, "zero-count.idx", idx_pair(idx(8, [0, r, c], b""), idx(8, [0], b"")))
    put(h, "huge-count.idx", idx_pair(idx(8, [2 ** 31, r, c], b"\x00" * 64), labels))
    put(h, "max-count.idx", idx_pair(idx(8, [2 ** 32 - 1, 1, 1], b"\x00" * 64), labels))
    put(h, "huge-side.idx", idx_pair(idx(8, [1, 32768, 32768], b"\x00" * 64), labels))
    put(h, "side-over.idx", idx_pair(idx(8, [1, 32769, 1], b"\x00" * 64), labels))
    put(h, "zero-side.idx", idx_pair(idx(8, [n, 0, c], b""), labels))
    g = gz(images)
    put(h, "gz-truncated.idx", idx_pair(g[:len(g) // 2], gz(labels)))
    put(h, "gz-no-trailer.idx", idx_pair(g[:-8], gz(labels)))
    bad = bytearray(g)
    bad[len(bad) // 2] ^= 0x55
    put(h, "gz-corrupt.idx", idx_pair(bytes(bad), gz(labels)))
    crc = bytearray(g)
    crc[-6] ^= 1
    put(h, "gz-bad-crc.idx", idx_pair(bytes(crc), gz(labels)))
    put(h, "gz-two-members.idx", idx_pair(gz(images[:20]) + gz(images[20:]), gz(labels)))
    put(h, "gz-trailing-garbage.idx", idx_pair(g + b"garbage", gz(labels)))
    put(h, "gz-header-only.idx", idx_pair(g[:10], gz(labels)))
    put(h, "empty.idx", idx_pair(b"", b""))


# ---- CIFAR -------------------------------------------------------------------------------------------


def cifar_record(labels, seed):
    return bytes(labels) + bytes((seed + i * 13) % 256 for i in range(3072))


def cifar_seeds():
    h = "cifar"
    # The first byte: bit 0 CIFAR-100, bit 1 the training split.
    put(h, "c10-test-1.bin", b"\x00" + cifar_record([3], 1))
    put(h, "c10-test-2.bin", b"\x00" + cifar_record([0], 1) + cifar_record([9], 2))
    put(h, "c10-train.bin", b"\x02" + cifar_record([5], 3))
    put(h, "c100-test.bin", b"\x01" + cifar_record([3, 42], 4))
    put(h, "c100-train.bin", b"\x03" + cifar_record([19, 99], 5) + cifar_record([0, 0], 6))
    put(h, "c10-gz.bin", b"\x00" + gz(cifar_record([7], 7)))
    put(h, "c100-gz-truncated.bin", b"\x01" + gz(cifar_record([1, 1], 8))[:200])
    put(h, "c10-label-10.bin", b"\x00" + cifar_record([10], 9))
    put(h, "c100-coarse-20.bin", b"\x01" + cifar_record([20, 5], 10))
    put(h, "c100-fine-100.bin", b"\x01" + cifar_record([2, 100], 11))
    put(h, "c10-truncated.bin", b"\x00" + cifar_record([1], 12)[:3000])
    put(h, "c10-extra.bin", b"\x00" + cifar_record([1], 13) + b"x")
    put(h, "c10-empty.bin", b"\x00")
    put(h, "c100-as-c10.bin", b"\x00" + cifar_record([3, 42], 14))


# ---- architecture strings ------------------------------------------------------------------------------


def arch_seeds():
    h = "arch"

    def a(name, arch, c=1, hw=28, w=None, loss=0):
        w = hw if w is None else w
        put(h, name + ".txt", bytes([(c - 1) % 4, (hw - 1) % 64, (w - 1) % 64, loss]) + arch.encode())

    a("lenet5", "conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),"
      "flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)")
    a("mlp", "flatten,linear(784,100),relu,linear(100,10)")
    a("pytorch-names", "Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)), ReLU(),"
      " MaxPool2d(kernel_size=2, stride=2, padding=0), Flatten(start_dim=1, end_dim=-1),"
      " Linear(in_features=784, out_features=10, bias=True)")
    a("keywords", "conv2d(in_channels=1,out_channels=2,kernel_size=3,stride=2,padding=1,"
      "bias=False,dilation=1,groups=1),tanh,avgpool2d(kernel_size=(2,2),stride=(1,1),"
      "padding=(1,0),ceil_mode=False,count_include_pad=True),flatten,linear(338,3,bias=False)")
    a("activations", "flatten,linear(784,8),gelu(approximate='none'),linear(8,8),sigmoid,"
      "linear(8,8),tanh,linear(8,4),relu(inplace=True),linear(4,2)")
    a("aliases", "conv(1,2,3),maxpool(2),avgpool(2),flatten,linear(72,2)")
    a("rgb", "conv2d(3,8,3),relu,maxpool2d(2),flatten,linear(1800,10)", c=3, hw=32)
    a("rect", "conv2d(1,2,(3,1),stride=(2,1),padding=(0,2)),flatten,linear(104,2)", hw=8, w=4)
    a("flat-input", "linear(1,3),relu,linear(3,2)", hw=1)
    a("mse", "flatten,linear(4,1)", hw=2, loss=1)
    # errors: typos, syntax, arguments, shapes
    a("typo", "flatten,lienar(784,10)")
    a("unclosed", "flatten,linear(784,10")
    a("trailing-comma", "flatten,linear(784,10),")
    a("empty", "")
    a("spaces", "   ")
    a("no-flatten", "linear(784,10)")
    a("wrong-in", "flatten,linear(700,10)")
    a("not-flat", "conv2d(1,2,3)")
    a("no-params", "flatten,relu")
    a("kernel-too-big", "conv2d(1,2,29),flatten,linear(2,2)")
    a("pool-pad", "maxpool2d(2,padding=2),flatten,linear(196,2)")
    a("dilation", "conv2d(1,2,3,dilation=2),flatten,linear(1352,2)")
    a("gelu-tanh", "flatten,linear(784,2),gelu(approximate='tanh')")
    a("flatten-dims", "flatten(start_dim=0),linear(784,2)")
    a("unknown-arg", "flatten,linear(784,10,biass=True)")
    a("too-many", "flatten,linear(784,10,True,1,2,3,4,5,6)")
    a("twice", "flatten,linear(784,10,in_features=784)")
    a("bad-pair", "conv2d(1,2,(3,),1),flatten,linear(2,2)")
    a("negative", "conv2d(1,2,-3),flatten,linear(2,2)")
    a("zero", "flatten,linear(784,0)")
    a("huge", "flatten,linear(784,1000000000),relu,linear(1000000000,10)")
    a("huge-conv", "conv2d(1,1000000000,(1000000000,1000000000),padding=(1000000000,1000000000),"
      "stride=(1000000000,1000000000)),flatten,linear(1000000000,2)")
    a("huge-padding", "conv2d(1,1,1,padding=1000000000),conv2d(1,1,1,padding=1000000000),"
      "flatten,linear(1,2)", hw=1)
    a("pool-padding-chain", "avgpool2d(2000000000,stride=1,padding=1000000000),flatten,linear(1,2)",
      hw=1)
    a("int-overflow", "flatten,linear(784,99999999999999999999)")
    a("quote", "flatten,linear(784,10),gelu(approximate=\"none)")
    a("long-name", "flatten," + "x" * 100 + "(1)")
    a("deep-parens", "flatten,linear((((1,2),3)")
    a("keyword-no-value", "flatten,linear(in_features=,10)")
    a("nul", "flatten,linear(784,10)\x00garbage")


# ---- command-line options --------------------------------------------------------------------------------


def cli_seeds():
    h = "cli_options"

    def c(name, *args):
        put(h, name + ".args", "\x00".join(args))

    c("typical", "--top", "10", "--samples=1000", "--seed", "18446744073709551615", "--tol",
      "1e-10", "-o", "out.json", "-q", "--lr=0.1")
    c("list", "--models", "a", "b", "c", "--top", "3", "--models=d", "file")
    c("positional", "x", "--", "--top", "-", "y")
    c("help", "--help")
    c("mean-std", "0.5,0.25,0.125", "0.2,0.3,0.4")
    c("mean-std-bad", "0.5,,0.1", "0,-1")
    c("mean-std-many", ",".join(["1"] * 17), ",".join(["1"] * 17))
    c("int-limits", "--top", "2147483648", "--top", "-1", "--top", "100001", "--top", "1e3")
    c("int64-limits", "--samples", "9223372036854775808", "--samples", "-9223372036854775809")
    c("u64-neg", "--seed", "-1", "--seed", "18446744073709551616")
    c("double", "--tol", "nan", "--tol", "inf", "--tol", "1e-400", "--tol", "0x1p-3", "--lr", "1e309")
    c("missing-value", "--top")
    c("flag-value", "--quiet=1")
    c("unknown", "--topp", "3", "-z", "--", "---x")
    c("empty-string", "--name", "", "-n", "x")
    c("equals-empty", "--top=", "--models=")
    c("long-name", "--" + "t" * 100 + "=1")
    c("space", "--top", " 5", "--tol", "1e-3 ")


# ---- checkpoint wrapper -----------------------------------------------------------------------------------


def ck(header, blob=b"", magic=b"HESSECK1", length=None, crc=True):
    """A checkpoint; a dict header gets the size and CRC-32 of the blob (required) unless crc is
    False."""
    if isinstance(header, dict) and crc:
        header = dict(header, blob_bytes=len(blob), blob_crc32="%08x" % zlib.crc32(blob))
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return magic + struct.pack("<Q", len(h) if length is None else length) + h + blob


def checkpoint_seeds():
    h = "checkpoint"
    run = {"command": "spectrum", "model_sha256": "00", "data": "fashion-mnist/train, first 100",
           "operator": "hessian", "layer": "", "top": 4}
    run["data_sha256"] = "0" * 64
    put(h, "match.ckpt", ck(run, b"HESSETRL" + b"\x00" * 40))
    put(h, "no-crc.ckpt", ck(run, b"HESSETRL" + b"\x00" * 40, crc=False))
    put(h, "bad-crc.ckpt", ck(dict(run, blob_crc32="00000000", blob_bytes=48), b"HESSETRL" + b"\x00" * 40, crc=False))
    put(h, "head-cut.ckpt", ck(run, b"HESSETRL")[:40])
    put(h, "other-run.ckpt", ck(dict(run, data="fashion-mnist/train, first 99")))
    put(h, "missing-key.ckpt", ck({"command": "spectrum"}))
    put(h, "nested.ckpt", ck(dict(run, extra={"a": [1, 2, {"b": None}]})))
    put(h, "no-blob.ckpt", ck(run))
    put(h, "bad-magic.ckpt", ck(run, magic=b"HESSECK2"))
    put(h, "len-huge.ckpt", ck(run, length=2 ** 64 - 1))
    put(h, "len-beyond.ckpt", ck(run, length=10 ** 6))
    put(h, "json-invalid.ckpt", ck(b'{"command": '))
    put(h, "json-array.ckpt", ck(b"[1,2]"))
    put(h, "json-nul.ckpt", ck(b'{"command":"spe\x00ctrum"}'))
    put(h, "empty.ckpt", b"")
    put(h, "short.ckpt", b"HESSECK1\x01")


# ---- report documents ----------------------------------------------------------------------------------------


def report_seeds():
    h = "report"
    put(h, "not-json.json", "this is not JSON")
    put(h, "empty.json", "")
    put(h, "array.json", "[1, 2]")
    put(h, "no-schema.json", '{"top": [1, 2]}')
    put(h, "schema-number.json", '{"schema": 1}')
    put(h, "unknown-schema.json",
        json.dumps({"schema": "other/7", "a": {"b": [1, None, "x", True]}, "c": -0.0}))
    put(h, "markup.json", json.dumps({
        "schema": "hesse.spectrum/1", "command_line": "<script>alert(1)</script>",
        "created": "<img src=x onerror=alert(1)>", "model": {"path": "\"><iframe>"},
        "top": [3, 2, 1], "bottom": [-1], "residuals_top": [0, 0, 0]}))
    put(h, "two-docs.json", '{"schema": "hesse.eval/1", "loss": 1}\n--\n{"schema": "hesse.trace/1"}')
    put(h, "syntax-line-3.json", '{\n  "schema": "hesse.eval/1",\n  "loss": 1,,\n}')
    put(h, "deep.json", '{"schema": "x", "a": ' + "[" * 900 + "]" * 900 + "}")
    put(h, "density-huge.json", json.dumps({
        "schema": "hesse.density/1", "grid": [-1e308, 0, 1e308], "density": [1e308, 1, 1e308],
        "log10_density": [308, 0, 308], "lo": -1e308, "hi": 1e308, "eps": 1e-8}))
    put(h, "density-mismatch.json", json.dumps({
        "schema": "hesse.density/1", "grid": [0, 1, 2, 3], "density": [1, 2],
        "log10_density": [], "quadrature": [{"nodes": [1, 2], "weights": [0.5]}]}))
    put(h, "powerlaw-odd.json", json.dumps({
        "schema": "hesse.powerlaw/1", "eigenvalues": [3, 2, 0, -1, None],
        "fit": {"alpha": None, "c": 1e308, "kmin": -5, "kmax": 1e9}, "ks": "x"}))
    put(h, "types-swapped.json", json.dumps({
        "schema": "hesse.spectrum/1", "top": "many", "bottom": {"a": 1}, "products": [1],
        "seconds": None, "model": [], "data": 3}))
    put(h, "train-tracking.json", json.dumps({
        "schema": "hesse.train/1", "history": [],
        "tracking": {"optimizer": "adam", "lr": 0.01, "beta1": 0.9, "threshold": 200,
                     "threshold_preconditioned": 3800, "products": 5, "products_cold": 9,
                     "seconds_training": 1, "seconds_measuring": 0.5, "series": [
                         {"step": 0, "lr": 0.01, "top": [3, 2], "products": 3},
                         {"step": 1, "lr": 0.01, "top": [190, 2], "preconditioned": [3500],
                          "trace": None, "products": 2}]}}))
    put(h, "train-tracking-odd.json", json.dumps({
        "schema": "hesse.train/1", "tracking": {"optimizer": 7, "lr": 0, "beta1": 1, "series": [
            {"step": "x", "top": "y", "lr": -1}, 3, {"step": 1e308, "top": [None, 1e308] * 20,
                                                     "preconditioned": [], "extra": {"a": 1}}]}}))


def main():
    safetensors_seeds()
    model_seeds()
    dataset_seeds()
    idx_seeds()
    cifar_seeds()
    arch_seeds()
    cli_seeds()
    checkpoint_seeds()
    report_seeds()


if __name__ == "__main__":
    main()
