/* analysis/kronecker.c: Kronecker eigenpairs against closed forms and an explicitly formed
 * Kronecker product, rank-one ratios against known singular values, and the one-sample,
 * one-layer case where the exact layer Hessian is M (x) x x^T. */
#include <hesse/analysis.h>

#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

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

int main(void) {
    test_closed_form();
    test_random_factors();
    test_rank_one();
    test_one_sample_layer();
    return test_summary("test_kronecker");
}
