/* Parity with PyTorch for transformer models (issue 18's acceptance): a 1-block causal
 * transformer language model (token embedding, learned positions, causal multi-head attention,
 * next-token cross-entropy over every position, and the MSE against one-hot targets), a 1-block
 * ViT-style classifier (conv patches, tokens, positions, block, layer norm, mean-pool, linear)
 * and nn.TransformerEncoderLayer in both norm orders (pre-LN with GELU and a flatten head,
 * post-LN with ReLU and a mean-pool head). hesse's logits, loss, gradient, Hessian-vector
 * products, full Hessian and GGN spectra (dense path) and the extreme Hessian eigenvalues
 * (Lanczos) against values PyTorch computed (autograd, double backward,
 * autograd.functional.hessian / jacobian, linalg.eigvalsh). The fixtures
 * tests/data/fixture_tf_* are made by tests/make_transformer_fixtures.py; the model files are
 * PyTorch state_dicts loaded with the architecture string the script wrote (its module names
 * give PyTorch's tensor names), the data files hold x [N, c, h, w] (token ids as numbers for the
 * LM, sequences as (1, T, D)) and y ([N], or [N, T] next tokens for the LM: y[i*T + t]).
 * Expected vectors are stored per tensor name, so no parameter order is assumed.
 *
 * Tolerance: 1e-9 relative, as tests/test_torch_fixtures.c argues: both sides are correct
 * double-precision implementations that sum in different orders, so they differ by rounding
 * (~1e-15 per operation, a few hundred operations deep; attention's softmax and layer norm are
 * well conditioned at these sizes); a wrong term (a missing softmax second-order term, a
 * mask off by one, a transposed head split) is 1e-3 or larger. Vectors are compared norm-wise,
 * ||a - b|| / ||b||; eigenvalues as |a_i - b_i| <= 1e-9 max |b| (GGN eigenvalues include
 * zeros). Lanczos runs to a residual tolerance of 1e-11 ||H||, which bounds each Ritz value's
 * error by the residual.
 *
 * The single-precision engine is checked against the same references with 1e-4: float's unit
 * roundoff is 6e-8, grown by a dozen layers with two normalisations and a softmax to ~1e-6 of
 * the vectors' scale; a wrong term would be ~1e-2. */
#include <hesse/curv.h>
#include <hesse/data.h>
#include <hesse/io.h>
#include <hesse/nn.h>
#include <hesse/spectral.h>

#include <string.h>

#include "check.h"
#include "fixture_spectra.h"
#include "fixture_util.h"

static const double TOL = 1e-9;
static const double TOL32 = 1e-4;

/* name, and 1 when the fixture also holds the MSE loss, gradient and HVPs */
static const struct {
    const char *name;
    int mse;
} cases[] = {{"lm", 1}, {"vit", 0}, {"enc_pre", 0}, {"enc_post", 0}};

enum { Q_LOGITS, Q_LOSS, Q_GRAD, Q_HVP, Q_HESS_EIG, Q_GGN_EIG, Q_LANCZOS, Q_MSE, Q_F32, Q_COUNT };
static const char *const quantity_names[Q_COUNT] = {"logits",
                                                    "loss",
                                                    "gradient",
                                                    "HVP",
                                                    "Hessian eigenvalues (dense)",
                                                    "GGN eigenvalues",
                                                    "Hessian extremes (Lanczos)",
                                                    "MSE loss/grad/HVP",
                                                    "f32 loss/grad/HVP"};
static double worst[Q_COUNT];

static void record(int q, double err) {
    if (err > worst[q] || isnan(err)) worst[q] = err;
}

static void data_path(const char *name, const char *what, char *buf, size_t cap) {
    const char *dir = getenv("HESSE_TEST_DATA");
    snprintf(buf, cap, "%s/fixture_tf_%s_%s.safetensors", dir && *dir ? dir : "tests/data", name,
             what);
}

