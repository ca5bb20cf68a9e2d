/* Residual graphs, batch norm (evaluation mode), layer norm, adaptive pooling, dropout and
 * identity: the architecture syntax (module names, residual blocks, presets, errors), and the
 * engine's passes through every new construct against finite differences, in double and in
 * single precision.
 *
 * Checks, per network (as tests/test_nn.c does for chains):
 *  - every gradient coordinate against central differences of the loss;
 *  - Hessian-vector products against central differences of the gradient;
 *  - the GGN product against J^T A J v with J from central differences of the logits;
 *  - the residual E = H - G in one pass, symmetry u^T H v = v^T H u;
 *  - block, chunk and cache invariance;
 *  - the single-precision engine's gradient and products against the same references.
 * References come from forward passes only (losses, logits) or from the gradient already
 * checked against them, so they are independent of the backward and R-operator code. */
#include <hesse/io.h>
#include <hesse/nn.h>

#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nn/nn-impl.h"
#include "fd_ref.h"

typedef struct {
    const char *arch;
    int c, h, w, classes;
    hesse_loss_kind loss;
    int smooth; /* no ReLU / max-pool kinks: finite differences of the gradient exact to O(h^2) */
} net_case;

static const net_case cases[] = {
    /* every new layer in one net: batch norm 2d/1d, a residual block with a projection shortcut,
     * layer norm over a whole sample, non-dividing adaptive pooling, dropout */
    {"conv2d(2,3,3,padding=1),batchnorm2d(3),tanh,"
     "a:residual(conv2d(3,3,3,padding=1),batchnorm2d(3,eps=0.01),gelu,conv2d(3,3,3,padding=1)"
     "|conv2d(3,3,1),batchnorm2d(3)),layernorm(3,5,5),adaptiveavgpool2d((2,3)),flatten,"
     "linear(18,4),batchnorm1d(4),sigmoid,dropout(p=0.2),linear(4,3)",
     2, 5, 5, 3, HESSE_LOSS_CROSS_ENTROPY, 1},
    /* a residual block first (its input does not depend on the parameters), an identity main
     * branch over an empty shortcut (x + x), layer norm over the last dimension only and
     * without affine parameters */
    {"residual(conv2d(2,2,3,padding=1),tanh),layernorm(5),b:residual(dropout2d),identity,"
     "flatten,layernorm(50,elementwise_affine=False),linear(50,3)",
     2, 5, 5, 3, HESSE_LOSS_CROSS_ENTROPY, 1},
    /* the first parameters inside a shortcut; a main branch without parameters; MSE */
    {"residual(tanh|conv2d(2,2,1)),adaptiveavgpool2d(2),flatten,linear(8,6),"
     "layernorm(6,bias=False),gelu,r:residual(linear(6,6),tanh,batchnorm1d(6,affine=False)),"
     "linear(6,3)",
     2, 4, 4, 3, HESSE_LOSS_MSE, 1},
    /* ReLU and max pooling inside a branch (the fused ReLU + max-pool passes), batch norm
     * before a residual sum, a ReLU after it */
    {"conv2d(1,2,3,padding=1),"
     "residual(conv2d(2,2,3,padding=1),relu,maxpool2d(3,stride=1,padding=1),batchnorm2d(2)"
     "|conv2d(2,2,1,bias=False)),relu,maxpool2d(2),flatten,linear(18,3)",
     1, 6, 6, 3, HESSE_LOSS_CROSS_ENTROPY, 0},
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

/* PyTorch's init, then every normalisation away from the identity: random affine parameters
 * and running statistics. */
static void randomise(hesse_model *m, uint64_t seed) {
    hesse_model_init(m, seed);
    hesse_rng rng;
    hesse_rng_seed(&rng, seed + 99);
    double *theta = hesse_model_params(m), *buf = hesse_model_buffers(m);
    for (int l = 0; l < hesse_model_num_layers(m); l++) {
        const hesse_layer *L = hesse_model_layer(m, l);
        if (L->kind != HESSE_LAYER_BATCHNORM2D && L->kind != HESSE_LAYER_BATCHNORM1D &&
            L->kind != HESSE_LAYER_LAYERNORM)
            continue;
        for (int64_t i = 0; i < L->weight_count; i++)
            theta[L->weight_offset + i] = 1.0 + 0.3 * hesse_rng_normal(&rng);
        for (int64_t i = 0; i < L->bias_count; i++)
            theta[L->bias_offset + i] = 0.3 * hesse_rng_normal(&rng);
        if (L->kind != HESSE_LAYER_LAYERNORM)
            for (int c = 0; c < L->in_c; c++) {
                buf[L->buffer_offset + c] = 0.3 * hesse_rng_normal(&rng);
                buf[L->buffer_offset + L->in_c + c] = 0.5 + 1.5 * hesse_rng_uniform(&rng);
            }
    }
}

static hesse_engine *engine(const hesse_model *m, int chunk, int block, int cache,
                            hesse_precision prec) {
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = chunk;
    ep.max_block = block;
    ep.cache = cache;
    ep.precision = prec;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    return e;
}

static void test_case(const net_case *nc, int index) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create(nc->arch, nc->c, nc->h, nc->w, nc->loss, &m) == HESSE_OK);
    randomise(m, 200 + (uint64_t)index);
    const int64_t n = hesse_model_num_params(m);
    double *theta = hesse_model_params(m);
    hesse_rng rng;
    hesse_rng_seed(&rng, 17 + (uint64_t)index);
    hesse_samples s;
    make_samples(11, nc, &rng, &s);
    hesse_engine *e = engine(m, 4, 2, 1, HESSE_PRECISION_F64); /* chunks 4, 4, 3 */

    double *g = malloc((size_t)n * sizeof *g), *gp = malloc((size_t)n * sizeof *g),
           *gfd = malloc((size_t)n * sizeof *g);
    double loss;
    REQUIRE(hesse_loss_grad(e, &s, &loss, g, NULL) == HESSE_OK);
    CHECK(isfinite(loss) && loss > 0);

    /* Gradient, every coordinate: central differences with h = 1e-6 (truncation ~h^2 |L'''|
     * ~ 1e-12, rounding ~eps |L| / h ~ 1e-10): 1e-7 of the gradient's scale catches any wrong
     * term. */
    const double hg = 1e-6;
    const double worst = fd_gradient(e, &s, theta, n, hg, g, gfd),
                 gscale = fd_norm(g, n) / sqrt((double)n);
    CHECK_MSG(worst <= 1e-7 * fmax(gscale, 1e-3), "case %d gradient: max error %.3g (scale %.3g)",
              index, worst, gscale);

    /* Hessian-vector products against central differences of the gradient along v. Smooth
     * nets: Richardson's extrapolation (4 D(h/2) - D(h)) / 3 of central differences D with
     * h = 1e-4 cancels the h^2 term, leaving ~h^4 |L^(5)| ~ 1e-14 (layer norms over a few
     * values have large higher derivatives: plain central differences err by 1e-6 here) and
     * rounding ~eps |g| / h ~ 1e-11. With kinks h = 1e-8 keeps every pre-activation on its side
     * (rounding ~1e-9; see test_nn.c), one central difference. */
    double *V = malloc((size_t)(3 * n) * sizeof *V), *HV = malloc((size_t)(3 * n) * sizeof *V);
    double *HFD = malloc((size_t)(3 * n) * sizeof *V);
    for (int64_t i = 0; i < 3 * n; i++) V[i] = hesse_rng_normal(&rng);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 3, V, HV) == HESSE_OK);
    for (int j = 0; j < 3; j++) {
        fd_hvp(e, &s, theta, n, V + j * n, nc->smooth ? 1e-4 : 1e-8, nc->smooth, HFD + j * n);
        double err = fd_max_abs_diff(HFD + j * n, HV + j * n, n);
        double hscale = fd_norm(HV + j * n, n) / sqrt((double)n);
        CHECK_MSG(err <= (nc->smooth ? 1e-8 : 1e-6) * fmax(hscale, 1e-6),
                  "case %d HVP %d: max error %.3g (scale %.3g)", index, j, err, hscale);
    }

    /* Symmetry: u^T H v = v^T H u up to rounding. */
    fd_check_symmetry(V, HV, n);

    /* Block, chunk and cache invariance: one vector at a time, one chunk, no cache; and the
     * cached engine again (its second product reuses the cached forward/backward state and
     * its aliases). Rounding only: 1e-12. */
    hesse_engine *e1 = engine(m, 64, 1, 0, HESSE_PRECISION_F64);
    double *HV1 = malloc((size_t)n * sizeof *HV1), *HV2 = malloc((size_t)(3 * n) * sizeof *HV2);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 3, V, HV2) == HESSE_OK);
    CHECK(hesse_engine_cache_hits(e) >= 1);
    CHECK_MSG(fd_max_abs_diff(HV2, HV, 3 * n) <= 1e-14 * fd_norm(HV, 3 * n),
              "case %d cached product", index);
    for (int j = 0; j < 3; j++) {
        REQUIRE(hesse_curv_product(e1, &s, HESSE_CURV_HESSIAN, 1, V + j * n, HV1) == HESSE_OK);
        CHECK_MSG(fd_max_abs_diff(HV1, HV + j * n, n) <= 1e-12 * fd_norm(HV + j * n, n),
                  "case %d block/chunk invariance %d", index, j);
    }

    /* GGN against J^T A J v, J by central differences of the logits (h = 1e-5: error ~1e-10
     * relative; kinks: 1e-8), A the loss Hessian in the logits written out here. */
    const int C = nc->classes;
    double *GV = malloc((size_t)(2 * n) * sizeof *GV), *ref = calloc((size_t)n, sizeof *ref);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_GGN, 2, V, GV) == HESSE_OK);
    fd_ggn_reference(e, &s, theta, n, C, nc->loss, nc->smooth ? 1e-5 : 1e-8, V, ref);
    double gerr = fd_max_abs_diff(ref, GV, n) / fmax(fd_norm(ref, n) / sqrt((double)n), 1e-12);
    CHECK_MSG(gerr < (nc->smooth ? 1e-6 : 1e-5), "case %d GGN vs J^T A J: %.3g", index, gerr);

    /* Residual E = H - G in one pass equals the difference of the two products. */
    double *EV = malloc((size_t)(2 * n) * sizeof *EV);
    REQUIRE(hesse_curv_product(e, &s, HESSE_CURV_RESIDUAL, 2, V, EV) == HESSE_OK);
    double rerr = 0;
    for (int64_t i = 0; i < 2 * n; i++) rerr = fmax(rerr, fabs(EV[i] - (HV[i] - GV[i])));
    CHECK_MSG(rerr <= 1e-12 * fd_norm(HV, 2 * n), "case %d residual: %.3g", index, rerr);

    /* Single precision: the same references, looser. float's unit roundoff is 6e-8; the
     * gradient and products go through ~20 layers of sums of up to ~100 terms, normalisations
     * that divide by standard deviations of order 1, and the directions' conversion to float,
     * so their errors are ~1e-6 of the vectors' scale; 1e-4 holds them with margin while a
     * wrong or missing term (an omitted second-order term, a misplaced branch sum) is 1e-2 of
     * the scale or more, as the double-precision checks above show it would be. */
    hesse_engine *e32 = engine(m, 4, 2, 1, HESSE_PRECISION_F32);
    double loss32;
    REQUIRE(hesse_loss_grad(e32, &s, &loss32, gp, NULL) == HESSE_OK);
    CHECK_CLOSE(loss32, fd_loss(e, &s), 1e-5, 1e-3);
    double err32 = fd_max_abs_diff(gp, gfd, n);
    CHECK_MSG(err32 <= 1e-4 * fmax(gscale, 1e-3), "case %d f32 gradient: %.3g (scale %.3g)", index,
              err32, gscale);
    REQUIRE(hesse_curv_product(e32, &s, HESSE_CURV_HESSIAN, 3, V, HV2) == HESSE_OK);
    for (int j = 0; j < 3; j++) {
        double hscale = fd_norm(HFD + j * n, n) / sqrt((double)n);
        err32 = fd_max_abs_diff(HV2 + j * n, HFD + j * n, n);
        CHECK_MSG(err32 <= 1e-4 * fmax(hscale, 1e-6), "case %d f32 HVP %d: %.3g (scale %.3g)",
                  index, j, err32, hscale);
    }
    REQUIRE(hesse_curv_product(e32, &s, HESSE_CURV_GGN, 1, V, HV2) == HESSE_OK);
    err32 = fd_max_abs_diff(HV2, ref, n) / fmax(fd_norm(ref, n) / sqrt((double)n), 1e-12);
    CHECK_MSG(err32 <= 1e-4, "case %d f32 GGN: %.3g", index, err32);

    free(EV);
    free(GV);
    free(ref);
    free(HV1);
    free(HV2);
    free(V);
    free(HV);
    free(HFD);
    free(g);
    free(gp);
    free(gfd);
    free(s.x);
    free(s.y);
    hesse_engine_free(e);
    hesse_engine_free(e1);
    hesse_engine_free(e32);
    hesse_model_free(m);
}

