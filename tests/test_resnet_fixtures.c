/* Parity with PyTorch for residual networks with batch norm (evaluation mode), layer norm,
 * adaptive pooling and dropout: hesse's logits, loss, gradient, Hessian-vector products, full
 * Hessian and GGN spectra (hesse's dense path) and the extreme Hessian eigenvalues (Lanczos),
 * against values PyTorch computed (autograd, double backward, autograd.functional.hessian /
 * jacobian, linalg.eigvalsh). The fixtures tests/data/fixture_res_* are made by
 * tests/make_resnet_fixtures.py; the model files are PyTorch state_dicts with their buffers
 * (no hesse.* metadata), loaded with the architecture string the script wrote, whose module
 * names must give PyTorch's tensor names. Expected vectors are stored per tensor name, so the
 * comparison does not rely on a parameter order.
 *
 * Tolerance: 1e-9 relative, as tests/test_torch_fixtures.c argues: both sides are correct
 * double-precision implementations that sum in different orders, so they differ by rounding
 * (~1e-15 per operation, a few hundred operations deep); a wrong term is 1e-3 or larger.
 * Vectors are compared norm-wise, ||a - b|| / ||b||; eigenvalues as |a_i - b_i| <= 1e-9 max |b|.
 * Lanczos runs to a residual tolerance of 1e-11 ||H||, which bounds each Ritz value's error by
 * the residual (1e-11 ||H||, far inside 1e-9).
 *
 * The single-precision engine is checked against the same references with 1e-4: float's unit
 * roundoff is 6e-8 and these nets are ~30 layers deep with normalisations, which grows errors to
 * ~1e-6 of the vectors' scale; a wrong term would be ~1e-2 (see test_arch_graph.c). */
#include <hesse/curv.h>
#include <hesse/io.h>
#include <hesse/nn.h>
#include <hesse/spectral.h>

#include <string.h>

#include "check.h"
#include "fixture_spectra.h"
#include "fixture_util.h"

static const double TOL = 1e-9;
static const double TOL32 = 1e-4;

static const char *const cases[] = {"res", "res2"};

enum { Q_LOGITS, Q_LOSS, Q_GRAD, Q_HVP, Q_HESS_EIG, Q_GGN_EIG, Q_LANCZOS, Q_F32, Q_COUNT };
static const char *const quantity_names[Q_COUNT] = {"logits",
                                                    "loss",
                                                    "gradient",
                                                    "HVP",
                                                    "Hessian eigenvalues (dense)",
                                                    "GGN eigenvalues",
                                                    "Hessian extremes (Lanczos)",
                                                    "f32 loss/grad/HVP"};
static double worst[Q_COUNT];

static void record(int q, double err) {
    if (err > worst[q] || isnan(err)) worst[q] = err;
}

static void data_path(const char *name, const char *what, char *buf, size_t cap) {
    const char *dir = getenv("HESSE_TEST_DATA");
    snprintf(buf, cap, "%s/fixture_res_%s_%s.safetensors", dir && *dir ? dir : "tests/data", name,
             what);
}

/* Parameters and buffers of the loaded model hold exactly the file's values. */
static void check_loaded(const char *name, const hesse_st_file *f, hesse_model *m) {
    CHECK_MSG(hesse_st_count(f) == hesse_model_num_tensors(m) + hesse_model_num_buffers(m),
              "%s: the file has %d tensors, the model %d parameters and %d buffers", name,
              hesse_st_count(f), hesse_model_num_tensors(m), hesse_model_num_buffers(m));
    for (int pass = 0; pass < 2; pass++) {
        int count = pass ? hesse_model_num_buffers(m) : hesse_model_num_tensors(m);
        const double *base = pass ? hesse_model_buffers(m) : hesse_model_params(m);
        for (int i = 0; i < count; i++) {
            const hesse_tensor_info *ti =
                pass ? hesse_model_buffer(m, i) : hesse_model_tensor(m, i);
            double *v = fixture_read(f, ti->name, ti->count);
            int64_t differ = 0;
            for (int64_t j = 0; j < ti->count; j++) differ += v[j] != base[ti->offset + j];
            CHECK_MSG(differ == 0, "%s: %s: %lld values differ from the file", name, ti->name,
                      (long long)differ);
            free(v);
        }
    }
}

static hesse_engine *make_engine(const hesse_model *m, hesse_precision prec) {
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 7; /* several chunks (N = 24, 20), the last one partial */
    ep.max_block = 3;
    ep.precision = prec;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    return e;
}

/* The dense spectrum of `kind` against PyTorch's (fixture_spectra.h). */
static void check_dense(const char *name, hesse_engine *e, const hesse_samples *s,
                        hesse_curv_kind kind, const double *ref, int q) {
    double err = fixture_dense_eig_err(name, e, s, kind, ref);
    record(q, err);
    CHECK_MSG(err <= TOL, "%s: %s eigenvalues: max |dlambda| / max |lambda| = %.3g", name,
              hesse_curv_name(kind), err);
}

/* The Lanczos extremes against PyTorch's dense eigenvalues (fixture_spectra.h). */
static void check_lanczos(const char *name, hesse_engine *e, const hesse_samples *s,
                          const double *ref, int64_t n) {
    double err = fixture_lanczos_err(e, s, ref, n);
    record(Q_LANCZOS, err);
    CHECK_MSG(err <= TOL, "%s: Lanczos extremes: max |dlambda| / max |lambda| = %.3g", name, err);
}

