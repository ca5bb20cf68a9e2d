/* Test operators with known spectra for the spectral tests.
 *
 * qdq: A = Q D Q^T with Q = H_1 H_2 ... H_r a product of r random Householder reflections
 * H_i = I - 2 u_i u_i^T, applied implicitly (2 r dgemv-sized passes per column), so that n up
 * to 10^5 and beyond costs no n x n matrix. The spectrum is exactly the diagonal D (up to
 * rounding in the product: each reflection is orthogonal to ~1e-16).
 *
 * lowrank: A = U diag(s) U^T + diag(e) with U (n x r) orthonormal and dense (QR of a Gaussian
 * matrix): a "low rank plus noise" matrix whose large part is spread over all coordinates.
 *
 * Spectra: the functions below fill d[n] (any order) and say what they are. */
#ifndef HESSE_TEST_SPECTRAL_TESTOPS_H
#define HESSE_TEST_SPECTRAL_TESTOPS_H

#include <hesse/op.h>
#include <hesse/spectral.h>

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

typedef struct {
    int n, r;
    const double *d; /* borrowed */
    double *u;       /* n x r unit reflection vectors */
    double *h;       /* scratch for one block */
    int h_cap;
} qdq_ctx;

/* Y <- H Y for the reflection u, Y of n x k: Y -= 2 u (u^T Y). */
static inline void qdq_reflect(const qdq_ctx *c, const double *u, int k, double *Y, double *h) {
    cblas_dgemv(CblasColMajor, CblasTrans, c->n, k, 1.0, Y, c->n, u, 1, 0.0, h, 1);
    cblas_dger(CblasColMajor, c->n, k, -2.0, u, 1, h, 1, Y, c->n);
}

static inline int qdq_apply(void *ctx, int k, const double *X, double *Y) {
    qdq_ctx *c = ctx;
    if (k > c->h_cap) {
        free(c->h);
        c->h = malloc(sizeof(double) * (size_t)k);
        c->h_cap = k;
    }
    memcpy(Y, X, sizeof(double) * (size_t)c->n * k);
    /* Q^T = H_r ... H_1: apply H_1 first */
    for (int i = 0; i < c->r; i++) qdq_reflect(c, c->u + (size_t)i * c->n, k, Y, c->h);
    for (int j = 0; j < k; j++)
        for (int i = 0; i < c->n; i++) Y[(size_t)j * c->n + i] *= c->d[i];
    for (int i = c->r - 1; i >= 0; i--) qdq_reflect(c, c->u + (size_t)i * c->n, k, Y, c->h);
    return HESSE_OK;
}

static inline void qdq_free(void *ctx) {
    qdq_ctx *c = ctx;
    free(c->u);
    free(c->h);
    free(c);
}

/* A = Q diag(d) Q^T with r reflections drawn from seed; release with hesse_op_free. */
static inline hesse_op qdq_make(int n, const double *d, int r, uint64_t seed) {
    qdq_ctx *c = calloc(1, sizeof *c);
    c->n = n;
    c->r = r;
    c->d = d;
    c->u = malloc(sizeof(double) * (size_t)n * (r > 0 ? r : 1));
    hesse_rng rng;
    hesse_rng_seed_stream(&rng, seed, 777);
    for (int i = 0; i < r; i++) {
        double *u = c->u + (size_t)i * n;
        for (int j = 0; j < n; j++) u[j] = hesse_rng_normal(&rng);
        double nrm = cblas_dnrm2(n, u, 1);
        cblas_dscal(n, 1.0 / nrm, u, 1);
    }
    hesse_op op = {n, qdq_apply, c, 0, qdq_free, 0};
    return op;
}

/* ---- low rank plus noise ---------------------------------------------------------------- */

typedef struct {
    int n, r;
    double *U, *s, *e, *h;
    int h_cap;
} lowrank_ctx;

static inline int lowrank_apply(void *ctx, int k, const double *X, double *Y) {
    lowrank_ctx *c = ctx;
    if (k > c->h_cap) {
        free(c->h);
        c->h = malloc(sizeof(double) * (size_t)c->r * k);
        c->h_cap = k;
    }
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, c->r, k, c->n, 1.0, c->U, c->n, X, c->n,
                0.0, c->h, c->r);
    for (int j = 0; j < k; j++)
        for (int i = 0; i < c->r; i++) c->h[(size_t)j * c->r + i] *= c->s[i];
    for (int j = 0; j < k; j++)
        for (int i = 0; i < c->n; i++) Y[(size_t)j * c->n + i] = c->e[i] * X[(size_t)j * c->n + i];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, c->n, k, c->r, 1.0, c->U, c->n, c->h,
                c->r, 1.0, Y, c->n);
    return HESSE_OK;
}

static inline void lowrank_free(void *ctx) {
    lowrank_ctx *c = ctx;
    free(c->U);
    free(c->s);
    free(c->e);
    free(c->h);
    free(c);
}

