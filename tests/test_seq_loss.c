/* The loss over positions (a model whose output is a sequence, issue 18): against PyTorch
 * float64 fixtures (tests/make_seqloss_fixture.py) and finite differences.
 *
 *  - cross-entropy as F.cross_entropy(z.view(-1, V), y.view(-1)) and MSE as F.mse_loss against
 *    one-hot targets: loss, gradient, Hessian-, GGN- and empirical-Fisher-vector products, the
 *    dense Hessian's eigenvalues, to 1e-9 relative (the fixtures' own rounding is ~1e-15); in
 *    single precision loss, gradient and HVPs to 1e-4;
 *  - the per-position accuracy from PyTorch's logits;
 *  - the Kronecker factor M of the last layer (its output is the logits, so M is the loss
 *    Hessian's diagonal over positions, a closed form in the softmax);
 *  - gradient and Hessian-vector products by central differences of the loss and gradient;
 *  - samples whose label count does not match the model's positions, and a label out of range
 *    at a position, are refused. */
#include <hesse/curv.h>
#include <hesse/io.h>
#include <hesse/nn.h>

#include <lapacke.h>
#include <string.h>

#include "check.h"
#include "fd_ref.h"
#include "fixture_util.h"

static const double TOL = 1e-9;

static void data_path(const char *file, char *buf, size_t cap) {
    const char *dir = getenv("HESSE_TEST_DATA");
    snprintf(buf, cap, "%s/%s", dir && *dir ? dir : "tests/data", file);
}

typedef struct {
    const char *name;
    int P, V;      /* positions and classes the model's output has */
    int conv_last; /* the last layer is a convolution (a Kronecker factor layer) */
} seq_case;

static const seq_case cases[] = {{"tokens", 5, 4, 0}, {"channels", 6, 5, 1}};

/* The model of a case with the given loss. */
static hesse_model *load_model(const seq_case *sc, hesse_loss_kind loss) {
    char path[1024], file[128];
    snprintf(file, sizeof file, "fixture_seq_%s_model.safetensors", sc->name);
    data_path(file, path, sizeof path);
    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open(path, &f) == HESSE_OK);
    hesse_load_options opt = hesse_load_defaults();
    opt.arch = hesse_st_meta(f, "arch");
    REQUIRE(opt.arch &&
            sscanf(hesse_st_meta(f, "input_shape"), "%d,%d,%d", &opt.c, &opt.h, &opt.w) == 3);
    opt.loss = (int)loss;
    hesse_model *m = NULL;
    REQUIRE(hesse_model_load(path, &opt, &m, NULL) == HESSE_OK);
    hesse_st_close(f);
    return m;
}

/* The samples of a case (x, y of its expected file), P labels each. */
static void load_samples(const hesse_st_file *ex, const hesse_model *m, int P, hesse_samples *s) {
    const hesse_st_tensor *x = hesse_st_find(ex, "x"), *y = hesse_st_find(ex, "y");
    REQUIRE(x && y && x->ndim == 4 && y->ndim == 2 && y->shape[1] == P);
    int c, h, w;
    hesse_model_input_shape(m, &c, &h, &w);
    REQUIRE(x->shape[1] == c && x->shape[2] == h && x->shape[3] == w);
    const int64_t N = x->shape[0];
    REQUIRE(hesse_samples_alloc_targets(N, c, h, w, hesse_model_classes(m), P, s) == HESSE_OK);
    REQUIRE(hesse_st_read_f64(ex, x, s->x) == HESSE_OK);
    double *yd = fixture_read(ex, "y", N * P);
    for (int64_t i = 0; i < N * P; i++) s->y[i] = (int32_t)yd[i];
    free(yd);
}

/* A case's model (with the given loss), its samples and an engine in chunks of 4 (N = 6: a
 * full chunk and a partial one); threads 0: the default; cache 0: none (the parameters move). */
typedef struct {
    hesse_model *m;
    hesse_samples s;
    hesse_engine *e;
    int64_t n;
} seq_run;

static void open_run(const seq_case *sc, const hesse_st_file *ex, hesse_loss_kind loss, int threads,
                     int cache, seq_run *r) {
    r->m = load_model(sc, loss);
    r->n = hesse_model_num_params(r->m);
    load_samples(ex, r->m, sc->P, &r->s);
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 4;
    ep.max_block = 2;
    ep.threads = threads;
    ep.cache = cache;
    r->e = NULL;
    REQUIRE(hesse_engine_create(r->m, &ep, &r->e) == HESSE_OK);
}

