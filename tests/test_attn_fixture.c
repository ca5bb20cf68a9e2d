/* Parity of multiheadattention with PyTorch's nn.MultiheadAttention (batch_first=True, called
 * as self-attention, causal or not) inside small float64 nets: logits, loss, gradient,
 * Hessian-vector products and the whole Hessian and GGN spectra against what PyTorch computed
 * (autograd, double backward, autograd.functional.hessian / jacobian, eigvalsh). The fixtures
 * tests/data/fixture_attn*_ are made by tests/make_attn_fixture.py; the model files are plain
 * state_dicts with PyTorch's tensor names, loaded with the architecture in their metadata.
 *
 * Tolerances: double precision 1e-9 relative (both sides are correct double-precision
 * implementations summing in different orders: ~1e-15 per operation through a few hundred,
 * while a wrong term is 1e-3 or more). Single precision 1e-4 (float's 6e-8 roundoff through a
 * few layers of short sums and a softmax is ~1e-6). Vectors compare norm-wise, eigenvalues as
 * max |a_i - b_i| / max |b|. */
#include <hesse/io.h>
#include <hesse/nn.h>

#include <lapacke.h>
#include <string.h>

#include "check.h"
#include "fixture_util.h"

static const char *const cases[] = {"attn", "attn_causal"};

static void path_of(const char *name, const char *what, char *buf, size_t cap) {
    const char *dir = getenv("HESSE_TEST_DATA");
    snprintf(buf, cap, "%s/fixture_%s_%s.safetensors", dir && *dir ? dir : "tests/data", name,
             what);
}

/* Ascending eigenvalues of the dense matrix of `kind`, from products of the identity. */
static double *spectrum(hesse_engine *e, const hesse_samples *s, hesse_curv_kind kind) {
    const int64_t n = hesse_engine_num_params(e);
    double *eye = calloc((size_t)(n * n), sizeof *eye), *A = malloc((size_t)(n * n) * sizeof *A);
    double *ev = malloc((size_t)n * sizeof *ev);
    REQUIRE(eye && A && ev);
    for (int64_t i = 0; i < n; i++) eye[i * n + i] = 1.0;
    REQUIRE(hesse_curv_product(e, s, kind, (int)n, eye, A) == HESSE_OK);
    REQUIRE(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)n, A, (lapack_int)n, ev) == 0);
    free(eye);
    free(A);
    return ev;
}

/* Logits, loss, gradient and the two HVPs of the engine against the fixture, within tol. */
static void check_passes(const char *name, hesse_engine *e, const hesse_samples *s,
                         const hesse_st_file *ex, double tol, const char *prec) {
    const int64_t n = hesse_engine_num_params(e), C = 3;
    double *z_ref = fixture_read(ex, "logits", s->n * C), *loss_ref = fixture_read(ex, "loss", 1);
    double *grad_ref = fixture_read(ex, "grad", n), *V = fixture_read(ex, "v", 2 * n);
    double *hvp_ref = fixture_read(ex, "hvp", 2 * n);
    double *z = malloc((size_t)(s->n * C) * sizeof *z), *g = malloc((size_t)n * sizeof *g);
    double *HV = malloc((size_t)(2 * n) * sizeof *HV), loss = 0;
    REQUIRE(hesse_forward(e, s, z) == HESSE_OK);
    double err = fixture_rel_err(z, z_ref, s->n * C);
    CHECK_MSG(err <= tol, "%s %s: logits: relative error %.3g", name, prec, err);
    REQUIRE(hesse_loss_grad(e, s, &loss, g, NULL) == HESSE_OK);
    CHECK_MSG(fabs(loss - loss_ref[0]) <= tol * fabs(loss_ref[0]), "%s %s: loss %.17g vs %.17g",
              name, prec, loss, loss_ref[0]);
    err = fixture_rel_err(g, grad_ref, n);
    CHECK_MSG(err <= tol, "%s %s: gradient: relative error %.3g", name, prec, err);
    REQUIRE(hesse_curv_product(e, s, HESSE_CURV_HESSIAN, 2, V, HV) == HESSE_OK);
    for (int j = 0; j < 2; j++) {
        err = fixture_rel_err(HV + j * n, hvp_ref + j * n, n);
        CHECK_MSG(err <= tol, "%s %s: HVP %d: relative error %.3g", name, prec, j, err);
        printf("%s %s: HVP %d relative error %.3g\n", name, prec, j, err);
    }
    free(z_ref);
    free(loss_ref);
    free(grad_ref);
    free(V);
    free(hvp_ref);
    free(z);
    free(g);
    free(HV);
}

static void check_case(const char *name) {
    char model_path[1024], data_file[1024], expected_path[1024];
    path_of(name, "model", model_path, sizeof model_path);
    path_of(name, "data", data_file, sizeof data_file);
    path_of(name, "expected", expected_path, sizeof expected_path);
    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open(model_path, &f) == HESSE_OK);
    hesse_load_options opt = hesse_load_defaults();
    opt.arch = hesse_st_meta(f, "arch");
    REQUIRE(opt.arch &&
            sscanf(hesse_st_meta(f, "input_shape"), "%d,%d,%d", &opt.c, &opt.h, &opt.w) == 3);
    hesse_model *m = NULL;
    REQUIRE(hesse_model_load(model_path, &opt, &m, NULL) == HESSE_OK);
    CHECK(hesse_st_count(f) == hesse_model_num_tensors(m));
    hesse_dataset *ds = NULL;
    REQUIRE(hesse_dataset_read_safetensors(data_file, &ds) == HESSE_OK);
    hesse_samples s;
    REQUIRE(hesse_dataset_select(ds, NULL, NULL, &s) == HESSE_OK);
    hesse_st_file *ex = NULL;
    REQUIRE(hesse_st_open(expected_path, &ex) == HESSE_OK);
    const int64_t n = hesse_model_num_params(m);

    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 5; /* chunks of 5, 5, 2 */
    ep.max_block = 4;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    check_passes(name, e, &s, ex, 1e-9, "f64");
    static const char *const spectra[] = {"hessian_eigenvalues", "ggn_eigenvalues"};
    for (int q = 0; q < 2; q++) {
        double *ref = fixture_read(ex, spectra[q], n);
        double *ev = spectrum(e, &s, q ? HESSE_CURV_GGN : HESSE_CURV_HESSIAN);
        const double err = fixture_max_rel(ev, ref, n);
        CHECK_MSG(err <= 1e-9, "%s: %s: max |dlambda| / max |lambda| = %.3g", name, spectra[q],
                  err);
        printf("%s: %s %.3g .. %.3g, error %.3g\n", name, spectra[q], ref[0], ref[n - 1], err);
        free(ref);
        free(ev);
    }
    hesse_engine_free(e);
    ep.precision = HESSE_PRECISION_F32;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    check_passes(name, e, &s, ex, 1e-4, "f32");
    hesse_engine_free(e);
    hesse_st_close(ex);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    hesse_model_free(m);
    hesse_st_close(f);
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(cases[i]);
    return test_summary("test_attn_fixture");
}