/* s_i = top / (i + 1) for i < r; e_i uniform in [0, noise). *trace receives the exact trace. */
static inline hesse_op lowrank_make(int n, int r, double top, double noise, uint64_t seed,
                                    double *trace) {
    lowrank_ctx *c = calloc(1, sizeof *c);
    c->n = n;
    c->r = r;
    c->U = malloc(sizeof(double) * (size_t)n * r);
    c->s = malloc(sizeof(double) * (size_t)r);
    c->e = malloc(sizeof(double) * (size_t)n);
    double *tau = malloc(sizeof(double) * (size_t)r);
    hesse_rng rng;
    hesse_rng_seed_stream(&rng, seed, 555);
    for (size_t i = 0; i < (size_t)n * r; i++) c->U[i] = hesse_rng_normal(&rng);
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, r, c->U, n, tau);
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, r, r, c->U, n, tau);
    free(tau);
    double tr = 0.0;
    for (int i = 0; i < r; i++) tr += (c->s[i] = top / (i + 1));
    for (int i = 0; i < n; i++) tr += (c->e[i] = noise * hesse_rng_uniform(&rng));
    *trace = tr;
    hesse_op op = {n, lowrank_apply, c, 0, lowrank_free, 0};
    return op;
}

/* ---- spectra ---------------------------------------------------------------------------- */

static inline int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}
static inline int cmp_asc(const void *a, const void *b) {
    return -cmp_desc(a, b);
}

/* Power law lambda_k = 1/k, k = 1 .. n (Xie et al.'s rank law with s = 1). */
static inline void spec_powerlaw(int n, double *d) {
    for (int k = 0; k < n; k++) d[k] = 1.0 / (k + 1);
}

/* Indefinite: 1/k for the first n - n/20, then a negative tail -0.5/k for k = 1 .. n/20. */
static inline void spec_indefinite(int n, double *d) {
    int neg = n / 20;
    for (int k = 0; k < n - neg; k++) d[k] = 1.0 / (k + 1);
    for (int k = 0; k < neg; k++) d[n - neg + k] = -0.5 / (k + 1);
}

/* Repeated: outliers with multiplicity 3 at both ends over a uniform bulk in [0, 1]:
 * top 10 x3, 9, 8 x3, 7, 6 x3, 5.5, 5, 4.5 x3, 4, 3.5, 3, 2.5 ...; bottom -3 x3, -2.5, -2 x3 ... */
static inline void spec_repeated(int n, double *d) {
    static const double top[] = {10,  10, 10,  9,   8,   8, 8,   7, 6,   6,    6,
                                 5.5, 5,  4.5, 4.5, 4.5, 4, 3.5, 3, 2.5, 2.25, 2.125};
    static const double bot[] = {-3, -3, -3, -2.5, -2, -2, -2, -1.5, -1.25, -1.25, -1.25, -1.1};
    int nt = (int)(sizeof top / sizeof top[0]), nb = (int)(sizeof bot / sizeof bot[0]);
    for (int i = 0; i < nt; i++) d[i] = top[i];
    for (int i = 0; i < nb; i++) d[nt + i] = bot[i];
    int rest = n - nt - nb;
    for (int i = 0; i < rest; i++) d[nt + nb + i] = (i + 0.5) / rest;
}

/* Clustered: 4 clusters of 5 outliers (centres 20, 15, 10, 5, relative spacing 1e-3 inside a
 * cluster), a bottom cluster of 10 at -2 (spacing 2e-3), a uniform bulk in [0, 1]. */
static inline void spec_clustered(int n, double *d) {
    static const double centre[] = {20, 15, 10, 5};
    int k = 0;
    for (int c = 0; c < 4; c++)
        for (int j = 0; j < 5; j++) d[k++] = centre[c] * (1.0 + 1e-3 * j);
    for (int j = 0; j < 10; j++) d[k++] = -2.0 - 2e-3 * j;
    int rest = n - k;
    for (int i = 0; i < rest; i++) d[k + i] = (i + 0.5) / rest;
}

/* Sorted copies: top descending in out_top[k], bottom ascending in out_bot[k]. */
static inline void spec_ends(int n, const double *d, int kt, double *out_top, int kb,
                             double *out_bot) {
    double *s = malloc(sizeof(double) * (size_t)n);
    memcpy(s, d, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_desc);
    for (int i = 0; i < kt; i++) out_top[i] = s[i];
    for (int i = 0; i < kb; i++) out_bot[i] = s[n - 1 - i];
    free(s);
}

/* ---- independent checks ----------------------------------------------------------------- */

