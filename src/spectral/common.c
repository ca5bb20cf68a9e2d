/* Helpers shared by the solvers of spectral/: random probes, Gram-Schmidt against a basis,
 * tridiagonal eigenproblems, memory budget, density grids; and the result destructors. */
#include "spectral-impl.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

void hesse_sp_fill(hesse_rng *r, hesse_probe_kind kind, int64_t n, double *x) {
    if (kind == HESSE_PROBE_NORMAL)
        for (int64_t i = 0; i < n; i++) x[i] = hesse_rng_normal(r);
    else
        for (int64_t i = 0; i < n; i++) x[i] = hesse_rng_rademacher(r);
}

double hesse_sp_orth(int n, int j, const double *V, double *w, double *h, double *h2) {
    if (j == 0) return cblas_dnrm2(n, w, 1);
    double before = cblas_dnrm2(n, w, 1);
    cblas_dgemv(CblasColMajor, CblasTrans, n, j, 1.0, V, n, w, 1, 0.0, h, 1);
    cblas_dgemv(CblasColMajor, CblasNoTrans, n, j, -1.0, V, n, h, 1, 1.0, w, 1);
    double after = cblas_dnrm2(n, w, 1);
    if (after < HESSE_SP_SQRT1_2 * before) {
        /* Cancellation: what is left carries the rounding of the first pass; a second pass
         * removes it (and a norm that keeps falling signals an invariant subspace). */
        cblas_dgemv(CblasColMajor, CblasTrans, n, j, 1.0, V, n, w, 1, 0.0, h2, 1);
        cblas_dgemv(CblasColMajor, CblasNoTrans, n, j, -1.0, V, n, h2, 1, 1.0, w, 1);
        cblas_daxpy(j, 1.0, h2, 1, h, 1);
        after = cblas_dnrm2(n, w, 1);
    }
    return after;
}

int hesse_sp_random_orth(hesse_rng *r, int n, int j, const double *V, double *w, double *h,
                         double *h2) {
    if (j >= n) return 0;
    /* A few tries: a random vector lies almost in span(V) only with negligible probability,
     * unless V spans the space numerically. */
    for (int attempt = 0; attempt < 3; attempt++) {
        hesse_sp_fill(r, HESSE_PROBE_NORMAL, n, w);
        double start = cblas_dnrm2(n, w, 1);
        hesse_sp_orth(n, j, V, w, h, h2);
        double nrm = hesse_sp_orth(n, j, V, w, h, h2);
        if (nrm > 1e-8 * start) {
            cblas_dscal(n, 1.0 / nrm, w, 1);
            return 1;
        }
    }
    return 0;
}

int hesse_sp_tridiag_eig(int m, const double *alpha, const double *beta, double *theta, double *U) {
    if (m <= 0) return HESSE_OK;
    double *e = hesse_alloc(sizeof(double) * (size_t)m);
    if (!e) return HESSE_ENOMEM;
    memcpy(theta, alpha, sizeof(double) * (size_t)m);
    if (m > 1) memcpy(e, beta, sizeof(double) * (size_t)(m - 1));
    lapack_int info = LAPACKE_dstev(LAPACK_COL_MAJOR, U ? 'V' : 'N', m, theta, e, U, m);
    hesse_free(e);
    if (info != 0)
        return hesse_error(HESSE_ENUMERIC, "tridiagonal eigensolver (dstev) failed, info = %d",
                           (int)info);
    return HESSE_OK;
}

size_t hesse_sp_budget(size_t given) {
    if (given > 0) return given;
    uint64_t avail = hesse_mem_available();
    if (avail == 0) return (size_t)2 << 30;
    return (size_t)(avail / 2);
}

int hesse_sp_density_grid(hesse_density *d, int points, double lo, double hi, double eps) {
    d->points = points;
    d->lo = lo;
    d->hi = hi;
    d->eps = eps;
    d->grid = hesse_alloc(sizeof(double) * (size_t)points);
    d->density = hesse_calloc((size_t)points, sizeof(double));
    d->log10_density = hesse_alloc(sizeof(double) * (size_t)points);
    if (!d->grid || !d->density || !d->log10_density) return HESSE_ENOMEM;
    double step = (hi - lo) / (points - 1);
    for (int i = 0; i < points; i++) d->grid[i] = lo + step * i;
    d->grid[points - 1] = hi;
    return HESSE_OK;
}