/* ---- The syntax ------------------------------------------------------------------------------ */

static const hesse_tensor_info *tensor(const hesse_model *m, const char *name) {
    const hesse_tensor_info *t = hesse_model_find_tensor(m, name);
    if (!t) t = hesse_model_find_buffer(m, name);
    CHECK_MSG(t != NULL, "no tensor '%s'", name);
    return t;
}

static int shape_is(const hesse_tensor_info *t, int ndim, int64_t a, int64_t b, int64_t c,
                    int64_t d) {
    const int64_t want[4] = {a, b, c, d};
    if (!t || t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != want[i]) return 0;
    return 1;
}

/* The canonical string reads back to itself and to the same tensors. */
static void check_fixed_point(const hesse_model *m, int c, int h, int w) {
    hesse_model *again = NULL;
    REQUIRE(hesse_model_create(hesse_model_arch(m), c, h, w, 0, &again) == HESSE_OK);
    CHECK_MSG(strcmp(hesse_model_arch(again), hesse_model_arch(m)) == 0, "canonical '%s' vs '%s'",
              hesse_model_arch(again), hesse_model_arch(m));
    CHECK(hesse_model_num_params(again) == hesse_model_num_params(m));
    CHECK(hesse_model_num_tensors(again) == hesse_model_num_tensors(m));
    CHECK(hesse_model_num_buffers(again) == hesse_model_num_buffers(m));
    for (int i = 0; i < hesse_model_num_tensors(m) && i < hesse_model_num_tensors(again); i++)
        CHECK(strcmp(hesse_model_tensor(m, i)->name, hesse_model_tensor(again, i)->name) == 0);
    hesse_model_free(again);
}

