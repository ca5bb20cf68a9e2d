"""Models, data and operators: handles on the library's objects, owned by Python objects."""

import ctypes
from ctypes import byref, c_double, c_int, c_int64, c_void_p

import numpy as np

from . import _lib
from ._errors import BadInput, InvalidArgument, check, error

L = _lib.lib

_SPLITS = {"train": 0, "test": 1}
_SELECT = {"first": 0, "balanced": 1, "random": 2}
_PRECISION = {"f64": 0, "f32": 1}


def _exporter():
    """tools/hesse_export.py: from the source tree, $HESSE_TOOLS, or the copy `make
    install-python` puts beside the package (hesse/_tools)."""
    import importlib
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.environ.get("HESSE_TOOLS"), os.path.join(here, "_tools"),
              os.path.join(os.path.dirname(os.path.dirname(here)), "tools")):
        if d and os.path.exists(os.path.join(d, "hesse_export.py")):
            if d not in sys.path:
                sys.path.insert(0, d)
            return importlib.import_module("hesse_export")
    raise ImportError("Model.from_torch needs tools/hesse_export.py (and hesse_arch.py, models.py, "
                      "hesse_st.py): set HESSE_TOOLS to hesse's tools folder, or install with "
                      "make install-python")


def set_threads(threads):
    """OpenBLAS's thread count, process-wide (the CLI's --threads). Engines made afterwards use
    it; the same count gives the same bits."""
    L.hesse_blas_set_threads(int(threads))


def get_threads():
    return L.hesse_blas_get_threads()