static void close_run(seq_run *r) {
    hesse_engine_free(r->e);
    hesse_samples_free(&r->s);
    hesse_model_free(r->m);
}

/* Products of `kind` with the two fixture directions against `ref` [2, n]. */
static void check_products(const char *what, hesse_engine *e, const hesse_samples *s,
                           hesse_curv_kind kind, const double *V, const double *ref) {
    const int64_t n = hesse_engine_num_params(e);
    double *Y = malloc((size_t)(2 * n) * sizeof *Y);
    REQUIRE(Y && hesse_curv_product(e, s, kind, 2, V, Y) == HESSE_OK);
    for (int j = 0; j < 2; j++) {
        double err = fixture_rel_err(Y + j * n, ref + j * n, n);
        CHECK_MSG(err <= TOL, "%s %s product %d: relative error %.3g", what, hesse_curv_name(kind),
                  j, err);
    }
    free(Y);
}

/* Loss, gradient, and the products of the given kinds with tags "<loss>_<suffix>". */
static void check_loss(const seq_case *sc, const hesse_st_file *ex, hesse_loss_kind loss,
                       int threads) {
    const char *tag = loss == HESSE_LOSS_MSE ? "mse" : "ce";
    char what[64], name[32];
    snprintf(what, sizeof what, "%s %s (%d threads)", sc->name, tag, threads);
    seq_run r;
    open_run(sc, ex, loss, threads, 1, &r);
    CHECK(hesse_model_positions(r.m) == sc->P && hesse_model_classes(r.m) == sc->V &&
          hesse_model_num_outputs(r.m) == sc->P * sc->V);
    const int64_t n = r.n;
    snprintf(name, sizeof name, "%s_loss", tag);
    double *loss_ref = fixture_read(ex, name, 1);
    snprintf(name, sizeof name, "%s_grad", tag);
    double *grad_ref = fixture_read(ex, name, n), *V = fixture_read(ex, "v", 2 * n);
    double *g = malloc((size_t)n * sizeof *g), L = 0;
    REQUIRE(g != NULL);
    REQUIRE(hesse_loss_grad(r.e, &r.s, &L, g, NULL) == HESSE_OK);
    CHECK_MSG(fabs(L - loss_ref[0]) <= TOL * fabs(loss_ref[0]), "%s: loss %.17g vs %.17g", what, L,
              loss_ref[0]);
    double err = fixture_rel_err(g, grad_ref, n);
    CHECK_MSG(err <= TOL, "%s: gradient: relative error %.3g", what, err);
    static const struct {
        const char *suffix;
        hesse_curv_kind kind;
        int ce_only;
    } kinds[] = {{"hvp", HESSE_CURV_HESSIAN, 0},
                 {"ggnvp", HESSE_CURV_GGN, 0},
                 {"efvp", HESSE_CURV_EFISHER, 1}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (kinds[k].ce_only && loss == HESSE_LOSS_MSE) continue;
        snprintf(name, sizeof name, "%s_%s", tag, kinds[k].suffix);
        double *ref = fixture_read(ex, name, 2 * n);
        check_products(what, r.e, &r.s, kinds[k].kind, V, ref);
        free(ref);
    }
    free(loss_ref);
    free(grad_ref);
    free(V);
    free(g);
    close_run(&r);
}

/* The dense Hessian (cross-entropy) and its eigenvalues against PyTorch's. */
static void check_dense(const seq_case *sc, const hesse_st_file *ex) {
    seq_run r;
    open_run(sc, ex, HESSE_LOSS_CROSS_ENTROPY, 1, 1, &r);
    const int64_t n = r.n;
    hesse_op op;
    REQUIRE(hesse_op_curvature(r.e, &r.s, HESSE_CURV_HESSIAN, &op) == HESSE_OK);
    double *A = malloc((size_t)(n * n) * sizeof *A), *ev = malloc((size_t)n * sizeof *ev);
    double *ref = fixture_read(ex, "ce_hessian_eigenvalues", n), asym = -1;
    hesse_op_stats st = {0};
    REQUIRE(A && ev && hesse_op_to_dense(&op, 8, A, &asym, &st) == HESSE_OK);
    CHECK_MSG(asym >= 0 && asym <= 1e-12, "%s: Hessian asymmetry %.3g", sc->name, asym);
    REQUIRE(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)n, A, (lapack_int)n, ev) == 0);
    double err = fixture_max_rel(ev, ref, n);
    CHECK_MSG(err <= TOL, "%s: Hessian eigenvalues: max |dlambda| / max |lambda| = %.3g", sc->name,
              err);
    hesse_op_free(&op);
    free(A);
    free(ev);
    free(ref);
    close_run(&r);
}

