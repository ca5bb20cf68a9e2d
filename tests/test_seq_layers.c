/* The sequence layers (issue 18): embedding, posembed, tokens, meanpool, linear on the last
 * dimension and layer norm per token, on sequences (1, T, D).
 *
 * Checks:
 *  - per network, as tests/test_arch_graph.c does for its layers: every gradient coordinate
 *    against central differences of the loss; Hessian-vector products against central
 *    differences of the gradient; the GGN product against J^T A J v with J from central
 *    differences of the logits; E = H - G in one pass; block and chunk invariance; and the
 *    single-precision engine against the same references;
 *  - a linear layer on a sequence is a 1x1 convolution over the positions: the same function,
 *    products and Kronecker factors (exact and Gauss-Newton M) as that conv net, whose factors
 *    tests/test_factors.c checks independently;
 *  - PyTorch float64 fixtures (tests/make_seq_fixture.py): logits, loss, gradient, HVP and
 *    GGN products to 1e-9;
 *  - bad token ids and the shapes the new layers refuse: one-line errors naming the culprit.
 * References come from forward passes (losses, logits), from PyTorch, or from the conv net,
 * never from the backward and R-operator code under test. */
#include <hesse/io.h>
#include <hesse/nn.h>

#include <string.h>

#include "check.h"
#include "fd_ref.h"
#include "fixture_util.h"

typedef struct {
    const char *arch;
    int c, h, w, classes;
    int vocab; /* > 0: the input is token ids in [0, vocab) */
    hesse_loss_kind loss;
} seq_case;

static const seq_case cases[] = {
    /* ids -> embedding + positions -> linear, GELU and layer norm per token -> mean -> head */
    {"embedding(11,6),posembed(5,6),linear(6,6),gelu,layernorm(6),meanpool,linear(6,3)", 1, 5, 1, 3,
     11, HESSE_LOSS_CROSS_ENTROPY},
    /* a context shorter than posembed's table (rows 4, 5 unused: zero gradient), no bias, MSE */
    {"embedding(7,4),posembed(6,4),linear(4,5,bias=False),tanh,linear(5,4),layernorm(4),meanpool,"
     "linear(4,3)",
     1, 4, 1, 3, 7, HESSE_LOSS_MSE},
    /* image patches -> tokens (the ViT stem) */
    {"conv2d(1,3,2,stride=2),tokens,posembed(6,3),linear(3,4),gelu,layernorm(4),meanpool,"
     "linear(4,3)",
     1, 4, 6, 3, 0, HESSE_LOSS_CROSS_ENTROPY},
    /* tokens first (its input does not depend on the parameters), a pre-LN residual block on a
     * sequence */
    {"tokens,linear(2,3),residual(layernorm(3),linear(3,3),tanh),meanpool,linear(3,2)", 2, 3, 3, 2,
     0, HESSE_LOSS_CROSS_ENTROPY},
    /* posembed first, on a real-valued sequence; layer norm without affine parameters */
    {"posembed(5,3),linear(3,4),sigmoid,layernorm(4,elementwise_affine=False),meanpool,linear(4,3)",
     1, 5, 3, 3, 0, HESSE_LOSS_MSE},
    /* posembed after a curved layer, whose second-order term reads posembed's input gradient
     * (the output's, NN_GRAD_SAME, also when restored from the cache) */
    {"tokens,linear(2,4),gelu,posembed(9,4),layernorm(4),meanpool,linear(4,2)", 2, 3, 3, 2, 0,
     HESSE_LOSS_CROSS_ENTROPY},
    /* linear on the last dimension of a conv's output (c, h, w): c*h = 6 positions */
    {"conv2d(1,2,2),linear(3,2),tanh,flatten,linear(12,3)", 1, 4, 4, 3, 0,
     HESSE_LOSS_CROSS_ENTROPY},
};