class Model:
    """A network and its parameters (hesse_model). `Model.load(path)` reads a model file;
    the parameters are `params` (a writable NumPy view of the one contiguous buffer)."""

    def __init__(self, handle, preprocess_json=None, path=None):
        self._h = handle
        self.preprocess_json = preprocess_json
        self.path = path

    @classmethod
    def load(cls, path, arch=None, input_shape=None, loss=None):
        """hesse_model_load: a model file written by hesse train or tools/hesse_export.py, or a
        PyTorch state_dict saved with safetensors (then arch and input_shape are needed).
        loss: "cross_entropy" or "mse" to override the file's."""
        opt = L.hesse_load_defaults()
        if arch is not None:
            opt.arch = arch.encode()
        if input_shape is not None:
            c, h, w = (tuple(input_shape) + (1, 1))[:3]
            opt.c, opt.h, opt.w = c, h, w
        if loss is not None:
            k = c_int()
            if L.hesse_loss_parse(loss.encode(), byref(k)) != _lib.OK:
                raise InvalidArgument("loss: expected cross_entropy or mse, got %r" % (loss,))
            opt.loss = k.value
        h = c_void_p()
        pre = c_void_p()
        check(L.hesse_model_load(str(path).encode(), byref(opt), byref(h), byref(pre)))
        text = None
        if pre.value:
            text = ctypes.string_at(pre.value).decode()
            L.hesse_free(pre)
        return cls(h, text, str(path))

    @classmethod
    def from_torch(cls, module, input_shape, loss="cross_entropy", preprocess=None,
                   allow_unused=False):
        """A PyTorch nn.Module (evaluation mode: batch norm's running statistics, no dropout)
        converted in memory by tools/hesse_export.py's logic, with its refusals (a layer hesse
        lacks, shared modules, data-dependent control flow: hesse.BadInput with the exporter's
        message). input_shape: one sample's (C, H, W) or (features,). The parameters and
        buffers are copied in double precision. preprocess: {"mean": [...], "std": [...]}
        recorded as a model file's (used by Data's preprocess="model")."""
        export = _exporter()
        try:
            arch, tensors = export.to_hesse(module, input_shape, allow_unused=allow_unused,
                                            dtype="f64")
        except export.ExportError as e:
            raise BadInput(str(e)) from None
        c, h, w = export.hesse_input_shape(input_shape)
        k = c_int()
        if L.hesse_loss_parse(str(loss).encode(), byref(k)) != _lib.OK:
            raise InvalidArgument("loss: expected cross_entropy or mse, got %r" % (loss,))
        handle = c_void_p()
        check(L.hesse_model_create(arch.encode(), c, h, w, k.value, byref(handle)))
        import json
        m = cls(handle, json.dumps(preprocess) if preprocess else None, None)
        for infos, count, base in (
                ((L.hesse_model_tensor(handle, i).contents
                  for i in range(L.hesse_model_num_tensors(handle))), m.num_params,
                 L.hesse_model_params(handle)),
                ((L.hesse_model_buffer(handle, i).contents
                  for i in range(L.hesse_model_num_buffers(handle))), None,
                 L.hesse_model_buffers(handle))):
            for t in infos:
                name = t.name.decode()
                if name not in tensors:
                    if name.endswith("num_batches_tracked"):
                        continue
                    raise BadInput("from_torch: tensor '%s' is missing; the exporter gave %s"
                                   % (name, export.hesse_st.names_text(tensors)))
                v = tensors[name].detach().double().reshape(-1).numpy()
                if v.size != t.count:
                    raise BadInput("from_torch: tensor %s has %d values, hesse expects %d"
                                   % (name, v.size, t.count))
                np.ctypeslib.as_array(base, shape=(t.offset + t.count,))[t.offset:] = v
        return m

    def __del__(self):
        if getattr(self, "_h", None):
            L.hesse_model_free(self._h)
            self._h = None

    @property
    def num_params(self):
        return L.hesse_model_num_params(self._h)

    @property
    def arch(self):
        return L.hesse_model_arch(self._h).decode()

    @property
    def loss(self):
        return L.hesse_loss_name(L.hesse_model_loss(self._h)).decode()

    @property
    def input_shape(self):
        c, h, w = c_int(), c_int(), c_int()
        L.hesse_model_input_shape(self._h, byref(c), byref(h), byref(w))
        return (c.value, h.value, w.value)

    @property
    def params(self):
        """The parameter vector (a copy); `m.params = v` writes new values into the model."""
        return self._params_view().copy()

    @params.setter
    def params(self, v):
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.shape != (self.num_params,):
            raise InvalidArgument("params: expected %d values, got %d"
                                  % (self.num_params, v.size))
        self._params_view()[:] = v

    def _params_view(self):
        p = L.hesse_model_params(self._h)
        return np.ctypeslib.as_array(p, shape=(self.num_params,))

    def tensors(self):
        """[(name, shape, offset, count)] of the parameter tensors, in parameter order."""
        out = []
        for i in range(L.hesse_model_num_tensors(self._h)):
            t = L.hesse_model_tensor(self._h, i).contents
            out.append((t.name.decode(), tuple(t.shape[:t.ndim]), t.offset, t.count))
        return out

    def state_dict(self, vector=None):
        """{name: array of the tensor's shape}: the parameters, or `vector` cut the same way."""
        v = self.params if vector is None else np.asarray(vector, dtype=np.float64)
        return {name: v[off:off + cnt].reshape(shape)
                for name, shape, off, cnt in self.tensors()}

    def __repr__(self):
        return "hesse.Model(%r, %d parameters)" % (self.arch, self.num_params)


