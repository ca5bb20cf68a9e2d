/* multiheadattention: its tensors, initialisation and errors, and the engine's four passes
 * through it (causal or not, with or without biases, both losses) against finite differences,
 * in double and in single precision.
 *
 * Checks, per network (as tests/test_nn.c does for the other kinds):
 *  - every gradient coordinate against central differences of the loss;
 *  - Hessian-vector products against central differences of the gradient;
 *  - the GGN product against J^T A J v with J from central differences of the logits;
 *  - the residual E = H - G in one pass, symmetry, block and chunk invariance;
 *  - the single-precision engine's gradient and products against the same references.
 * And, on a small net, the whole dense Hessian against the dense finite-difference Hessian,
 * with its second-order part (H - G) of the size that makes a missing term show; and the
 * exact Kronecker E[M] of a layer before the attention (the R-passes without a parameter
 * direction or products) against second differences of the loss in the input.
 * References come from forward passes only (losses, logits), so they are independent of the
 * backward and R-operator code. */
#include <hesse/nn.h>

#include <string.h>

#include "check.h"
#include "fd_ref.h"

typedef struct {
    const char *arch;
    int T, D, classes;
    hesse_loss_kind loss;
} attn_case;

static const attn_case cases[] = {
    {"multiheadattention(6,2),flatten,linear(30,3)", 5, 6, 3, HESSE_LOSS_CROSS_ENTROPY},
    {"multiheadattention(6,2,causal=True),flatten,linear(30,3)", 5, 6, 3, HESSE_LOSS_CROSS_ENTROPY},
    /* attention after a layer with parameters (its input's R-values and gradient), no biases,
     * one head, MSE */
    {"layernorm(4),multiheadattention(4,1,bias=False),tanh,flatten,linear(12,3)", 3, 4, 3,
     HESSE_LOSS_MSE},
    /* a pre-LN transformer block's attention half: residual(layernorm, attention) */
    {"blk:residual(layernorm(6),multiheadattention(6,3,causal=True)),flatten,linear(30,3)", 5, 6, 3,
     HESSE_LOSS_CROSS_ENTROPY},
    /* two attention layers, the second causal with four heads of width 2 */
    {"multiheadattention(8,2),gelu,attn:multiheadattention(8,4,True),flatten,linear(32,4)", 4, 8, 4,
     HESSE_LOSS_CROSS_ENTROPY},
};

static void make_samples(int n, int T, int D, int classes, hesse_rng *rng, hesse_samples *s) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->c = 1;
    s->h = T;
    s->w = D;
    s->num_classes = classes;
    const int64_t dim = (int64_t)T * D;
    s->x = malloc((size_t)(n * dim) * sizeof *s->x);
    s->y = malloc((size_t)n * sizeof *s->y);
    for (int64_t i = 0; i < n * dim; i++) s->x[i] = hesse_rng_normal(rng);
    for (int i = 0; i < n; i++) s->y[i] = (int32_t)hesse_rng_below(rng, (uint64_t)classes);
}

/* Every parameter random (PyTorch's init leaves the biases zero, which would hide their
 * terms): N(0, 0.5^2). */
static void randomise(hesse_model *m, uint64_t seed) {
    hesse_rng rng;
    hesse_rng_seed(&rng, seed);
    double *theta = hesse_model_params(m);
    for (int64_t i = 0; i < hesse_model_num_params(m); i++) theta[i] = 0.5 * hesse_rng_normal(&rng);
}

static hesse_engine *engine(const hesse_model *m, int chunk, int block, hesse_precision prec) {
    hesse_engine_params ep = hesse_engine_defaults();
    ep.cache = chunk < 64; /* the big-chunk engines run uncached: both paths of the kept state */
    ep.chunk = chunk;
    ep.max_block = block;
    ep.precision = prec;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    return e;
}

/* The single-precision engine against the double references (gradient gfd, products HFD of
 * V's first 2 columns, GGN ref of the first): float's roundoff (6e-8) through a few layers of
 * sums of tens of terms and a softmax is ~1e-6 of the vectors' scale; 1e-4 holds it with
 * margin, while a wrong term is 1e-2 of the scale or more. */
