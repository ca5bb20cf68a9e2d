"""hesse from Python: exact Hessians of deep-network losses and hesse's solvers over any
symmetric operator, on libhesse.so through ctypes, NumPy in and out (docs/python.md).

    import hesse
    m = hesse.Model.load("lenet5.safetensors")
    d = hesse.Data.fashion_mnist(samples=1000)
    H = hesse.Hessian(m, d)                      # H @ v, H.matmat(V), H.shape
    r = hesse.eigs(H, top=20)                    # r.values, r.vectors, r.residuals
    r = hesse.eigs(lambda X: A @ X, n=A.shape[0], top=5, bottom=5)   # any operator
"""

from ._lib import path as library_path
from ._errors import (BadInput, HesseError, Interrupted, InvalidArgument, NumericalError,
                      ResourceError)
from ._core import Data, Hessian, LinearOperator, Model, Operator, get_threads, set_threads
from ._solvers import (ClassesResult, DensityResult, EigsResult, KroneckerResult, PowerlawResult,
                       SamplesResult, TraceResult, classes, density, eigs, kronecker, powerlaw,
                       samples, trace)
from ._progress import Bar
from . import _lib

__version__ = _lib.lib.hesse_version().decode()

__all__ = ["BadInput", "ClassesResult", "classes", "Bar", "Data", "DensityResult", "EigsResult", "Hessian", "HesseError",
           "Interrupted", "InvalidArgument", "KroneckerResult", "kronecker", "LinearOperator", "Model", "NumericalError",
           "Operator", "PowerlawResult", "ResourceError", "TraceResult", "density", "eigs",
           "get_threads", "library_path", "powerlaw", "samples", "SamplesResult", "set_threads",
           "trace"]