/* Correct predictions are counted per position, from PyTorch's logits; the cross-entropy's
 * last-layer Kronecker factor M is (1/N) sum_i sum over the layer's spatial positions (h, w)
 * of diag_c (p - p^2) / P with p = softmax over w of logits row (i, c, h): the loss Hessian
 * per position is diag(p) - p p^T over w, so the Cout x Cout block at one (h, w) is diagonal
 * (two channels are two loss positions). */
static void check_accuracy_and_factor(const seq_case *sc, const hesse_st_file *ex) {
    seq_run run;
    open_run(sc, ex, HESSE_LOSS_CROSS_ENTROPY, 2, 1, &run);
    const hesse_samples *s = &run.s;
    const int P = sc->P, V = sc->V, Co = P * V / (s->h * V); /* output channels */
    const int64_t N = s->n;
    double *z = fixture_read(ex, "logits", N * P * V);
    int64_t want = 0;
    double *Mref = calloc((size_t)(Co * Co), sizeof *Mref);
    REQUIRE(Mref != NULL);
    for (int64_t r = 0; r < N * P; r++) {
        const double *zr = z + r * V;
        int arg = 0;
        double zmax = zr[0], sum = 0;
        for (int c = 1; c < V; c++)
            if (zr[c] > zr[arg]) arg = c, zmax = zr[c];
        want += arg == s->y[r];
        for (int c = 0; c < V; c++) sum += exp(zr[c] - zmax);
        const int ch = (int)((r % P) / s->h);
        for (int c = 0; c < V; c++) {
            const double p = exp(zr[c] - zmax) / sum;
            Mref[ch * Co + ch] += (p - p * p) / P / (double)N;
        }
    }
    double L;
    int64_t correct = -1;
    REQUIRE(hesse_loss_grad(run.e, s, &L, NULL, &correct) == HESSE_OK);
    CHECK_MSG(correct == want && hesse_samples_positions(s) == N * P,
              "%s: %lld correct positions, PyTorch's logits give %lld", sc->name,
              (long long)correct, (long long)want);
    hesse_layer_factors *f = NULL;
    int nf = 0;
    REQUIRE(hesse_layer_factors_compute(run.e, s, HESSE_FACTOR_M_GGN, &f, &nf) == HESSE_OK);
    const hesse_layer_factors *last = &f[nf - 1];
    if (sc->conv_last) {
        REQUIRE(last->out == Co && last->M_exact &&
                last->layer == hesse_model_num_layers(run.m) - 1);
        double err = fixture_max_rel(last->M, Mref, Co * Co);
        CHECK_MSG(err <= TOL, "%s: last layer's M: max relative error %.3g", sc->name, err);
    }
    hesse_layer_factors_free(f, nf);
    free(Mref);
    free(z);
    close_run(&run);
}

/* Central differences: the gradient with step 1e-5 (error ~h^2 |L'''| ~ 1e-10, rounding
 * ~eps/h ~ 1e-11) within 1e-7; HVPs by Richardson-extrapolated differences of the gradient
 * with h = 1e-4, within 1e-8 relative: the truncation error goes as h^4 and is large here (the
 * layer norm of 4 values has large high derivatives: 1.6e-7 measured at h = 1e-3, 1.3e-5 at
 * 3e-3), so ~2e-11 at 1e-4, beside rounding eps |g| / h ~ 1e-12. */
static void check_fd(const seq_case *sc, const hesse_st_file *ex, hesse_loss_kind loss) {
    seq_run r;
    open_run(sc, ex, loss, 0, 0, &r); /* no cache: the parameters move between passes */
    const int64_t n = r.n;
    hesse_engine *e = r.e;
    const hesse_samples *s = &r.s;
    double *theta = hesse_model_params(r.m), *g = malloc((size_t)n * sizeof *g), L;
    double *V = fixture_read(ex, "v", 2 * n), *hv = malloc((size_t)n * sizeof *hv),
           *fd = malloc((size_t)n * sizeof *fd);
    REQUIRE(g && hv && fd);
    REQUIRE(hesse_loss_grad(e, s, &L, g, NULL) == HESSE_OK);
    double worst = fd_gradient(e, s, theta, n, 1e-5, g, NULL);
    CHECK_MSG(worst <= 1e-7 * fmax(1.0, fd_norm(g, n)), "%s %s: FD gradient off by %.3g", sc->name,
              loss == HESSE_LOSS_MSE ? "mse" : "ce", worst);
    REQUIRE(hesse_curv_product(e, s, HESSE_CURV_HESSIAN, 1, V, hv) == HESSE_OK);
    fd_hvp(e, s, theta, n, V, 1e-4, 1, fd);
    double err = fixture_rel_err(hv, fd, n);
    CHECK_MSG(err <= 1e-8, "%s %s: FD HVP relative error %.3g", sc->name,
              loss == HESSE_LOSS_MSE ? "mse" : "ce", err);
    free(g);
    free(V);
    free(hv);
    free(fd);
    close_run(&r);
}