static void make_samples(int n, const seq_case *sc, hesse_rng *rng, hesse_samples *s) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->c = sc->c;
    s->h = sc->h;
    s->w = sc->w;
    s->num_classes = sc->classes;
    int64_t dim = (int64_t)sc->c * sc->h * sc->w;
    s->x = malloc((size_t)(n * dim) * sizeof *s->x);
    s->y = malloc((size_t)n * sizeof *s->y);
    REQUIRE(s->x && s->y);
    for (int64_t i = 0; i < n * dim; i++)
        s->x[i] =
            sc->vocab ? (double)hesse_rng_below(rng, (uint64_t)sc->vocab) : hesse_rng_normal(rng);
    for (int i = 0; i < n; i++) s->y[i] = (int32_t)hesse_rng_below(rng, (uint64_t)sc->classes);
}

/* PyTorch's init, then the layer norms away from the identity. */
static void randomise(hesse_model *m, uint64_t seed) {
    hesse_model_init(m, seed);
    hesse_rng rng;
    hesse_rng_seed(&rng, seed + 99);
    double *theta = hesse_model_params(m);
    for (int l = 0; l < hesse_model_num_layers(m); l++) {
        const hesse_layer *L = hesse_model_layer(m, l);
        if (L->kind != HESSE_LAYER_LAYERNORM) continue;
        for (int64_t i = 0; i < L->weight_count; i++)
            theta[L->weight_offset + i] = 1.0 + 0.3 * hesse_rng_normal(&rng);
        for (int64_t i = 0; i < L->bias_count; i++)
            theta[L->bias_offset + i] = 0.3 * hesse_rng_normal(&rng);
    }
}

static hesse_engine *engine(const hesse_model *m, int chunk, int block, hesse_precision prec) {
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = chunk;
    ep.max_block = block;
    ep.precision = prec;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    return e;
}

/* The single-precision engine against the double-precision references (gradient gfd, HVPs HFD
 * of the 3 directions V, GGN product ref of V's first): float's roundoff through a few layers
 * is ~1e-6 of the scale, a wrong term 1e-2 or more (test_arch_graph.c has the reasoning). */
static void check_f32(const hesse_model *m, const hesse_samples *s, int index, const double *gfd,
                      const double *V, const double *HFD, const double *ref) {
    const int64_t n = hesse_model_num_params(m);
    double *g = malloc((size_t)n * sizeof *g), *HV = malloc((size_t)(3 * n) * sizeof *HV);
    hesse_engine *e32 = engine(m, 4, 2, HESSE_PRECISION_F32);
    double loss;
    REQUIRE(hesse_loss_grad(e32, s, &loss, g, NULL) == HESSE_OK);
    const double gscale = fd_norm(gfd, n) / sqrt((double)n);
    double err = fd_max_abs_diff(g, gfd, n);
    CHECK_MSG(err <= 1e-4 * fmax(gscale, 1e-3), "case %d f32 gradient: %.3g (scale %.3g)", index,
              err, gscale);
    REQUIRE(hesse_curv_product(e32, s, HESSE_CURV_HESSIAN, 3, V, HV) == HESSE_OK);
    for (int j = 0; j < 3; j++) {
        double hscale = fd_norm(HFD + j * n, n) / sqrt((double)n);
        err = fd_max_abs_diff(HV + j * n, HFD + j * n, n);
        CHECK_MSG(err <= 1e-4 * fmax(hscale, 1e-6), "case %d f32 HVP %d: %.3g (scale %.3g)", index,
                  j, err, hscale);
    }
    REQUIRE(hesse_curv_product(e32, s, HESSE_CURV_GGN, 1, V, HV) == HESSE_OK);
    err = fd_max_abs_diff(HV, ref, n) / fmax(fd_norm(ref, n) / sqrt((double)n), 1e-12);
    CHECK_MSG(err <= 1e-4, "case %d f32 GGN: %.3g", index, err);
    hesse_engine_free(e32);
    free(g);
    free(HV);
}

