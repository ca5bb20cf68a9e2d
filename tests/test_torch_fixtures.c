/* Parity with PyTorch: hesse's loss, gradient, Hessian-vector products, full Hessian and GGN
 * spectra, and the MSE loss, against values PyTorch computed (autograd, double backward,
 * autograd.functional.hessian / jacobian, linalg.eigvalsh) for a small MLP and a small CNN.
 * The fixtures in tests/data/fixture_* are made by tests/make_fixtures.py; the model files are
 * plain PyTorch state_dicts (no hesse.* metadata), loaded with the architecture given, and one
 * copy of the MLP is stored in F32 to check the conversion on load.
 *
 * Tolerance: 1e-9 relative throughout. Both sides are correct double-precision
 * implementations that sum in different orders (GEMM blocking, chunking, autograd's graph), so
 * they differ by rounding only: ~1e-15 per operation, grown by at most a few hundred
 * operations along each path and by the conditioning of small eigenvalues, which is far below
 * 1e-9; a wrong term (a sign, a missing second-derivative contribution, a misplaced index) is
 * O(1e-3) or larger. Vectors are compared norm-wise, ||a - b|| / ||b||; eigenvalues as
 * |a_i - b_i| <= 1e-9 * max |b|, since many GGN eigenvalues are zero. */
#include <hesse/curv.h>
#include <hesse/io.h>
#include <hesse/nn.h>

#include <lapacke.h>
#include <string.h>

#include "check.h"
#include "fixture_util.h"

static const double TOL = 1e-9;

typedef struct {
    const char *name;
    const char *model;    /* a PyTorch state_dict with metadata "arch" and "input_shape" */
    const char *data;     /* x [N, C, H, W] F64, y [N] I64 */
    const char *expected; /* loss, grad, v, hvp, hessian_eigenvalues, ggn_eigenvalues */
    int mse;              /* 1: also mse_loss, mse_grad, mse_hvp */
} fixture_case;

static const fixture_case cases[] = {
    {"mlp", "fixture_mlp_model.safetensors", "fixture_mlp_data.safetensors",
     "fixture_mlp_expected.safetensors", 1},
    {"mlp_f32", "fixture_mlp_model_f32.safetensors", "fixture_mlp_data.safetensors",
     "fixture_mlp_f32_expected.safetensors", 0},
    {"cnn", "fixture_cnn_model.safetensors", "fixture_cnn_data.safetensors",
     "fixture_cnn_expected.safetensors", 0},
};

/* The largest error seen per quantity, printed at the end. */
enum {
    Q_LOSS,
    Q_GRAD,
    Q_HVP,
    Q_HESS_EIG,
    Q_GGN_EIG,
    Q_MSE_LOSS,
    Q_MSE_GRAD,
    Q_MSE_HVP,
    Q_COLUMN,
    Q_COUNT
};
static const char *const quantity_names[Q_COUNT] = {
    "loss",     "gradient", "HVP",     "Hessian eigenvalues", "GGN eigenvalues",
    "MSE loss", "MSE grad", "MSE HVP", "dense column vs HVP"};
static double worst[Q_COUNT];

static void record(int q, double err) {
    if (err > worst[q] || isnan(err)) worst[q] = err;
}

static void data_path(const char *file, char *buf, size_t cap) {
    const char *dir = getenv("HESSE_TEST_DATA");
    snprintf(buf, cap, "%s/%s", dir && *dir ? dir : "tests/data", file);
}

/* max |a_i - b_i| / max |b_i|. */
static double eig_err(const double *a, const double *b, int64_t n) {
    double d = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    return d / scale;
}

/* An expected tensor of `count` values as doubles (malloc'd). */
static hesse_engine *make_engine(const hesse_model *m) {
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 16; /* several chunks (N = 40, 24), the last one partial */
    ep.max_block = 8;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    return e;
}

/* Every parameter tensor of the loaded model holds exactly the file's values (converted to
 * double, which is exact from F32). */
static void check_tensors(const fixture_case *fc, const hesse_st_file *f, const hesse_model *m) {
    CHECK(hesse_st_count(f) == hesse_model_num_tensors(m));
    const double *theta = hesse_model_params_const(m);
    for (int i = 0; i < hesse_model_num_tensors(m); i++) {
        const hesse_tensor_info *ti = hesse_model_tensor(m, i);
        const hesse_st_tensor *t = hesse_st_find(f, ti->name);
        REQUIRE(t != NULL);
        REQUIRE(t->numel == ti->count && t->ndim == ti->ndim);
        for (int d = 0; d < t->ndim; d++) CHECK(t->shape[d] == ti->shape[d]);
        double *v = malloc((size_t)t->numel * sizeof *v);
        REQUIRE(hesse_st_read_f64(f, t, v) == HESSE_OK);
        int64_t differ = 0;
        for (int64_t j = 0; j < t->numel; j++) differ += v[j] != theta[ti->offset + j];
        CHECK_MSG(differ == 0, "%s: tensor %s: %lld values differ from the file", fc->name,
                  ti->name, (long long)differ);
        free(v);
    }
}