static void expect_error(const char *arch, int c, int h, int w, const char *a, const char *b) {
    hesse_model *m = NULL;
    int rc = hesse_model_create(arch, c, h, w, 0, &m);
    CHECK_MSG(rc == HESSE_EINPUT && m == NULL, "'%s' should fail", arch);
    const char *msg = hesse_last_error();
    CHECK_MSG(strstr(msg, a) && (!b || strstr(msg, b)), "'%s': message '%s' lacks '%s' / '%s'",
              arch, msg, a, b ? b : "");
    hesse_model_free(m);
}

static void test_names(void) {
    hesse_model *m = NULL;
    /* named items, a residual with named and positional main items and a shortcut */
    REQUIRE(hesse_model_create("stem:Conv2d(3, 4, 3, padding=1, bias=False), BatchNorm2d(4), "
                               "ReLU, blk.0 : residual(conv1:conv2d(4,4,3,padding=1), "
                               "BatchNorm2d(4), relu | conv2d(4,4,1), bn:batchnorm2d(4)), "
                               "AdaptiveAvgPool2d((1, 1)), Flatten, fc:Linear(4, 2)",
                               3, 6, 6, 0, &m) == HESSE_OK);
    CHECK(shape_is(tensor(m, "stem.weight"), 4, 4, 3, 3, 3));
    CHECK(hesse_model_find_tensor(m, "stem.bias") == NULL);
    CHECK(shape_is(tensor(m, "1.weight"), 1, 4, 0, 0, 0));
    CHECK(shape_is(tensor(m, "1.running_mean"), 1, 4, 0, 0, 0));
    CHECK(shape_is(tensor(m, "1.running_var"), 1, 4, 0, 0, 0));
    const hesse_tensor_info *nbt = tensor(m, "1.num_batches_tracked");
    CHECK(nbt && nbt->ndim == 0 && nbt->count == 1 && nbt->integer);
    CHECK(shape_is(tensor(m, "blk.0.conv1.weight"), 4, 4, 4, 3, 3));
    CHECK(shape_is(tensor(m, "blk.0.1.bias"), 1, 4, 0, 0, 0));
    CHECK(shape_is(tensor(m, "blk.0.shortcut.0.weight"), 4, 4, 4, 1, 1));
    CHECK(shape_is(tensor(m, "blk.0.bn.running_var"), 1, 4, 0, 0, 0));
    CHECK(shape_is(tensor(m, "fc.weight"), 2, 2, 4, 0, 0));
    /* parameters: 108 + 8 + (144 + 4) + 8 + (16 + 4) + 8 + 10 = 310; buffers excluded */
    CHECK(hesse_model_num_params(m) == 310);
    CHECK(hesse_model_num_buffers(m) == 9);
    CHECK(hesse_model_buffer_count(m) == 3 * 9);
    /* buffers start at PyTorch's values */
    const hesse_tensor_info *rv = tensor(m, "blk.0.bn.running_var");
    CHECK(rv && hesse_model_buffers(m)[rv->offset] == 1.0);
    CHECK(strcmp(hesse_model_arch(m),
                 "stem:conv2d(3,4,3,padding=1,bias=False),batchnorm2d(4),relu,"
                 "blk.0:residual(conv1:conv2d(4,4,3,padding=1),batchnorm2d(4),relu|conv2d(4,4,1),"
                 "bn:batchnorm2d(4)),adaptiveavgpool2d(1),flatten,fc:linear(4,2)") == 0);
    check_fixed_point(m, 3, 6, 6);
    /* the markers hold their block */
    int markers = 0;
    for (int l = 0; l < hesse_model_num_layers(m); l++) {
        const hesse_layer *L = hesse_model_layer(m, l);
        if (L->kind == HESSE_LAYER_RESIDUAL || L->kind == HESSE_LAYER_SHORTCUT ||
            L->kind == HESSE_LAYER_ADD) {
            markers++;
            CHECK(hesse_model_layer(m, L->block[0])->kind == HESSE_LAYER_RESIDUAL);
            CHECK(hesse_model_layer(m, L->block[1])->kind == HESSE_LAYER_SHORTCUT);
            CHECK(hesse_model_layer(m, L->block[2])->kind == HESSE_LAYER_ADD);
            CHECK(strcmp(L->name, "blk.0") == 0);
        }
    }
    CHECK(markers == 3);
    hesse_model_free(m);

    /* an unnamed residual at top-level position 1; default names spelled out are dropped */
    REQUIRE(hesse_model_create("flatten,residual(0:linear(4,4),tanh|shortcut.0:linear(4,4)),"
                               "2:linear(4,2)",
                               4, 1, 1, 0, &m) == HESSE_OK);
    CHECK(strcmp(hesse_model_arch(m),
                 "flatten,residual(linear(4,4),tanh|linear(4,4)),linear(4,2)") == 0);
    CHECK(shape_is(tensor(m, "1.0.weight"), 2, 4, 4, 0, 0));
    CHECK(shape_is(tensor(m, "1.shortcut.0.bias"), 1, 4, 0, 0, 0));
    CHECK(shape_is(tensor(m, "2.weight"), 2, 2, 4, 0, 0));
    check_fixed_point(m, 4, 1, 1);
    hesse_model_free(m);

    /* keywords, floats, None, the layer norm shape forms */
    REQUIRE(hesse_model_create("batchnorm2d(num_features=2,eps=1e-3,momentum=None,affine=True,"
                               "track_running_stats=True),layernorm((2,3,3),eps=.5),"
                               "layernorm(normalized_shape=3,elementwise_affine=False),"
                               "dropout2d(0.25),adaptiveavgpool2d(output_size=(2,1)),flatten,"
                               "layernorm(4, 1e-6),linear(4,2)",
                               2, 3, 3, 0, &m) == HESSE_OK);
    CHECK(strcmp(hesse_model_arch(m),
                 "batchnorm2d(2,eps=0.001,momentum=None),layernorm(2,3,3,eps=0.5),"
                 "layernorm(3,elementwise_affine=False),dropout2d(p=0.25),"
                 "adaptiveavgpool2d((2,1)),flatten,layernorm(4,eps=1e-06),linear(4,2)") == 0);
    CHECK(shape_is(tensor(m, "1.weight"), 3, 2, 3, 3, 0));
    CHECK(hesse_model_find_tensor(m, "2.weight") == NULL);
    CHECK(shape_is(tensor(m, "6.bias"), 1, 4, 0, 0, 0));
    CHECK(hesse_model_layer(m, 0)->eps == 1e-3);
    check_fixed_point(m, 2, 3, 3);
    hesse_model_free(m);
}