static void check_f32(const hesse_model *m, const hesse_samples *s, int index, const double *gfd,
                      const double *V, const double *HFD, const double *ref) {
    const int64_t n = hesse_model_num_params(m);
    hesse_engine *e32 = engine(m, 4, 2, HESSE_PRECISION_F32);
    double loss32, *g = malloc((size_t)(2 * n) * sizeof *g);
    REQUIRE(hesse_loss_grad(e32, s, &loss32, g, NULL) == HESSE_OK);
    const double gscale = fd_norm(gfd, n) / sqrt((double)n);
    double err = fd_max_abs_diff(g, gfd, n);
    CHECK_MSG(err <= 1e-4 * fmax(gscale, 1e-3), "case %d f32 gradient: %.3g (scale %.3g)", index,
              err, gscale);
    REQUIRE(hesse_curv_product(e32, s, HESSE_CURV_HESSIAN, 2, V, g) == HESSE_OK);
    for (int j = 0; j < 2; j++) {
        const double hscale = fd_norm(HFD + j * n, n) / sqrt((double)n);
        err = fd_max_abs_diff(g + j * n, HFD + j * n, n);
        CHECK_MSG(err <= 1e-4 * fmax(hscale, 1e-6), "case %d f32 HVP %d: %.3g (scale %.3g)", index,
                  j, err, hscale);
    }
    /* the GGN against its largest entry: in the two-attention net it is 20 times smaller than
     * the Hessian, while float's absolute error follows the larger intermediate terms */
    REQUIRE(hesse_curv_product(e32, s, HESSE_CURV_GGN, 1, V, g) == HESSE_OK);
    double gmax = 0;
    for (int64_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(ref[i]));
    err = fd_max_abs_diff(g, ref, n) / fmax(gmax, 1e-12);
    CHECK_MSG(err <= 1e-4, "case %d f32 GGN: %.3g", index, err);
    free(g);
    hesse_engine_free(e32);
}

