/* nn/: the engine against finite differences and algebraic identities, for every layer kind
 * and both losses.
 *
 * Checks, per network:
 *  - every gradient coordinate against central differences of the loss;
 *  - Hessian-vector products against central differences of the gradient;
 *  - symmetry u^T H v = v^T H u;
 *  - the GGN product against J^T A J v with J from central differences of the logits;
 *  - the GGN is positive semidefinite (dense, from products, LAPACK eigenvalues);
 *  - block products and chunking give the same numbers as single products.
 * References are computed here from forward passes only, so they are independent of the
 * backward and R-operator code under test. */
#include <hesse/nn.h>

#include <lapacke.h>
#include <string.h>

#include "check.h"
#include "fd_ref.h"
#include "nn/nn-impl.h"

typedef struct {
    const char *arch;
    int c, h, w, classes;
    hesse_loss_kind loss;
    int smooth; /* no ReLU / max-pool kinks: finite differences of the gradient are exact to O(h^2)
                 */
} net_case;

static const net_case cases[] = {
    {"flatten,linear(12,5),tanh,linear(5,4),sigmoid,linear(4,3)", 3, 2, 2, 3,
     HESSE_LOSS_CROSS_ENTROPY, 1},
    {"flatten,linear(12,5),gelu,linear(5,3)", 3, 2, 2, 3, HESSE_LOSS_MSE, 1},
    {"conv2d(2,3,3,stride=2,padding=1),tanh,avgpool2d(2),conv2d(3,4,(2,1)),gelu,flatten,"
     "linear(8,3)",
     2, 7, 7, 3, HESSE_LOSS_CROSS_ENTROPY, 1},
    {"conv2d(1,2,3,padding=1),sigmoid,avgpool2d(3,stride=2,padding=1),flatten,linear(18,4,"
     "bias=False)",
     1, 5, 5, 4, HESSE_LOSS_MSE, 1},
    {"conv2d(1,3,3),relu,maxpool2d(2),flatten,linear(12,6),relu,linear(6,3)", 1, 6, 6, 3,
     HESSE_LOSS_CROSS_ENTROPY, 0},
    {"flatten,relu,linear(9,4),relu,linear(4,2)", 1, 3, 3, 2, HESSE_LOSS_CROSS_ENTROPY, 0},
};

static void make_samples(int n, const net_case *nc, hesse_rng *rng, hesse_samples *s) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->c = nc->c;
    s->h = nc->h;
    s->w = nc->w;
    s->num_classes = nc->classes;
    int64_t dim = (int64_t)nc->c * nc->h * nc->w;
    s->x = malloc((size_t)(n * dim) * sizeof *s->x);
    s->y = malloc((size_t)n * sizeof *s->y);
    for (int64_t i = 0; i < n * dim; i++) s->x[i] = hesse_rng_normal(rng);
    for (int i = 0; i < n; i++) s->y[i] = (int32_t)hesse_rng_below(rng, (uint64_t)nc->classes);
}

static double max_rel_diff(const double *a, const double *b, int64_t n) {
    double d = 0, scale = fmax(fd_norm(a, n), fd_norm(b, n));
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return scale > 0 ? d / scale * sqrt((double)n) / sqrt((double)n) : d;
}

