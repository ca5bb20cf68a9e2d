#!/usr/bin/python3
"""Writes st_small.safetensors (tensors made by PyTorch) and st_small.json (their values
as PyTorch converts them to float64), the reference that tests/test_io.c compares hesse's
safetensors reader against.

The file format is written here with struct + json, following the published safetensors
layout (8-byte little-endian header length, JSON header, data block), so that the fixture
depends on neither hesse's writer nor the safetensors package.

Run from anywhere: /usr/bin/python3 tests/data/make_safetensors_fixture.py
"""
import json
import math
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

DTYPE_NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        # NumPy has no bfloat16: reinterpret both 16-bit types as int16 to get the bits.
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def as_json_values(t):
    out = []
    for v in t.to(torch.float64).flatten().tolist():
        out.append(v if math.isfinite(v) else ("nan" if math.isnan(v) else
                                               ("inf" if v > 0 else "-inf")))
    return out


def main():
    assert sys.byteorder == "little", "safetensors is little-endian; run on a little-endian host"
    g = torch.Generator().manual_seed(20240501)
    tensors = {
        # Insertion order is file order; offsets follow it.
        "0.weight": torch.randn(3, 4, generator=g, dtype=torch.float32),
        "0.bias": torch.randn(3, generator=g, dtype=torch.float64),
        "half": torch.tensor([1.0, 65504.0, 2.0 ** -24, -2.0 ** -14, 0.1, -0.0,
                              float("inf"), float("-inf"), float("nan"), 3.14159],
                             dtype=torch.float16),
        "half_rand": (torch.randn(2, 3, generator=g) * 100).to(torch.float16),
        "brain": torch.tensor([1.0, -2.5, 3.0e38, 1.0e-40, 0.1, float("-inf")],
                              dtype=torch.bfloat16),
        "brain_rand": torch.randn(2, 2, 2, generator=g).to(torch.bfloat16),
        "counts": torch.tensor([0, -1, 7, 2 ** 40, -(2 ** 53)], dtype=torch.int64),
        "scalar": torch.tensor(0.25, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    metadata = {"format": "pt", "made_by": "make_safetensors_fixture.py"}

    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        b = raw_bytes(t)
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(HERE, "st_small.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)

    reference = {
        "metadata": metadata,
        "tensors": [{"name": name, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                     "values": as_json_values(t)} for name, t in tensors.items()],
    }
    with open(os.path.join(HERE, "st_small.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