static void test_errors(void) {
    expect_error("flatten,residual(linear(4,3)),linear(3,2)", 4, 1, 1, "residual block 1", "4x1x1");
    expect_error("flatten,b:residual(linear(4,3)|linear(4,2)),linear(3,2)", 4, 1, 1,
                 "residual block b: the main branch gives 3x1x1 but the shortcut gives 2x1x1",
                 NULL);
    expect_error("flatten,residual(residual(tanh),tanh),linear(4,2)", 4, 1, 1, "may not nest",
                 NULL);
    expect_error("flatten,residual(),linear(4,2)", 4, 1, 1, "expected a layer in residual", NULL);
    expect_error("flatten,residual(tanh,linear(4,4)|,linear(4,2)", 4, 1, 1, "expected", NULL);
    expect_error("flatten,a:linear(4,4),a:linear(4,2)", 4, 1, 1, "two modules are named 'a'", NULL);
    expect_error("flatten,a..b:linear(4,2)", 4, 1, 1, "empty part", NULL);
    expect_error("batchnorm2d(3),flatten,linear(12,2)", 2, 2, 1,
                 "batchnorm2d(3) expects 3 "
                 "channels",
                 "2x2x1");
    expect_error("batchnorm2d(2,track_running_stats=False),flatten,linear(8,2)", 2, 2, 2,
                 "track_running_stats=False", NULL);
    expect_error("batchnorm1d(8),flatten,linear(8,2)", 2, 2, 2, "needs flat input", NULL);
    expect_error("layernorm(2,2),flatten,linear(8,2)", 2, 2, 3, "normalized_shape must be",
                 "suffix of (2,2,3)");
    expect_error("flatten,layernorm(4),linear(8,2)", 2, 2, 2, "normalized_shape must be (8)", NULL);
    expect_error("dropout(p=1.5),flatten,linear(8,2)", 2, 2, 2, "p must be a number in [0, 1]",
                 NULL);
    expect_error("batchnorm2d(2,eps=1e-5e),flatten,linear(8,2)", 2, 2, 2, "expected", NULL);
    expect_error("flatten,lyaernorm(8),linear(8,2)", 2, 2, 2, "did you mean 'layernorm'", NULL);
    expect_error("resnet18-cifar", 1, 28, 28, "conv1 conv2d expects 3 input channels",
                 "resnet18-cifar");
    expect_error("resnet18-cifar(num_classes=0)", 3, 32, 32, "num_classes", NULL);
    expect_error("mlp(784)", 1, 28, 28, "at least two", NULL);
}

