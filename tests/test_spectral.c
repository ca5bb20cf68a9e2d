/* Generic operators (op/algebra.c), the dense eigensolver against closed forms, exact /
 * Hutchinson / Hutch++ traces, plain Lanczos, and power iteration against Lanczos. */
#include <hesse/op.h>
#include <hesse/spectral.h>

#include <string.h>

#include "check.h"
#include "spectral_testops.h"

/* ---- generic operators --------------------------------------------------------------------- */

/* Each operator against an explicit product on a 3-column block; the arithmetic is a handful of
 * roundings per entry, so 1e-13 relative (with a floor of 1e-13 near zero) is ample. */
static void test_generic(void) {
    enum { n = 7, k = 3 };
    double A[n * n], B[n * n], d[n], X[n * k], Y[n * k], Z[n * k];
    hesse_rng r;
    hesse_rng_seed(&r, 5);
    for (int j = 0; j < n; j++)
        for (int i = 0; i <= j; i++) {
            A[j * n + i] = A[i * n + j] = hesse_rng_normal(&r);
            B[j * n + i] = B[i * n + j] = hesse_rng_normal(&r);
        }
    for (int i = 0; i < n; i++) d[i] = i - 2.5;
    for (int i = 0; i < n * k; i++) X[i] = hesse_rng_normal(&r);

    hesse_op a, b, dg, sh, cb;
    REQUIRE(hesse_op_dense(n, A, &a) == HESSE_OK);
    REQUIRE(hesse_op_dense(n, B, &b) == HESSE_OK);
    REQUIRE(hesse_op_diag(n, d, &dg) == HESSE_OK);
    REQUIRE(hesse_op_shift(&a, 0.75, &sh) == HESSE_OK);
    REQUIRE(hesse_op_combine(&a, 2.0, &b, -0.5, &cb) == HESSE_OK);
    CHECK(a.free_ctx && b.free_ctx && dg.free_ctx && sh.free_ctx && cb.free_ctx);

    /* dense: k = 1 (dgemv) and k = 3 (dgemm) */
    hesse_op_stats st = {0, 0, 0};
    CHECK(hesse_op_apply(&a, k, X, Y, &st) == HESSE_OK && st.products == k);
    CHECK(hesse_op_apply(&a, 1, X, Z, NULL) == HESSE_OK);
    int ok = 1;
    for (int c = 0; c < k; c++)
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) s += A[j * n + i] * X[c * n + j];
            ok &= test_close(Y[c * n + i], s, 1e-13, 1e-13);
            if (c == 0) ok &= test_close(Z[i], s, 1e-13, 1e-13);
        }
    CHECK(ok);

    CHECK(hesse_op_apply(&dg, k, X, Y, NULL) == HESSE_OK);
    ok = 1;
    for (int i = 0; i < n * k; i++) ok &= Y[i] == d[i % n] * X[i];
    CHECK(ok);

    CHECK(hesse_op_apply(&sh, k, X, Y, NULL) == HESSE_OK);
    CHECK(hesse_op_apply(&a, k, X, Z, NULL) == HESSE_OK);
    ok = 1;
    for (int i = 0; i < n * k; i++) ok &= test_close(Y[i], Z[i] + 0.75 * X[i], 1e-13, 1e-13);
    CHECK(ok);

    double W[n * k];
    CHECK(hesse_op_apply(&cb, k, X, Y, NULL) == HESSE_OK);
    CHECK(hesse_op_apply(&b, k, X, W, NULL) == HESSE_OK);
    ok = 1;
    for (int i = 0; i < n * k; i++) ok &= test_close(Y[i], 2.0 * Z[i] - 0.5 * W[i], 1e-13, 1e-13);
    CHECK(ok);

    double other[3] = {1, 2, 3};
    hesse_op small, bad;
    REQUIRE(hesse_op_diag(3, other, &small) == HESSE_OK);
    CHECK(hesse_op_combine(&a, 1, &small, 1, &bad) == HESSE_EINVAL);
    CHECK(hesse_op_dense(0, A, &bad) == HESSE_EINVAL);
    hesse_op_free(&small);

    /* deflation: A = diag(d) with U = e_6, e_0 (the eigenvectors of 3.5 and -2.5): P A P has
     * those eigenvalues replaced by 0 and the rest unchanged */
    double U[2 * n] = {0};
    U[6] = 1.0;
    U[n + 0] = 1.0;
    hesse_op df;
    REQUIRE(hesse_op_deflate(&dg, 2, U, &df) == HESSE_OK);
    double D[n * n], w[n];
    REQUIRE(hesse_op_to_dense(&df, 3, D, NULL, NULL) == HESSE_OK);
    REQUIRE(hesse_eigh(n, D, w, NULL) == HESSE_OK);
    double want[n] = {-1.5, -0.5, 0.0, 0.0, 0.5, 1.5, 2.5};
    ok = 1;
    for (int i = 0; i < n; i++) ok &= fabs(w[i] - want[i]) <= 1e-14;
    CHECK(ok);
    /* the same with a dense, non-aligned orthonormal U: P A P U = 0 */
    double Ud[n * 2];
    for (int i = 0; i < n * 2; i++) Ud[i] = hesse_rng_normal(&r);
    double tau[2];
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, 2, Ud, n, tau);
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, 2, 2, Ud, n, tau);
    hesse_op df2;
    REQUIRE(hesse_op_deflate(&a, 2, Ud, &df2) == HESSE_OK);
    CHECK(hesse_op_apply(&df2, 2, Ud, Y, NULL) == HESSE_OK);
    double mx = 0;
    for (int i = 0; i < 2 * n; i++) mx = fmax(mx, fabs(Y[i]));
    CHECK(mx <= 1e-13);
    hesse_op_free(&df2);
    hesse_op_free(&df);

    hesse_op_free(&cb);
    hesse_op_free(&sh);
    hesse_op_free(&dg);
    hesse_op_free(&b);
    hesse_op_free(&a);
    CHECK(a.ctx == NULL && a.apply == NULL);
    hesse_op_free(NULL);
}