static void test_case(const seq_case *sc, int index) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create(sc->arch, sc->c, sc->h, sc->w, sc->loss, &m) == HESSE_OK);
    randomise(m, 300 + (uint64_t)index);
    const int64_t n = hesse_model_num_params(m);
    double *theta = hesse_model_params(m);
    hesse_rng rng;
    hesse_rng_seed(&rng, 31 + (uint64_t)index);
    hesse_samples s;
    make_samples(11, sc, &rng, &s);
    hesse_engine *e = engine(m, 4, 2, HESSE_PRECISION_F64); /* chunks 4, 4, 3 */

    double *g = malloc((size_t)n * sizeof *g), *gfd = malloc((size_t)n * sizeof *g);
    double loss;
    REQUIRE(hesse_loss_grad(e, &s, &loss, g, NULL) == HESSE_OK);
    CHECK(isfinite(loss) && loss > 0);

    /* Gradient, every coordinate: central differences with h = 1e-6 (truncation ~1e-12,
     * rounding ~1e-10): 1e-7 of the gradient's scale catches any wrong term. */
    const double worst = fd_gradient(e, &s, theta, n, 1e-6, g, gfd),
                 gscale = fd_norm(g, n) / sqrt((double)n);
    CHECK_MSG(worst <= 1e-7 * fmax(gscale, 1e-3), "case %d gradient: max error %.3g (scale %.3g)",
              index, worst, gscale);

    /* HVPs against Richardson-extrapolated central differences of the gradient (h = 1e-4:
     * ~h^4 truncation and ~1e-11 rounding; every net here is smooth). */
    double *V = malloc((size_t)(3 * n) * sizeof *V), *HV = malloc((size_t)(3 * n) * sizeof *V);
    double *HFD = malloc((size_t)(3 * n) * sizeof *V), *HV1 = malloc((size_t)n * sizeof *V);
    for (int64_t i = 0; i < 3 * n; i++) V[i] = hesse_rng_normal(&rng);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 3, V, HV) == HESSE_OK);
    for (int j = 0; j < 3; j++) {
        fd_hvp(e, &s, theta, n, V + j * n, 1e-4, 1, HFD + j * n);
        double err = fd_max_abs_diff(HFD + j * n, HV + j * n, n);
        double hscale = fd_norm(HV + j * n, n) / sqrt((double)n);
        CHECK_MSG(err <= 1e-8 * fmax(hscale, 1e-6), "case %d HVP %d: max error %.3g (scale %.3g)",
                  index, j, err, hscale);
    }

    /* The cache: a second product reuses the chunks' forward and backward state (posembed's
     * gradient is its output's, NN_GRAD_SAME), the same bits. */
    double *HVa = malloc((size_t)(3 * n) * sizeof *V), *HVb = malloc((size_t)(3 * n) * sizeof *V);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 3, V, HVa) == HESSE_OK);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 3, V, HVb) == HESSE_OK);
    CHECK(hesse_engine_cache_hits(e) >= 1);
    CHECK_MSG(memcmp(HVa, HVb, (size_t)(3 * n) * sizeof *HVa) == 0 &&
                  fd_max_abs_diff(HVa, HV, 3 * n) <= 1e-14 * fd_norm(HV, 3 * n),
              "case %d cached product", index);
    free(HVa);
    free(HVb);

    /* Block and chunk invariance: one vector at a time in one chunk, rounding only. */
    hesse_engine *e1 = engine(m, 64, 1, HESSE_PRECISION_F64);
    for (int j = 0; j < 3; j++) {
        REQUIRE(hesse_curv_product(e1, &s, HESSE_CURV_HESSIAN, 1, V + j * n, HV1) == HESSE_OK);
        CHECK_MSG(fd_max_abs_diff(HV1, HV + j * n, n) <= 1e-12 * fd_norm(HV + j * n, n),
                  "case %d block/chunk invariance %d", index, j);
    }

    /* GGN against J^T A J v (J by central differences of the logits, h = 1e-5). */
    double *GV = malloc((size_t)(2 * n) * sizeof *GV), *ref = calloc((size_t)n, sizeof *ref);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_GGN, 2, V, GV) == HESSE_OK);
    fd_ggn_reference(e, &s, theta, n, sc->classes, sc->loss, 1e-5, V, ref);
    double gerr = fd_max_abs_diff(ref, GV, n) / fmax(fd_norm(ref, n) / sqrt((double)n), 1e-12);
    CHECK_MSG(gerr < 1e-6, "case %d GGN vs J^T A J: %.3g", index, gerr);

    /* E = H - G in one pass. */
    double *EV = malloc((size_t)(2 * n) * sizeof *EV);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_RESIDUAL, 2, V, EV) == HESSE_OK);
    double rerr = 0;
    for (int64_t i = 0; i < 2 * n; i++) rerr = fmax(rerr, fabs(EV[i] - (HV[i] - GV[i])));
    CHECK_MSG(rerr <= 1e-12 * fd_norm(HV, 2 * n), "case %d residual: %.3g", index, rerr);

    check_f32(m, &s, index, gfd, V, HFD, ref);

    free(EV);
    free(GV);
    free(ref);
    free(HV1);
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

