/* Plain Lanczos tridiagonalisation (Lanczos 1950; with full reorthogonalisation as in
 * Parlett, "The Symmetric Eigenvalue Problem", ch. 13) and the spectral support estimate
 * built on it. */
#include "spectral-impl.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

int hesse_lanczos_tridiag(const hesse_op *op, const double *v0, uint64_t seed, int m, int reorth,
                          double *alpha, double *beta, double *V, int *steps,
                          hesse_op_stats *stats) {
    if (steps) *steps = 0;
    if (!op || !op->apply || op->n <= 0 || op->n > INT_MAX || m <= 0 || !alpha || !beta)
        return hesse_error(HESSE_EINVAL,
                           "hesse_lanczos_tridiag: need an operator with 0 < n <= INT_MAX, m > 0 "
                           "and alpha, beta (m = %d)",
                           m);
    int n = (int)op->n;
    if (m > n) m = n;
    /* With reorthogonalisation every basis vector is kept; without, a ring of two. */
    int ncols = reorth ? m : 2;
    double *basis = V;
    double *own = NULL, *w = NULL, *h = NULL, *h2 = NULL;
    int rc = HESSE_OK;
    if (!basis || !reorth) {
        own = hesse_alloc(sizeof(double) * (size_t)n * (size_t)ncols);
        if (!own) return HESSE_ENOMEM;
        basis = own;
    }
    w = hesse_alloc(sizeof(double) * (size_t)n);
    h = hesse_alloc(sizeof(double) * (size_t)(m + 1));
    h2 = hesse_alloc(sizeof(double) * (size_t)(m + 1));
    if (!w || !h || !h2) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    if (v0) {
        memcpy(basis, v0, sizeof(double) * (size_t)n);
    } else {
        hesse_rng r;
        hesse_rng_seed(&r, seed);
        hesse_sp_fill(&r, HESSE_PROBE_NORMAL, n, basis);
    }
    double nrm = cblas_dnrm2(n, basis, 1);
    if (!(nrm > 0.0) || !isfinite(nrm)) {
        rc = hesse_error(HESSE_EINVAL, "hesse_lanczos_tridiag: start vector has norm %g", nrm);
        goto cleanup;
    }
    cblas_dscal(n, 1.0 / nrm, basis, 1);
    if (V && !reorth) memcpy(V, basis, sizeof(double) * (size_t)n);

    double scale = 0.0; /* running lower bound on ||A||: max |alpha|, ||A v|| */
    int taken = 0;
    for (int j = 0; j < m; j++) {
        double *v = basis + (size_t)n * (reorth ? j : j % 2);
        double *vprev = j > 0 ? basis + (size_t)n * (reorth ? j - 1 : (j - 1) % 2) : NULL;
        HESSE_CHECK(hesse_op_apply(op, 1, v, w, stats));
        scale = fmax(scale, cblas_dnrm2(n, w, 1));
        double a = cblas_ddot(n, v, 1, w, 1);
        cblas_daxpy(n, -a, v, 1, w, 1);
        if (vprev) cblas_daxpy(n, -beta[j - 1], vprev, 1, w, 1);
        double b;
        if (reorth) {
            b = hesse_sp_orth(n, j + 1, basis, w, h, h2);
            a += h[j];
        } else {
            b = cblas_dnrm2(n, w, 1);
        }
        alpha[j] = a;
        beta[j] = b;
        taken = j + 1;
        scale = fmax(scale, fabs(a));
        if (j + 1 == m) break;
        if (b <= 1e-12 * scale) break; /* invariant subspace: T is exact */
        double *vnext = basis + (size_t)n * (reorth ? j + 1 : (j + 1) % 2);
        for (int i = 0; i < n; i++) vnext[i] = w[i] / b;
        if (V && !reorth) memcpy(V + (size_t)n * (j + 1), vnext, sizeof(double) * (size_t)n);
    }
    if (steps) *steps = taken;
cleanup:
    hesse_free(own);
    hesse_free(w);
    hesse_free(h);
    hesse_free(h2);
    return rc;
}

int hesse_spectral_support(const hesse_op *op, int steps, uint64_t seed, double *lo, double *hi,
                           hesse_op_stats *stats) {
    if (!op || !op->apply || op->n <= 0 || op->n > INT_MAX || !lo || !hi)
        return hesse_error(HESSE_EINVAL, "hesse_spectral_support: invalid arguments");
    if (steps <= 0) steps = 30;
    if (steps > op->n) steps = (int)op->n;
    double *alpha = hesse_alloc(sizeof(double) * (size_t)steps);
    double *beta = hesse_alloc(sizeof(double) * (size_t)steps);
    double *theta = hesse_alloc(sizeof(double) * (size_t)steps);
    double *U = hesse_alloc(sizeof(double) * (size_t)steps * (size_t)steps);
    int rc = HESSE_OK, taken = 0;
    if (!alpha || !beta || !theta || !U) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    HESSE_CHECK(hesse_lanczos_tridiag(op, NULL, seed, steps, 1, alpha, beta, NULL, &taken, stats));
    HESSE_CHECK(hesse_sp_tridiag_eig(taken, alpha, beta, theta, U));
    /* ||A y_i - theta_i y_i|| = |beta_last u_i[last]| (the Lanczos relation); an invariant
     * subspace (taken < steps) leaves exact Ritz values. */
    double blast = taken < steps ? 0.0 : fabs(beta[taken - 1]);
    double rlo = blast * fabs(U[(size_t)taken - 1]);
    double rhi = blast * fabs(U[(size_t)(taken - 1) * taken + taken - 1]);
    *lo = theta[0] - rlo;
    *hi = theta[taken - 1] + rhi;
cleanup:
    hesse_free(alpha);
    hesse_free(beta);
    hesse_free(theta);
    hesse_free(U);
    return rc;
}
