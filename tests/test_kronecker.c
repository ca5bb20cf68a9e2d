/* analysis/kronecker.c and the factors: Kronecker eigenpairs against closed forms and an
 * explicitly formed Kronecker product, rank-one ratios against known singular values, the
 * one-sample, one-layer case where the exact layer Hessian is M (x) x x^T, E[x]'s dominance
 * measures against their closed forms, and the exact E[M] of nets with curved activations
 * against PyTorch (tests/make_kron_fixture.py: autograd Hessians in the layer outputs). */
#include <hesse/analysis.h>
#include <hesse/io.h>

#include <lapacke.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture_util.h"

/* A symmetric positive semidefinite d x d matrix B B^T with B random. */
static void random_psd(int d, hesse_rng *r, double *A) {
    double *B = malloc((size_t)(d * d) * sizeof *B);
    for (int i = 0; i < d * d; i++) B[i] = hesse_rng_normal(r);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += B[i * d + k] * B[j * d + k];
            A[i * d + j] = s;
        }
    free(B);
}

static void test_closed_form(void) {
    /* E[M] = diag(3, 1), E[xx] = diag(2, 0.5, 0): products 6, 2, 1.5, 0.5, 0, 0 */
    double M[4] = {3, 0, 0, 1}, X[9] = {2, 0, 0, 0, 0.5, 0, 0, 0, 0};
    hesse_layer_factors f = {0, 3, 2, 1, X, M, 1, HESSE_FACTOR_M_EXACT, NULL};
    f.in = 3;
    f.out = 2;
    hesse_kron_layer kl;
    REQUIRE(hesse_kron_layer_from_factors(&f, &kl) == HESSE_OK);
    double v[4], vec[4 * 6];
    REQUIRE(hesse_kron_top(&kl, 4, v, vec) == HESSE_OK);
    CHECK(v[0] == 6 && v[1] == 2 && v[2] == 1.5 && v[3] == 0.5);
    /* the top eigenvector is e_0 (x) e_0: W = [[1,0,0],[0,0,0]] up to sign */
    CHECK(fabs(fabs(vec[0]) - 1) < 1e-15 && fabs(vec[1]) + fabs(vec[3]) < 1e-15);
    CHECK(hesse_kron_top(&kl, 7, v, NULL) == HESSE_EINVAL);
    hesse_kron_layer_free(&kl);
}