class Data:
    """A dataset split and which samples to take from it. The samples are materialised (with a
    model's preprocessing, as the CLI does) when an operator is made."""

    def __init__(self, handle, select="first", samples=1000, seed=0, preprocess="model"):
        if select not in _SELECT:
            raise InvalidArgument("select: expected first, balanced or random, got %r" % (select,))
        self._h = handle
        self.select = select
        self.samples = samples
        self.seed = seed
        self.preprocess = preprocess
        self._cache = {}

    @classmethod
    def open(cls, spec, split="train", samples=1000, select="first", seed=0, preprocess="model"):
        """hesse_dataset_open: "fashion-mnist", an IDX or CIFAR directory, "gaussmix:...", or a
        .safetensors file (the CLI's --data). samples <= 0 or None takes the whole split.
        preprocess: "model" (the model file's, as the CLI), None (bytes / 255, values as they
        are), or {"mean": [...], "std": [...]} (the CLI's --mean/--std)."""
        if split not in _SPLITS:
            raise InvalidArgument("split: expected train or test, got %r" % (split,))
        h = c_void_p()
        check(L.hesse_dataset_open(str(spec).encode(), _SPLITS[split], byref(h)))
        return cls(h, select, samples, seed, preprocess)

    @classmethod
    def fashion_mnist(cls, split="train", samples=1000, select="first", seed=0,
                      preprocess="model"):
        """Fashion-MNIST (Debian's dataset-fashion-mnist, or $HESSE_FASHION_MNIST_DIR)."""
        return cls.open("fashion-mnist", split, samples, select, seed, preprocess)

    @classmethod
    def from_numpy(cls, x, y, num_classes=None, name="numpy", preprocess=None):
        """Arrays in memory (copied): x of shape [N, C, H, W], [N, H, W] or [N, D], uint8
        (scaled by 1/255) or floating (used as given); y integer labels [N]. Every sample is
        used; preprocess None by default (the values are taken as they are)."""
        x = np.asarray(x)
        y = np.ascontiguousarray(np.asarray(y), dtype=np.int32)
        if x.ndim == 2:
            shape = (x.shape[1], 1, 1)
        elif x.ndim == 3:
            shape = (1, x.shape[1], x.shape[2])
        elif x.ndim == 4:
            shape = x.shape[1:]
        else:
            raise InvalidArgument("from_numpy: x must have shape [N, C, H, W], [N, H, W] or "
                                  "[N, D], got %s" % (x.shape,))
        if y.shape != (x.shape[0],):
            raise InvalidArgument("from_numpy: y must have shape [%d] (one label per sample), "
                                  "got %s" % (x.shape[0], y.shape))
        if num_classes is None:
            num_classes = int(y.max()) + 1 if y.size else 1
        pixels = values = None
        if x.dtype == np.uint8:
            pixels = np.ascontiguousarray(x)
        else:
            values = np.ascontiguousarray(x, dtype=np.float64)
        h = c_void_p()
        check(L.hesse_dataset_from_arrays(
            name.encode(), x.shape[0], int(shape[0]), int(shape[1]), int(shape[2]),
            int(num_classes), None if pixels is None else pixels.ctypes.data_as(c_void_p),
            None if values is None else values.ctypes.data_as(c_void_p),
            y.ctypes.data_as(c_void_p), byref(h)))
        return cls(h, "first", 0, 0, preprocess)

    def __del__(self):
        for s in getattr(self, "_cache", {}).values():
            L.hesse_samples_free(byref(s))
        if getattr(self, "_h", None):
            L.hesse_dataset_free(self._h)
            self._h = None

    @property
    def name(self):
        return L.hesse_dataset_name(self._h).decode()

    @property
    def size(self):
        return L.hesse_dataset_size(self._h)

    @property
    def shape(self):
        c, h, w = c_int(), c_int(), c_int()
        L.hesse_dataset_shape(self._h, byref(c), byref(h), byref(w))
        return (c.value, h.value, w.value)

    def _preprocess(self, model):
        pp = L.hesse_preprocess_defaults()
        p = self.preprocess
        if p == "model":
            if model is not None and model.preprocess_json:
                check(L.hesse_preprocess_from_json(model.preprocess_json.encode(), byref(pp)))
        elif isinstance(p, dict):
            mean, std = list(p["mean"]), list(p["std"])
            if len(mean) != len(std) or not 0 < len(mean) <= _lib.MAX_CHANNELS:
                raise InvalidArgument("preprocess: mean and std need the same length, 1 to %d"
                                      % _lib.MAX_CHANNELS)
            if min(std) <= 0:
                raise InvalidArgument("preprocess: every std must be positive")
            pp.channels = len(mean)
            for i in range(len(mean)):
                pp.mean[i], pp.std[i] = mean[i], std[i]
            if "scale" in p:
                pp.scale = p["scale"]
        elif p is not None:
            raise InvalidArgument("preprocess: expected 'model', None or a dict with mean and "
                                  "std, got %r" % (p,))
        return pp

    def _samples(self, model=None):
        """The selected samples (hesse_samples) with the model's preprocessing; cached."""
        pp = self._preprocess(model)
        key = bytes(pp)
        if key not in self._cache:
            sel = L.hesse_selection_defaults()
            sel.mode = _SELECT[self.select]
            sel.n = int(self.samples or 0)
            sel.seed = int(self.seed)
            s = _lib.Samples()
            check(L.hesse_dataset_select(self._h, byref(sel), byref(pp), byref(s)))
            self._cache[key] = s
        return self._cache[key]

    def arrays(self, model=None):
        """(x, y) of the selected samples as NumPy copies, x [N, C, H, W] after preprocessing."""
        s = self._samples(model)
        x = np.ctypeslib.as_array(s.x, shape=(s.n, s.c, s.h, s.w)).copy()
        y = np.ctypeslib.as_array(s.y, shape=(s.n,)).copy()
        return x, y

    def __repr__(self):
        return "hesse.Data(%r, select=%r, samples=%r)" % (self.name, self.select, self.samples)


