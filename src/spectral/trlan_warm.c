/* Warm start of thick-restart Lanczos (trlan.c): the start vector built from a previous run's
 * Ritz vectors instead of a random one.
 *
 * The start is one vector, the normalised sum of an orthonormal basis of the given columns
 * (the columns themselves when they are orthonormal Ritz vectors) plus a random unit vector
 * of weight HESSE_TRL_WARM_MIX. When the operator is close to the one the columns came from,
 * the first nstart Lanczos steps nearly reproduce their span (each column is close to an
 * eigenvector, so the Krylov space of their sum holds one of them per step) and the steps
 * after that continue from the small residual: the wanted pairs start at the distance
 * between the two operators instead of at 1/sqrt(n). A small beta at step nstart + 1 is no
 * invariant subspace unless it is below breakdown_tol ||A|| (then the expansion continues
 * from a random direction, as for any breakdown); full reorthogonalisation keeps the basis
 * orthonormal however small beta is. The random part makes every direction of the space
 * reachable, so an eigenvalue that rose into the wanted set from outside the old span is
 * still found (as from a cold start, it must grow out of a small component). */
#include "trlan-impl.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

int hesse_trl_check_start(const hesse_lanczos_params *p, int64_t n) {
    if (p->nstart < 0)
        return hesse_error(HESSE_EINVAL, "Lanczos: nstart = %d start vectors, need >= 0",
                           p->nstart);
    if (p->nstart > 0 && !p->start)
        return hesse_error(HESSE_EINVAL, "Lanczos: nstart = %d but the start vectors are NULL",
                           p->nstart);
    for (int c = 0; c < p->nstart; c++) {
        const double *x = p->start + (size_t)c * (size_t)n;
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x[i]))
                return hesse_error(HESSE_EINVAL,
                                   "Lanczos: start vector %d has a non-finite entry (%g at row "
                                   "%lld)",
                                   c, x[i], (long long)i);
    }
    return HESSE_OK;
}

/* Orthonormalises the first columns of start into Q (n x cap, column-major), skipping zero
 * columns and columns inside the span of earlier ones. Returns the rank found. */
static int warm_basis(const double *start, int nstart, int n, int cap, double *Q, double *h,
                      double *h2) {
    int r = 0;
    for (int c = 0; c < nstart && r < cap; c++) {
        double *q = Q + (size_t)r * n;
        memcpy(q, start + (size_t)c * n, sizeof(double) * (size_t)n);
        double nrm = cblas_dnrm2(n, q, 1);
        if (!(nrm > 0.0)) continue;
        cblas_dscal(n, 1.0 / nrm, q, 1);
        double rest = hesse_sp_orth(n, r, Q, q, h, h2);
        if (r > 0) rest = hesse_sp_orth(n, r, Q, q, h, h2);
        if (rest <= 1e-8) continue; /* numerically inside the span of earlier columns */
        cblas_dscal(n, 1.0 / rest, q, 1);
        r++;
    }
    return r;
}

int hesse_trl_warm_vector(hesse_trl_state *st, const double *start, int nstart) {
    int n = (int)st->n, m = st->m;
    double *v = st->V, *Q = st->V + (size_t)n; /* columns 1 .. m are scratch here */
    double *h = hesse_alloc(sizeof(double) * (size_t)(m + 1));
    double *h2 = hesse_alloc(sizeof(double) * (size_t)(m + 1));
    if (!h || !h2) {
        hesse_free(h);
        hesse_free(h2);
        return HESSE_ENOMEM;
    }
    int r = warm_basis(start, nstart, n, m, Q, h, h2);
    hesse_free(h);
    hesse_free(h2);
    if (r == 0)
        return hesse_error(HESSE_EINVAL,
                           "Lanczos: the %d start vectors are all zero (a warm start needs at "
                           "least one non-zero column)",
                           nstart);
    memset(v, 0, sizeof(double) * (size_t)n);
    for (int i = 0; i < r; i++) cblas_daxpy(n, 1.0, Q + (size_t)i * n, 1, v, 1);
    cblas_dscal(n, 1.0 / cblas_dnrm2(n, v, 1), v, 1);
    memset(Q, 0, sizeof(double) * (size_t)n * (size_t)r);
    /* the random part: a unit normal vector of weight HESSE_TRL_WARM_MIX */
    double *g = Q;
    hesse_sp_fill(&st->rng, HESSE_PROBE_NORMAL, n, g);
    cblas_daxpy(n, HESSE_TRL_WARM_MIX / cblas_dnrm2(n, g, 1), g, 1, v, 1);
    cblas_dscal(n, 1.0 / cblas_dnrm2(n, v, 1), v, 1);
    memset(g, 0, sizeof(double) * (size_t)n);
    return HESSE_OK;
}