static void test_random_factors(void) {
    hesse_rng r;
    hesse_rng_seed(&r, 3);
    const int o = 4, in = 5, n = o * in, k = 6;
    double M[16], X[25];
    random_psd(o, &r, M);
    random_psd(in, &r, X);
    hesse_layer_factors f = {0, in, o, 1, X, M, 1, HESSE_FACTOR_M_EXACT, NULL};
    hesse_kron_layer kl;
    REQUIRE(hesse_kron_layer_from_factors(&f, &kl) == HESSE_OK);
    double v[6], *V = malloc((size_t)(n * k) * sizeof *V);
    REQUIRE(hesse_kron_top(&kl, k, v, V) == HESSE_OK);
    /* the explicit Kronecker product K[(a*in+i), (b*in+j)] = M[a,b] X[i,j], its eigenvalues by
     * LAPACK, and K v = lambda v for every returned pair */
    double *K = malloc((size_t)(n * n) * sizeof *K), w[20];
    for (int a = 0; a < o; a++)
        for (int i = 0; i < in; i++)
            for (int b = 0; b < o; b++)
                for (int j = 0; j < in; j++)
                    K[(a * in + i) * n + b * in + j] = M[a * o + b] * X[i * in + j];
    double *Kc = malloc((size_t)(n * n) * sizeof *Kc);
    memcpy(Kc, K, (size_t)(n * n) * sizeof *K);
    REQUIRE(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', n, Kc, n, w) == 0);
    double scale = w[n - 1];
    for (int j = 0; j < k; j++) {
        CHECK_CLOSE(v[j], w[n - 1 - j], 1e-12, scale); /* rounding of two eigensolvers */
        double res = 0;
        for (int rr = 0; rr < n; rr++) {
            double s = -v[j] * V[j * n + rr];
            for (int c = 0; c < n; c++) s += K[rr * n + c] * V[j * n + c];
            res = fmax(res, fabs(s));
        }
        CHECK_MSG(res <= 1e-12 * scale, "Kronecker pair %d residual %.3g", j, res);
        /* u (x) w reshaped is rank one */
        CHECK_CLOSE(hesse_rank_one_ratio(V + j * n, o, in), 1.0, 1e-12, 1.0);
    }
    free(K);
    free(Kc);
    free(V);
    hesse_kron_layer_free(&kl);
}

static void test_rank_one(void) {
    double I3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK_CLOSE(hesse_rank_one_ratio(I3, 3, 3), 1.0 / 3.0, 1e-14, 1.0);
    /* diag(3, 4) as 2 x 3: singular values 4, 3 -> 16 / 25 */
    double D[6] = {3, 0, 0, 0, 4, 0};
    CHECK_CLOSE(hesse_rank_one_ratio(D, 2, 3), 16.0 / 25.0, 1e-14, 1.0);
    double Z[6] = {0};
    CHECK(isnan(hesse_rank_one_ratio(Z, 2, 3)));
}

/* One sample, one linear layer: the exact weight Hessian has the spectrum of M (x) x x^T. */
static void test_one_sample_layer(void) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("flatten,linear(4,3,bias=False)", 1, 2, 2, HESSE_LOSS_CROSS_ENTROPY,
                               &m) == HESSE_OK);
    hesse_model_init(m, 4);
    hesse_samples s;
    REQUIRE(hesse_samples_alloc(1, 1, 2, 2, 3, &s) == HESSE_OK);
    double x[4] = {0.3, -1.2, 0.7, 2.0};
    memcpy(s.x, x, sizeof x);
    s.y[0] = 1;
    hesse_engine *e = NULL;
    hesse_engine_params ep = hesse_engine_defaults();
    ep.max_block = 12;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    hesse_layer_factors *f = NULL;
    int nf = 0;
    REQUIRE(hesse_layer_factors_compute(e, &s, HESSE_FACTOR_M_EXACT, &f, &nf) == HESSE_OK &&
            nf == 1);
    hesse_kron_layer kl;
    REQUIRE(hesse_kron_layer_from_factors(&f[0], &kl) == HESSE_OK);
    double kv[12];
    REQUIRE(hesse_kron_top(&kl, 12, kv, NULL) == HESSE_OK);
    hesse_op H;
    REQUIRE(hesse_op_curvature(e, &s, HESSE_CURV_HESSIAN, &H) == HESSE_OK);
    double A[144], w[12];
    REQUIRE(hesse_op_to_dense(&H, 12, A, NULL, NULL) == HESSE_OK);
    REQUIRE(hesse_eigh(12, A, w, NULL) == HESSE_OK);
    /* M (x) x x^T has rank rank(M) = 2 (softmax's Hessian has p in its kernel... its rank is
     * C - 1 = 2) times rank(x x^T) = 1: two nonzero eigenvalues, the rest zero */
    for (int j = 0; j < 12; j++) CHECK_CLOSE(kv[j], w[11 - j], 1e-12, w[11]);
    CHECK(kv[1] > 1e-3 * kv[0] && fabs(kv[2]) < 1e-14 * kv[0]);
    hesse_op_free(&H);
    hesse_kron_layer_free(&kl);
    hesse_layer_factors_free(f, nf);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_model_free(m);
}

/* E[x]'s dominance: S = m m^T + diag(1, 2, 40) with m = (3, 4, 0): |m| = 5,
 * S = [[10, 12, 0], [12, 18, 0], [0, 0, 40]], ||S||_F^2 = 100 + 2*144 + 324 + 1600 = 2312; the
 * top eigenpair is (40, e_3), since the 2 x 2 block's eigenvalues are 14 +- sqrt(160) < 27, so
 * ratio_2 = 25 / 40 and the overlap with m / |m| is 0. */
static void test_mean_dominance(void) {
    double m[3] = {3, 4, 0}, S[9] = {10, 12, 0, 12, 18, 0, 0, 0, 40};
    double M[1] = {1};
    hesse_layer_factors f = {0, 3, 1, 1, S, M, 1, HESSE_FACTOR_M_EXACT, m};
    hesse_kron_layer kl;
    REQUIRE(hesse_kron_layer_from_factors(&f, &kl) == HESSE_OK);
    CHECK_CLOSE(kl.mean.norm, 5.0, 1e-15, 1.0);
    CHECK_CLOSE(kl.mean.ratio_fro, 25.0 / sqrt(2312.0), 1e-15, 1.0);
    CHECK_CLOSE(kl.mean.ratio_2, 25.0 / 40.0, 1e-15, 1.0);
    CHECK(fabs(kl.mean.overlap) < 1e-15);
    hesse_kron_layer_free(&kl);
    /* one direction only: S = m m^T, both ratios and the overlap are 1 */
    double S1[9] = {9, 12, 0, 12, 16, 0, 0, 0, 0};
    f.xx = S1;
    REQUIRE(hesse_kron_layer_from_factors(&f, &kl) == HESSE_OK);
    CHECK_CLOSE(kl.mean.ratio_fro, 1.0, 1e-14, 1.0);
    CHECK_CLOSE(kl.mean.ratio_2, 1.0, 1e-14, 1.0);
    CHECK_CLOSE(kl.mean.overlap, 1.0, 1e-14, 1.0);
    hesse_kron_layer_free(&kl);
    /* no mean known, or a zero mean: NAN */
    f.x_mean = NULL;
    REQUIRE(hesse_kron_layer_from_factors(&f, &kl) == HESSE_OK);
    CHECK(isnan(kl.mean.norm) && isnan(kl.mean.ratio_2));
    hesse_kron_layer_free(&kl);
}