class _Engine:
    """One engine with its curvature operator (and layer block) for one max_block."""

    def __init__(self, hess, max_block):
        ep = L.hesse_engine_defaults()
        n = hess.model.num_params
        ep.max_block = min(max(int(max_block), 1), n)
        ep.chunk = int(hess.chunk)
        ep.precision = _PRECISION[hess.precision]
        if hess.threads:
            ep.threads = int(hess.threads)
        self.e = c_void_p()
        self.full = _lib.Op()
        self.block = _lib.Op()
        check(L.hesse_engine_create(hess.model._h, byref(ep), byref(self.e)))
        try:
            check(L.hesse_op_curvature(self.e, byref(hess._s), hess._kind, byref(self.full)))
            self.op = self.full
            if hess.layer is not None:
                nt = L.hesse_model_num_tensors(hess.model._h)
                sel = (c_int * nt)()
                cnt = c_int()
                check(L.hesse_op_layer_block(hess.model._h, byref(self.full),
                                             str(hess.layer).encode(), sel, byref(cnt),
                                             byref(self.block)))
                self.op = self.block
                self.tensors = list(sel[:cnt.value])
            else:
                self.tensors = list(range(L.hesse_model_num_tensors(hess.model._h)))
        except BaseException:
            self.close()
            raise

    def close(self):
        L.hesse_op_free(byref(self.block))
        L.hesse_op_free(byref(self.full))
        if self.e:
            L.hesse_engine_free(self.e)
            self.e = None

    def __del__(self):
        self.close()


class LinearOperator:
    """What every operator here offers: `A @ v`, `A.matmat(V)`, `A.shape`, and
    `A.as_linear_operator()` for SciPy."""

    n = 0
    dtype = np.dtype(np.float64)

    @property
    def shape(self):
        return (self.n, self.n)

    def __matmul__(self, v):
        v = np.asarray(v, dtype=np.float64)
        if v.ndim == 1:
            return self.matmat(v.reshape(-1, 1))[:, 0]
        return self.matmat(v)

    def matvec(self, v):
        return self @ np.asarray(v, dtype=np.float64).reshape(-1)

    def _blocks(self, V):
        """V as a column-major n x k block, and an output block of the same shape."""
        V = np.asarray(V, dtype=np.float64)
        if V.ndim != 2 or V.shape[0] != self.n:
            raise InvalidArgument("matmat: expected an array of %d rows, got shape %s"
                                  % (self.n, V.shape))
        X = np.asfortranarray(V)
        return X, np.empty_like(X, order="F")

    def as_linear_operator(self):
        """A scipy.sparse.linalg.LinearOperator (SciPy needed) on the same products."""
        from scipy.sparse.linalg import LinearOperator as SciPyOperator
        return SciPyOperator(self.shape, matvec=self.matvec, matmat=self.matmat,
                             rmatvec=self.matvec, rmatmat=self.matmat, dtype=np.float64)