/* ---- dense ------------------------------------------------------------------------------ */

/* The second-difference matrix tridiag(-1, 2, -1) of order n has eigenvalues
 * 2 - 2 cos(k pi / (n + 1)) and eigenvectors sqrt(2/(n+1)) sin(j k pi / (n + 1)). dsyevd is
 * backward stable: eigenvalue errors <= c n eps ||A|| ~ 200 * 2.2e-16 * 4 = 2e-13; eigenvector
 * angles <= that / gap, the smallest gap being ~ 3 pi^2 / n^2 = 7e-4, so 1e-9. */
static void test_dense(void) {
    enum { n = 200 };
    double *A = calloc(n * n, sizeof(double)), *V = malloc(sizeof(double) * n * n), w[n];
    for (int i = 0; i < n; i++) {
        A[i * n + i] = 2.0;
        if (i + 1 < n) A[i * n + i + 1] = A[(i + 1) * n + i] = -1.0;
    }
    REQUIRE(hesse_eigh(n, A, w, V) == HESSE_OK);
    double pi = 3.14159265358979323846, worst = 0.0, worst_vec = 0.0;
    for (int k = 1; k <= n; k++) {
        worst = fmax(worst, fabs(w[k - 1] - (2.0 - 2.0 * cos(k * pi / (n + 1)))));
        double dot = 0.0;
        for (int j = 1; j <= n; j++)
            dot += V[(k - 1) * n + j - 1] * sqrt(2.0 / (n + 1)) * sin(j * k * pi / (n + 1));
        worst_vec = fmax(worst_vec, 1.0 - fabs(dot));
    }
    CHECK_MSG(worst <= 2e-13, "eigenvalue error %g", worst);
    CHECK_MSG(worst_vec <= 1e-9, "eigenvector error %g", worst_vec);
    CHECK(A[0] == 2.0 && A[1] == -1.0); /* A is not modified */
    double w2[n];
    REQUIRE(hesse_eigh(n, A, w2, NULL) == HESSE_OK);
    CHECK(memcmp(w, w2, sizeof w) == 0 || fabs(w[0] - w2[0]) < 1e-14);
    CHECK(hesse_eigh(0, A, w, NULL) == HESSE_EINVAL);
    free(A);
    free(V);

    /* an implicit operator materialised with identity blocks: Q D Q^T with a known D;
     * the reflections add ~1e-16 relative per product, well below 1e-12 */
    enum { m = 300 };
    double d[m], *M = malloc(sizeof(double) * m * m), wm[m], sorted[m];
    spec_indefinite(m, d);
    hesse_op op = qdq_make(m, d, 3, 3);
    hesse_op_stats st = {0, 0, 0};
    REQUIRE(hesse_op_to_dense(&op, 64, M, NULL, &st) == HESSE_OK);
    CHECK(st.products == m && st.calls == 5);
    REQUIRE(hesse_eigh(m, M, wm, NULL) == HESSE_OK);
    spec_ends(m, d, 0, NULL, m, sorted);
    worst = 0.0;
    for (int i = 0; i < m; i++) worst = fmax(worst, fabs(wm[i] - sorted[i]));
    CHECK_MSG(worst <= 1e-12, "Q D Q^T spectrum error %g", worst);
    /* hesse_eigh_inplace is `hesse dense`'s LAPACK call (values only, upper triangle, in place),
     * bit for bit */
    double *M2 = malloc(sizeof(double) * m * m), wi[m], wl[m];
    REQUIRE(M2 != NULL);
    memcpy(M2, M, sizeof(double) * m * m);
    REQUIRE(hesse_eigh_inplace(m, M2, wi, 0) == HESSE_OK);
    memcpy(M2, M, sizeof(double) * m * m);
    REQUIRE(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', m, M2, m, wl) == 0);
    CHECK(memcmp(wi, wl, sizeof wi) == 0);
    free(M2);

    /* exact trace: n products, the sum of the diagonal to rounding */
    double tr = 0.0;
    for (int i = 0; i < m; i++) tr += d[i];
    hesse_trace_result res;
    hesse_trace_params tp = hesse_trace_defaults();
    tp.block = 50;
    REQUIRE(hesse_trace_exact(&op, &tp, &res) == HESSE_OK);
    CHECK_CLOSE(res.trace, tr, 1e-12, 1.0);
    CHECK(res.products == m && res.std_error == 0.0);
    hesse_op_free(&op);
    free(M);
}

/* ---- plain Lanczos ----------------------------------------------------------------------- */

/* On diag(1 .. n) the Lanczos basis is orthonormal (with reorthogonalisation, to 1e-13) and
 * V^T A V = T (to 1e-12 ||A||); the support estimate contains [1, n] up to the residual bound
 * and is not wider than the spectrum by more than that bound. Without reorthogonalisation
 * the recurrence still gives a tridiagonal whose extreme Ritz values are accurate. */
static void test_tridiag(void) {
    enum { n = 500, m = 40 };
    double d[n];
    for (int i = 0; i < n; i++) d[i] = i + 1;
    hesse_op op;
    REQUIRE(hesse_op_diag(n, d, &op) == HESSE_OK);
    double alpha[m], beta[m], *V = malloc(sizeof(double) * n * m);
    int steps = 0;
    hesse_op_stats st = {0, 0, 0};
    REQUIRE(hesse_lanczos_tridiag(&op, NULL, 1, m, 1, alpha, beta, V, &steps, &st) == HESSE_OK);
    CHECK(steps == m && st.products == m);
    CHECK(orth_error(n, m, V) <= 1e-13);
    double worst = 0.0, *AV = malloc(sizeof(double) * n * m);
    hesse_op_apply(&op, m, V, AV, NULL);
    for (int j = 0; j < m; j++)
        for (int i = 0; i < m; i++) {
            double t = cblas_ddot(n, V + i * n, 1, AV + j * n, 1);
            double want = i == j ? alpha[j] : (i == j + 1 ? beta[j] : (j == i + 1 ? beta[i] : 0));
            worst = fmax(worst, fabs(t - want));
        }
    CHECK_MSG(worst <= 1e-12 * n, "V^T A V - T = %g", worst);
    double lo, hi;
    REQUIRE(hesse_spectral_support(&op, 30, 7, &lo, &hi, NULL) == HESSE_OK);
    CHECK(lo <= 1.0 + 1e-9 && hi >= n - 1e-9);
    CHECK(lo > -0.1 * n && hi < 1.1 * n);
    /* same start without reorthogonalisation: before any Ritz value converges the two runs
     * agree to rounding growth; compare the largest Ritz values */
    double a2[m], b2[m], e1[m], e2[m];
    REQUIRE(hesse_lanczos_tridiag(&op, NULL, 1, m, 0, a2, b2, NULL, &steps, NULL) == HESSE_OK);
    CHECK(steps == m);
    memcpy(e1, beta, sizeof e1);
    memcpy(e2, b2, sizeof e2);
    LAPACKE_dstev(LAPACK_COL_MAJOR, 'N', m, alpha, e1, NULL, m);
    LAPACKE_dstev(LAPACK_COL_MAJOR, 'N', m, a2, e2, NULL, m);
    fprintf(stderr, "  top Ritz value after %d steps: %.15g (reorth) %.15g (none)\n", m,
            alpha[m - 1], a2[m - 1]);
    CHECK_CLOSE(alpha[m - 1], a2[m - 1], 1e-8, 0.0);
    free(V);
    free(AV);
    hesse_op_free(&op);
}

/* ---- power iteration vs Lanczos ------------------------------------------------------------ */

/* Top 10 of lambda_k = 1/k (n = 10^4). Power iteration stops when the Rayleigh quotient moves
 * by less than tol = 1e-3 relative per step; with ratio r = lambda_{i+1}/lambda_i <= 10/11 the
 * remaining error is about change * r^2 / (1 - r^2) <= 1e-3 * 4.8, plus what the inexact
 * earlier eigenvectors leave in the deflation (of the same order): 1e-2 relative bounds both.
 * Lanczos (tol 1e-8) is at 1e-8 relative by the residual bound. The products: power spends
 * several per eigenvalue and cannot share them; Lanczos builds one Krylov space for all ten. */
static void test_power(void) {
    enum { n = 10000, k = 10 };
    double *d = malloc(sizeof(double) * n);
    spec_powerlaw(n, d);
    hesse_op op = qdq_make(n, d, 3, 1);
    hesse_power_params pp = hesse_power_defaults();
    pp.top = k;
    hesse_eigs pw, lz;
    REQUIRE(hesse_power_eigs(&op, &pp, &pw) == HESSE_OK);
    hesse_lanczos_params lp = hesse_lanczos_defaults();
    lp.top = k;
    REQUIRE(hesse_lanczos_eigs(&op, &lp, &lz) == HESSE_OK);
    double perr = 0.0, lerr = 0.0;
    for (int i = 0; i < k; i++) {
        perr = fmax(perr, fabs(pw.values[i] - d[i]) / d[i]);
        lerr = fmax(lerr, fabs(lz.values[i] - d[i]) / d[i]);
    }
    CHECK_MSG(perr <= 1e-2, "power iteration error %g", perr);
    CHECK(lerr <= 1e-8);
    CHECK(pw.nconverged == k && pw.residuals_explicit);
    /* the residuals it reports are those of its pairs */
    double rr = max_residual(&op, k, pw.vectors, pw.values), rmax = 0.0;
    for (int i = 0; i < k; i++) rmax = fmax(rmax, pw.residuals[i]);
    CHECK_CLOSE(rr, rmax, 1e-10, 1e-14);
    /* power: > 1.5x the products of Lanczos for an error > 1e4 times larger */
    CHECK_MSG(pw.products > 1.5 * lz.products, "power %lld vs Lanczos %lld products",
              (long long)pw.products, (long long)lz.products);
    CHECK(perr > 1e4 * lerr);
    fprintf(stderr,
            "  top %d of 1/k: power iteration %lld products (max rel error %.1e), Lanczos %lld "
            "(%.1e)\n",
            k, (long long)pw.products, perr, (long long)lz.products, lerr);
    hesse_eigs_free(&pw);
    hesse_eigs_free(&lz);
    CHECK(hesse_power_eigs(&op, &pp, NULL) == HESSE_EINVAL);
    pp.top = 0;
    CHECK(hesse_power_eigs(&op, &pp, &pw) == HESSE_EINVAL);
    hesse_op_free(&op);
    free(d);
}

/* ---- trace estimators --------------------------------------------------------------------- */

/* Low rank plus noise: 20 dense directions with s_i = 100/i and a diagonal in [0, 0.01) on
 * n = 10^4 (exact trace known). Hutchinson and Hutch++ must be within 3 of their reported
 * standard errors on each of 5 seeds (a 3-sigma band holds with probability ~0.997 per seed
 * for a Gaussian-like mean of 99 or 30 samples; fixed seeds make the outcome deterministic).
 * Hutch++ with 90 products sketches 30 directions (oversampling the 20) and takes them
 * exactly, so its error and standard error fall by orders of magnitude; Hutchinson with
 * 10x the products stays far behind. */
static void test_trace(void) {
    enum { n = 10000 };
    double tr;
    hesse_op op = lowrank_make(n, 20, 100.0, 0.01, 3, &tr);
    hesse_trace_params p = hesse_trace_defaults();
    hesse_trace_result h, hp;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        p.seed = seed;
        p.samples = 99;
        p.probe = seed % 2 ? HESSE_PROBE_RADEMACHER : HESSE_PROBE_NORMAL;
        REQUIRE(hesse_trace_hutchinson(&op, &p, &h) == HESSE_OK);
        CHECK(h.products == 99 && h.samples == 99 && h.std_error > 0);
        CHECK_MSG(fabs(h.trace - tr) <= 3 * h.std_error, "Hutchinson seed %d: %g vs %g (se %g)",
                  (int)seed, h.trace, tr, h.std_error);
        p.samples = 90;
        REQUIRE(hesse_trace_hutchpp(&op, &p, &hp) == HESSE_OK);
        CHECK(hp.products == 90 && hp.rank == 30 && hp.samples == 30);
        CHECK_MSG(fabs(hp.trace - tr) <= 3 * hp.std_error, "Hutch++ seed %d: %g vs %g (se %g)",
                  (int)seed, hp.trace, tr, hp.std_error);
    }
    /* the same estimate whatever the block size */
    p.seed = 9;
    p.samples = 60;
    p.block = 7;
    hesse_trace_result b7;
    REQUIRE(hesse_trace_hutchinson(&op, &p, &b7) == HESSE_OK);
    p.block = 60;
    REQUIRE(hesse_trace_hutchinson(&op, &p, &h) == HESSE_OK);
    CHECK_CLOSE(b7.trace, h.trace, 1e-12, 1.0);

    p.samples = 90;
    p.block = 32;
    p.probe = HESSE_PROBE_RADEMACHER;
    REQUIRE(hesse_trace_hutchpp(&op, &p, &hp) == HESSE_OK);
    p.samples = 960;
    REQUIRE(hesse_trace_hutchinson(&op, &p, &h) == HESSE_OK);
    CHECK_MSG(hp.std_error * 50 < h.std_error, "Hutch++ se %g (90) vs Hutchinson se %g (960)",
              hp.std_error, h.std_error);
    CHECK(fabs(hp.trace - tr) < 0.01 * fabs(h.trace - tr) + 1e-2);
    /* products Hutchinson would need for Hutch++'s standard error: m (se_h / se_pp)^2 */
    double need = 960.0 * (h.std_error / hp.std_error) * (h.std_error / hp.std_error);
    fprintf(stderr,
            "  trace %.6f: Hutch++ 90 products err %.1e se %.1e; Hutchinson 960 products err "
            "%.1e se %.1e (would need ~%.0e products)\n",
            tr, fabs(hp.trace - tr), hp.std_error, fabs(h.trace - tr), h.std_error, need);
    /* too few probes for a standard error: Hutch++ with 3 (one Hutchinson probe), Hutchinson
     * with 1; the smallest allowed give a finite, positive one */
    p.samples = 3;
    CHECK(hesse_trace_hutchpp(&op, &p, &hp) == HESSE_EINVAL);
    p.samples = 1;
    CHECK(hesse_trace_hutchinson(&op, &p, &h) == HESSE_EINVAL);
    p.samples = 4;
    REQUIRE(hesse_trace_hutchpp(&op, &p, &hp) == HESSE_OK);
    CHECK(hp.samples == 2 && isfinite(hp.std_error) && hp.std_error > 0);
    p.samples = 2;
    REQUIRE(hesse_trace_hutchinson(&op, &p, &h) == HESSE_OK);
    CHECK(h.samples == 2 && isfinite(h.std_error) && h.std_error > 0);
    p.probe = (hesse_probe_kind)7;
    CHECK(hesse_trace_hutchinson(&op, &p, &h) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "unknown probe kind 7") != NULL);
    hesse_op_free(&op);
}

int main(void) {
    test_generic();
    test_dense();
    test_tridiag();
    test_power();
    test_trace();
    return test_summary("test_spectral");
}