/* The top k eigenvalues (descending) and eigenvectors of the exact Hessian block of a layer's
 * weight, from the dense block (n unit-vector products) and LAPACK. */
static void exact_block_top(hesse_engine *e, const hesse_samples *s, const hesse_layer *L, int k,
                            double *values, double *vectors) {
    int64_t off = L->weight_offset, len = L->weight_count;
    hesse_op full, blk;
    REQUIRE(hesse_op_curvature(e, s, HESSE_CURV_HESSIAN, &full) == HESSE_OK);
    REQUIRE(hesse_op_restrict(&full, 1, &off, &len, &blk) == HESSE_OK);
    double *A = malloc((size_t)(len * len) * sizeof *A), *w = malloc((size_t)len * sizeof *w);
    double *V = malloc((size_t)(len * len) * sizeof *V);
    REQUIRE(A && w && V);
    REQUIRE(hesse_op_to_dense(&blk, 16, A, NULL, NULL) == HESSE_OK);
    REQUIRE(hesse_eigh(len, A, w, V) == HESSE_OK);
    for (int j = 0; j < k; j++) {
        values[j] = w[len - 1 - j];
        memcpy(vectors + (int64_t)j * len, V + (len - 1 - j) * len, (size_t)len * sizeof *V);
    }
    free(A);
    free(w);
    free(V);
    hesse_op_free(&blk);
    hesse_op_free(&full);
}

/* Worst relative error over every fixture layer, per quantity (printed: the margin below the
 * tolerance). */
static double worst_err[7];
static const char *const worst_name[7] = {"E[M]",          "E[M] eigenvalues", "E[xx^T]",
                                          "Kronecker top", "exact top",        "overlap",
                                          "E[x] measures"};

static void fixture_layer(const char *name, hesse_engine *e, const hesse_samples *s,
                          const hesse_model *m, const hesse_layer_factors *f,
                          const hesse_st_file *ex, int k) {
    const hesse_layer *L = hesse_model_layer(m, f->layer);
    char key[64];
    const int64_t o = f->out, in = f->in, len = o * in;
    double err[7];
#define REF(what, count)                                                                           \
    (snprintf(key, sizeof key, "%d." what, f->layer), fixture_read(ex, key, count))
    double *M = REF("M", o * o), *Mv = REF("M_eigenvalues", o), *xx = REF("xx", in * in);
    double *kt = REF("kron_top", k), *et = REF("exact_top", k), *ov = REF("overlap", 1);
    double *mean = REF("mean", 4);
#undef REF
    CHECK_MSG(f->M_exact && f->M_kind == HESSE_FACTOR_M_EXACT, "%s layer %d: M not exact", name,
              f->layer);
    hesse_kron_layer kl;
    REQUIRE(hesse_kron_layer_from_factors(f, &kl) == HESSE_OK);
    double *kv = malloc((size_t)k * sizeof *kv), *kvec = malloc((size_t)(len * k) * sizeof *kvec);
    double *ev = malloc((size_t)k * sizeof *ev), *evec = malloc((size_t)(len * k) * sizeof *evec);
    REQUIRE(kv && kvec && ev && evec);
    REQUIRE(hesse_kron_top(&kl, k, kv, kvec) == HESSE_OK);
    exact_block_top(e, s, L, k, ev, evec);
    const double ours[4] = {kl.mean.norm, kl.mean.ratio_fro, kl.mean.ratio_2, kl.mean.overlap};
    err[0] = fixture_max_rel(f->M, M, o * o);
    err[1] = fixture_max_rel(kl.M_values, Mv, o);
    err[2] = fixture_max_rel(f->xx, xx, in * in);
    err[3] = fixture_max_rel(kv, kt, k);
    err[4] = fixture_max_rel(ev, et, k);
    err[5] = fabs(hesse_subspace_overlap(len, k, kvec, k, evec) - ov[0]);
    err[6] = fixture_max_rel(ours, mean, 4);
    /* The same quantities by two exact routes (R-passes here, autograd Hessians there) and two
     * eigensolvers: rounding of sums of products over 24 samples, amplified by the eigenvector
     * condition (the smallest relative gap at k is 4e-3): 1e-12. */
    for (int q = 0; q < 7; q++) {
        CHECK_MSG(err[q] <= 1e-12, "%s layer %d: %s differs from PyTorch by %.3g", name, f->layer,
                  worst_name[q], err[q]);
        worst_err[q] = fmax(worst_err[q], err[q]);
    }
    free(M);
    free(Mv);
    free(xx);
    free(kt);
    free(et);
    free(ov);
    free(mean);
    free(kv);
    free(kvec);
    free(ev);
    free(evec);
    hesse_kron_layer_free(&kl);
}