static void test_case(const net_case *nc, int index) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create(nc->arch, nc->c, nc->h, nc->w, nc->loss, &m) == HESSE_OK);
    hesse_model_init(m, 100 + (uint64_t)index);
    const int64_t n = hesse_model_num_params(m);
    double *theta = hesse_model_params(m);
    hesse_rng rng;
    hesse_rng_seed(&rng, 7 + (uint64_t)index);
    hesse_samples s;
    make_samples(11, nc, &rng, &s);

    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 4; /* several chunks, the last one partial */
    ep.max_block = 2;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);

    double *g = malloc((size_t)n * sizeof *g), *gp = malloc((size_t)n * sizeof *g),
           *gm = malloc((size_t)n * sizeof *g);
    double loss;
    int64_t correct = -1;
    REQUIRE(hesse_loss_grad(e, &s, &loss, g, &correct) == HESSE_OK);
    CHECK(correct >= 0 && correct <= s.n);
    CHECK(isfinite(loss) && loss > 0);

    /* Gradient, every coordinate: central differences with h = 1e-6 have truncation error
     * ~h^2 |L'''| ~ 1e-12 and rounding error ~eps |L| / h ~ 1e-10, so 1e-7 of the gradient's
     * scale is a safe bound that still catches any wrong term. */
    const double hg = 1e-6;
    const double worst = fd_gradient(e, &s, theta, n, hg, g, NULL),
                 gscale = fd_norm(g, n) / sqrt((double)n);
    CHECK_MSG(worst <= 1e-7 * fmax(gscale, 1e-3), "case %d gradient: max error %.3g (scale %.3g)",
              index, worst, gscale);

    /* Hessian-vector products against central differences of the gradient along v. */
    double *V = malloc((size_t)(3 * n) * sizeof *V), *HV = malloc((size_t)(3 * n) * sizeof *V);
    for (int64_t i = 0; i < 3 * n; i++) V[i] = hesse_rng_normal(&rng);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 3, V, HV) == HESSE_OK);
    for (int j = 0; j < 3; j++) {
        /* Smooth nets: h = 1e-4, truncation ~h^2 |L''''| |v|^3 ~ 1e-8 relative, rounding
         * ~eps |g| / h ~ 1e-12. ReLU / max-pool nets are smooth only between kinks, and a step
         * across one shows as an O(1) error; h = 1e-8 keeps every pre-activation on its side
         * with rounding ~eps |g| / h ~ 1e-9. */
        fd_hvp(e, &s, theta, n, V + j * n, nc->smooth ? 1e-4 : 1e-8, 0, gm);
        double err = 0;
        for (int64_t i = 0; i < n; i++) err = fmax(err, fabs(gm[i] - HV[j * n + i]));
        double hscale = fd_norm(HV + j * n, n) / sqrt((double)n);
        CHECK_MSG(err <= 1e-6 * fmax(hscale, 1e-6), "case %d HVP %d: max error %.3g (scale %.3g)",
                  index, j, err, hscale);
    }

    /* Symmetry: u^T H v = v^T H u up to rounding in the accumulated products (1e-12). */
    fd_check_symmetry(V, HV, n);

    /* Block and chunk invariance: one vector at a time with one big chunk gives the same
     * products up to rounding (different GEMM shapes sum in different orders). */
    hesse_engine_params ep1 = hesse_engine_defaults();
    ep1.chunk = 64;
    ep1.max_block = 1;
    hesse_engine *e1 = NULL;
    REQUIRE(hesse_engine_create(m, &ep1, &e1) == HESSE_OK);
    double *HV1 = malloc((size_t)n * sizeof *HV1);
    for (int j = 0; j < 3; j++) {
        REQUIRE(hesse_curv_product(e1, &s, HESSE_CURV_HESSIAN, 1, V + j * n, HV1) == HESSE_OK);
        CHECK_MSG(max_rel_diff(HV1, HV + j * n, n) < 1e-12, "case %d block/chunk invariance",
                  index);
    }

    /* GGN against J^T A J v, J by central differences of the logits (h = 1e-5: error
     * ~1e-10 relative), A the loss Hessian in the logits written out here independently. */
    const int C = nc->classes;
    double *GV = malloc((size_t)(2 * n) * sizeof *GV), *ref = calloc((size_t)n, sizeof *ref);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_GGN, 2, V, GV) == HESSE_OK);
    fd_ggn_reference(e, &s, theta, n, C, nc->loss, 1e-5, V, ref);
    CHECK_MSG(max_rel_diff(ref, GV, n) < 1e-7, "case %d GGN vs J^T A J: %.3g", index,
              max_rel_diff(ref, GV, n));

    /* Residual E = H - G in one pass equals the difference of the two products (to the
     * rounding of that difference, 1e-12 of |Hv|). */
    double *EV = malloc((size_t)(2 * n) * sizeof *EV), *HV2 = malloc((size_t)(2 * n) * sizeof *EV);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_RESIDUAL, 2, V, EV) == HESSE_OK);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 2, V, HV2) == HESSE_OK);
    double rerr = 0;
    for (int64_t i = 0; i < 2 * n; i++) rerr = fmax(rerr, fabs(EV[i] - (HV2[i] - GV[i])));
    CHECK_MSG(rerr <= 1e-12 * fd_norm(HV2, 2 * n), "case %d residual: %.3g", index, rerr);

    /* Empirical Fisher against per-sample gradients: g_i is the gradient of the one-sample
     * slice (its mean loss is l_i), F v = (1/N) sum_i g_i (g_i . v). */
    double *FV = malloc((size_t)n * sizeof *FV), *Fref = calloc((size_t)n, sizeof *Fref);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_EFISHER, 1, V, FV) == HESSE_OK);
    for (int64_t i = 0; i < s.n; i++) {
        hesse_samples one = hesse_samples_slice(&s, i, 1);
        double li;
        REQUIRE(hesse_loss_grad(e, &one, &li, gp, NULL) == HESSE_OK);
        double dot = 0;
        for (int64_t p = 0; p < n; p++) dot += gp[p] * V[p];
        for (int64_t p = 0; p < n; p++) Fref[p] += gp[p] * dot / (double)s.n;
    }
    CHECK_MSG(max_rel_diff(Fref, FV, n) < 1e-12, "case %d empirical Fisher: %.3g", index,
              max_rel_diff(Fref, FV, n));
    free(EV);
    free(HV2);
    free(FV);
    free(Fref);

    /* Dense GGN from products of identity columns: symmetric and positive semidefinite (its
     * smallest eigenvalue is >= -1e-12 of its largest, i.e. zero up to rounding). */
    double *E = calloc((size_t)(n * n), sizeof *E), *G = malloc((size_t)(n * n) * sizeof *G);
    for (int64_t i = 0; i < n; i++) E[i * n + i] = 1.0;
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_GGN, (int)n, E, G) == HESSE_OK);
    double asym = 0, gmax = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            asym = fmax(asym, fabs(G[i * n + j] - G[j * n + i]));
            gmax = fmax(gmax, fabs(G[i * n + j]));
        }
    CHECK_MSG(asym <= 1e-12 * gmax, "case %d GGN asymmetry %.3g", index, asym);
    double *ev = malloc((size_t)n * sizeof *ev);
    REQUIRE(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)n, G, (lapack_int)n, ev) == 0);
    CHECK_MSG(ev[0] >= -1e-12 * ev[n - 1], "case %d GGN min eigenvalue %.3g (max %.3g)", index,
              ev[0], ev[n - 1]);

    free(E);
    free(G);
    free(ev);
    free(GV);
    free(ref);
    free(HV1);
    free(V);
    free(HV);
    free(g);
    free(gp);
    free(gm);
    free(s.x);
    free(s.y);
    hesse_engine_free(e);
    hesse_engine_free(e1);
    hesse_model_free(m);
}