static void test_case(const attn_case *nc, int index) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create(nc->arch, 1, nc->T, nc->D, nc->loss, &m) == HESSE_OK);
    randomise(m, 40 + (uint64_t)index);
    const int64_t n = hesse_model_num_params(m);
    double *theta = hesse_model_params(m);
    hesse_rng rng;
    hesse_rng_seed(&rng, 17 + (uint64_t)index);
    hesse_samples s;
    make_samples(7, nc->T, nc->D, nc->classes, &rng, &s);
    hesse_engine *e = engine(m, 3, 2, HESSE_PRECISION_F64); /* chunks of 3, 3, 1 */

    double *g = malloc((size_t)n * sizeof *g), *gfd = malloc((size_t)n * sizeof *g), loss;
    REQUIRE(hesse_loss_grad(e, &s, &loss, g, NULL) == HESSE_OK);
    CHECK(isfinite(loss) && loss > 0);
    /* central differences, h = 1e-6: truncation ~1e-12, rounding ~1e-10 */
    const double worst = fd_gradient(e, &s, theta, n, 1e-6, g, gfd),
                 gscale = fd_norm(g, n) / sqrt((double)n);
    CHECK_MSG(worst <= 1e-7 * fmax(gscale, 1e-3), "case %d gradient: max error %.3g (scale %.3g)",
              index, worst, gscale);

    /* Hessian-vector products against central differences of the gradient (h = 1e-4 with
     * Richardson extrapolation: truncation ~h^4, rounding ~eps |g| / h ~ 1e-12). */
    double *V = malloc((size_t)(3 * n) * sizeof *V), *HV = malloc((size_t)(3 * n) * sizeof *V),
           *HFD = malloc((size_t)(3 * n) * sizeof *V);
    for (int64_t i = 0; i < 3 * n; i++) V[i] = hesse_rng_normal(&rng);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 3, V, HV) == HESSE_OK);
    for (int j = 0; j < 3; j++) {
        fd_hvp(e, &s, theta, n, V + j * n, 1e-4, 1, HFD + j * n);
        const double err = fd_max_abs_diff(HFD + j * n, HV + j * n, n),
                     hscale = fd_norm(HV + j * n, n) / sqrt((double)n);
        CHECK_MSG(err <= 1e-7 * fmax(hscale, 1e-6), "case %d HVP %d: max error %.3g (scale %.3g)",
                  index, j, err, hscale);
    }
    fd_check_symmetry(V, HV, n);

    /* one vector at a time in one chunk, uncached: the same products up to rounding */
    hesse_engine *e1 = engine(m, 64, 1, HESSE_PRECISION_F64);
    double *H1 = malloc((size_t)n * sizeof *H1);
    for (int j = 0; j < 3; j++) {
        REQUIRE(hesse_curv_product(e1, &s, HESSE_CURV_HESSIAN, 1, V + j * n, H1) == HESSE_OK);
        CHECK_MSG(fd_max_abs_diff(H1, HV + j * n, n) <= 1e-12 * fd_norm(HV + j * n, n),
                  "case %d block/chunk invariance", index);
    }

    /* a cache built by a GGN product (no second-order terms) serves a Hessian product: the
     * kept backward state is there */
    hesse_engine *e2 = engine(m, 3, 2, HESSE_PRECISION_F64);
    REQUIRE(hesse_curv_product(e2, &s, HESSE_CURV_GGN, 1, V, H1) == HESSE_OK);
    REQUIRE(hesse_curv_product(e2, &s, HESSE_CURV_HESSIAN, 1, V, H1) == HESSE_OK);
    CHECK_MSG(hesse_engine_cache_hits(e2) == 1 &&
                  fd_max_abs_diff(H1, HV, n) <= 1e-12 * fd_norm(HV, n),
              "case %d: Hessian from a cache built for the GGN", index);
    hesse_engine_free(e2);

    /* GGN against J^T A J v (J by central differences of the logits, h = 1e-5) */
    double *GV = malloc((size_t)(2 * n) * sizeof *GV), *ref = calloc((size_t)n, sizeof *ref);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_GGN, 2, V, GV) == HESSE_OK);
    fd_ggn_reference(e, &s, theta, n, nc->classes, nc->loss, 1e-5, V, ref);
    const double gerr =
        fd_max_abs_diff(ref, GV, n) / fmax(fd_norm(ref, n) / sqrt((double)n), 1e-12);
    CHECK_MSG(gerr < 1e-6, "case %d GGN vs J^T A J: %.3g", index, gerr);

    /* Residual E = H - G in one pass; it is not small (attention is curved) */
    double *EV = malloc((size_t)(2 * n) * sizeof *EV);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_RESIDUAL, 2, V, EV) == HESSE_OK);
    double rerr = 0;
    for (int64_t i = 0; i < 2 * n; i++) rerr = fmax(rerr, fabs(EV[i] - (HV[i] - GV[i])));
    CHECK_MSG(rerr <= 1e-12 * fd_norm(HV, 2 * n), "case %d residual: %.3g", index, rerr);
    CHECK_MSG(fd_norm(EV, n) > 1e-2 * fd_norm(HV, n), "case %d: |E v| %.3g of |H v| %.3g", index,
              fd_norm(EV, n), fd_norm(HV, n));

    /* Empirical Fisher against per-sample gradients: F v = (1/N) sum_i g_i (g_i . v) */
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_EFISHER, 1, V, EV) == HESSE_OK);
    memset(H1, 0, (size_t)n * sizeof *H1);
    for (int64_t i = 0; i < s.n; i++) {
        hesse_samples one = hesse_samples_slice(&s, i, 1);
        REQUIRE(hesse_loss_grad(e, &one, &loss, g, NULL) == HESSE_OK);
        double dot = 0;
        for (int64_t p = 0; p < n; p++) dot += g[p] * V[p];
        for (int64_t p = 0; p < n; p++) H1[p] += g[p] * dot / (double)s.n;
    }
    CHECK_MSG(fd_max_abs_diff(EV, H1, n) <= 1e-12 * fd_norm(H1, n), "case %d empirical Fisher",
              index);

    check_f32(m, &s, index, gfd, V, HFD, ref);

    free(EV);
    free(GV);
    free(ref);
    free(H1);
    free(V);
    free(HV);
    free(HFD);
    free(g);
    free(gfd);
    free(s.x);
    free(s.y);
    hesse_engine_free(e);
    hesse_engine_free(e1);
    hesse_model_free(m);
}

/* The dense Hessian (products of the identity's columns) against the dense finite-difference
 * Hessian (central differences of the gradient along each coordinate, Richardson), entry by
 * entry, for causal and full attention; H - G is most of it, so a second-order term left out
 * (the softmax's, the Q K or A V products', a parameter-input cross term) fails this. */