class Hessian(LinearOperator):
    """A curvature operator of `model`'s mean loss over `data`'s samples: operator "hessian"
    (exact), "ggn", "residual" (H - G) or "efisher"; `layer` restricts it to a block ("3",
    "3.weight", "1,3"), as the CLI's --operator and --layer. precision "f64" (default) or
    "f32" (labelled single-precision passes). `block` is the engine's vectors per pass; None
    follows each command's default (H @ v and eigs: 8, density: min(probes, 10), trace: 16),
    so that results equal the CLI's bit for bit."""

    def __init__(self, model, data, operator="hessian", layer=None, precision="f64",
                 block=None, chunk=0, threads=0):
        if precision not in _PRECISION:
            raise InvalidArgument("precision: expected f64 or f32, got %r" % (precision,))
        k = c_int()
        if L.hesse_curv_parse(str(operator).encode(), byref(k)) != _lib.OK:
            raise InvalidArgument("operator: expected hessian, ggn, residual or efisher, got %r"
                                  % (operator,))
        self.model, self.data = model, data
        self.operator, self.layer, self.precision = operator, layer, precision
        self.block, self.chunk, self.threads = block, chunk, threads
        self._kind = k.value
        self._s = data._samples(model)
        self._engines = {}
        self.stats = _lib.OpStats()
        self.n = self._engine(8).op.n

    def _engine(self, default_block):
        b = self.block or default_block
        if b not in self._engines:
            self._engines[b] = _Engine(self, b)
        return self._engines[b]

    def _op(self, default_block):
        return self._engine(default_block).op

    @property
    def tensors(self):
        """[(name, shape)] of the tensors the operator spans, in order."""
        t = self.model.tensors()
        return [t[i][:2] for i in self._engine(8).tensors]

    def matmat(self, V):
        X, Y = self._blocks(V)
        op = self._op(8)
        check(L.hesse_op_apply(byref(op), X.shape[1], _lib.dptr(X), _lib.dptr(Y),
                               byref(self.stats)))
        return Y

    def loss(self):
        """(mean loss, accuracy) over the samples, as the CLI's "loss" and "accuracy"."""
        e = self._engine(8)
        loss, correct = c_double(), c_int64()
        check(L.hesse_loss_grad(e.e, byref(self._s), byref(loss), None, byref(correct)))
        return loss.value, correct.value / self._s.n

    def gradient(self):
        e = self._engine(8)
        g = np.empty(self.model.num_params)
        loss = c_double()
        check(L.hesse_loss_grad(e.e, byref(self._s), byref(loss), _lib.dptr(g), None))
        return g

    def state_dict(self, vectors):
        """{name: array [k, *shape]} of k vectors (columns of an n x k array, or one vector):
        the layout of the CLI's --vectors file."""
        V = np.asarray(vectors, dtype=np.float64)
        if V.ndim == 1:
            V = V[:, None]
        out, at = {}, 0
        for name, shape in self.tensors:
            cnt = int(np.prod(shape)) if shape else 1
            out[name] = np.ascontiguousarray(V[at:at + cnt].T).reshape((V.shape[1],) + shape)
            at += cnt
        return out

    def close(self):
        for e in self._engines.values():
            e.close()
        self._engines = {}

    def __repr__(self):
        return "hesse.Hessian(%s, n=%d%s)" % (self.operator, self.n,
                                              ", layer=%r" % self.layer if self.layer else "")