/* For a network linear in its parameters (one linear layer) the loss Hessian equals the
 * GGN exactly: the second-order terms vanish. */
static void test_linear_model_hessian_is_ggn(void) {
    const net_case nc = {"flatten,linear(6,3)", 1, 2, 3, 3, HESSE_LOSS_CROSS_ENTROPY, 1};
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create(nc.arch, nc.c, nc.h, nc.w, nc.loss, &m) == HESSE_OK);
    hesse_model_init(m, 3);
    hesse_rng rng;
    hesse_rng_seed(&rng, 5);
    hesse_samples s;
    make_samples(9, &nc, &rng, &s);
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, NULL, &e) == HESSE_OK);
    const int64_t n = hesse_model_num_params(m);
    double V[21], H[21], G[21];
    for (int i = 0; i < n; i++) V[i] = hesse_rng_normal(&rng);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 1, V, H) == HESSE_OK);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_GGN, 1, V, G) == HESSE_OK);
    CHECK(max_rel_diff(H, G, n) < 1e-14);
    free(s.x);
    free(s.y);
    hesse_engine_free(e);
    hesse_model_free(m);
}

static void test_arch_errors(void) {
    hesse_model *m = NULL;
    CHECK(hesse_model_create("flatten,lienar(784,10)", 1, 28, 28, 0, &m) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "lienar") && strstr(hesse_last_error(), "linear"));
    CHECK(hesse_model_create("flatten,linear(700,10)", 1, 28, 28, 0, &m) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "784") && strstr(hesse_last_error(), "700"));
    CHECK(hesse_model_create("linear(784,10)", 1, 28, 28, 0, &m) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "flatten"));
    CHECK(hesse_model_create("conv2d(3,6,5),flatten,linear(3456,10)", 1, 28, 28, 0, &m) ==
          HESSE_EINPUT);
    /* an output that is not flat is a sequence: c*h positions of w classes (the loss reads it
     * so; issue 18) */
    REQUIRE(hesse_model_create("conv2d(1,6,5),relu", 1, 28, 28, 0, &m) == HESSE_OK);
    CHECK(hesse_model_positions(m) == 6 * 24 && hesse_model_classes(m) == 24 &&
          hesse_model_num_outputs(m) == 6 * 24 * 24);
    hesse_model_free(m);
    m = NULL;
    CHECK(hesse_model_create("flatten,linear(784,10", 1, 28, 28, 0, &m) == HESSE_EINPUT);
    CHECK(hesse_model_create("flatten,,linear(784,10)", 1, 28, 28, 0, &m) == HESSE_EINPUT);
    CHECK(hesse_model_create("conv2d(1,6,5,paddin=2)", 1, 28, 28, 0, &m) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "paddin"));
    CHECK(hesse_model_create("", 1, 28, 28, 0, &m) == HESSE_EINPUT);
    CHECK(m == NULL);

    /* LeNet-5 as in DESIGN.md: PyTorch names, shapes and the parameter count 61,706. */
    const char *lenet = "Conv2d(1, 6, 5, padding=2), ReLU, MaxPool2d(2), conv2d(6,16,5), relu,"
                        "maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,"
                        "linear(84,10)";
    REQUIRE(hesse_model_create(lenet, 1, 28, 28, 0, &m) == HESSE_OK);
    CHECK(hesse_model_num_params(m) == 61706);
    CHECK(strcmp(hesse_model_arch(m),
                 "conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),"
                 "flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)") == 0);
    const hesse_tensor_info *t = hesse_model_find_tensor(m, "7.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == 120 && t->shape[1] == 400);
    t = hesse_model_find_tensor(m, "3.weight");
    CHECK(t && t->ndim == 4 && t->shape[0] == 16 && t->shape[1] == 6 && t->shape[3] == 5);
    CHECK(t && t->offset == 6 * 25 + 6);
    CHECK(hesse_model_find_tensor(m, "1.weight") == NULL);
    CHECK(hesse_model_num_outputs(m) == 10);
    /* Default init: every weight within +-1/sqrt(fan_in). */
    hesse_model_init(m, 1);
    t = hesse_model_find_tensor(m, "7.weight");
    double mx = 0;
    for (int64_t i = 0; i < t->count; i++)
        mx = fmax(mx, fabs(hesse_model_params(m)[t->offset + i]));
    CHECK(mx <= 1 / sqrt(400.0) && mx > 0.9 / sqrt(400.0));
    hesse_model_free(m);
}