/* linear(3,4) on the tokens of a (3, 5, 1) input is conv2d(3,4,1) on the input itself: the
 * same parameters (weight [4, 3] and [4, 3, 1, 1] hold the same values), the same losses,
 * products and Kronecker factors, the latter with the conv's positions convention. */
static void test_linear_is_conv1x1(void) {
    hesse_model *a = NULL, *b = NULL;
    REQUIRE(hesse_model_create("tokens,linear(3,4),tanh,meanpool,linear(4,3)", 3, 5, 1,
                               HESSE_LOSS_CROSS_ENTROPY, &a) == HESSE_OK);
    REQUIRE(hesse_model_create("conv2d(3,4,1),tanh,adaptiveavgpool2d(1),flatten,linear(4,3)", 3, 5,
                               1, HESSE_LOSS_CROSS_ENTROPY, &b) == HESSE_OK);
    const int64_t n = hesse_model_num_params(a);
    REQUIRE(n == hesse_model_num_params(b));
    hesse_model_init(a, 5);
    memcpy(hesse_model_params(b), hesse_model_params(a), (size_t)n * sizeof(double));
    hesse_rng rng;
    hesse_rng_seed(&rng, 55);
    const seq_case sc = {NULL, 3, 5, 1, 3, 0, HESSE_LOSS_CROSS_ENTROPY};
    hesse_samples s;
    make_samples(9, &sc, &rng, &s);
    hesse_engine *ea = engine(a, 4, 3, HESSE_PRECISION_F64),
                 *eb = engine(b, 4, 3, HESSE_PRECISION_F64);
    double *V = malloc((size_t)(2 * n) * sizeof *V), *Ya = malloc((size_t)(2 * n) * sizeof *V),
           *Yb = malloc((size_t)(2 * n) * sizeof *V);
    for (int64_t i = 0; i < 2 * n; i++) V[i] = hesse_rng_normal(&rng);
    double la, lb;
    REQUIRE(hesse_loss_grad(ea, &s, &la, Ya, NULL) == HESSE_OK);
    REQUIRE(hesse_loss_grad(eb, &s, &lb, Yb, NULL) == HESSE_OK);
    CHECK_CLOSE(la, lb, 1e-14, 1e-12);
    CHECK_MSG(fixture_rel_err(Ya, Yb, n) < 1e-13, "linear vs conv1x1 gradient %.3g",
              fixture_rel_err(Ya, Yb, n));
    REQUIRE(hesse_curv_product(ea, &s, HESSE_CURV_HESSIAN, 2, V, Ya) == HESSE_OK);
    REQUIRE(hesse_curv_product(eb, &s, HESSE_CURV_HESSIAN, 2, V, Yb) == HESSE_OK);
    CHECK_MSG(fixture_rel_err(Ya, Yb, 2 * n) < 1e-13, "linear vs conv1x1 HVP %.3g",
              fixture_rel_err(Ya, Yb, 2 * n));
    for (int which = 0; which < 2; which++) {
        hesse_layer_factors *fa = NULL, *fb = NULL;
        int na = 0, nb = 0;
        REQUIRE(hesse_layer_factors_compute(ea, &s, (hesse_factor_m)which, &fa, &na) == HESSE_OK);
        REQUIRE(hesse_layer_factors_compute(eb, &s, (hesse_factor_m)which, &fb, &nb) == HESSE_OK);
        REQUIRE(na == 2 && nb == 2);
        for (int i = 0; i < 2; i++) {
            CHECK(fa[i].in == fb[i].in && fa[i].out == fb[i].out);
            CHECK(fa[i].positions == fb[i].positions && fa[i].M_exact == fb[i].M_exact);
            const double exx = fixture_rel_err(fa[i].xx, fb[i].xx, fa[i].in * fa[i].in),
                         exm = fixture_rel_err(fa[i].x_mean, fb[i].x_mean, fa[i].in),
                         eM = fixture_rel_err(fa[i].M, fb[i].M, fa[i].out * fa[i].out);
            CHECK_MSG(exx < 1e-13 && exm < 1e-13 && eM < 1e-12,
                      "factors (M %s) of layer %d: xx %.3g, x_mean %.3g, M %.3g",
                      hesse_factor_m_name((hesse_factor_m)which), i, exx, exm, eM);
        }
        CHECK(fa[0].positions == 5);
        hesse_layer_factors_free(fa, na);
        hesse_layer_factors_free(fb, nb);
    }
    free(V);
    free(Ya);
    free(Yb);
    free(s.x);
    free(s.y);
    hesse_engine_free(ea);
    hesse_engine_free(eb);
    hesse_model_free(a);
    hesse_model_free(b);
}