static void test_dense_hessian(int causal) {
    const char *arch = causal ? "multiheadattention(4,2,causal=True),flatten,linear(12,2)"
                              : "multiheadattention(4,2),flatten,linear(12,2)";
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create(arch, 1, 3, 4, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    randomise(m, 5 + (uint64_t)causal);
    const int64_t n = hesse_model_num_params(m);
    double *theta = hesse_model_params(m);
    hesse_rng rng;
    hesse_rng_seed(&rng, 3);
    hesse_samples s;
    make_samples(5, 3, 4, 2, &rng, &s);
    hesse_engine *e = engine(m, 2, 8, HESSE_PRECISION_F64);
    double *I = calloc((size_t)(n * n), sizeof *I), *H = malloc((size_t)(n * n) * sizeof *H),
           *G = malloc((size_t)(n * n) * sizeof *G), *F = malloc((size_t)(n * n) * sizeof *F);
    for (int64_t i = 0; i < n; i++) I[i * n + i] = 1.0;
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, (int)n, I, H) == HESSE_OK);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_GGN, (int)n, I, G) == HESSE_OK);
    for (int64_t i = 0; i < n; i++) fd_hvp(e, &s, theta, n, I + i * n, 1e-4, 1, F + i * n);
    const double err = fd_max_abs_diff(H, F, n * n), scale = fd_norm(F, n * n) / (double)n;
    double resid = 0;
    for (int64_t i = 0; i < n * n; i++) resid = fmax(resid, fabs(F[i] - G[i]));
    CHECK_MSG(err <= 1e-7 * scale, "dense Hessian (causal %d): max error %.3g (scale %.3g)", causal,
              err, scale);
    CHECK_MSG(resid > 1e3 * err, "dense Hessian (causal %d): |H - G| %.3g is not far above %.3g",
              causal, resid, err);
    free(I);
    free(H);
    free(G);
    free(F);
    free(s.x);
    free(s.y);
    hesse_engine_free(e);
    hesse_model_free(m);
}

/* The exact E[M] of a 1x1 one-channel convolution before the attention, z = w x + b: per
 * sample sum_p d^2 l_i / dz_p^2 = sum_p d^2 l_i / dx_p^2 / w^2, the second differences of the
 * loss in the input. Its R-passes run through the attention without a parameter direction
 * (V NULL) and without products (Y NULL). */