/* The dense matrix of `kind` (from blocks of 8 unit vectors) and its ascending eigenvalues.
 * Each column must also equal a single product with that unit vector: the two differ only in
 * the GEMM shapes (k = 8 vs k = 1) and the symmetrisation, so by rounding, 1e-13 relative. */
static void check_spectrum(const fixture_case *fc, hesse_engine *e, const hesse_samples *s,
                           hesse_curv_kind kind, const double *ref, int q) {
    const char *what = kind == HESSE_CURV_HESSIAN ? "Hessian" : "GGN";
    const int64_t n = hesse_engine_num_params(e);
    hesse_op op;
    REQUIRE(hesse_op_curvature(e, s, kind, &op) == HESSE_OK);
    REQUIRE(op.n == n);
    double *A = malloc((size_t)(n * n) * sizeof *A);
    double *u = calloc((size_t)n, sizeof *u), *col = malloc((size_t)n * sizeof *col);
    double *ev = malloc((size_t)n * sizeof *ev);
    REQUIRE(A && u && col && ev);
    double asym = -1;
    hesse_op_stats st = {0};
    REQUIRE(hesse_op_to_dense(&op, 8, A, &asym, &st) == HESSE_OK);
    CHECK(st.products == n);
    /* Exact curvature matrices are symmetric; the products' rounding leaves ~1e-15. */
    CHECK_MSG(asym >= 0 && asym <= 1e-12, "%s: %s asymmetry %.3g", fc->name, what, asym);

    double col_worst = 0;
    for (int64_t j = 0; j < n; j++) {
        u[j] = 1.0;
        REQUIRE(hesse_curv_product(e, s, kind, 1, u, col) == HESSE_OK);
        u[j] = 0.0;
        col_worst = fmax(col_worst, fixture_rel_err(A + j * n, col, n));
    }
    record(Q_COLUMN, col_worst);
    CHECK_MSG(col_worst <= 1e-13, "%s: %s dense column vs single product: %.3g", fc->name, what,
              col_worst);

    REQUIRE(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)n, A, (lapack_int)n, ev) == 0);
    double err = eig_err(ev, ref, n);
    record(q, err);
    CHECK_MSG(err <= TOL, "%s: %s eigenvalues: max |dlambda| / max |lambda| = %.3g", fc->name, what,
              err);

    hesse_op_free(&op);
    free(A);
    free(u);
    free(col);
    free(ev);
}

static void check_mse(const fixture_case *fc, const char *path, const hesse_load_options *opt,
                      const hesse_samples *s, const hesse_st_file *ex) {
    hesse_load_options o = *opt;
    o.loss = HESSE_LOSS_MSE;
    hesse_model *m = NULL;
    REQUIRE(hesse_model_load(path, &o, &m, NULL) == HESSE_OK);
    REQUIRE(hesse_model_loss(m) == HESSE_LOSS_MSE);
    const int64_t n = hesse_model_num_params(m);
    hesse_engine *e = make_engine(m);
    double *loss_ref = fixture_read(ex, "mse_loss", 1), *grad_ref = fixture_read(ex, "mse_grad", n);
    double *hvp_ref = fixture_read(ex, "mse_hvp", n), *V = fixture_read(ex, "v", 2 * n);
    double *g = malloc((size_t)n * sizeof *g), *hv = malloc((size_t)n * sizeof *hv);
    double loss = 0;
    REQUIRE(hesse_loss_grad(e, s, &loss, g, NULL) == HESSE_OK);
    double err = fabs(loss - loss_ref[0]) / fabs(loss_ref[0]);
    record(Q_MSE_LOSS, err);
    CHECK_MSG(err <= TOL, "%s: MSE loss %.17g vs %.17g", fc->name, loss, loss_ref[0]);
    err = fixture_rel_err(g, grad_ref, n);
    record(Q_MSE_GRAD, err);
    CHECK_MSG(err <= TOL, "%s: MSE gradient: relative error %.3g", fc->name, err);
    REQUIRE(hesse_curv_product(e, s, HESSE_CURV_HESSIAN, 1, V, hv) == HESSE_OK);
    err = fixture_rel_err(hv, hvp_ref, n);
    record(Q_MSE_HVP, err);
    CHECK_MSG(err <= TOL, "%s: MSE HVP: relative error %.3g", fc->name, err);
    free(loss_ref);
    free(grad_ref);
    free(hvp_ref);
    free(V);
    free(g);
    free(hv);
    hesse_engine_free(e);
    hesse_model_free(m);
}

