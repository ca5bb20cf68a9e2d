/* op/ and spectral/ on their own: this program includes only hesse/op.h and hesse/spectral.h
 * and links the hesse_spectral library alone (core + op + spectral objects; tests/CMakeLists.txt,
 * SPECTRAL_ONLY), so a symbol of nn/ or data/ reached from op/ or spectral/ fails its link, and a
 * header of those rooms reached from these two fails the #error below.
 *
 * References are closed forms: the eigenvalues of diagonal operators and of operators built
 * from them (deflation, shift, combination, restriction) are known exactly, and so are the
 * eigenpairs of the 1-D Laplacian (dense eigenpairs). */
#include <hesse/op.h>
#include <hesse/spectral.h>

#if defined(HESSE_NN_H) || defined(HESSE_DATA_H) || defined(HESSE_CURV_H)
#error "op.h or spectral.h reaches a header of nn/, data/ or curv/"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

enum { N = 400 };

/* The counted application (moved from test_core with the operator). */
static int diag3_apply(void *ctx, int k, const double *X, double *Y) {
    const double *d = ctx;
    for (int j = 0; j < k; j++)
        for (int i = 0; i < 3; i++) Y[j * 3 + i] = d[i] * X[j * 3 + i];
    return HESSE_OK;
}

static void test_apply(void) {
    double d[3] = {1, 2, 3};
    hesse_op op = {3, diag3_apply, d, 2, NULL, 0};
    double X[9] = {1, 1, 1, 0, 1, 0, 2, 0, 0}, Y[9];
    hesse_op_stats st = {0, 0, 0};
    CHECK(hesse_op_apply(&op, 3, X, Y, &st) == HESSE_OK);
    CHECK(st.products == 3 && st.calls == 2); /* max_block 2 splits 3 columns into 2 calls */
    CHECK(Y[0] == 1 && Y[1] == 2 && Y[2] == 3 && Y[4] == 2 && Y[6] == 2);
    d[1] = NAN;
    CHECK(hesse_op_apply(&op, 1, X, Y, &st) == HESSE_ENUMERIC);
    /* An operator that checks its own outputs is trusted to: no second scan (it would have
     * failed itself; this one does not, so the NaN passes through, which shows the skip). */
    op.checks_finite = 1;
    CHECK(hesse_op_apply(&op, 1, X, Y, &st) == HESSE_OK && isnan(Y[1]));
    hesse_op_free(NULL);
}

/* Thick-restart Lanczos for `top` and `bottom`, each value checked against want[] (top
 * descending, then bottom ascending). Every pair must converge, ||A v - theta v|| <= tol ||A||,
 * and then an eigenvalue lies within the residual of theta (Weyl); the spectra here have gaps
 * >= 1 >> the residual, so it is the wanted one. 1e-12 ||A|| covers rounding in the residual. */
static void check_lanczos(const char *what, const hesse_op *op, int top, int bottom,
                          const double *want) {
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = top;
    p.bottom = bottom;
    p.tol = 1e-10;
    hesse_eigs r = {0};
    REQUIRE(hesse_lanczos_eigs(op, &p, &r) == HESSE_OK);
    CHECK_MSG(r.nconverged == top + bottom, "%s: %d of %d converged", what, r.nconverged,
              top + bottom);
    for (int i = 0; i < top + bottom; i++)
        CHECK_MSG(fabs(r.values[i] - want[i]) <= r.residuals[i] + 1e-12 * r.anorm,
                  "%s: value %d is %.17g, want %.17g (residual %.3g)", what, i, r.values[i],
                  want[i], r.residuals[i]);
    CHECK(r.products > 0);
    hesse_eigs_free(&r);
}