static void test_presets(void) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("resnet18-cifar", 3, 32, 32, 0, &m) == HESSE_OK);
    /* kuangliu/pytorch-cifar ResNet18 has 11,173,962 parameters */
    CHECK(hesse_model_num_params(m) == 11173962);
    CHECK(shape_is(tensor(m, "conv1.weight"), 4, 64, 3, 3, 3));
    CHECK(shape_is(tensor(m, "bn1.running_mean"), 1, 64, 0, 0, 0));
    CHECK(shape_is(tensor(m, "layer1.0.conv1.weight"), 4, 64, 64, 3, 3));
    CHECK(hesse_model_find_tensor(m, "layer1.0.shortcut.0.weight") == NULL);
    CHECK(shape_is(tensor(m, "layer2.0.conv1.weight"), 4, 128, 64, 3, 3));
    CHECK(shape_is(tensor(m, "layer2.0.shortcut.0.weight"), 4, 128, 64, 1, 1));
    CHECK(shape_is(tensor(m, "layer2.0.shortcut.1.running_var"), 1, 128, 0, 0, 0));
    CHECK(shape_is(tensor(m, "layer4.1.bn2.bias"), 1, 512, 0, 0, 0));
    CHECK(shape_is(tensor(m, "linear.weight"), 2, 10, 512, 0, 0));
    /* 20 batch norms (1 + 4 * 2 * 2 + 3 shortcuts), three buffers each */
    CHECK(hesse_model_num_buffers(m) == 60);
    /* 62 parameter tensors: 20 convs, 20 batch norms * 2, the linear's 2 */
    CHECK(hesse_model_num_tensors(m) == 62);
    CHECK(hesse_model_num_outputs(m) == 10);
    check_fixed_point(m, 3, 32, 32);
    hesse_model_free(m);

    REQUIRE(hesse_model_create("ResNet18-CIFAR(num_classes=100)", 3, 32, 32, 0, &m) == HESSE_OK);
    CHECK(shape_is(tensor(m, "linear.weight"), 2, 100, 512, 0, 0));
    CHECK(hesse_model_num_params(m) == 11173962 + 90 * 513);
    hesse_model_free(m);

    REQUIRE(hesse_model_create("vgg11-bn-cifar", 3, 32, 32, 0, &m) == HESSE_OK);
    /* convs (with bias): 3*64*9+64, 64*128*9+128, 128*256*9+256, 256*256*9+256, 256*512*9+512,
     * 3 x (512*512*9+512); batch norms 2 x (64+128+256+256+4*512); classifier 512*10+10 */
    CHECK(hesse_model_num_params(m) ==
          1792 + 73856 + 295168 + 590080 + 1180160 + 3 * 2359808 + 2 * 2752 + 5130);
    CHECK(shape_is(tensor(m, "features.0.weight"), 4, 64, 3, 3, 3));
    CHECK(shape_is(tensor(m, "features.1.running_var"), 1, 64, 0, 0, 0));
    CHECK(shape_is(tensor(m, "features.4.weight"), 4, 128, 64, 3, 3));
    CHECK(shape_is(tensor(m, "features.26.bias"), 1, 512, 0, 0, 0));
    CHECK(shape_is(tensor(m, "classifier.weight"), 2, 10, 512, 0, 0));
    check_fixed_point(m, 3, 32, 32);
    hesse_model_free(m);

    REQUIRE(hesse_model_create("lenet5", 1, 28, 28, 0, &m) == HESSE_OK);
    CHECK(hesse_model_num_params(m) == 61706);
    CHECK(shape_is(tensor(m, "7.weight"), 2, 120, 400, 0, 0));
    hesse_model_free(m);

    /* lenet5(width=K): K times the channels. K = 4: conv1 24*1*25+24, conv2 64*24*25+64,
     * fc1 120*1600+120, fc2 84*120+84, fc3 10*84+10 */
    REQUIRE(hesse_model_create("lenet5(width=4)", 1, 28, 28, 0, &m) == HESSE_OK);
    CHECK(hesse_model_num_params(m) == 624 + 38464 + 192120 + 10164 + 850);
    CHECK(shape_is(tensor(m, "0.weight"), 4, 24, 1, 5, 5));
    CHECK(shape_is(tensor(m, "3.weight"), 4, 64, 24, 5, 5));
    CHECK(shape_is(tensor(m, "7.weight"), 2, 120, 1600, 0, 0));
    CHECK(hesse_model_num_outputs(m) == 10);
    hesse_model_free(m);
    REQUIRE(hesse_model_create("LeNet5(width=1)", 1, 28, 28, 0, &m) == HESSE_OK);
    CHECK(hesse_model_num_params(m) == 61706);
    hesse_model_free(m);
    REQUIRE(hesse_model_create("lenet5(num_classes=3)", 1, 28, 28, 0, &m) == HESSE_OK);
    CHECK(hesse_model_num_outputs(m) == 3 && hesse_model_num_params(m) == 61706 - 7 * 85);
    hesse_model_free(m);
    const char *bad_lenet[] = {"lenet5(width=0)", "lenet5(width=1025)", "lenet5(depth=2)",
                               "lenet5(width=2,num_classes=3)", "resnet18-cifar(width=2)"};
    for (int i = 0; i < 5; i++) {
        m = NULL;
        CHECK_MSG(hesse_model_create(bad_lenet[i], 1, 28, 28, 0, &m) == HESSE_EINPUT && !m, "%s",
                  bad_lenet[i]);
        hesse_model_free(m);
    }

    REQUIRE(hesse_model_create("mlp(784,512,512,10)", 1, 28, 28, 0, &m) == HESSE_OK);
    CHECK(hesse_model_num_params(m) == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
    CHECK(shape_is(tensor(m, "0.weight"), 2, 512, 784, 0, 0));
    CHECK(shape_is(tensor(m, "2.weight"), 2, 512, 512, 0, 0));
    CHECK(shape_is(tensor(m, "4.bias"), 1, 10, 0, 0, 0));
    CHECK(hesse_model_num_tensors(m) == 6);
    check_fixed_point(m, 1, 28, 28);
    hesse_model_free(m);
    REQUIRE(hesse_model_create("mlp(784,10)", 784, 1, 1, 0, &m) == HESSE_OK);
    CHECK(shape_is(tensor(m, "0.weight"), 2, 10, 784, 0, 0));
    hesse_model_free(m);
}