class Operator(LinearOperator):
    """Any symmetric operator given as a Python callable f(X) -> A X, X an n x k block
    (float64, read-only, valid during the call only). hesse's solvers call it through the
    library's user-operator interface (hesse_op). An exception raised in f stops the solver,
    which unwinds and frees, and is raised again from the solver call with its traceback.

    inplace=True calls f(X, Y) instead, Y the library's n x k output block (writable, valid
    during the call only) for f to fill: no copy of the result, for large n. max_block: the
    largest k one call takes (0: any)."""

    def __init__(self, f, n, max_block=0, inplace=False):
        self.f, self.n, self.max_block = f, int(n), int(max_block)
        self.inplace = bool(inplace)
        if self.n <= 0:
            raise InvalidArgument("n: expected the operator's dimension (> 0), got %r" % (n,))
        self.exception = None
        self.on_product = None  # called with k after each block product (progress)
        self.stats = _lib.OpStats()
        self._types = {}
        self._cfunc = _lib.matvec_fn(self._apply)  # kept alive as long as the operator
        self.op = _lib.Op(self.n, self._cfunc, None, self.max_block, _lib.free_ctx_fn(), 0)

    def _block(self, ptr, k):
        """The n x k column-major block at ptr as a NumPy view (no copy). A ctypes array type
        per k, over the address: np.ctypeslib.as_array costs tens of microseconds at n = 10^6."""
        t = self._types.get(k)
        if t is None:
            t = self._types[k] = ctypes.c_double * (self.n * k)
        addr = ctypes.cast(ptr, c_void_p).value
        return np.frombuffer(t.from_address(addr), dtype=np.float64).reshape(k, self.n).T

    def _apply(self, ctx, k, X, Y):
        try:
            n = self.n
            xs = self._block(X, k)
            xs.flags.writeable = False
            if self.inplace:
                self.f(xs, self._block(Y, k))
            else:
                r = np.asarray(self.f(xs), dtype=np.float64)
                if r.shape != (n, k) and not (k == 1 and r.shape == (n,)):
                    raise ValueError("operator callable returned shape %s for an input of "
                                     "shape (%d, %d)" % (r.shape, n, k))
                self._block(Y, k)[...] = r.reshape(n, k)
            if self.on_product is not None:
                self.on_product(k)
            return _lib.OK
        except BaseException as e:  # noqa: B902 (every exception crosses back to Python)
            if self.exception is None:
                self.exception = e
            _lib.set_error(_lib.EINVAL, "the Python operator raised %s: %s"
                           % (type(e).__name__, e))
            return _lib.EINVAL

    def matmat(self, V):
        X, Y = self._blocks(V)
        self.run(L.hesse_op_apply, byref(self.op), X.shape[1], _lib.dptr(X), _lib.dptr(Y),
                 byref(self.stats))
        return Y

    def run(self, fn, *args):
        """Calls a library function that applies the operator; re-raises the callable's
        exception when one stopped it."""
        self.exception = None
        rc = fn(*args)
        if self.exception is not None:
            e, self.exception = self.exception, None
            raise e
        if rc != _lib.OK:
            raise error(rc)

    def __repr__(self):
        return "hesse.Operator(%r, n=%d)" % (self.f, self.n)


def as_operator(A, n=None):
    """An Operator for a callable f (n needed), a NumPy matrix or anything with matmat."""
    if isinstance(A, (Hessian, Operator)):
        if n is not None and n != A.n:
            raise InvalidArgument("n=%d given for an operator of dimension %d" % (n, A.n))
        return A
    if isinstance(A, np.ndarray):
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise InvalidArgument("expected a square matrix, got shape %s" % (A.shape,))
        M = np.ascontiguousarray(A, dtype=np.float64)
        return Operator(lambda X: M @ X, M.shape[0])
    if callable(A) or hasattr(A, "matmat"):
        if n is None:
            n = getattr(A, "shape", (None,))[0]
        if n is None:
            raise InvalidArgument("a callable operator needs its dimension: n=...")
        return Operator(A.matmat if hasattr(A, "matmat") and not callable(A) else A, n)
    raise InvalidArgument("expected a hesse.Hessian, a callable f(X) with n=..., or a matrix")
