/* Warm-started thick-restart Lanczos (hesse_lanczos_params.start / nstart) against independent
 * references: explicit dense matrices whose eigenvalues LAPACK computes here, diagonal
 * operators whose spectrum is their diagonal, and Q D Q^T operators with repeated values.
 *
 * - a warm start from the previous matrix's Ritz vectors gives the cold start's values and the
 *   exact ones (<= 1e-10 relative), residuals recomputed here <= tol ||A||, verify on and off;
 * - an eigenvalue that rises into the top-k from outside the span of the start vectors (its
 *   direction has no component in them) is still found;
 * - with verify, repeated eigenvalues are found with their multiplicity from a warm start
 *   holding one copy only;
 * - start vectors that are not orthonormal, hold zero or duplicate columns, or outnumber the
 *   basis are handled; NaN / Inf entries, all-zero starts, nstart < 0 and a NULL start are
 *   HESSE_EINVAL with a message. */
#include <hesse/op.h>
#include <hesse/spectral.h>

#include <string.h>

#include "check.h"
#include "spectral_testops.h"

/* A random orthogonal n x n matrix (QR of a Gaussian one). */
static double *random_orthogonal(int n, uint64_t seed) {
    double *Q = malloc(sizeof(double) * (size_t)n * n), *tau = malloc(sizeof(double) * (size_t)n);
    hesse_rng rng;
    hesse_rng_seed(&rng, seed);
    for (size_t i = 0; i < (size_t)n * n; i++) Q[i] = hesse_rng_normal(&rng);
    REQUIRE(LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, n, Q, n, tau) == 0);
    REQUIRE(LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, n, n, Q, n, tau) == 0);
    free(tau);
    return Q;
}

/* A = Q diag(d) Q^T + eps (E + E^T) / 2 with E Gaussian / sqrt(n) (a perturbation of norm
 * about eps that turns the eigenvectors), explicit and symmetric. */
static double *dense_matrix(int n, const double *Q, const double *d, double eps, uint64_t seed) {
    double *A = calloc((size_t)n * n, sizeof(double)), *QD = malloc(sizeof(double) * (size_t)n * n);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) QD[(size_t)j * n + i] = Q[(size_t)j * n + i] * d[j];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, QD, n, Q, n, 0.0, A, n);
    hesse_rng rng;
    hesse_rng_seed(&rng, seed);
    for (int j = 0; j < n; j++)
        for (int i = 0; i <= j; i++) {
            double e = eps * hesse_rng_normal(&rng) / sqrt((double)n);
            A[(size_t)j * n + i] += e;
            if (i != j) A[(size_t)i * n + j] += e;
        }
    for (int j = 0; j < n; j++) /* exactly symmetric */
        for (int i = 0; i < j; i++) A[(size_t)j * n + i] = A[(size_t)i * n + j];
    free(QD);
    return A;
}

/* Hessian-like: 8 outliers (20 .. 6), a bulk uniform in [-0.2, 1]. */
static void outlier_spectrum(int n, double *d) {
    static const double out[] = {20, 15, 12, 10, 9, 8, 7, 6};
    for (int i = 0; i < 8; i++) d[i] = out[i];
    for (int i = 8; i < n; i++) d[i] = -0.2 + 1.2 * (i - 8 + 0.5) / (n - 8);
}

static hesse_lanczos_params params(int top, int bottom, int verify, uint64_t seed) {
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = top;
    p.bottom = bottom;
    p.verify = verify;
    p.seed = seed;
    return p;
}

/* Checks r against the exact eigenvalues w (ascending, LAPACK) of the operator op: values
 * (<= 1e-10 relative: tol = 1e-8 bounds the Ritz value error by r^2 / gap ~ 1e-16 ||A||^2 /
 * gap, so 1e-10 holds unless a value is wrong, which is off by a gap >= 1e-3), recomputed
 * residuals <= tol ||A|| (1% slack for the rounding of the product). */
static void check_against(const char *what, const hesse_op *op, const hesse_eigs *r,
                          const double *w, int n, int top, int bottom) {
    double anorm = fmax(fabs(w[0]), fabs(w[n - 1]));
    REQUIRE(r->ntop == top && r->nbottom == bottom);
    for (int i = 0; i < top; i++)
        CHECK_MSG(test_close(r->values[i], w[n - 1 - i], 1e-10, 0.0), "%s: top %d is %.17g, %.17g",
                  what, i, r->values[i], w[n - 1 - i]);
    for (int i = 0; i < bottom; i++)
        CHECK_MSG(test_close(r->values[top + i], w[i], 1e-10, 0.0), "%s: bottom %d is %.17g, %.17g",
                  what, i, r->values[top + i], w[i]);
    double res = max_residual(op, top + bottom, r->vectors, r->values);
    CHECK_MSG(res <= 1.01 * r->tol * anorm, "%s: recomputed residual %.3g > %.3g", what, res,
              r->tol * anorm);
    CHECK_MSG(r->nconverged == top + bottom && r->residuals_explicit == 1, "%s: %d converged", what,
              r->nconverged);
    CHECK(orth_error(n, top + bottom, r->vectors) <= 1e-12);
}