/* Buffers are saved and loaded with the model (num_batches_tracked as I64), the hash covers
 * them, and a negative running_var or a misshapen buffer is refused naming the tensor. */
static void test_model_file(void) {
    const char *arch = "conv2d(1,2,3),r:residual(batchnorm2d(2),tanh),flatten,linear(8,2),"
                       "batchnorm1d(2)";
    hesse_model *m = NULL, *back = NULL;
    REQUIRE(hesse_model_create(arch, 1, 4, 4, 0, &m) == HESSE_OK);
    randomise(m, 5);
    double *buf = hesse_model_buffers(m);
    buf[tensor(m, "r.0.num_batches_tracked")->offset] = 123;
    char path[256];
    snprintf(path, sizeof path, "/tmp/hesse_test_arch_graph_%d.safetensors", (int)getpid());
    REQUIRE(hesse_model_save(m, NULL, path) == HESSE_OK);
    REQUIRE(hesse_model_load(path, NULL, &back, NULL) == HESSE_OK);
    CHECK(strcmp(hesse_model_arch(back), hesse_model_arch(m)) == 0);
    CHECK(hesse_model_buffer_count(back) == hesse_model_buffer_count(m));
    CHECK(memcmp(hesse_model_buffers(back), buf,
                 (size_t)hesse_model_buffer_count(m) * sizeof(double)) == 0);
    CHECK(memcmp(hesse_model_params(back), hesse_model_params(m),
                 (size_t)hesse_model_num_params(m) * sizeof(double)) == 0);
    char h1[65], h2[65];
    hesse_model_hash(m, h1);
    hesse_model_hash(back, h2);
    CHECK(strcmp(h1, h2) == 0);
    buf[tensor(m, "4.running_mean")->offset] += 1.0;
    hesse_model_hash(m, h2);
    CHECK(strcmp(h1, h2) != 0);
    hesse_model_free(back);
    back = NULL;
    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open(path, &f) == HESSE_OK);
    const hesse_st_tensor *t = hesse_st_find(f, "r.0.num_batches_tracked");
    CHECK(t && t->dtype == HESSE_DTYPE_I64 && t->ndim == 0);
    CHECK(hesse_st_find(f, "4.running_var") != NULL);
    hesse_st_close(f);

    /* a negative variance */
    buf[tensor(m, "r.0.running_var")->offset + 1] = -0.5;
    REQUIRE(hesse_model_save(m, NULL, path) == HESSE_OK);
    CHECK(hesse_model_load(path, NULL, &back, NULL) == HESSE_EINPUT && back == NULL);
    CHECK(strstr(hesse_last_error(), "'r.0.running_var' holds a negative value") != NULL);
    /* the same file read against a wider architecture: the shape names the tensor */
    hesse_load_options o = hesse_load_defaults();
    o.arch = "conv2d(1,3,3),r:residual(batchnorm2d(3),tanh),flatten,linear(12,2),batchnorm1d(2)";
    CHECK(hesse_model_load(path, &o, &back, NULL) == HESSE_EINPUT && back == NULL);
    CHECK_MSG(strstr(hesse_last_error(), "has shape [2, 1, 3, 3], expected [3, 1, 3, 3]") != NULL,
              "%s", hesse_last_error());
    o.arch = "conv2d(1,2,3),r:residual(tanh),flatten,linear(8,2),batchnorm1d(2)";
    CHECK(hesse_model_load(path, &o, &back, NULL) == HESSE_EINPUT && back == NULL);
    CHECK_MSG(strstr(hesse_last_error(), "is not a parameter of the architecture") != NULL, "%s",
              hesse_last_error());
    o.arch = "conv2d(1,2,3),r:residual(batchnorm2d(2),tanh),flatten,linear(8,2),batchnorm1d(2),"
             "layernorm(2)";
    CHECK(hesse_model_load(path, &o, &back, NULL) == HESSE_EINPUT && back == NULL);
    CHECK_MSG(strstr(hesse_last_error(), "'5.weight' is missing; layernorm(2) needs it") != NULL,
              "%s", hesse_last_error());
    unlink(path);
    hesse_model_free(m);
}