static void test_diag_and_deflate(void) {
    /* d = 1, 2, ..., N: top N, N-1, ...; bottom 1, 2, ... */
    double *d = malloc(sizeof(double) * N);
    REQUIRE(d != NULL);
    for (int i = 0; i < N; i++) d[i] = i + 1.0;
    hesse_op a;
    REQUIRE(hesse_op_diag(N, d, &a) == HESSE_OK);
    const double want_a[] = {N, N - 1, N - 2, 1, 2};
    check_lanczos("diag", &a, 3, 2, want_a);

    /* Deflating the top two eigenvectors with a basis of their span that is not aligned with
     * the axes, U = [(e_N + e_N-1), (e_N - e_N-1)] / sqrt(2): P A P has N-2, N-3, ... on top
     * and the deflated pair becomes 0, 0 at the bottom (verify finds the double one). */
    double *U = calloc(2 * (size_t)N, sizeof *U);
    REQUIRE(U != NULL);
    const double s = sqrt(0.5);
    U[N - 1] = s;
    U[N - 2] = s;
    U[N + N - 1] = s;
    U[N + N - 2] = -s;
    hesse_op df;
    REQUIRE(hesse_op_deflate(&a, 2, U, &df) == HESSE_OK);
    const double want_df[] = {N - 2, N - 3, N - 4, 0, 0, 1};
    check_lanczos("deflated diag", &df, 3, 3, want_df);

    /* Shift A - (N + 1) / 2: top (N - 1) / 2, bottom -(N - 1) / 2. */
    hesse_op sh;
    REQUIRE(hesse_op_shift(&a, -(N + 1) / 2.0, &sh) == HESSE_OK);
    const double want_sh[] = {(N - 1) / 2.0, -(N - 1) / 2.0};
    check_lanczos("shift", &sh, 1, 1, want_sh);

    /* 2 diag(d) - diag(c) with c_i = i (0-based): diagonal i + 2, top N + 1, bottom 2. */
    double *c = malloc(sizeof(double) * N);
    REQUIRE(c != NULL);
    for (int i = 0; i < N; i++) c[i] = i;
    hesse_op b, cb;
    REQUIRE(hesse_op_diag(N, c, &b) == HESSE_OK);
    REQUIRE(hesse_op_combine(&a, 2.0, &b, -1.0, &cb) == HESSE_OK);
    const double want_cb[] = {N + 1, 2};
    check_lanczos("combine", &cb, 1, 1, want_cb);

    /* Restriction to [10, 30) and [200, 240): the diagonal entries 11..30 and 201..240. Its
     * materialised matrix is that diagonal exactly: each product multiplies by 1 or 0, and
     * (a + a) / 2 is a in floating point. */
    const int64_t off[2] = {10, 200}, len[2] = {20, 40};
    hesse_op rs;
    REQUIRE(hesse_op_restrict(&a, 2, off, len, &rs) == HESSE_OK);
    REQUIRE(rs.n == 60);
    const double want_rs[] = {240, 239, 11};
    check_lanczos("restrict", &rs, 2, 1, want_rs);
    double M[60 * 60], asym = -1;
    hesse_op_stats st = {0, 0, 0};
    REQUIRE(hesse_op_to_dense(&rs, 16, M, &asym, &st) == HESSE_OK);
    CHECK(st.products == 60 && st.calls == 4 && asym == 0.0);
    int exact = 1;
    for (int j = 0; j < 60; j++)
        for (int i = 0; i < 60; i++)
            exact &= M[j * 60 + i] == (i != j ? 0.0 : j < 20 ? 11.0 + j : 201.0 + (j - 20));
    CHECK(exact);
    CHECK(hesse_op_restrict(&a, 2, (const int64_t[]){200, 10}, len, &rs) == HESSE_EINVAL);

    /* The deflated operator materialised (block <= 0: 64) and decomposed densely: 0, 0, 1, 2,
     * ..., N - 2. Deflation rounds at ~1e-16 relative per product; dsyevd's backward error is
     * ~n eps ||A||, so 1e-10 of ||A|| = N is generous and still catches any wrong value. */
    double *D = malloc(sizeof(double) * N * N), *w = malloc(sizeof(double) * N);
    REQUIRE(D && w);
    REQUIRE(hesse_op_to_dense(&df, 0, D, NULL, NULL) == HESSE_OK);
    REQUIRE(hesse_eigh(N, D, w, NULL) == HESSE_OK);
    double worst = 0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fabs(w[i] - (i < 2 ? 0.0 : i - 1.0)));
    CHECK_MSG(worst <= 1e-10 * N, "deflated dense spectrum error %g", worst);

    /* Power iteration on diag(d) scaled so that the top is isolated: 2 N - 1 over N - 1, a
     * ratio of 1/2 per step; 60 steps meet tol 1e-12 of the relative change. */
    double *e = malloc(sizeof(double) * N);
    REQUIRE(e != NULL);
    for (int i = 0; i < N; i++) e[i] = i + 1.0 < N ? i + 1.0 : 2.0 * N;
    hesse_op pe;
    REQUIRE(hesse_op_diag(N, e, &pe) == HESSE_OK);
    hesse_power_params pp = hesse_power_defaults();
    pp.top = 1;
    pp.tol = 1e-12;
    pp.max_iter = 200;
    hesse_eigs r = {0};
    REQUIRE(hesse_power_eigs(&pe, &pp, &r) == HESSE_OK);
    CHECK_CLOSE(r.values[0], 2.0 * N, 1e-9, 1.0); /* Rayleigh quotient: error ~ tol */
    hesse_eigs_free(&r);

    hesse_op_free(&pe);
    hesse_op_free(&rs);
    hesse_op_free(&cb);
    hesse_op_free(&b);
    hesse_op_free(&sh);
    hesse_op_free(&df);
    hesse_op_free(&a);
    free(e);
    free(w);
    free(D);
    free(c);
    free(U);
    free(d);
}