static void test_factor_through_attention(void) {
    const char *arch = "conv2d(1,1,1),multiheadattention(6,2,causal=True),tanh,flatten,"
                       "linear(30,3)";
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create(arch, 1, 5, 6, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    randomise(m, 11);
    double *theta = hesse_model_params(m);
    theta[0] = 0.8; /* the conv's weight w */
    hesse_rng rng;
    hesse_rng_seed(&rng, 9);
    hesse_samples s;
    make_samples(4, 5, 6, 3, &rng, &s);
    hesse_engine *e = engine(m, 3, 2, HESSE_PRECISION_F64);
    hesse_layer_factors *f = NULL;
    int nf = 0;
    REQUIRE(hesse_layer_factors_compute(e, &s, HESSE_FACTOR_M_EXACT, &f, &nf) == HESSE_OK);
    double want = 0, h = 1e-4;
    for (int64_t i = 0; i < s.n; i++) {
        hesse_samples one = hesse_samples_slice(&s, i, 1);
        double *x = s.x + i * 30;
        const double l0 = fd_loss(e, &one);
        for (int p = 0; p < 30; p++) {
            const double t = x[p];
            x[p] = t + h;
            const double lp = fd_loss(e, &one);
            x[p] = t - h;
            const double lm = fd_loss(e, &one);
            x[p] = t;
            want += (lp - 2 * l0 + lm) / (h * h) / (theta[0] * theta[0]) / (double)s.n;
        }
    }
    REQUIRE(nf >= 1 && f[0].layer == 0 && f[0].out == 1);
    CHECK_MSG(f[0].M_exact && test_close(f[0].M[0], want, 1e-5, 1e-8),
              "exact E[M] through attention: %.12g, second differences %.12g", f[0].M[0], want);
    hesse_layer_factors_free(f, nf);
    free(s.x);
    free(s.y);
    hesse_engine_free(e);
    hesse_model_free(m);
}

/* PyTorch's names, shapes and order; the init's bounds and zeros; the canonical text. */
static void test_tensors(void) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("conv2d(1,1,1),a.b:MultiheadAttention(6,3,causal=True),flatten,"
                               "linear(30,2)",
                               1, 5, 6, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    CHECK(strcmp(hesse_model_arch(m), "conv2d(1,1,1),a.b:multiheadattention(6,3,causal=True),"
                                      "flatten,linear(30,2)") == 0);
    static const char *const names[] = {"0.weight",
                                        "0.bias",
                                        "a.b.in_proj_weight",
                                        "a.b.in_proj_bias",
                                        "a.b.out_proj.weight",
                                        "a.b.out_proj.bias",
                                        "3.weight",
                                        "3.bias"};
    static const int64_t counts[] = {1, 1, 108, 18, 36, 6, 60, 2};
    REQUIRE(hesse_model_num_tensors(m) == 8);
    int64_t at = 0;
    for (int i = 0; i < 8; i++) {
        const hesse_tensor_info *t = hesse_model_tensor(m, i);
        CHECK_MSG(strcmp(t->name, names[i]) == 0 && t->count == counts[i] && t->offset == at,
                  "tensor %d: %s, %lld at %lld", i, t->name, (long long)t->count,
                  (long long)t->offset);
        at += counts[i];
    }
    const hesse_tensor_info *w = hesse_model_find_tensor(m, "a.b.in_proj_weight");
    CHECK(w && w->ndim == 2 && w->shape[0] == 18 && w->shape[1] == 6);
    CHECK(hesse_model_num_params(m) == at);
    hesse_model_init(m, 1);
    const double *p = hesse_model_params(m);
    double in_max = 0, out_max = 0, bias_max = 0;
    for (int i = 2; i < 110; i++) in_max = fmax(in_max, fabs(p[i]));
    for (int i = 110; i < 128; i++) bias_max = fmax(bias_max, fabs(p[i]));
    for (int i = 128; i < 164; i++) out_max = fmax(out_max, fabs(p[i]));
    for (int i = 164; i < 170; i++) bias_max = fmax(bias_max, fabs(p[i]));
    /* xavier_uniform_ bound sqrt(6 / (6 + 18)) = 0.5; kaiming bound 1 / sqrt(6) = 0.408 */
    CHECK(in_max <= 0.5 && in_max > 0.4 && out_max <= 1 / sqrt(6.0) && out_max > 0.3);
    CHECK(bias_max == 0);
    hesse_model_free(m);
    REQUIRE(hesse_model_create("multiheadattention(4,2,bias=False),flatten,linear(8,2)", 1, 2, 4,
                               HESSE_LOSS_MSE, &m) == HESSE_OK);
    CHECK(hesse_model_num_tensors(m) == 4 && hesse_model_num_params(m) == 64 + 18);
    CHECK(strcmp(hesse_model_tensor(m, 1)->name, "0.out_proj.weight") == 0 &&
          hesse_model_tensor(m, 1)->offset == 48);
    hesse_model_free(m);
}

static void expect_error(const char *arch, int c, int h, int w, const char *want) {
    hesse_model *m = NULL;
    const int rc = hesse_model_create(arch, c, h, w, HESSE_LOSS_CROSS_ENTROPY, &m);
    CHECK_MSG(rc == HESSE_EINPUT && strstr(hesse_last_error(), want), "%s: %d '%s'", arch, rc,
              hesse_last_error());
    hesse_model_free(m);
}

static void test_errors(void) {
    expect_error("multiheadattention(6,4),flatten,linear(30,2)", 1, 5, 6,
                 "multiheadattention(6,4): num_heads 4 does not divide embed_dim 6");
    expect_error("multiheadattention(6,2),flatten,linear(30,2)", 1, 5, 7,
                 "needs a sequence of width 6 (1xTx6) but gets 1x5x7");
    expect_error("multiheadattention(6,2),flatten,linear(30,2)", 2, 5, 6,
                 "needs a sequence of width 6 (1xTx6) but gets 2x5x6");
    expect_error("flatten,multiheadattention(6,2),linear(30,2)", 1, 5, 6, "but gets 30x1x1");
    expect_error("multiheadattention(6,2,causal=maybe),flatten,linear(30,2)", 1, 5, 6,
                 "causal must be True or False");
    expect_error("multiheadattention(1,1),flatten,linear(50000,2)", 1, 50000, 1,
                 "1 heads of 50000x50000 attention scores per sample are more than");
}

int main(void) {
    test_tensors();
    test_errors();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_case(&cases[i], (int)i);
    test_dense_hessian(0);
    test_dense_hessian(1);
    test_factor_through_attention();
    return test_summary("test_attention");
}