/* ---- PyTorch fixtures ------------------------------------------------------------------ */

static void data_path(const char *file, char *buf, size_t cap) {
    const char *dir = getenv("HESSE_TEST_DATA");
    snprintf(buf, cap, "%s/%s", dir && *dir ? dir : "tests/data", file);
}

/* fixture_seq_<name>_{model,data,expected}.safetensors: x F64 [N, c*h*w] (ids as numbers), y
 * I64 [N]; expected logits [N, C], loss [1], grad [n], v [2, n], hvp [2, n], ggnv [2, n]. */
static void test_fixture(const char *name, const char *arch, int c, int h, int w) {
    char path[1024], file[128];
    snprintf(file, sizeof file, "fixture_seq_%s_model.safetensors", name);
    data_path(file, path, sizeof path);
    hesse_model *m = NULL;
    hesse_load_options o = hesse_load_defaults();
    o.arch = arch; /* a PyTorch state_dict: the architecture comes from its user */
    o.c = c;
    o.h = h;
    o.w = w;
    REQUIRE(hesse_model_load(path, &o, &m, NULL) == HESSE_OK);
    const int64_t n = hesse_model_num_params(m);
    const int C = hesse_model_num_outputs(m);
    hesse_st_file *fd = NULL, *fe = NULL;
    snprintf(file, sizeof file, "fixture_seq_%s_data.safetensors", name);
    data_path(file, path, sizeof path);
    REQUIRE(hesse_st_open(path, &fd) == HESSE_OK);
    snprintf(file, sizeof file, "fixture_seq_%s_expected.safetensors", name);
    data_path(file, path, sizeof path);
    REQUIRE(hesse_st_open(path, &fe) == HESSE_OK);

    hesse_samples s;
    memset(&s, 0, sizeof s);
    hesse_model_input_shape(m, &s.c, &s.h, &s.w);
    const hesse_st_tensor *tx = hesse_st_find(fd, "x");
    REQUIRE(tx != NULL);
    s.n = tx->shape[0];
    s.num_classes = C;
    s.x = fixture_read(fd, "x", s.n * s.c * s.h * s.w);
    double *yd = fixture_read(fd, "y", s.n);
    s.y = malloc((size_t)s.n * sizeof *s.y);
    for (int64_t i = 0; i < s.n; i++) s.y[i] = (int32_t)yd[i];

    double *logits = fixture_read(fe, "logits", s.n * C), *loss = fixture_read(fe, "loss", 1);
    double *grad = fixture_read(fe, "grad", n), *V = fixture_read(fe, "v", 2 * n);
    double *hvp = fixture_read(fe, "hvp", 2 * n), *ggnv = fixture_read(fe, "ggnv", 2 * n);
    for (int p = 0; p < 2; p++) {
        hesse_engine *e = engine(m, 5, 2, p ? HESSE_PRECISION_F32 : HESSE_PRECISION_F64);
        /* float: its roundoff (6e-8) through a few layers, 1e-4 with margin */
        const double tol = p ? 1e-4 : 1e-9;
        double *z = malloc((size_t)(s.n * C) * sizeof *z), *g = malloc((size_t)n * sizeof *g),
               *Y = malloc((size_t)(2 * n) * sizeof *Y), l;
        REQUIRE(hesse_forward(e, &s, z) == HESSE_OK);
        CHECK_MSG(fixture_max_rel(z, logits, s.n * C) <= tol, "%s %s logits: %.3g", name,
                  p ? "f32" : "f64", fixture_max_rel(z, logits, s.n * C));
        REQUIRE(hesse_loss_grad(e, &s, &l, g, NULL) == HESSE_OK);
        CHECK_CLOSE(l, loss[0], tol, 1e-12);
        CHECK_MSG(fixture_rel_err(g, grad, n) <= tol, "%s %s gradient: %.3g", name,
                  p ? "f32" : "f64", fixture_rel_err(g, grad, n));
        REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 2, V, Y) == HESSE_OK);
        const double eh = fixture_rel_err(Y, hvp, 2 * n);
        CHECK_MSG(eh <= tol, "%s %s HVP: %.3g", name, p ? "f32" : "f64", eh);
        REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_GGN, 2, V, Y) == HESSE_OK);
        const double eg = fixture_rel_err(Y, ggnv, 2 * n);
        CHECK_MSG(eg <= tol, "%s %s GGN product: %.3g", name, p ? "f32" : "f64", eg);
        printf("fixture %s %s: relative errors: logits %.2g, loss %.2g, gradient %.2g, HVP %.2g, "
               "GGN product %.2g\n",
               name, p ? "f32" : "f64", fixture_max_rel(z, logits, s.n * C),
               fabs(l - loss[0]) / fabs(loss[0]), fixture_rel_err(g, grad, n), eh, eg);
        free(z);
        free(g);
        free(Y);
        hesse_engine_free(e);
    }
    free(logits);
    free(loss);
    free(grad);
    free(V);
    free(hvp);
    free(ggnv);
    free(yd);
    free(s.x);
    free(s.y);
    hesse_st_close(fd);
    hesse_st_close(fe);
    hesse_model_free(m);
}