/* Dense eigenpairs of the 1-D Laplacian tridiag(-1, 2, -1) of size n, given as an explicit
 * operator: lambda_k = 2 - 2 cos(k pi / (n + 1)), v_k(j) = sqrt(2 / (n + 1)) sin(j k pi / (n + 1)),
 * k, j = 1 .. n. dsyevd is backward stable: value errors <= c n eps ||A|| ~ 60 * 2.2e-16 * 4 =
 * 5e-14, so 1e-12; vector angles <= that / gap, the smallest gap ~ 3 pi^2 / n^2 = 8e-3, so
 * 1 - |<v, v_k>| <= 1e-10 is generous. */
static void test_dense_eigs(void) {
    enum { n = 60 };
    const double pi = 3.14159265358979323846;
    double *L = calloc((size_t)n * n, sizeof *L);
    REQUIRE(L != NULL);
    for (int i = 0; i < n; i++) {
        L[i * n + i] = 2.0;
        if (i + 1 < n) L[i * n + i + 1] = L[(i + 1) * n + i] = -1.0;
    }
    hesse_op op;
    REQUIRE(hesse_op_dense(n, L, &op) == HESSE_OK);
    hesse_dense_params p = hesse_dense_defaults();
    CHECK(p.block == 64 && p.want_vectors == 1 && p.memory_budget == 0);
    p.top = 3;
    p.bottom = 2;
    hesse_eigs r = {0};
    REQUIRE(hesse_dense_eigs(&op, &p, &r) == HESSE_OK);
    CHECK(r.n == n && r.ntop == 3 && r.nbottom == 2 && r.nconverged == 5);
    CHECK(r.products == n && r.residuals_explicit == 1 && r.vectors != NULL);
    const int ks[5] = {n, n - 1, n - 2, 1, 2}; /* top descending, then bottom ascending */
    for (int i = 0; i < 5; i++) {
        double want = 2.0 - 2.0 * cos(ks[i] * pi / (n + 1)), dot = 0.0;
        for (int j = 1; j <= n; j++)
            dot += r.vectors[(size_t)i * n + j - 1] * sqrt(2.0 / (n + 1)) *
                   sin(j * ks[i] * pi / (n + 1));
        CHECK_MSG(fabs(r.values[i] - want) <= 1e-12, "pair %d: %.17g, want %.17g", i, r.values[i],
                  want);
        CHECK_MSG(1.0 - fabs(dot) <= 1e-10, "pair %d: vector off by %g", i, 1.0 - fabs(dot));
        CHECK(r.residuals[i] <= 1e-12);
    }
    CHECK_CLOSE(r.anorm, 2.0 - 2.0 * cos(n * pi / (n + 1)), 1e-12, 1.0);

    /* The same numbers, bit for bit, as materialising and calling hesse_eigh, which is what
     * `hesse spectrum --method dense` did before this function existed. */
    double *A = malloc(sizeof(double) * n * n), *V = malloc(sizeof(double) * n * n), w[n];
    REQUIRE(A && V);
    REQUIRE(hesse_op_to_dense(&op, 64, A, NULL, NULL) == HESSE_OK);
    REQUIRE(hesse_eigh(n, A, w, V) == HESSE_OK);
    int same = 1;
    for (int i = 0; i < 5; i++) {
        int col = i < 3 ? n - 1 - i : i - 3;
        same &= memcmp(&r.values[i], &w[col], sizeof(double)) == 0;
        same &= memcmp(r.vectors + (size_t)i * n, V + (size_t)col * n, sizeof(double) * n) == 0;
    }
    CHECK(same);
    hesse_eigs_free(&r);

    /* In place, values only and with vectors: every value against the closed form. */
    double w2[n];
    REQUIRE(hesse_eigh_inplace(n, A, w2, 0) == HESSE_OK);
    double worst = 0.0;
    for (int k = 1; k <= n; k++)
        worst = fmax(worst, fabs(w2[k - 1] - (2.0 - 2.0 * cos(k * pi / (n + 1)))));
    CHECK_MSG(worst <= 1e-12, "in-place eigenvalue error %g", worst);
    memcpy(A, L, sizeof(double) * n * n);
    REQUIRE(hesse_eigh_inplace(n, A, w2, 1) == HESSE_OK);
    double dot = 0.0; /* A's first column: the eigenvector of k = 1 */
    for (int j = 1; j <= n; j++) dot += A[j - 1] * sqrt(2.0 / (n + 1)) * sin(j * pi / (n + 1));
    CHECK_MSG(1.0 - fabs(dot) <= 1e-10, "in-place vector off by %g", 1.0 - fabs(dot));
    CHECK(hesse_eigh_inplace(0, A, w2, 0) == HESSE_EINVAL);

    /* Refusals leave *out zeroed. */
    p.top = n;
    CHECK(hesse_dense_eigs(&op, &p, &r) == HESSE_EINVAL && r.values == NULL);
    p.top = 0;
    p.bottom = 0;
    CHECK(hesse_dense_eigs(&op, &p, &r) == HESSE_EINVAL);
    p.top = 1;
    p.memory_budget = 3 * 8 * n * n - 1; /* one byte short of three n x n copies */
    CHECK(hesse_dense_eigs(&op, &p, &r) == HESSE_ENOMEM && r.values == NULL);
    hesse_op_free(&op);
    free(V);
    free(A);
    free(L);
}

static void test_memory_check(void) {
    CHECK(hesse_dense_check_memory(10, 1, 800) == HESSE_OK); /* 10^2 doubles = 800 bytes */
    CHECK(hesse_dense_check_memory(10, 2, 800) == HESSE_ENOMEM);
    CHECK(hesse_dense_check_memory(0, 1, 800) == HESSE_EINVAL);
}

int main(void) {
    test_apply();
    test_diag_and_deflate();
    test_dense_eigs();
    test_memory_check();
    return test_summary("test_op_spectral");
}