int hesse_sp_density_normalise(hesse_density *d) {
    double integral = 0.0;
    for (int i = 0; i + 1 < d->points; i++)
        integral += 0.5 * (d->density[i] + d->density[i + 1]) * (d->grid[i + 1] - d->grid[i]);
    if (!(integral > 0.0) || !isfinite(integral))
        return hesse_error(HESSE_ENUMERIC, "density integrates to %g over [%g, %g]", integral,
                           d->lo, d->hi);
    for (int i = 0; i < d->points; i++) {
        d->density[i] /= integral;
        d->log10_density[i] = log10(d->density[i] + d->eps);
    }
    return HESSE_OK;
}

int hesse_sp_support(const hesse_op *op, double lo_given, double hi_given, int steps, double margin,
                     uint64_t seed, double *lo, double *hi, hesse_op_stats *stats) {
    if (lo_given < hi_given) {
        *lo = lo_given;
        *hi = hi_given;
        return HESSE_OK;
    }
    double a, b;
    int rc = hesse_spectral_support(op, steps, seed, &a, &b, stats);
    if (rc != HESSE_OK) return rc;
    hesse_sp_widen(a, b, margin, lo, hi);
    return HESSE_OK;
}

void hesse_sp_widen(double a, double b, double margin, double *lo, double *hi) {
    double width = b - a;
    double scale = fmax(fabs(a), fabs(b));
    if (width <= 1e-12 * scale || width <= 0.0) {
        double pad = fmax(1e-3 * scale, 1e-12);
        *lo = a - pad;
        *hi = b + pad;
        return;
    }
    *lo = a - margin * width;
    *hi = b + margin * width;
}

void hesse_sp_gauss_add(hesse_density *d, int points, double x0, double sigma, double coef) {
    for (int i = 0; i < points; i++) {
        const double z = (d->grid[i] - x0) / sigma;
        if (fabs(z) < 10.0) d->density[i] += coef * exp(-0.5 * z * z);
    }
}

void hesse_eigs_free(hesse_eigs *r) {
    if (!r) return;
    hesse_free(r->values);
    hesse_free(r->vectors);
    hesse_free(r->residuals);
    *r = (hesse_eigs){0};
}

void hesse_density_free(hesse_density *d) {
    if (!d) return;
    hesse_free(d->grid);
    hesse_free(d->density);
    hesse_free(d->log10_density);
    hesse_free(d->nodes);
    hesse_free(d->weights);
    hesse_free(d->nsteps);
    hesse_free(d->mu);
    *d = (hesse_density){0};
}

void hesse_sp_put_magic(hesse_sp_writer *w, const char magic[8], uint64_t version) {
    hesse_sp_put(w, magic, 8);
    hesse_sp_put_u64(w, version);
    hesse_sp_put_u64(w, HESSE_SP_ENDIAN);
}

int hesse_sp_get_magic(hesse_sp_reader *r, const char magic[8], uint64_t version,
                       const char *what) {
    char found[8];
    hesse_sp_get(r, found, 8);
    if (r->short_read || memcmp(found, magic, 8) != 0)
        return hesse_error(HESSE_EINPUT, "%s: not a checkpoint of this kind (expected magic %.8s)",
                           what, magic);
    uint64_t v = hesse_sp_get_u64(r), endian = hesse_sp_get_u64(r);
    if (r->short_read || v != version)
        return hesse_error(HESSE_EINPUT,
                           "%s: checkpoint version %llu, this build reads version %llu", what,
                           (unsigned long long)v, (unsigned long long)version);
    if (endian != HESSE_SP_ENDIAN)
        return hesse_error(HESSE_EINPUT, "%s: checkpoint written with another byte order", what);
    return HESSE_OK;
}