/* A sequence of three explicit matrices, each a perturbation of the last: the Ritz vectors of
 * one start the next. Warm and cold agree with each other and with LAPACK. */
static void test_warm_equals_cold(int top, int bottom, int verify) {
    enum { n = 400 };
    double *Q = random_orthogonal(n, 11), d[n], w[n];
    outlier_spectrum(n, d);
    hesse_eigs prev = {0};
    long long cold_total = 0, warm_total = 0;
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < 8; i++) d[i] *= 1.0 + 0.01 * t; /* sharpening */
        double *A = dense_matrix(n, Q, d, 0.05 * t, 100 + t);
        REQUIRE(hesse_eigh(n, A, w, NULL) == HESSE_OK);
        hesse_op op;
        REQUIRE(hesse_op_dense(n, A, &op) == HESSE_OK);
        hesse_lanczos_params p = params(top, bottom, verify, 7 + t);
        hesse_eigs cold, warm;
        REQUIRE(hesse_lanczos_eigs(&op, &p, &cold) == HESSE_OK);
        char what[64];
        snprintf(what, sizeof what, "cold t=%d top %d bottom %d verify %d", t, top, bottom, verify);
        check_against(what, &op, &cold, w, n, top, bottom);
        if (t > 0) {
            p.start = prev.vectors;
            p.nstart = top + bottom;
            REQUIRE(hesse_lanczos_eigs(&op, &p, &warm) == HESSE_OK);
            snprintf(what, sizeof what, "warm t=%d top %d bottom %d verify %d", t, top, bottom,
                     verify);
            check_against(what, &op, &warm, w, n, top, bottom);
            for (int i = 0; i < top + bottom; i++)
                CHECK_CLOSE(warm.values[i], cold.values[i], 1e-10, 0.0);
            cold_total += cold.products;
            warm_total += warm.products;
            hesse_eigs_free(&prev);
            prev = warm;
        } else {
            prev = cold;
            cold = (hesse_eigs){0};
        }
        hesse_eigs_free(&cold);
        hesse_op_free(&op);
        free(A);
    }
    fprintf(stderr, "  sequence top %d bottom %d verify %d: products cold %lld, warm %lld\n", top,
            bottom, verify, cold_total, warm_total);
    hesse_eigs_free(&prev);
    free(Q);
}

/* The start vectors lie close to the top 5 eigenvectors e_0 .. e_4 of a diagonal operator and
 * hold a little of every other coordinate except the riser's: an eigenvalue that moved from
 * the bulk to third place has no component in them. No invariant subspace is met (the start
 * touches every other coordinate), so only the random part of the warm start can find it. */
static void test_riser(int verify) {
    enum { n = 3000, k = 5, riser = 1777 };
    double *d = malloc(sizeof(double) * n), *X = malloc(sizeof(double) * (size_t)n * k);
    static const double out[] = {10, 9, 8, 7, 6};
    for (int i = 0; i < n; i++) d[i] = i < k ? out[i] : 5.0 * (n - i) / n; /* bulk (0, 5) */
    hesse_rng rng;
    hesse_rng_seed(&rng, 5);
    for (int c = 0; c < k; c++) {
        double *x = X + (size_t)c * n;
        for (int i = 0; i < n; i++) x[i] = 1e-4 * hesse_rng_normal(&rng) / sqrt((double)n);
        x[c] = 1.0;
        x[riser] = 0.0;
    }
    d[riser] = 8.5;
    hesse_op op;
    REQUIRE(hesse_op_diag(n, d, &op) == HESSE_OK);
    hesse_lanczos_params p = params(k, 0, verify, 3);
    p.start = X;
    p.nstart = k;
    hesse_eigs r;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    static const double want[] = {10, 9, 8.5, 8, 7};
    for (int i = 0; i < k; i++)
        CHECK_MSG(test_close(r.values[i], want[i], 1e-10, 0.0),
                  "riser (verify %d): value %d is %.17g, want %g", verify, i, r.values[i], want[i]);
    fprintf(stderr, "  riser verify %d: %lld products, %d breakdowns\n", verify,
            (long long)r.products, r.breakdowns);
    hesse_eigs_free(&r);
    hesse_op_free(&op);
    free(d);
    free(X);
}

/* Repeated eigenvalues (10 x3 at the top, -3 x3 at the bottom): a warm start that holds one
 * copy of each, with verify, still finds all three copies. */
