"""Loading libhesse.so and declaring the part of its C API the package calls.

The structs below mirror include/hesse/*.h field for field; python/tests/test_layout.py
compiles a C program that prints every size and offset and compares them with these.
"""

import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_int,
                    c_int32, c_int64, c_size_t, c_uint64, c_void_p)

# ---- Finding the library ------------------------------------------------------------------


def _candidates():
    env = os.environ.get("HESSE_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    try:  # written by `make install-python`: the library installed beside it
        from ._config import LIBRARY
        yield LIBRARY
    except ImportError:
        pass
    # Used from the source tree: python/hesse -> the repository's build folders.
    root = os.path.dirname(os.path.dirname(here))
    for build in ("build", "build-asan"):
        yield os.path.join(root, build, "libhesse.so")
    # pip install into PREFIX/lib/pythonX.Y/site-packages: PREFIX/lib
    yield os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(here))), "libhesse.so.0")
    yield "libhesse.so.0"  # installed: the loader's search path (ldconfig, LD_LIBRARY_PATH)
    for prefix in ("/usr/local/lib", "/usr/lib"):
        yield os.path.join(prefix, "libhesse.so.0")


def _prepare_blas():
    """hesse_blas_prepare's choice of OpenBLAS core, made before the library loads (a Python
    process cannot re-execute itself the way the CLI does): AVX-512F -> SkylakeX, AVX2 + FMA ->
    Haswell. A value the user set is kept. Without it the products may differ from the CLI's
    in the last bits (and Debian's OpenBLAS may run slow kernels)."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return
    if "avx512f" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif "avx2" in flags and "fma" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


def _load():
    _prepare_blas()
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("hesse: cannot find libhesse.so; build it (make) or install it (make "
                      "install), or set HESSE_LIBRARY to its path. Tried: " + ", ".join(tried))


lib, path = _load()

# ---- Structs ------------------------------------------------------------------------------

matvec_fn = CFUNCTYPE(c_int, c_void_p, c_int, POINTER(c_double), POINTER(c_double))
free_ctx_fn = CFUNCTYPE(None, c_void_p)


class Op(Structure):
    _fields_ = [("n", c_int64), ("apply", matvec_fn), ("ctx", c_void_p), ("max_block", c_int),
                ("free_ctx", free_ctx_fn), ("checks_finite", c_int)]


class OpStats(Structure):
    _fields_ = [("products", c_int64), ("calls", c_int64), ("seconds", c_double)]


class Eigs(Structure):
    _fields_ = [("n", c_int64), ("ntop", c_int), ("nbottom", c_int),
                ("values", POINTER(c_double)), ("vectors", POINTER(c_double)),
                ("residuals", POINTER(c_double)), ("residuals_explicit", c_int),
                ("nconverged", c_int), ("anorm", c_double), ("tol", c_double), ("basis", c_int),
                ("products", c_int64), ("iterations", c_int64), ("restarts", c_int),
                ("breakdowns", c_int), ("fresh_starts", c_int), ("seconds", c_double),
                ("seconds_products", c_double), ("seconds_ortho", c_double),
                ("seconds_restart", c_double), ("seconds_checkpoint", c_double),
                ("orthogonality", c_double)]


class EigProgress(Structure):
    _fields_ = [("method", c_char_p), ("iteration", c_int), ("products", c_int64),
                ("nconverged", c_int), ("nwanted", c_int), ("nvalues", c_int),
                ("values", POINTER(c_double)), ("residuals", POINTER(c_double)),
                ("anorm", c_double), ("elapsed", c_double)]


eig_monitor_fn = CFUNCTYPE(None, c_void_p, POINTER(EigProgress))


class BlobPart(Structure):
    _fields_ = [("data", c_void_p), ("size", c_size_t)]


checkpoint_fn = CFUNCTYPE(c_int, c_void_p, POINTER(BlobPart), c_int, c_size_t)


class LanczosParams(Structure):
    _fields_ = [("top", c_int), ("bottom", c_int), ("tol", c_double), ("basis", c_int),
                ("memory_budget", c_size_t), ("max_restarts", c_int), ("seed", c_uint64),
                ("want_vectors", c_int), ("verify", c_int), ("explicit_residuals", c_int),
                ("breakdown_tol", c_double), ("check_every", c_int),
                ("monitor", eig_monitor_fn), ("monitor_ctx", c_void_p),
                ("checkpoint", checkpoint_fn), ("checkpoint_ctx", c_void_p),
                ("checkpoint_interval", c_double), ("stop", POINTER(c_int)),
                ("start", POINTER(c_double)), ("nstart", c_int)]


class PowerParams(Structure):
    _fields_ = [("top", c_int), ("max_iter", c_int), ("tol", c_double), ("seed", c_uint64),
                ("want_vectors", c_int), ("residuals", c_int), ("monitor", eig_monitor_fn),
                ("monitor_ctx", c_void_p)]


class DenseParams(Structure):
    _fields_ = [("top", c_int), ("bottom", c_int), ("want_vectors", c_int), ("block", c_int),
                ("memory_budget", c_uint64)]


class Density(Structure):
    _fields_ = [("points", c_int), ("grid", POINTER(c_double)), ("density", POINTER(c_double)),
                ("log10_density", POINTER(c_double)), ("eps", c_double), ("lo", c_double),
                ("hi", c_double), ("sigma", c_double), ("weight_outside", c_double),
                ("probes", c_int), ("steps", c_int), ("nodes", POINTER(c_double)),
                ("weights", POINTER(c_double)), ("nsteps", POINTER(c_int)), ("moments", c_int),
                ("mu", POINTER(c_double)), ("products", c_int64), ("seconds", c_double),
                ("seconds_products", c_double)]


class SlqParams(Structure):
    _fields_ = [("probes", c_int), ("steps", c_int), ("reorth", c_int), ("probe", c_int),
                ("support_steps", c_int), ("margin", c_double), ("lo", c_double),
                ("hi", c_double), ("sigma", c_double), ("points", c_int), ("eps", c_double),
                ("block", c_int), ("memory_budget", c_size_t), ("seed", c_uint64),
                ("checkpoint", checkpoint_fn), ("checkpoint_ctx", c_void_p),
                ("checkpoint_interval", c_double), ("stop", POINTER(c_int))]


class KpmParams(Structure):
    _fields_ = [("moments", c_int), ("probes", c_int), ("support_steps", c_int),
                ("margin", c_double), ("lo", c_double), ("hi", c_double), ("points", c_int),
                ("eps", c_double), ("block", c_int), ("seed", c_uint64)]


class TraceParams(Structure):
    _fields_ = [("samples", c_int), ("block", c_int), ("probe", c_int), ("seed", c_uint64)]


class TraceResult(Structure):
    _fields_ = [("trace", c_double), ("std_error", c_double), ("samples", c_int),
                ("rank", c_int), ("lowrank_trace", c_double), ("products", c_int64),
                ("seconds", c_double), ("seconds_products", c_double)]


class EngineParams(Structure):
    _fields_ = [("chunk", c_int), ("max_block", c_int), ("memory_budget", c_size_t),
                ("threads", c_int), ("cache", c_int), ("cache_budget", c_size_t),
                ("precision", c_int)]


class Samples(Structure):
    _fields_ = [("n", c_int64), ("c", c_int), ("h", c_int), ("w", c_int),
                ("num_classes", c_int), ("x", POINTER(c_double)), ("y", POINTER(c_int32)),
                ("source", POINTER(c_int64)), ("owns", c_int), ("total", c_int64),
                ("targets", c_int)]


class Selection(Structure):
    _fields_ = [("mode", c_int), ("n", c_int64), ("seed", c_uint64)]


MAX_CHANNELS = 16


class Preprocess(Structure):
    _fields_ = [("scale", c_double), ("channels", c_int), ("mean", c_double * MAX_CHANNELS),
                ("std", c_double * MAX_CHANNELS)]


class LoadOptions(Structure):
    _fields_ = [("arch", c_char_p), ("c", c_int), ("h", c_int), ("w", c_int), ("loss", c_int)]


class TensorInfo(Structure):
    _fields_ = [("name", c_char * 128), ("layer", c_int), ("ndim", c_int),
                ("shape", c_int64 * 4), ("offset", c_int64), ("count", c_int64),
                ("integer", c_int)]


class Progress(Structure):
    _fields_ = [("task", c_char_p), ("done", c_double), ("total", c_double),
                ("elapsed", c_double), ("detail", c_char_p), ("finished", c_int)]


progress_fn = CFUNCTYPE(None, c_void_p, POINTER(Progress))

class Powerlaw(Structure):
    _fields_ = [("K", c_int), ("dropped", c_int), ("lambda_max", c_double),
                ("lambda_min", c_double), ("s_ls", c_double), ("intercept_ls", c_double),
                ("r2_ls", c_double), ("beta", c_double), ("beta_stderr", c_double),
                ("s_mle", c_double), ("d_ks", c_double), ("d_c", c_double), ("accepted", c_int)]


class PowerlawGuard(Structure):
    _fields_ = [("tol_requested", c_double), ("tol_used", c_double), ("limit", c_double),
                ("accuracy", c_double), ("lambda_min", c_double), ("anorm", c_double),
                ("tightened", c_int), ("refused", c_int)]


powerlaw_solve_fn = CFUNCTYPE(c_int, c_void_p, c_double, POINTER(Eigs))


class LayerFactors(Structure):
    _fields_ = [("layer", c_int), ("in", c_int64), ("out", c_int64), ("positions", c_int64),
                ("xx", POINTER(c_double)), ("M", POINTER(c_double)), ("M_exact", c_int),
                ("M_kind", c_int), ("x_mean", POINTER(c_double))]


class MeanDominance(Structure):
    _fields_ = [("norm", c_double), ("ratio_fro", c_double), ("ratio_2", c_double),
                ("overlap", c_double)]


class KronLayer(Structure):
    _fields_ = [("layer", c_int), ("out", c_int64), ("in", c_int64), ("M_exact", c_int),
                ("M_kind", c_int), ("M_values", POINTER(c_double)),
                ("xx_values", POINTER(c_double)), ("M_vectors", POINTER(c_double)),
                ("xx_vectors", POINTER(c_double)), ("mean", MeanDominance)]


class ClassMeans(Structure):
    _fields_ = [("C", c_int), ("n", c_int64), ("counts", POINTER(c_int64)),
                ("pi", POINTER(c_double)), ("delta", POINTER(c_double)), ("passes", c_int64)]


class MeansTwoway(Structure):
    _fields_ = [(k, c_double) for k in ("total", "grand_mean", "class_effect", "label_effect",
                                        "interaction", "class_terms", "cross_class_means",
                                        "cross_deviations")]


class Layer(Structure):
    _fields_ = [("kind", c_int), ("index", c_int), ("name", c_char * 104), ("in_c", c_int),
                ("in_h", c_int), ("in_w", c_int), ("out_c", c_int), ("out_h", c_int),
                ("out_w", c_int), ("kh", c_int), ("kw", c_int), ("sh", c_int), ("sw", c_int),
                ("ph", c_int), ("pw", c_int), ("has_bias", c_int), ("has_weight", c_int),
                ("eps", c_double), ("momentum", c_double), ("p", c_double),
                ("norm_ndim", c_int), ("norm_shape", c_int * 3), ("rows", c_int), ("dim", c_int),
                ("group", c_int64), ("heads", c_int), ("causal", c_int), ("block", c_int * 3), ("weight_offset", c_int64), ("weight_count", c_int64),
                ("bias_offset", c_int64), ("bias_count", c_int64), ("buffer_offset", c_int64)]

# ---- Functions ----------------------------------------------------------------------------

P = POINTER
_protos = {
    # core.h
    "hesse_strerror": (c_char_p, [c_int]),
    "hesse_last_error": (c_char_p, []),
    "hesse_clear_error": (None, []),
    "hesse_exit_code": (c_int, [c_int]),
    "hesse_free": (None, [c_void_p]),
    "hesse_set_progress": (None, [progress_fn, c_void_p]),
    "hesse_blas_set_threads": (None, [c_int]),
    "hesse_blas_get_threads": (c_int, []),
    "hesse_version": (c_char_p, []),
    # op.h
    "hesse_op_free": (None, [P(Op)]),
    "hesse_op_apply": (c_int, [P(Op), c_int, P(c_double), P(c_double), P(OpStats)]),
    "hesse_op_deflate": (c_int, [P(Op), c_int, P(c_double), P(Op)]),
    # spectral.h
    "hesse_eigs_free": (None, [P(Eigs)]),
    "hesse_lanczos_defaults": (LanczosParams, []),
    "hesse_lanczos_eigs": (c_int, [P(Op), P(LanczosParams), P(Eigs)]),
    "hesse_lanczos_resume": (c_int, [P(Op), P(LanczosParams), c_void_p, c_size_t, P(Eigs)]),
    "hesse_power_defaults": (PowerParams, []),
    "hesse_power_eigs": (c_int, [P(Op), P(PowerParams), P(Eigs)]),
    "hesse_dense_defaults": (DenseParams, []),
    "hesse_dense_eigs": (c_int, [P(Op), P(DenseParams), P(Eigs)]),
    "hesse_density_free": (None, [P(Density)]),
    "hesse_slq_defaults": (SlqParams, []),
    "hesse_slq_density": (c_int, [P(Op), P(SlqParams), P(Density)]),
    "hesse_slq_resume": (c_int, [P(Op), P(SlqParams), c_void_p, c_size_t, P(Density)]),
    "hesse_kpm_defaults": (KpmParams, []),
    "hesse_kpm_density": (c_int, [P(Op), P(KpmParams), P(Density)]),
    "hesse_trace_defaults": (TraceParams, []),
    "hesse_trace_exact": (c_int, [P(Op), P(TraceParams), P(TraceResult)]),
    "hesse_trace_hutchinson": (c_int, [P(Op), P(TraceParams), P(TraceResult)]),
    "hesse_trace_hutchpp": (c_int, [P(Op), P(TraceParams), P(TraceResult)]),
    # analysis.h
    "hesse_powerlaw_fit": (c_int, [P(c_double), c_int, P(Powerlaw)]),
    "hesse_powerlaw_eigs": (c_int, [powerlaw_solve_fn, c_void_p, c_double, P(Eigs),
                                    P(PowerlawGuard)]),
    "hesse_powerlaw_sensitivity": (c_int, [P(c_double), P(c_double), c_int, c_double,
                                           P(Powerlaw), P(c_double)]),
    "hesse_class_means_compute": (c_int, [c_void_p, P(Samples), P(ClassMeans)]),
    "hesse_class_means_free": (None, [P(ClassMeans)]),
    "hesse_class_spectrum": (c_int, [P(ClassMeans), c_int, P(P(c_double)), P(c_int), c_int,
                                     P(c_double)]),
    "hesse_class_means_twoway": (c_int, [P(ClassMeans), P(MeansTwoway)]),
    "hesse_op_class_means": (c_int, [P(ClassMeans), c_int, P(Op)]),
    "hesse_op_combine": (c_int, [P(Op), c_double, P(Op), c_double, P(Op)]),
    "hesse_layer_factors_compute": (c_int, [c_void_p, P(Samples), c_int, P(P(LayerFactors)),
                                            P(c_int)]),
    "hesse_layer_factors_free": (None, [P(LayerFactors), c_int]),
    "hesse_kron_layer_from_factors": (c_int, [P(LayerFactors), P(KronLayer)]),
    "hesse_kron_layer_free": (None, [P(KronLayer)]),
    "hesse_kron_top": (c_int, [P(KronLayer), c_int, P(c_double), P(c_double)]),
    "hesse_subspace_overlap": (c_double, [c_int64, c_int, P(c_double), c_int, P(c_double)]),
    "hesse_rank_one_ratio": (c_double, [P(c_double), c_int64, c_int64]),
    "hesse_outlier_count": (c_int, [P(c_double), c_int, P(c_double)]),
    "hesse_factor_m_parse": (c_int, [c_char_p, P(c_int)]),
    "hesse_factor_m_name": (c_char_p, [c_int]),
    "hesse_model_layer": (P(Layer), [c_void_p, c_int]),
    "hesse_layer_kind_name": (c_char_p, [c_int]),
    "hesse_op_restrict": (c_int, [P(Op), c_int, P(c_int64), P(c_int64), P(Op)]),
    # data.h
    "hesse_dataset_open": (c_int, [c_char_p, c_int, P(c_void_p)]),
    "hesse_dataset_from_arrays": (c_int, [c_char_p, c_int64, c_int, c_int, c_int, c_int,
                                          c_void_p, c_void_p, c_void_p, P(c_void_p)]),
    "hesse_dataset_free": (None, [c_void_p]),
    "hesse_dataset_size": (c_int64, [c_void_p]),
    "hesse_dataset_shape": (None, [c_void_p, P(c_int), P(c_int), P(c_int)]),
    "hesse_dataset_num_classes": (c_int, [c_void_p]),
    "hesse_dataset_name": (c_char_p, [c_void_p]),
    "hesse_selection_defaults": (Selection, []),
    "hesse_preprocess_defaults": (Preprocess, []),
    "hesse_dataset_select": (c_int, [c_void_p, P(Selection), P(Preprocess), P(Samples)]),
    "hesse_samples_free": (None, [P(Samples)]),
    # io.h
    "hesse_load_defaults": (LoadOptions, []),
    "hesse_model_load": (c_int, [c_char_p, P(LoadOptions), P(c_void_p), P(c_void_p)]),
    "hesse_preprocess_from_json": (c_int, [c_char_p, P(Preprocess)]),
    # nn.h
    "hesse_model_free": (None, [c_void_p]),
    "hesse_model_create": (c_int, [c_char_p, c_int, c_int, c_int, c_int, P(c_void_p)]),
    "hesse_model_num_buffers": (c_int, [c_void_p]),
    "hesse_model_buffer": (P(TensorInfo), [c_void_p, c_int]),
    "hesse_model_buffers": (P(c_double), [c_void_p]),
    "hesse_model_num_params": (c_int64, [c_void_p]),
    "hesse_model_params": (P(c_double), [c_void_p]),
    "hesse_model_num_tensors": (c_int, [c_void_p]),
    "hesse_model_tensor": (P(TensorInfo), [c_void_p, c_int]),
    "hesse_model_arch": (c_char_p, [c_void_p]),
    "hesse_model_num_outputs": (c_int, [c_void_p]),
    "hesse_model_loss": (c_int, [c_void_p]),
    "hesse_model_input_shape": (None, [c_void_p, P(c_int), P(c_int), P(c_int)]),
    "hesse_loss_name": (c_char_p, [c_int]),
    "hesse_loss_parse": (c_int, [c_char_p, P(c_int)]),
    "hesse_engine_defaults": (EngineParams, []),
    "hesse_engine_create": (c_int, [c_void_p, P(EngineParams), P(c_void_p)]),
    "hesse_engine_free": (None, [c_void_p]),
    "hesse_engine_threads": (c_int, [c_void_p]),
    "hesse_engine_chunk": (c_int, [c_void_p]),
    "hesse_loss_grad": (c_int, [c_void_p, P(Samples), P(c_double), P(c_double), P(c_int64)]),
    "hesse_curv_parse": (c_int, [c_char_p, P(c_int)]),
    "hesse_curv_name": (c_char_p, [c_int]),
    # curv.h
    "hesse_op_curvature": (c_int, [c_void_p, P(Samples), c_int, P(Op)]),
    "hesse_op_layer_block": (c_int, [c_void_p, P(Op), c_char_p, P(c_int), P(c_int), P(Op)]),
}

for _name, (_res, _args) in _protos.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args

# hesse_error is variadic: called with "%s" and one string only.
lib.hesse_error.restype = c_int

OK, EINVAL, EINPUT, ENUMERIC, ENOMEM, EIO, EINTR = 0, -1, -2, -3, -4, -5, -6


def set_error(status, message):
    """Records `message` as the calling thread's last error (hesse_error)."""
    return lib.hesse_error(c_int(status), b"%s", message.encode("utf-8", "replace"))


