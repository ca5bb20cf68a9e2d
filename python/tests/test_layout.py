"""The ctypes structs of hesse/_lib.py against the C headers: a C program built against
include/hesse prints every struct's size and each field's offset, which must equal ctypes'."""

import ctypes
import os
import shutil
import subprocess

import pytest

from hesse import _lib

from conftest import ROOT

STRUCTS = {
    "Op": "hesse_op", "OpStats": "hesse_op_stats", "Eigs": "hesse_eigs",
    "EigProgress": "hesse_eig_progress", "BlobPart": "hesse_blob_part",
    "LanczosParams": "hesse_lanczos_params", "PowerParams": "hesse_power_params",
    "DenseParams": "hesse_dense_params", "Density": "hesse_density",
    "SlqParams": "hesse_slq_params", "KpmParams": "hesse_kpm_params",
    "TraceParams": "hesse_trace_params", "TraceResult": "hesse_trace_result",
    "EngineParams": "hesse_engine_params", "Samples": "hesse_samples",
    "Selection": "hesse_selection", "Preprocess": "hesse_preprocess",
    "LoadOptions": "hesse_load_options", "TensorInfo": "hesse_tensor_info",
    "Progress": "hesse_progress", "BlasInfo": "hesse_blas_info",
    "Powerlaw": "hesse_powerlaw", "PowerlawGuard": "hesse_powerlaw_guard",
    "LayerFactors": "hesse_layer_factors", "MeanDominance": "hesse_mean_dominance",
    "KronLayer": "hesse_kron_layer", "Layer": "hesse_layer",
    "ClassMeans": "hesse_class_means", "MeansTwoway": "hesse_means_twoway",
}


def test_struct_layouts_match_the_headers(tmp_path):
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler to read the headers' layouts")
    lines = ["#include <hesse/hesse.h>", "#include <stddef.h>", "#include <stdio.h>",
             "int main(void) {"]
    expected = []
    for py, c in STRUCTS.items():
        cls = getattr(_lib, py)
        lines.append('printf("%%s %%zu\\n", "%s", sizeof(%s));' % (c, c))
        expected.append("%s %d" % (c, ctypes.sizeof(cls)))
        for name, _ in cls._fields_:
            lines.append('printf("%%s.%%s %%zu\\n", "%s", "%s", offsetof(%s, %s));'
                         % (c, name, c, name))
            expected.append("%s.%s %d" % (c, name, getattr(cls, name).offset))
    lines.append("return 0; }")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    inc = os.path.join(os.environ.get("HESSE_SOURCE", ROOT), "include")
    cjson = subprocess.run(["pkg-config", "--cflags", "libcjson"], stdout=subprocess.PIPE,
                           text=True).stdout.split()
    subprocess.run([cc, "-std=c11", "-I", inc] + cjson + [str(src), "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], check=True, stdout=subprocess.PIPE,
                         text=True).stdout.split("\n")[:-1]
    assert got == expected