/* max_i ||A v_i - lambda_i v_i|| recomputed with the operator's own callback. */
static inline double max_residual(const hesse_op *op, int k, const double *V,
                                  const double *lambda) {
    int n = (int)op->n;
    double *y = malloc(sizeof(double) * (size_t)n), worst = 0.0;
    for (int i = 0; i < k; i++) {
        op->apply(op->ctx, 1, V + (size_t)i * n, y);
        cblas_daxpy(n, -lambda[i], V + (size_t)i * n, 1, y, 1);
        double r = cblas_dnrm2(n, y, 1);
        if (r > worst) worst = r;
    }
    free(y);
    return worst;
}

/* max |V^T V - I| over the k columns of V. */
static inline double orth_error(int n, int k, const double *V) {
    double *G = malloc(sizeof(double) * (size_t)k * k), worst = 0.0;
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, n, 1.0, V, n, V, n, 0.0, G, k);
    for (int j = 0; j < k; j++)
        for (int i = 0; i < k; i++) {
            double e = fabs(G[(size_t)j * k + i] - (i == j ? 1.0 : 0.0));
            if (e > worst) worst = e;
        }
    free(G);
    return worst;
}

/* Lanczos (top 3, bottom 3, basis 20, `verify` as given) on the "repeated" spectrum: 10 x3
 * at the top, -3 x3 at the bottom. From one start vector only rounding brings the second and
 * third copies into the Krylov space; with verify, fresh directions orthogonal to the locked
 * vectors must find all three. Checks every copy (to 1e-12), orthonormal vectors and the
 * residuals (tol ||A||) when verify is on; returns the products, values in vals[6]. */
static inline int64_t check_repeated(int n, uint64_t seed, int verify, double *vals) {
    double *d = malloc(sizeof(double) * (size_t)n);
    REQUIRE(d);
    spec_repeated(n, d);
    hesse_op op = qdq_make(n, d, 3, seed);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = 3;
    p.bottom = 3;
    p.basis = 20;
    p.verify = verify;
    hesse_eigs r;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    if (verify) {
        for (int i = 0; i < 3; i++) CHECK_CLOSE(r.values[i], 10.0, 1e-12, 0.0);
        for (int i = 0; i < 3; i++) CHECK_CLOSE(r.values[3 + i], -3.0, 1e-12, 0.0);
        CHECK(r.fresh_starts >= 1);
        CHECK(orth_error(n, 6, r.vectors) <= 1e-12);
        CHECK(max_residual(&op, 6, r.vectors, r.values) <= 1.01 * p.tol * 10);
    }
    if (vals) memcpy(vals, r.values, 6 * sizeof *vals);
    const int64_t products = r.products;
    hesse_eigs_free(&r);
    hesse_op_free(&op);
    free(d);
    return products;
}

/* Wasserstein-1 distance between the density on a grid (CDF by the trapezoid rule, linear
 * inside each cell) and the empirical distribution of the n true eigenvalues: the integral of
 * |F_est - F_true| over [min(grid, lambda), max(grid, lambda)], exact for the piecewise linear
 * F_est against the step function F_true. */
static inline double wasserstein1(const hesse_density *dn, int n, const double *lambda) {
    double *s = malloc(sizeof(double) * (size_t)n);
    memcpy(s, lambda, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_asc);
    int P = dn->points;
    double *F = malloc(sizeof(double) * (size_t)P);
    F[0] = 0.0;
    for (int i = 1; i < P; i++)
        F[i] = F[i - 1] +
               0.5 * (dn->density[i] + dn->density[i - 1]) * (dn->grid[i] - dn->grid[i - 1]);
    /* mass of the true eigenvalues outside the grid: |F_est - F_true| there is the distance
     * to the grid's end times the count */
    double w = 0.0;
    int idx = 0;
    while (idx < n && s[idx] < dn->grid[0]) w += (dn->grid[0] - s[idx++]) / n;
    for (int i = n - 1; i >= 0 && s[i] > dn->grid[P - 1]; i--) w += (s[i] - dn->grid[P - 1]) / n;
    /* inside: for each cell, split at the eigenvalues falling into it */
    for (int c = 0; c + 1 < P; c++) {
        double x0 = dn->grid[c], x1 = dn->grid[c + 1], slope = (F[c + 1] - F[c]) / (x1 - x0);
        double a = x0;
        while (1) {
            double b = (idx < n && s[idx] < x1) ? s[idx] : x1;
            double ft = (double)idx / n; /* F_true on [a, b) */
            /* integrate |F[c] + slope (x - x0) - ft| over [a, b]: piecewise linear */
            double ga = F[c] + slope * (a - x0) - ft, gb = F[c] + slope * (b - x0) - ft;
            if (ga * gb >= 0)
                w += 0.5 * (fabs(ga) + fabs(gb)) * (b - a);
            else /* the sign changes inside: two triangles */
                w += 0.5 * (ga * ga + gb * gb) / (fabs(ga) + fabs(gb)) * (b - a);
            if (b >= x1) break;
            idx++;
            a = b;
        }
    }
    free(s);
    free(F);
    return w;
}

#endif