/* Every parameter of the loaded model holds exactly the file's values (no buffers here). */
static void check_loaded(const char *name, const hesse_st_file *f, hesse_model *m) {
    CHECK_MSG(hesse_st_count(f) == hesse_model_num_tensors(m) && hesse_model_num_buffers(m) == 0,
              "%s: the file has %d tensors, the model %d parameters and %d buffers", name,
              hesse_st_count(f), hesse_model_num_tensors(m), hesse_model_num_buffers(m));
    const double *theta = hesse_model_params(m);
    for (int i = 0; i < hesse_model_num_tensors(m); i++) {
        const hesse_tensor_info *ti = hesse_model_tensor(m, i);
        double *v = fixture_read(f, ti->name, ti->count);
        int64_t differ = 0;
        for (int64_t j = 0; j < ti->count; j++) differ += v[j] != theta[ti->offset + j];
        CHECK_MSG(differ == 0, "%s: %s: %lld values differ from the file", name, ti->name,
                  (long long)differ);
        free(v);
    }
}

static hesse_engine *make_engine(const hesse_model *m, hesse_precision prec) {
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 3; /* several chunks (N = 4, 5, 6), some partial */
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

/* Loss, gradient and the two HVPs of `e` against the expected "<pre>loss", "<pre>grad/..." and
 * "<pre>hvp/..." (pre "" or "mse_"); the largest relative error. */
static double check_first_second(const char *name, const char *pre, hesse_engine *e,
                                 const hesse_samples *s, const hesse_model *m,
                                 const hesse_st_file *ex, const double *V, double tol) {
    const int64_t n = hesse_model_num_params(m);
    char key[32];
    snprintf(key, sizeof key, "%sloss", pre);
    double *loss_ref = fixture_read(ex, key, 1);
    double *grad_ref = malloc((size_t)n * sizeof *grad_ref);
    double *hvp_ref = malloc((size_t)(2 * n) * sizeof *hvp_ref);
    double *g = malloc((size_t)n * sizeof *g), *HV = malloc((size_t)(2 * n) * sizeof *HV);
    snprintf(key, sizeof key, "%sgrad", pre);
    fixture_gather(ex, m, key, 1, grad_ref);
    snprintf(key, sizeof key, "%shvp", pre);
    fixture_gather(ex, m, key, 2, hvp_ref);
    double loss = 0;
    REQUIRE(hesse_loss_grad(e, s, &loss, g, NULL) == HESSE_OK);
    double err = fabs(loss - loss_ref[0]) / fabs(loss_ref[0]);
    CHECK_MSG(err <= tol, "%s: %sloss %.17g vs %.17g", name, pre, loss, loss_ref[0]);
    double e_grad = fixture_rel_err(g, grad_ref, n), e_hvp = 0;
    CHECK_MSG(e_grad <= tol, "%s: %sgradient: relative error %.3g", name, pre, e_grad);
    REQUIRE(hesse_curv_product(e, s, HESSE_CURV_HESSIAN, 2, V, HV) == HESSE_OK);
    for (int j = 0; j < 2; j++) {
        double ej = fixture_rel_err(HV + j * n, hvp_ref + j * n, n);
        CHECK_MSG(ej <= tol, "%s: %sHVP %d: relative error %.3g", name, pre, j, ej);
        e_hvp = fmax(e_hvp, ej);
    }
    if (!*pre && tol == TOL) {
        record(Q_LOSS, err);
        record(Q_GRAD, e_grad);
        record(Q_HVP, e_hvp);
    }
    free(loss_ref);
    free(grad_ref);
    free(hvp_ref);
    free(g);
    free(HV);
    return fmax(err, fmax(e_grad, e_hvp));
}

/* The model as the script wrote it: its arch and input shape from the file's metadata. */
static hesse_model *load_model(const char *name, const char *path, hesse_loss_kind loss,
                               hesse_st_file **f) {
    REQUIRE(hesse_st_open(path, f) == HESSE_OK);
    const char *arch = hesse_st_meta(*f, "arch"), *shape = hesse_st_meta(*f, "input_shape");
    REQUIRE(arch && shape);
    hesse_load_options opt = hesse_load_defaults();
    opt.arch = arch;
    opt.loss = loss;
    REQUIRE(sscanf(shape, "%d,%d,%d", &opt.c, &opt.h, &opt.w) == 3);
    hesse_model *m = NULL;
    int rc = hesse_model_load(path, &opt, &m, NULL);
    CHECK_MSG(rc == HESSE_OK, "%s: %s", name, hesse_last_error());
    REQUIRE(rc == HESSE_OK);
    return m;
}

static void check_case(const char *name, int mse) {
    char model_path[1024], data_file[1024], expected_path[1024];
    data_path(name, "model", model_path, sizeof model_path);
    data_path(name, "data", data_file, sizeof data_file);
    data_path(name, "expected", expected_path, sizeof expected_path);

    hesse_st_file *f = NULL;
    hesse_model *m = load_model(name, model_path, HESSE_LOSS_CROSS_ENTROPY, &f);
    check_loaded(name, f, m);
    const int64_t n = hesse_model_num_params(m);

    /* the LM's labels are y [N, T]: T targets per sample (y[i*T + t]) */
    hesse_dataset *ds = NULL;
    int rc = hesse_dataset_read_safetensors(data_file, &ds);
    CHECK_MSG(rc == HESSE_OK, "%s: %s", name, hesse_last_error());
    REQUIRE(rc == HESSE_OK);
    hesse_samples s;
    REQUIRE(hesse_dataset_select(ds, NULL, NULL, &s) == HESSE_OK);
    int c, h, w;
    hesse_model_input_shape(m, &c, &h, &w);
    REQUIRE(s.c == c && s.h == h && s.w == w);
    const hesse_layer *last = hesse_model_layer(m, hesse_model_num_layers(m) - 1);
    const int64_t out = (int64_t)last->out_c * last->out_h * last->out_w; /* per sample */

    hesse_st_file *ex = NULL;
    REQUIRE(hesse_st_open(expected_path, &ex) == HESSE_OK);
    double *logits_ref = fixture_read(ex, "logits", s.n * out);
    double *heig = fixture_read(ex, "hessian_eigenvalues", n),
           *geig = fixture_read(ex, "ggn_eigenvalues", n);
    double *V = malloc((size_t)(2 * n) * sizeof *V), *z = malloc((size_t)(s.n * out) * sizeof *z);
    fixture_gather(ex, m, "v", 2, V);

    hesse_engine *e = make_engine(m, HESSE_PRECISION_F64);
    REQUIRE(hesse_forward(e, &s, z) == HESSE_OK);
    double err = fixture_rel_err(z, logits_ref, s.n * out);
    record(Q_LOGITS, err);
    CHECK_MSG(err <= TOL, "%s: logits: relative error %.3g", name, err);
    check_first_second(name, "", e, &s, m, ex, V, TOL);
    check_dense(name, e, &s, HESSE_CURV_HESSIAN, heig, Q_HESS_EIG);
    check_dense(name, e, &s, HESSE_CURV_GGN, geig, Q_GGN_EIG);
    check_lanczos(name, e, &s, heig, n);

    /* single precision: loss, gradient and HVPs against the same references */
    hesse_engine *e32 = make_engine(m, HESSE_PRECISION_F32);
    record(Q_F32, check_first_second(name, "", e32, &s, m, ex, V, TOL32));

    if (mse) { /* the MSE over all N*T*V outputs against one-hot targets */
        hesse_st_file *f2 = NULL;
        hesse_model *m2 = load_model(name, model_path, HESSE_LOSS_MSE, &f2);
        hesse_engine *e2 = make_engine(m2, HESSE_PRECISION_F64);
        record(Q_MSE, check_first_second(name, "mse_", e2, &s, m2, ex, V, TOL));
        hesse_engine_free(e2);
        hesse_model_free(m2);
        hesse_st_close(f2);
    }

    free(logits_ref);
    free(heig);
    free(geig);
    free(V);
    free(z);
    hesse_engine_free(e);
    hesse_engine_free(e32);
    hesse_st_close(ex);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    hesse_model_free(m);
    hesse_st_close(f);
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(cases[i].name, cases[i].mse);
    for (int q = 0; q < Q_COUNT; q++)
        fprintf(stderr, "  max relative error, %-28s %.3g\n", quantity_names[q], worst[q]);
    return test_summary("test_transformer_fixtures");
}