/* The transformer presets expand to tools/models.py's layouts: the strings below are what
 * models.gpt_arch() / vit_arch() print for the same overrides (the exporter's test checks that
 * the PyTorch classes export to those strings); bad overrides are refused. Building the models
 * needs the transformer layers: tests/test_transformer_presets.c. */
static void test_transformer_preset_strings(void) {
    static const char *const expansions[][2] = {
        {"gpt-tiny",
         "tok:embedding(256,64),pos:posembed(64,64),"
         "blocks.0:residual(ln_1:layernorm(64),attn:multiheadattention(64,4,causal=True)),"
         "blocks.0:residual(ln_2:layernorm(64),mlp.0:linear(64,256),gelu,mlp.2:linear(256,64)),"
         "blocks.1:residual(ln_1:layernorm(64),attn:multiheadattention(64,4,causal=True)),"
         "blocks.1:residual(ln_2:layernorm(64),mlp.0:linear(64,256),gelu,mlp.2:linear(256,64)),"
         "norm:layernorm(64),head:linear(64,256)"},
        {"vit-tiny",
         "patch:conv2d(1,64,7,stride=7),tokens,pos:posembed(16,64),"
         "blocks.0:residual(ln_1:layernorm(64),attn:multiheadattention(64,4)),"
         "blocks.0:residual(ln_2:layernorm(64),mlp.0:linear(64,128),gelu,mlp.2:linear(128,64)),"
         "blocks.1:residual(ln_1:layernorm(64),attn:multiheadattention(64,4)),"
         "blocks.1:residual(ln_2:layernorm(64),mlp.0:linear(64,128),gelu,mlp.2:linear(128,64)),"
         "norm:layernorm(64),meanpool,head:linear(64,10)"},
        {"GPT-Tiny( context = 16, width=32,depth=1 ,num_classes=50)",
         "tok:embedding(50,32),pos:posembed(16,32),"
         "blocks.0:residual(ln_1:layernorm(32),attn:multiheadattention(32,4,causal=True)),"
         "blocks.0:residual(ln_2:layernorm(32),mlp.0:linear(32,128),gelu,mlp.2:linear(128,32)),"
         "norm:layernorm(32),head:linear(32,50)"},
        {"vit-tiny(num_classes=5,depth=3,width=16)",
         "patch:conv2d(1,16,7,stride=7),tokens,pos:posembed(16,16),"
         "blocks.0:residual(ln_1:layernorm(16),attn:multiheadattention(16,4)),"
         "blocks.0:residual(ln_2:layernorm(16),mlp.0:linear(16,32),gelu,mlp.2:linear(32,16)),"
         "blocks.1:residual(ln_1:layernorm(16),attn:multiheadattention(16,4)),"
         "blocks.1:residual(ln_2:layernorm(16),mlp.0:linear(16,32),gelu,mlp.2:linear(32,16)),"
         "blocks.2:residual(ln_1:layernorm(16),attn:multiheadattention(16,4)),"
         "blocks.2:residual(ln_2:layernorm(16),mlp.0:linear(16,32),gelu,mlp.2:linear(32,16)),"
         "norm:layernorm(16),meanpool,head:linear(16,5)"},
        {"vit-tiny()", NULL}, /* the defaults, as "vit-tiny" */
    };
    for (size_t i = 0; i < sizeof expansions / sizeof expansions[0]; i++) {
        char *out = NULL;
        REQUIRE(nn_expand_preset(expansions[i][0], &out) == HESSE_OK && out);
        const char *want = expansions[i][1] ? expansions[i][1] : expansions[1][1];
        CHECK_MSG(strcmp(out, want) == 0, "%s expands to %s", expansions[i][0], out);
        free(out);
    }
    const char *bad[] = {"gpt-tiny(width=30)",        "gpt-tiny(depth=0)",  "gpt-tiny(depth=65)",
                         "gpt-tiny(depth=1,depth=2)", "gpt-tiny(heads=2)",  "vit-tiny(context=16)",
                         "gpt-tiny(depth=1,)",        "gpt-tiny(depth=1)x", "gpt-tiny(3)",
                         "gpt-tiny(context=70000)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = NULL;
        CHECK_MSG(nn_expand_preset(bad[i], &out) == HESSE_EINPUT && !out, "%s", bad[i]);
        CHECK_MSG(strstr(hesse_last_error(), "takes num_classes=N") != NULL, "%s: %s", bad[i],
                  hesse_last_error());
        free(out);
    }
}

int main(void) {
    test_names();
    test_transformer_preset_strings();
    test_errors();
    test_presets();
    test_model_file();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_case(&cases[i], (int)i);
    return test_summary("test_arch_graph");
}
