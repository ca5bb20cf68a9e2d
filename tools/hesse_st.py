"""Pure-Python safetensors reading and writing for hesse's PyTorch tools.

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
length, a JSON header mapping each tensor name to {"dtype", "shape", "data_offsets"} (byte
offsets into the data that follows; an optional "__metadata__" maps strings to strings), then
the raw little-endian tensor data. No dependency beyond PyTorch and NumPy (both come with
Debian's python3-torch); the `safetensors` package is not needed.
"""
import json
import os
import struct

import numpy as np
import torch

# safetensors dtype name -> (NumPy little-endian dtype, torch dtype)
DTYPES = {
    "F64": ("<f8", torch.float64),
    "F32": ("<f4", torch.float32),
    "F16": ("<f2", torch.float16),
    "I64": ("<i8", torch.int64),
    "I32": ("<i4", torch.int32),
    "I16": ("<i2", torch.int16),
    "I8": ("i1", torch.int8),
    "U8": ("u1", torch.uint8),
    "BOOL": ("?", torch.bool),
}
WRITABLE = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8"}


class SafetensorsError(ValueError):
    """A file that is not valid safetensors, or a tensor this module cannot handle."""


def write(path, tensors, metadata=None):
    """Writes {name: tensor} in the dict's order (F64, F32, I64 or U8), with string metadata.

    The file appears atomically: it is written under a temporary name and renamed."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, t in tensors.items():
        if name == "__metadata__":
            raise SafetensorsError("a tensor cannot be named __metadata__")
        t = t.detach().cpu()
        if t.dtype not in WRITABLE:
            raise SafetensorsError("tensor '%s' has dtype %s; this writer handles %s" %
                                   (name, t.dtype, ", ".join(sorted(WRITABLE.values()))))
        code = WRITABLE[t.dtype]
        b = np.ascontiguousarray(t.numpy()).astype(DTYPES[code][0], copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # data 8-byte aligned, as the reference writer does
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for b in blobs:
                f.write(b)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_header(path):
    """(header dict without __metadata__, metadata dict, offset of the data) of a file."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise SafetensorsError("%s: too short for a safetensors file" % path)
        (n,) = struct.unpack("<Q", head)
        size = os.fstat(f.fileno()).st_size
        if n > size - 8:
            raise SafetensorsError("%s: header length %d exceeds the file size %d" %
                                   (path, n, size))
        try:
            header = json.loads(f.read(n))
        except ValueError as e:
            raise SafetensorsError("%s: header is not JSON (%s)" % (path, e)) from None
    if not isinstance(header, dict):
        raise SafetensorsError("%s: header is not a JSON object" % path)
    meta = header.pop("__metadata__", None) or {}
    return header, meta, 8 + n


def names_text(names, few=6):
    """"4 tensors: 'a', 'b', 'c', 'd'" or "40 tensors: 'a', ..., 'f', ... and 34 more" for
    messages that say what a file holds."""
    names = list(names)
    if not names:
        return "no tensors"
    text = ", ".join("'%s'" % n for n in names[:few])
    more = " ... and %d more" % (len(names) - few) if len(names) > few else ""
    return "%d tensor%s: %s%s" % (len(names), "" if len(names) == 1 else "s", text, more)


def read(path, names=None):
    """({name: tensor}, metadata) of a safetensors file, tensors in the header's offset order.

    names: read only these tensors (a KeyError names a missing one)."""
    header, meta, base = read_header(path)
    size = os.path.getsize(path)
    wanted = list(header) if names is None else list(names)
    for name in wanted:
        if name not in header:
            raise KeyError("%s: tensor '%s' is missing; the file has %s" %
                           (path, name, names_text(header)))
    wanted.sort(key=lambda k: header[k]["data_offsets"][0])
    out = {}
    with open(path, "rb") as f:
        for name in wanted:
            info = header[name]
            code = info.get("dtype")
            if code not in DTYPES:
                raise SafetensorsError("%s: tensor '%s' has dtype %s, not supported here" %
                                       (path, name, code))
            shape = [int(s) for s in info["shape"]]
            a, b = (int(o) for o in info["data_offsets"])
            npdt = np.dtype(DTYPES[code][0])
            count = int(np.prod(shape)) if shape else 1
            if a < 0 or b < a or base + b > size or b - a != count * npdt.itemsize:
                raise SafetensorsError("%s: tensor '%s' has data_offsets [%d, %d] that do not "
                                       "fit its shape %s and dtype %s" %
                                       (path, name, a, b, shape, code))
            f.seek(base + a)
            buf = bytearray(b - a)
            if f.readinto(buf) != b - a:
                raise SafetensorsError("%s: tensor '%s' is truncated" % (path, name))
            arr = np.frombuffer(buf, dtype=npdt)  # writable: it views the bytearray
            if not npdt.isnative:
                arr = arr.astype(npdt.newbyteorder("="))
            out[name] = torch.from_numpy(arr.reshape(shape))
    return out, meta