/* Single precision: loss, gradient and HVPs within 1e-4 relative of PyTorch's float64 (float
 * rounding, ~6e-8 a value, grows through the layers: measured 2e-8, 6e-7 and 9e-7). */
static void check_f32(const seq_case *sc, const hesse_st_file *ex) {
    seq_run r;
    open_run(sc, ex, HESSE_LOSS_CROSS_ENTROPY, 1, 1, &r);
    hesse_engine_params ep = hesse_engine_defaults();
    ep.precision = HESSE_PRECISION_F32;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(r.m, &ep, &e) == HESSE_OK);
    const int64_t n = r.n;
    double *loss_ref = fixture_read(ex, "ce_loss", 1), *grad_ref = fixture_read(ex, "ce_grad", n);
    double *V = fixture_read(ex, "v", 2 * n), *hvp_ref = fixture_read(ex, "ce_hvp", 2 * n);
    double *g = malloc((size_t)n * sizeof *g), *Y = malloc((size_t)(2 * n) * sizeof *Y), L;
    REQUIRE(g && Y && hesse_loss_grad(e, &r.s, &L, g, NULL) == HESSE_OK);
    REQUIRE(hesse_curv_product(e, &r.s, HESSE_CURV_HESSIAN, 2, V, Y) == HESSE_OK);
    const double el = fabs(L - loss_ref[0]) / fabs(loss_ref[0]),
                 eg = fixture_rel_err(g, grad_ref, n);
    const double eh = fmax(fixture_rel_err(Y, hvp_ref, n), fixture_rel_err(Y + n, hvp_ref + n, n));
    CHECK_MSG(el <= 1e-4 && eg <= 1e-4 && eh <= 1e-4, "%s f32: loss %.3g, gradient %.3g, HVP %.3g",
              sc->name, el, eg, eh);
    free(loss_ref);
    free(grad_ref);
    free(V);
    free(hvp_ref);
    free(g);
    free(Y);
    hesse_engine_free(e);
    close_run(&r);
}

/* Labels that do not fit: one a sample for a sequence model, and one out of range. */
static void check_refusals(const seq_case *sc, const hesse_st_file *ex) {
    seq_run r;
    open_run(sc, ex, HESSE_LOSS_CROSS_ENTROPY, 1, 1, &r);
    hesse_engine *e = r.e;
    hesse_samples *s = &r.s;
    double L;
    hesse_samples one = *s;
    one.targets = 1;
    CHECK(hesse_loss_grad(e, &one, &L, NULL, NULL) == HESSE_EINPUT &&
          strstr(hesse_last_error(), "label"));
    s->y[s->n * sc->P - 1] = sc->V;
    CHECK(hesse_loss_grad(e, s, &L, NULL, NULL) == HESSE_EINPUT &&
          strstr(hesse_last_error(), "position"));
    close_run(&r);
}

int main(void) {
    (void)fd_ggn_reference; /* its A is one softmax per sample; the GGN is checked by fixture */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const seq_case *sc = &cases[i];
        char path[1024], file[128];
        snprintf(file, sizeof file, "fixture_seq_%s_expected.safetensors", sc->name);
        data_path(file, path, sizeof path);
        hesse_st_file *ex = NULL;
        REQUIRE(hesse_st_open(path, &ex) == HESSE_OK);
        for (int threads = 1; threads <= 2; threads++) {
            check_loss(sc, ex, HESSE_LOSS_CROSS_ENTROPY, threads);
            check_loss(sc, ex, HESSE_LOSS_MSE, threads);
        }
        check_dense(sc, ex);
        check_accuracy_and_factor(sc, ex);
        check_fd(sc, ex, HESSE_LOSS_CROSS_ENTROPY);
        check_fd(sc, ex, HESSE_LOSS_MSE);
        check_f32(sc, ex);
        check_refusals(sc, ex);
        hesse_st_close(ex);
    }
    return test_summary("test_seq_loss");
}