/* ---- Bad input ------------------------------------------------------------------------- */

/* Token ids that are not integers in [0, V): every pass refuses them first, naming the sample
 * (its source index when the samples have one) and the position. */
static void test_bad_ids(void) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("embedding(5,2),meanpool,linear(2,2)", 1, 3, 1,
                               HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    hesse_model_init(m, 1);
    hesse_engine *e = engine(m, 4, 1, HESSE_PRECISION_F64);
    double x[12] = {0, 1, 2, 3, 4, 0, 1, 1, 1, 2, 2, 2};
    int32_t y[4] = {0, 1, 0, 1};
    int64_t src[4] = {10, 11, 12, 13};
    hesse_samples s = {.n = 4, .c = 1, .h = 3, .w = 1, .num_classes = 2, .x = x, .y = y};
    const int64_t n = hesse_model_num_params(m);
    double loss, *g = malloc((size_t)n * sizeof *g), *Y = malloc((size_t)n * sizeof *Y);
    REQUIRE(hesse_loss_grad(e, &s, &loss, g, NULL) == HESSE_OK);
    const double bad[] = {5, -1, 2.5, NAN, 1e300};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        x[7] = bad[i]; /* sample 2, position 1 */
        s.source = i % 2 ? src : NULL;
        CHECK(hesse_loss_grad(e, &s, &loss, g, NULL) == HESSE_EINPUT);
        const char *want = i % 2 ? "sample 12 position 1 has token id "
                                 : "sample 2 position 1 "
                                   "has token id ";
        CHECK_MSG(strstr(hesse_last_error(), want) && strstr(hesse_last_error(), "[0, 5)"),
                  "message: %s", hesse_last_error());
        CHECK(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 1, g, Y) == HESSE_EINPUT);
        CHECK(hesse_forward(e, &s, Y) == HESSE_EINPUT);
    }
    free(g);
    free(Y);
    hesse_engine_free(e);
    hesse_model_free(m);
}