/* A fixture case: every factor layer against PyTorch with the exact M, and the GGN M's
 * eigenvalues against J^T A J. */
static void test_fixture(const char *name) {
    char path[3][1024];
    const char *dir = getenv("HESSE_TEST_DATA"), *part[3] = {"model", "data", "expected"};
    for (int i = 0; i < 3; i++)
        snprintf(path[i], sizeof path[i], "%s/fixture_kron_%s_%s.safetensors",
                 dir && *dir ? dir : "tests/data", name, part[i]);
    hesse_st_file *mf = NULL, *ex = NULL;
    REQUIRE(hesse_st_open(path[0], &mf) == HESSE_OK && hesse_st_open(path[2], &ex) == HESSE_OK);
    hesse_load_options opt = hesse_load_defaults();
    opt.arch = hesse_st_meta(mf, "arch");
    REQUIRE(opt.arch &&
            sscanf(hesse_st_meta(mf, "input_shape"), "%d,%d,%d", &opt.c, &opt.h, &opt.w) == 3);
    const int k = atoi(hesse_st_meta(ex, "k"));
    hesse_model *m = NULL;
    REQUIRE(hesse_model_load(path[0], &opt, &m, NULL) == HESSE_OK);
    hesse_dataset *ds = NULL;
    hesse_samples s;
    REQUIRE(hesse_dataset_read_safetensors(path[1], &ds) == HESSE_OK);
    REQUIRE(hesse_dataset_select(ds, NULL, NULL, &s) == HESSE_OK);
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 7;     /* several chunks, the last partial */
    ep.max_block = 3; /* several direction blocks per layer, the last partial */
    ep.threads = 2;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    hesse_layer_factors *f = NULL, *g = NULL;
    int nf = 0, ng = 0;
    REQUIRE(hesse_layer_factors_compute(e, &s, HESSE_FACTOR_M_EXACT, &f, &nf) == HESSE_OK);
    REQUIRE(hesse_layer_factors_compute(e, &s, HESSE_FACTOR_M_GGN, &g, &ng) == HESSE_OK);
    for (int i = 0; i < nf; i++) {
        fixture_layer(name, e, &s, m, &f[i], ex, k);
        char key[64];
        snprintf(key, sizeof key, "%d.M_ggn_eigenvalues", g[i].layer);
        double *ref = fixture_read(ex, key, g[i].out);
        hesse_kron_layer kl;
        REQUIRE(hesse_kron_layer_from_factors(&g[i], &kl) == HESSE_OK);
        double err = fixture_max_rel(kl.M_values, ref, g[i].out);
        CHECK_MSG(err <= 1e-12 && g[i].M_kind == HESSE_FACTOR_M_GGN &&
                      g[i].M_exact == (i == ng - 1),
                  "%s layer %d: GGN M eigenvalues differ by %.3g (M_exact %d)", name, g[i].layer,
                  err, g[i].M_exact);
        free(ref);
        hesse_kron_layer_free(&kl);
    }
    hesse_layer_factors_free(f, nf);
    hesse_layer_factors_free(g, ng);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    hesse_model_free(m);
    hesse_st_close(mf);
    hesse_st_close(ex);
}

int main(void) {
    test_closed_form();
    test_random_factors();
    test_rank_one();
    test_one_sample_layer();
    test_mean_dominance();
    test_fixture("tanh");
    test_fixture("gelu");
    test_fixture("conv");
    for (int q = 0; q < 7; q++)
        printf("PyTorch fixtures: worst relative error of %s: %.3g\n", worst_name[q], worst_err[q]);
    return test_summary("test_kronecker");
}