static void check_case(const fixture_case *fc) {
    char model_path[1024], data_path_[1024], expected_path[1024];
    data_path(fc->model, model_path, sizeof model_path);
    data_path(fc->data, data_path_, sizeof data_path_);
    data_path(fc->expected, expected_path, sizeof expected_path);

    /* The architecture and input shape come from the file's own metadata, as the script wrote
     * them; the file has no hesse.arch, so loading without opt.arch must fail. */
    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open(model_path, &f) == HESSE_OK);
    const char *arch = hesse_st_meta(f, "arch");
    const char *shape = hesse_st_meta(f, "input_shape");
    REQUIRE(arch && shape);
    CHECK(hesse_st_meta(f, "hesse.arch") == NULL);
    hesse_load_options opt = hesse_load_defaults();
    opt.arch = arch;
    REQUIRE(sscanf(shape, "%d,%d,%d", &opt.c, &opt.h, &opt.w) == 3);
    hesse_model *m = NULL;
    CHECK(hesse_model_load(model_path, NULL, &m, NULL) == HESSE_EINPUT && m == NULL);
    REQUIRE(hesse_model_load(model_path, &opt, &m, NULL) == HESSE_OK);
    REQUIRE(hesse_model_loss(m) == HESSE_LOSS_CROSS_ENTROPY);
    check_tensors(fc, f, m);
    const int64_t n = hesse_model_num_params(m);

    hesse_dataset *ds = NULL;
    REQUIRE(hesse_dataset_read_safetensors(data_path_, &ds) == HESSE_OK);
    hesse_samples s;
    REQUIRE(hesse_dataset_select(ds, NULL, NULL, &s) == HESSE_OK);
    REQUIRE(s.c == opt.c && s.h == opt.h && s.w == opt.w);
    REQUIRE(s.num_classes == hesse_model_num_outputs(m));

    hesse_st_file *ex = NULL;
    REQUIRE(hesse_st_open(expected_path, &ex) == HESSE_OK);
    double *loss_ref = fixture_read(ex, "loss", 1), *grad_ref = fixture_read(ex, "grad", n);
    double *V = fixture_read(ex, "v", 2 * n), *hvp_ref = fixture_read(ex, "hvp", 2 * n);
    double *heig_ref = fixture_read(ex, "hessian_eigenvalues", n);
    double *geig_ref = fixture_read(ex, "ggn_eigenvalues", n);

    hesse_engine *e = make_engine(m);
    double *g = malloc((size_t)n * sizeof *g), *HV = malloc((size_t)(2 * n) * sizeof *HV);
    REQUIRE(g && HV);
    double loss = 0;
    REQUIRE(hesse_loss_grad(e, &s, &loss, g, NULL) == HESSE_OK);
    double err = fabs(loss - loss_ref[0]) / fabs(loss_ref[0]);
    record(Q_LOSS, err);
    CHECK_MSG(err <= TOL, "%s: loss %.17g vs %.17g", fc->name, loss, loss_ref[0]);
    err = fixture_rel_err(g, grad_ref, n);
    record(Q_GRAD, err);
    CHECK_MSG(err <= TOL, "%s: gradient: relative error %.3g", fc->name, err);

    /* v is [2, n] row-major: the same bytes as two column-major columns of length n. */
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 2, V, HV) == HESSE_OK);
    for (int j = 0; j < 2; j++) {
        err = fixture_rel_err(HV + j * n, hvp_ref + j * n, n);
        record(Q_HVP, err);
        CHECK_MSG(err <= TOL, "%s: HVP %d: relative error %.3g", fc->name, j, err);
    }

    check_spectrum(fc, e, &s, HESSE_CURV_HESSIAN, heig_ref, Q_HESS_EIG);
    check_spectrum(fc, e, &s, HESSE_CURV_GGN, geig_ref, Q_GGN_EIG);
    if (fc->mse) check_mse(fc, model_path, &opt, &s, ex);

    free(loss_ref);
    free(grad_ref);
    free(V);
    free(hvp_ref);
    free(heig_ref);
    free(geig_ref);
    free(g);
    free(HV);
    hesse_engine_free(e);
    hesse_st_close(ex);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    hesse_model_free(m);
    hesse_st_close(f);
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
    for (int q = 0; q < Q_COUNT; q++)
        fprintf(stderr, "  max relative error, %-20s %.3g\n", quantity_names[q], worst[q]);
    return test_summary("test_torch_fixtures");
}