static void test_multiplicity(void) {
    enum { n = 2000 };
    double *d = malloc(sizeof(double) * n);
    spec_repeated(n, d);
    hesse_op op = qdq_make(n, d, 3, 21);
    hesse_lanczos_params p = params(3, 3, 1, 1);
    p.basis = 20;
    hesse_eigs cold, warm;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &cold) == HESSE_OK);
    /* one copy of 10 (column 0) and one of -3 (column 3) */
    double *X = malloc(sizeof(double) * (size_t)n * 2);
    memcpy(X, cold.vectors, sizeof(double) * n);
    memcpy(X + n, cold.vectors + (size_t)3 * n, sizeof(double) * n);
    p.start = X;
    p.nstart = 2;
    p.seed = 2;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &warm) == HESSE_OK);
    for (int i = 0; i < 3; i++) CHECK_CLOSE(warm.values[i], 10.0, 1e-12, 0.0);
    for (int i = 0; i < 3; i++) CHECK_CLOSE(warm.values[3 + i], -3.0, 1e-12, 0.0);
    CHECK(warm.fresh_starts >= 1);
    CHECK(orth_error(n, 6, warm.vectors) <= 1e-12);
    CHECK(max_residual(&op, 6, warm.vectors, warm.values) <= 1.01 * p.tol * 10);
    fprintf(stderr, "  multiplicity: cold %lld products, warm from one copy %lld\n",
            (long long)cold.products, (long long)warm.products);
    hesse_eigs_free(&cold);
    hesse_eigs_free(&warm);
    free(X);
    hesse_op_free(&op);
    free(d);
}

/* Start vectors that are no orthonormal set: a zero column, a scaled copy, a sum, a duplicate;
 * then more columns than the basis holds (and than n). The result must be the exact one. */
static void test_untidy_starts(void) {
    enum { n = 300 };
    double *Q = random_orthogonal(n, 31), d[n], w[n];
    outlier_spectrum(n, d);
    double *A = dense_matrix(n, Q, d, 0.02, 32);
    REQUIRE(hesse_eigh(n, A, w, NULL) == HESSE_OK);
    hesse_op op;
    REQUIRE(hesse_op_dense(n, A, &op) == HESSE_OK);
    double *X = calloc((size_t)n * 5, sizeof(double));
    for (int i = 0; i < n; i++) {
        X[n + i] = 1e3 * Q[i];                        /* column 1: 1000 q_0 */
        X[2 * n + i] = Q[i] + Q[n + i];               /* column 2: q_0 + q_1 */
        X[3 * n + i] = 1e3 * Q[i];                    /* column 3: column 1 again */
        X[4 * n + i] = Q[2 * n + i] - 0.5 * Q[n + i]; /* column 4 */
    }
    hesse_lanczos_params p = params(4, 0, 0, 3);
    p.start = X;
    p.nstart = 5;
    hesse_eigs r;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    check_against("untidy start", &op, &r, w, n, 4, 0);
    hesse_eigs_free(&r);

    /* 40 random columns with a basis of 12, and 400 (> n) with the default basis */
    hesse_rng rng;
    hesse_rng_seed(&rng, 9);
    double *R = malloc(sizeof(double) * (size_t)n * 400);
    for (size_t i = 0; i < (size_t)n * 400; i++) R[i] = hesse_rng_normal(&rng);
    p.start = R;
    p.nstart = 40;
    p.basis = 12;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    check_against("nstart 40 > basis 12", &op, &r, w, n, 4, 0);
    hesse_eigs_free(&r);
    p.nstart = 400;
    p.basis = 0;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    check_against("nstart 400 > n", &op, &r, w, n, 4, 0);
    hesse_eigs_free(&r);
    free(R);
    free(X);
    free(A);
    free(Q);
    hesse_op_free(&op);
}

static void expect_einval(const hesse_op *op, hesse_lanczos_params *p, const char *needle) {
    hesse_eigs r;
    memset(&r, 0xff, sizeof r);
    int rc = hesse_lanczos_eigs(op, p, &r);
    CHECK_MSG(rc == HESSE_EINVAL, "expected HESSE_EINVAL for '%s', got %d", needle, rc);
    CHECK_MSG(strstr(hesse_last_error(), needle) != NULL, "message '%s' lacks '%s'",
              hesse_last_error(), needle);
    CHECK(r.values == NULL && r.vectors == NULL);
}

static void test_bad_starts(void) {
    enum { n = 50 };
    double d[n], X[n * 3];
    for (int i = 0; i < n; i++) d[i] = i;
    hesse_op op;
    REQUIRE(hesse_op_diag(n, d, &op) == HESSE_OK);
    for (int i = 0; i < n * 3; i++) X[i] = 1.0 + i % 7;
    hesse_lanczos_params p = params(2, 0, 1, 1);
    p.start = X;
    p.nstart = 3;
    X[n + 17] = NAN;
    expect_einval(&op, &p, "start vector 1 has a non-finite entry");
    X[n + 17] = 1.0;
    X[2 * n + 3] = -INFINITY;
    expect_einval(&op, &p, "start vector 2 has a non-finite entry");
    memset(X, 0, sizeof X);
    expect_einval(&op, &p, "all zero");
    p.nstart = -1;
    expect_einval(&op, &p, "nstart = -1");
    p.nstart = 2;
    p.start = NULL;
    expect_einval(&op, &p, "start vectors are NULL");
    hesse_op_free(&op);
}

int main(void) {
    test_warm_equals_cold(5, 0, 0);
    test_warm_equals_cold(5, 0, 1);
    test_warm_equals_cold(4, 3, 0);
    test_riser(0);
    test_riser(1);
    test_multiplicity();
    test_untidy_starts();
    test_bad_starts();
    return test_summary("test_lanczos_warm");
}