/* Max pooling's kernels (the 2x2 stride-2 fast path and the general scan) against a plain
 * scan written here: first maximum in row-major window order, and every NaN takes over (the
 * last NaN of a window wins, as in PyTorch's CPU kernel).
 * Values are drawn from a few levels so that ties are common, with some NaNs and infinities. */
static void test_maxpool_kernels(void) {
    static const char *archs[] = {"maxpool2d(2),flatten,linear(40,1)",
                                  "maxpool2d(3,stride=2),flatten,linear(40,1)",
                                  "maxpool2d(2,stride=1),flatten,linear(160,1)",
                                  "maxpool2d((2,3),stride=(2,1)),flatten,linear(72,1)"};
    const int B = 3, C = 2, H = 9, W = 11;
    const double levels[] = {-1.0, 0.0, 0.5, 2.0, INFINITY, -INFINITY, NAN};
    hesse_rng rng;
    hesse_rng_seed(&rng, 5);
    double x[3 * 2 * 9 * 11], y[3 * 2 * 9 * 11];
    float xf[3 * 2 * 9 * 11], yf[3 * 2 * 9 * 11];
    int32_t idx[3 * 2 * 9 * 11], idxf[3 * 2 * 9 * 11];
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
        hesse_model *m = NULL;
        CHECK_MSG(hesse_model_create(archs[a], C, H, W, HESSE_LOSS_MSE, &m) == HESSE_OK, "%s",
                  hesse_last_error());
        if (!m) continue;
        const hesse_layer *L = hesse_model_layer(m, 0);
        const int Ho = L->out_h, Wo = L->out_w;
        for (int trial = 0; trial < 20; trial++) {
            for (int i = 0; i < B * C * H * W; i++) {
                /* mostly finite levels; NaN and infinities now and then */
                int lv = (int)hesse_rng_below(&rng, trial % 2 ? 7 : 4);
                x[i] = levels[lv];
                xf[i] = (float)x[i];
            }
            nn_maxpool_forward_f64(L, B, x, y, idx);
            nn_maxpool_forward_f32(L, B, xf, yf, idxf);
            int bad = 0;
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int oy = 0; oy < Ho; oy++)
                        for (int ox = 0; ox < Wo; ox++) {
                            int at = -1;
                            for (int ki = 0; ki < L->kh; ki++)
                                for (int kj = 0; kj < L->kw; kj++) {
                                    int i = (c * H + oy * L->sh + ki) * W + ox * L->sw + kj;
                                    double v = x[b * C * H * W + i];
                                    if (at < 0 || v > x[b * C * H * W + at] || isnan(v)) at = i;
                                }
                            int o = b * C * Ho * Wo + (c * Ho + oy) * Wo + ox;
                            double want = x[b * C * H * W + at];
                            bad += idx[o] != at || idxf[o] != at;
                            bad += !(y[o] == want || (isnan(y[o]) && isnan(want)));
                            bad += !(yf[o] == (float)want || (isnan(yf[o]) && isnan(want)));
                        }
            CHECK_MSG(bad == 0, "%s trial %d: %d outputs differ from the plain scan", archs[a],
                      trial, bad);
        }
        hesse_model_free(m);
    }
}

int main(void) {
    test_arch_errors();
    test_maxpool_kernels();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_case(&cases[i], (int)i);
    test_linear_model_hessian_is_ggn();
    return test_summary("test_nn");
}