static void check_case(const char *name) {
    char model_path[1024], data_file[1024], expected_path[1024];
    data_path(name, "model", model_path, sizeof model_path);
    data_path(name, "data", data_file, sizeof data_file);
    data_path(name, "expected", expected_path, sizeof expected_path);

    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open(model_path, &f) == HESSE_OK);
    const char *arch = hesse_st_meta(f, "arch"), *shape = hesse_st_meta(f, "input_shape");
    REQUIRE(arch && shape);
    hesse_load_options opt = hesse_load_defaults();
    opt.arch = arch;
    REQUIRE(sscanf(shape, "%d,%d,%d", &opt.c, &opt.h, &opt.w) == 3);
    hesse_model *m = NULL;
    REQUIRE(hesse_model_load(model_path, &opt, &m, NULL) == HESSE_OK);
    check_loaded(name, f, m);
    const int64_t n = hesse_model_num_params(m);

    hesse_dataset *ds = NULL;
    REQUIRE(hesse_dataset_read_safetensors(data_file, &ds) == HESSE_OK);
    hesse_samples s;
    REQUIRE(hesse_dataset_select(ds, NULL, NULL, &s) == HESSE_OK);
    REQUIRE(s.c == opt.c && s.h == opt.h && s.w == opt.w);
    const int C = hesse_model_num_outputs(m);

    hesse_st_file *ex = NULL;
    REQUIRE(hesse_st_open(expected_path, &ex) == HESSE_OK);
    double *loss_ref = fixture_read(ex, "loss", 1),
           *logits_ref = fixture_read(ex, "logits", s.n * C);
    double *heig = fixture_read(ex, "hessian_eigenvalues", n),
           *geig = fixture_read(ex, "ggn_eigenvalues", n);
    double *grad_ref = malloc((size_t)n * sizeof *grad_ref);
    double *V = malloc((size_t)(2 * n) * sizeof *V), *hvp_ref = malloc((size_t)(2 * n) * sizeof *V);
    fixture_gather(ex, m, "grad", 1, grad_ref);
    fixture_gather(ex, m, "v", 2, V);
    fixture_gather(ex, m, "hvp", 2, hvp_ref);

    hesse_engine *e = make_engine(m, HESSE_PRECISION_F64);
    double *z = malloc((size_t)(s.n * C) * sizeof *z), *g = malloc((size_t)n * sizeof *g);
    double *HV = malloc((size_t)(2 * n) * sizeof *HV);
    REQUIRE(hesse_forward(e, &s, z) == HESSE_OK);
    double err = fixture_rel_err(z, logits_ref, s.n * C);
    record(Q_LOGITS, err);
    CHECK_MSG(err <= TOL, "%s: logits: relative error %.3g", name, err);
    double loss = 0;
    REQUIRE(hesse_loss_grad(e, &s, &loss, g, NULL) == HESSE_OK);
    err = fabs(loss - loss_ref[0]) / fabs(loss_ref[0]);
    record(Q_LOSS, err);
    CHECK_MSG(err <= TOL, "%s: loss %.17g vs %.17g", name, loss, loss_ref[0]);
    err = fixture_rel_err(g, grad_ref, n);
    record(Q_GRAD, err);
    CHECK_MSG(err <= TOL, "%s: gradient: relative error %.3g", name, err);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 2, V, HV) == HESSE_OK);
    for (int j = 0; j < 2; j++) {
        err = fixture_rel_err(HV + j * n, hvp_ref + j * n, n);
        record(Q_HVP, err);
        CHECK_MSG(err <= TOL, "%s: HVP %d: relative error %.3g", name, j, err);
    }
    check_dense(name, e, &s, HESSE_CURV_HESSIAN, heig, Q_HESS_EIG);
    check_dense(name, e, &s, HESSE_CURV_GGN, geig, Q_GGN_EIG);
    check_lanczos(name, e, &s, heig, n);

    /* single precision */
    hesse_engine *e32 = make_engine(m, HESSE_PRECISION_F32);
    REQUIRE(hesse_loss_grad(e32, &s, &loss, g, NULL) == HESSE_OK);
    double err32 = fabs(loss - loss_ref[0]) / fabs(loss_ref[0]);
    err32 = fmax(err32, fixture_rel_err(g, grad_ref, n));
    REQUIRE(hesse_curv_product(e32, &s, HESSE_CURV_HESSIAN, 2, V, HV) == HESSE_OK);
    for (int j = 0; j < 2; j++)
        err32 = fmax(err32, fixture_rel_err(HV + j * n, hvp_ref + j * n, n));
    record(Q_F32, err32);
    CHECK_MSG(err32 <= TOL32, "%s: single precision: relative error %.3g", name, err32);

    free(loss_ref);
    free(logits_ref);
    free(heig);
    free(geig);
    free(grad_ref);
    free(V);
    free(hvp_ref);
    free(z);
    free(g);
    free(HV);
    hesse_engine_free(e);
    hesse_engine_free(e32);
    hesse_st_close(ex);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    hesse_model_free(m);
    hesse_st_close(f);
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(cases[i]);
    for (int q = 0; q < Q_COUNT; q++)
        fprintf(stderr, "  max relative error, %-28s %.3g\n", quantity_names[q], worst[q]);
    return test_summary("test_resnet_fixtures");
}
