/* The engine's workers and cache: every pass gives the same numbers with 1, 2 and 3 workers
 * (to the rounding of a different summation order), the same bits when repeated with the same
 * worker count, and the cache gives the uncached bits, counts its hits, and is rebuilt when the
 * parameters or the samples change. */
#include <hesse/nn.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"

#define ARCH "conv2d(2,3,3,padding=1),relu,maxpool2d(2),conv2d(3,4,2),tanh,flatten,linear(16,3)"
#define NS   37

static double rel(const double *a, const double *b, int64_t n) {
    double d = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(a[i]));
    }
    return s > 0 ? d / s : d;
}

static hesse_engine *engine(const hesse_model *m, int threads, int cache) {
    hesse_engine_params p = hesse_engine_defaults();
    p.chunk = 5;
    p.max_block = 2;
    p.threads = threads;
    p.cache = cache;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &p, &e) == HESSE_OK);
    CHECK(hesse_engine_threads(e) == threads);
    return e;
}

/* A stand-in for MPI_Allreduce over two ranks that hold the same shard: doubles every sum. */
static int twice(void *ctx, double *data, int64_t count) {
    (*(int *)ctx)++;
    for (int64_t i = 0; i < count; i++) data[i] *= 2.0;
    return HESSE_OK;
}

int main(void) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create(ARCH, 2, 6, 6, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    hesse_model_init(m, 3);
    const int64_t n = hesse_model_num_params(m);
    hesse_samples s;
    REQUIRE(hesse_samples_alloc(NS, 2, 6, 6, 3, &s) == HESSE_OK);
    hesse_rng r;
    hesse_rng_seed(&r, 1);
    for (int i = 0; i < NS * 72; i++) s.x[i] = hesse_rng_normal(&r);
    for (int i = 0; i < NS; i++) s.y[i] = i % 3;
    double *V = malloc((size_t)(3 * n) * sizeof *V);
    for (int64_t i = 0; i < 3 * n; i++) V[i] = hesse_rng_normal(&r);

    double loss1, loss_t, *g1 = malloc((size_t)n * sizeof *g1),
                          *gt = malloc((size_t)n * sizeof *gt);
    double *H1 = malloc((size_t)(3 * n) * sizeof *H1), *Ht = malloc((size_t)(3 * n) * sizeof *Ht);
    double *H2 = malloc((size_t)(3 * n) * sizeof *H2), Z1[NS * 3], Zt[NS * 3];
    int64_t c1, ct;
    hesse_engine *e1 = engine(m, 1, 0);
    REQUIRE(hesse_loss_grad(e1, &s, &loss1, g1, &c1) == HESSE_OK);
    REQUIRE(hesse_curv_product(e1, &s, HESSE_CURV_HESSIAN, 3, V, H1) == HESSE_OK);
    REQUIRE(hesse_forward(e1, &s, Z1) == HESSE_OK);
    for (int t = 2; t <= 3; t++) {
        hesse_engine *et = engine(m, t, 0);
        REQUIRE(hesse_loss_grad(et, &s, &loss_t, gt, &ct) == HESSE_OK);
        /* sums in another order: equal to a few ulps of their size */
        CHECK_CLOSE(loss_t, loss1, 1e-14, 1e-300);
        CHECK(ct == c1);
        CHECK_MSG(rel(g1, gt, n) < 1e-13, "%d workers: gradient %.3g", t, rel(g1, gt, n));
        REQUIRE(hesse_curv_product(et, &s, HESSE_CURV_HESSIAN, 3, V, Ht) == HESSE_OK);
        CHECK_MSG(rel(H1, Ht, 3 * n) < 1e-12, "%d workers: HVP %.3g", t, rel(H1, Ht, 3 * n));
        REQUIRE(hesse_forward(et, &s, Zt) == HESSE_OK);
        CHECK(memcmp(Z1, Zt, sizeof Z1) == 0); /* per-sample: no reduction, the same bits */
        /* the same worker count repeats its bits */
        REQUIRE(hesse_curv_product(et, &s, HESSE_CURV_HESSIAN, 3, V, H2) == HESSE_OK);
        CHECK(memcmp(Ht, H2, (size_t)(3 * n) * sizeof *H2) == 0);
        hesse_engine_free(et);
    }

    /* The cache: the uncached bits, hits counted, any kind of product served. */
    hesse_engine *ec = engine(m, 2, 1), *eu = engine(m, 2, 0);
    REQUIRE(hesse_curv_product(eu, &s, HESSE_CURV_HESSIAN, 3, V, H1) == HESSE_OK);
    REQUIRE(hesse_curv_product(ec, &s, HESSE_CURV_HESSIAN, 3, V, Ht) == HESSE_OK); /* builds */
    CHECK(hesse_engine_cache_hits(ec) == 0 && hesse_engine_cache_bytes(ec) > 0);
    CHECK(memcmp(H1, Ht, (size_t)(3 * n) * sizeof *Ht) == 0);
    REQUIRE(hesse_curv_product(ec, &s, HESSE_CURV_HESSIAN, 3, V, Ht) == HESSE_OK); /* reuses */
    CHECK(hesse_engine_cache_hits(ec) == 1);
    CHECK(memcmp(H1, Ht, (size_t)(3 * n) * sizeof *Ht) == 0);
    for (int kind = HESSE_CURV_GGN; kind <= HESSE_CURV_EFISHER; kind++) {
        REQUIRE(hesse_curv_product(eu, &s, (hesse_curv_kind)kind, 2, V, H1) == HESSE_OK);
        REQUIRE(hesse_curv_product(ec, &s, (hesse_curv_kind)kind, 2, V, Ht) == HESSE_OK);
        CHECK_MSG(memcmp(H1, Ht, (size_t)(2 * n) * sizeof *Ht) == 0, "cached kind %d", kind);
    }
    CHECK(hesse_engine_cache_hits(ec) == 4);
    /* new parameters: rebuilt, not reused */
    hesse_model_params(m)[5] += 0.01;
    REQUIRE(hesse_curv_product(eu, &s, HESSE_CURV_HESSIAN, 1, V, H1) == HESSE_OK);
    REQUIRE(hesse_curv_product(ec, &s, HESSE_CURV_HESSIAN, 1, V, Ht) == HESSE_OK);
    CHECK(hesse_engine_cache_hits(ec) == 4);
    CHECK(memcmp(H1, Ht, (size_t)n * sizeof *Ht) == 0);
    /* other samples: rebuilt */
    hesse_samples sub = hesse_samples_slice(&s, 3, 20);
    REQUIRE(hesse_curv_product(eu, &sub, HESSE_CURV_HESSIAN, 1, V, H1) == HESSE_OK);
    REQUIRE(hesse_curv_product(ec, &sub, HESSE_CURV_HESSIAN, 1, V, Ht) == HESSE_OK);
    CHECK(hesse_engine_cache_hits(ec) == 4);
    CHECK(memcmp(H1, Ht, (size_t)n * sizeof *Ht) == 0);
    /* the same values in another buffer are the same samples (keyed by content) */
    hesse_samples copy;
    REQUIRE(hesse_samples_alloc(20, 2, 6, 6, 3, &copy) == HESSE_OK);
    memcpy(copy.x, sub.x, (size_t)(20 * 72) * sizeof *copy.x);
    memcpy(copy.y, sub.y, 20 * sizeof *copy.y);
    REQUIRE(hesse_curv_product(ec, &copy, HESSE_CURV_HESSIAN, 1, V, Ht) == HESSE_OK);
    CHECK(hesse_engine_cache_hits(ec) == 5);
    CHECK(memcmp(H1, Ht, (size_t)n * sizeof *Ht) == 0);
    /* a budget too small for the samples: uncached, same bits */
    hesse_engine_params p = hesse_engine_defaults();
    p.chunk = 5;
    p.max_block = 2;
    p.threads = 2;
    p.cache_budget = 1000;
    hesse_engine *small = NULL;
    REQUIRE(hesse_engine_create(m, &p, &small) == HESSE_OK);
    REQUIRE(hesse_curv_product(small, &sub, HESSE_CURV_HESSIAN, 1, V, Ht) == HESSE_OK);
    CHECK(hesse_engine_cache_bytes(small) == 0);
    CHECK(memcmp(H1, Ht, (size_t)n * sizeof *Ht) == 0);

    hesse_engine_free(small);

    /* Single precision: the same products to float rounding. A product sums over chunks of
     * samples and GEMM inner dimensions of a few hundred terms: with unit roundoff 6e-8,
     * 1e-5 relative to the largest entry is a safe bound; the loss and logits likewise. */
    hesse_engine_params p32 = hesse_engine_defaults();
    p32.chunk = 5;
    p32.max_block = 2;
    p32.threads = 2;
    p32.precision = HESSE_PRECISION_F32;
    hesse_engine *e32 = NULL;
    REQUIRE(hesse_engine_create(m, &p32, &e32) == HESSE_OK);
    CHECK(hesse_engine_precision(e32) == HESSE_PRECISION_F32);
    for (int kind = HESSE_CURV_HESSIAN; kind <= HESSE_CURV_EFISHER; kind++) {
        REQUIRE(hesse_curv_product(eu, &s, (hesse_curv_kind)kind, 3, V, H1) == HESSE_OK);
        for (int rep = 0; rep < 2; rep++) { /* builds the cache, then reuses it */
            REQUIRE(hesse_curv_product(e32, &s, (hesse_curv_kind)kind, 3, V, Ht) == HESSE_OK);
            CHECK_MSG(rel(H1, Ht, 3 * n) < 1e-5, "f32 kind %d: %.3g", kind, rel(H1, Ht, 3 * n));
        }
    }
    CHECK(hesse_engine_cache_hits(e32) >= 4);
    double loss32;
    int64_t c32;
    REQUIRE(hesse_loss_grad(e32, &s, &loss32, gt, &c32) == HESSE_OK);
    REQUIRE(hesse_loss_grad(eu, &s, &loss1, g1, &c1) == HESSE_OK);
    CHECK_CLOSE(loss32, loss1, 1e-5, 1e-300);
    CHECK_MSG(rel(g1, gt, n) < 1e-5, "f32 gradient: %.3g", rel(g1, gt, n));
    REQUIRE(hesse_forward(e32, &s, Zt) == HESSE_OK);
    REQUIRE(hesse_forward(eu, &s, Z1) == HESSE_OK);
    CHECK(rel(Z1, Zt, NS * 3) < 1e-5);
    hesse_layer_factors *lf = NULL;
    int nlf = 0;
    CHECK(hesse_layer_factors_compute(e32, &s, HESSE_FACTOR_M_EXACT, &lf, &nlf) == HESSE_EINVAL &&
          lf == NULL);
    CHECK(strstr(hesse_last_error(), "double precision") != NULL);
    hesse_engine_free(e32);

    /* Distributed plumbing: two "ranks" with identical shards of NS samples each (total
     * 2 NS) give exactly the single-process mean loss, gradient and products over NS. */
    hesse_engine *ed = engine(m, 2, 1);
    int calls = 0;
    hesse_engine_set_reduce(ed, twice, &calls);
    hesse_samples shard = s;
    shard.total = 2 * NS;
    REQUIRE(hesse_loss_grad(eu, &s, &loss1, g1, &c1) == HESSE_OK);
    REQUIRE(hesse_loss_grad(ed, &shard, &loss_t, gt, &ct) == HESSE_OK);
    CHECK(loss_t == loss1 && ct == 2 * c1 && memcmp(g1, gt, (size_t)n * sizeof *gt) == 0);
    REQUIRE(hesse_curv_product(eu, &s, HESSE_CURV_EFISHER, 2, V, H1) == HESSE_OK);
    REQUIRE(hesse_curv_product(ed, &shard, HESSE_CURV_EFISHER, 2, V, Ht) == HESSE_OK);
    CHECK(memcmp(H1, Ht, (size_t)(2 * n) * sizeof *Ht) == 0); /* scaling by 2 is exact */
    CHECK(calls == 3 + 2); /* loss: status, sums, gradient; product: status, products */
    hesse_engine_free(ed);

    /* Numerical faults name their origin: a parameter, a direction, or the layer, pass and
     * sample where a value first stops being finite. */
    hesse_engine *ef = engine(m, 2, 1);
    double keep = hesse_model_params(m)[hesse_model_find_tensor(m, "3.weight")->offset + 4];
    hesse_model_params(m)[hesse_model_find_tensor(m, "3.weight")->offset + 4] = NAN;
    CHECK(hesse_loss_grad(ef, &s, &loss_t, gt, NULL) == HESSE_ENUMERIC);
    CHECK_MSG(strstr(hesse_last_error(), "parameter 3.weight[4] is not finite") != NULL, "%s",
              hesse_last_error());
    hesse_model_params(m)[hesse_model_find_tensor(m, "3.weight")->offset + 4] = keep;
    double xkeep = s.x[17 * 72 + 5];
    s.x[17 * 72 + 5] = INFINITY; /* sample 17's input */
    CHECK(hesse_loss_grad(ef, &s, &loss_t, NULL, NULL) == HESSE_ENUMERIC);
    CHECK_MSG(strstr(hesse_last_error(), "sample 17") &&
                  strstr(hesse_last_error(), "forward pass: layer 0 (conv2d)"),
              "%s", hesse_last_error());
    s.x[17 * 72 + 5] = xkeep;
    V[7] = NAN;
    CHECK(hesse_curv_product(ef, &s, HESSE_CURV_HESSIAN, 1, V, Ht) == HESSE_ENUMERIC);
    CHECK_MSG(strstr(hesse_last_error(), "direction 0 has a non-finite entry at 7") != NULL, "%s",
              hesse_last_error());
    V[7] = 0.5;
    /* a direction so large that the R-forward overflows after the second convolution */
    const hesse_tensor_info *t3 = hesse_model_find_tensor(m, "3.weight");
    for (int64_t i = 0; i < t3->count; i++) V[t3->offset + i] = 1.7e308;
    CHECK(hesse_curv_product(ef, &s, HESSE_CURV_HESSIAN, 1, V, Ht) == HESSE_ENUMERIC);
    CHECK_MSG(strstr(hesse_last_error(), "R-forward pass: layer") &&
                  strstr(hesse_last_error(), "for sample"),
              "%s", hesse_last_error());
    hesse_engine_free(ef);
    hesse_samples_free(&copy);
    hesse_engine_free(ec);
    hesse_engine_free(eu);
    hesse_engine_free(e1);
    hesse_samples_free(&s);
    hesse_model_free(m);
    free(V);
    free(g1);
    free(gt);
    free(H1);
    free(Ht);
    free(H2);
    return test_summary("test_engine");
}