static void expect_arch_error(const char *arch, int c, int h, int w, const char *want) {
    hesse_model *m = NULL;
    CHECK(hesse_model_create(arch, c, h, w, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_EINPUT);
    CHECK_MSG(strstr(hesse_last_error(), want) != NULL, "%s: got \"%s\", want \"%s\"", arch,
              hesse_last_error(), want);
    hesse_model_free(m);
}

static void test_arch(void) {
    expect_arch_error("embedding(10,4),posembed(8,4),meanpool,linear(4,2)", 1, 9, 1,
                      "layer 1 posembed(8,4) gets 9 positions: the context is longer than "
                      "posembed's 8");
    expect_arch_error("embedding(10,4),meanpool,linear(4,2)", 1, 9, 2,
                      "takes token ids of shape 1xTx1, not 1x9x2");
    expect_arch_error("posembed(8,4),meanpool,linear(4,2)", 1, 8, 3,
                      "posembed(8,4) takes a sequence of shape 1xTx4, not 1x8x3");
    expect_arch_error("tokens,linear(5,2),meanpool,linear(2,2)", 4, 3, 3,
                      "linear(5,2) on input 1x9x4 acts on its last dimension, which is 4, not 5");
    expect_arch_error("conv2d(1,2,3),meanpool,linear(2,2)", 1, 5, 5,
                      "meanpool takes a sequence of shape 1xTxD, not 2x3x3");
    /* shapes, tensors and the canonical text of a sequence net */
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("wte:embedding(10,4),wpe:posembed(8,4),linear(4,6,bias=False),"
                               "layernorm(6),meanpool,linear(6,2)",
                               1, 5, 1, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    CHECK(strcmp(hesse_model_arch(m), "wte:embedding(10,4),wpe:posembed(8,4),linear(4,6,"
                                      "bias=False),layernorm(6),meanpool,linear(6,2)") == 0);
    const hesse_layer *L = hesse_model_layer(m, 2);
    CHECK(L->out_c == 1 && L->out_h == 5 && L->out_w == 6 && L->weight_count == 24);
    const hesse_tensor_info *t = hesse_model_tensor(m, 0);
    CHECK(strcmp(t->name, "wte.weight") == 0 && t->shape[0] == 10 && t->shape[1] == 4);
    t = hesse_model_tensor(m, 1);
    CHECK(strcmp(t->name, "wpe.weight") == 0 && t->shape[0] == 8 && t->shape[1] == 4);
    t = hesse_model_tensor(m, 2);
    CHECK(strcmp(t->name, "2.weight") == 0 && t->ndim == 2 && t->shape[0] == 6 && t->shape[1] == 4);
    CHECK(hesse_model_num_params(m) == 40 + 32 + 24 + 12 + 14);
    hesse_model_free(m);
}

int main(void) {
    test_arch();
    test_bad_ids();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_case(&cases[i], (int)i);
    test_linear_is_conv1x1();
    test_fixture("lm",
                 "embedding(11,6),posembed(5,6),linear(6,6),gelu,layernorm(6),meanpool,linear(6,3)",
                 1, 5, 1);
    test_fixture("vit",
                 "conv2d(1,3,2,stride=2),tokens,posembed(6,3),linear(3,4),gelu,layernorm(4),"
                 "meanpool,linear(4,3)",
                 1, 4, 6);
    return test_summary("test_seq_layers");
}