def dptr(a):
    """A double * to the data of a float64 NumPy array."""
    return a.ctypes.data_as(POINTER(c_double))


class BlasInfo(Structure):
    _fields_ = [("library", c_char * 160), ("core", c_char * 32), ("core_env", c_char * 32),
                ("core_source", c_char * 16), ("threads", c_int), ("cpu_model", c_char * 96),
                ("cpu_features", c_char * 96), ("cpus", c_int)]


lib.hesse_blas_get_info.restype = None
lib.hesse_blas_get_info.argtypes = [POINTER(BlasInfo)]
lib.hesse_cpu_recommended_core.restype = c_char_p
lib.hesse_cpu_recommended_core.argtypes = []


def blas_info():
    """hesse_blas_get_info as a dict (the CLI's JSON "blas" object)."""
    b = BlasInfo()
    lib.hesse_blas_get_info(ctypes.byref(b))
    return {k: (getattr(b, k).decode() if isinstance(getattr(b, k), bytes) else getattr(b, k))
            for k, _ in BlasInfo._fields_}


def _check_blas():
    """Warns when OpenBLAS was loaded (by NumPy, imported first) before the core could be
    chosen: products then differ from the CLI's in the last bits, or run slower."""
    want = lib.hesse_cpu_recommended_core()
    info = blas_info()
    if want and info["core"] != want.decode() and os.environ.get("OPENBLAS_CORETYPE") == \
            want.decode():
        import warnings
        warnings.warn("hesse: OpenBLAS was loaded before hesse (import hesse before numpy, or "
                      "export OPENBLAS_CORETYPE=%s): it runs core %s, so results may differ "
                      "from the hesse CLI's in the last bits" % (want.decode(), info["core"]),
                      RuntimeWarning, stacklevel=3)


_check_blas()
