/* Stochastic Lanczos quadrature for the spectral density (Lin, Saad, Yang, "Approximating
 * spectral densities of large matrices", SIAM Review 58(1), 2016, sec. 3.2; Papyan 2018;
 * Ghorbani, Krishnan, Xiao 2019).
 *
 * For a unit probe z, m Lanczos steps give T_m = U diag(theta) U^T and
 *   z^T f(A) z ~= sum_j u_j[0]^2 f(theta_j)            (Gauss quadrature, exact to degree 2m-1)
 * so each probe yields nodes theta_j and weights u_j[0]^2 summing to 1; with E[z z^T] = I/n
 * their average over probes estimates (1/n) sum_i delta(lambda - lambda_i). The density on the
 * grid is that average convolved with a Gaussian of width sigma, normalised by the trapezoid
 * rule.
 *
 * Probes are advanced together in blocks: step j of every probe in a block is one block
 * product. Probe r draws from the stream (seed, r + 1) whatever the block size, so results do
 * not depend on it (up to the operator's own block arithmetic). */
#include "spectral-impl.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

hesse_slq_params hesse_slq_defaults(void) {
    hesse_slq_params p;
    memset(&p, 0, sizeof p);
    p.probes = 10;
    p.steps = 80;
    p.reorth = 1;
    p.probe = HESSE_PROBE_RADEMACHER;
    p.support_steps = 30;
    p.margin = 0.05;
    p.sigma = 0.005;
    p.points = 1000;
    p.eps = 1e-8;
    return p;
}

/* One block of probes r0 .. r0+g-1: Lanczos with a block product per step. Writes alpha/beta
 * per probe into the density's node/weight arrays (as scratch) and the step counts. */
typedef struct {
    int n, steps, reorth;
    double *basis; /* g bases of (reorth ? steps : 2) columns each */
    double *X, *Y; /* n x g */
    double *h, *h2;
    double *alpha, *beta; /* g x steps */
    int *done;            /* steps taken per probe; 0 while running */
    double *scale;        /* per probe: max |alpha|, ||A v|| */
} slq_block;

static double *probe_col(const slq_block *b, int q, int j) {
    int cols = b->reorth ? b->steps : 2;
    int c = b->reorth ? j : j % 2;
    return b->basis + ((size_t)q * cols + c) * (size_t)b->n;
}

static int slq_run_block(const hesse_op *op, const hesse_slq_params *p, slq_block *b, int r0, int g,
                         hesse_op_stats *ops) {
    int n = b->n, m = b->steps;
    for (int q = 0; q < g; q++) {
        hesse_rng rng;
        hesse_rng_seed_stream(&rng, p->seed, (uint64_t)(r0 + q) + 1);
        double *v = probe_col(b, q, 0);
        hesse_sp_fill(&rng, p->probe, n, v);
        cblas_dscal(n, 1.0 / cblas_dnrm2(n, v, 1), v, 1);
        b->done[q] = 0;
        b->scale[q] = 0.0;
    }
    for (int j = 0; j < m; j++) {
        /* gather the running probes' current vectors */
        int k = 0, list[256]; /* g <= 256 */
        for (int q = 0; q < g; q++)
            if (!b->done[q]) {
                memcpy(b->X + (size_t)k * n, probe_col(b, q, j), sizeof(double) * (size_t)n);
                list[k++] = q;
            }
        if (k == 0) break;
        int rc = hesse_op_apply(op, k, b->X, b->Y, ops);
        if (rc != HESSE_OK) return rc;
        for (int t = 0; t < k; t++) {
            int q = list[t];
            double *w = b->Y + (size_t)t * n, *v = probe_col(b, q, j);
            double *al = b->alpha + (size_t)q * m, *be = b->beta + (size_t)q * m;
            b->scale[q] = fmax(b->scale[q], cblas_dnrm2(n, w, 1));
            double a = cblas_ddot(n, v, 1, w, 1);
            cblas_daxpy(n, -a, v, 1, w, 1);
            if (j > 0) cblas_daxpy(n, -be[j - 1], probe_col(b, q, j - 1), 1, w, 1);
            double nrm;
            if (b->reorth) {
                nrm = hesse_sp_orth(n, j + 1, probe_col(b, q, 0), w, b->h, b->h2);
                a += b->h[j];
            } else {
                nrm = cblas_dnrm2(n, w, 1);
            }
            al[j] = a;
            be[j] = nrm;
            b->scale[q] = fmax(b->scale[q], fabs(a));
            if (j + 1 == m) {
                b->done[q] = m;
            } else if (nrm <= 1e-12 * b->scale[q]) {
                b->done[q] = j + 1; /* invariant subspace: the quadrature is exact */
            } else {
                double *vn = probe_col(b, q, j + 1);
                for (int i = 0; i < n; i++) vn[i] = w[i] / nrm;
            }
        }
    }
    return HESSE_OK;
}

int hesse_slq_density(const hesse_op *op, const hesse_slq_params *p, hesse_density *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "SLQ: out is NULL");
    memset(out, 0, sizeof *out);
    if (!op || !op->apply || op->n <= 0 || op->n > INT_MAX || !p)
        return hesse_error(HESSE_EINVAL, "SLQ: invalid operator or parameters");
    if (p->probes < 1 || p->steps < 1 || p->points < 2 || !(p->sigma > 0.0) || p->margin < 0 ||
        p->eps < 0)
        return hesse_error(HESSE_EINVAL,
                           "SLQ: need probes >= 1, steps >= 1, points >= 2, sigma > 0, margin >= "
                           "0, eps >= 0 (got %d, %d, %d, %g, %g, %g)",
                           p->probes, p->steps, p->points, p->sigma, p->margin, p->eps);
    int n = (int)op->n;
    int m = p->steps < n ? p->steps : n;
    double t0 = hesse_now();
    hesse_op_stats ops = {0, 0, 0.0};
    slq_block b;
    memset(&b, 0, sizeof b);
    double *theta = NULL, *U = NULL;
    int rc = HESSE_OK;

    double lo, hi;
    HESSE_CHECK(
        hesse_sp_support(op, p->lo, p->hi, p->support_steps, p->margin, p->seed, &lo, &hi, &ops));

    /* probes per block: the caller's, or as many bases as the budget holds (at most 256) */
    int cols = p->reorth ? m : 2;
    size_t per_probe = sizeof(double) * (size_t)n * (size_t)(cols + 2);
    int g = p->block;
    if (g <= 0) {
        size_t fit = hesse_sp_budget(p->memory_budget) / per_probe;
        g = fit < 1 ? 1 : (fit > 256 ? 256 : (int)fit);
    }
    if (g > 256) g = 256;
    if (g > p->probes) g = p->probes;

    b.n = n;
    b.steps = m;
    b.reorth = p->reorth ? 1 : 0;
    b.basis = hesse_alloc(sizeof(double) * (size_t)n * (size_t)cols * (size_t)g);
    b.X = hesse_alloc(sizeof(double) * (size_t)n * (size_t)g);
    b.Y = hesse_alloc(sizeof(double) * (size_t)n * (size_t)g);
    b.h = hesse_alloc(sizeof(double) * (size_t)(m + 1));
    b.h2 = hesse_alloc(sizeof(double) * (size_t)(m + 1));
    b.alpha = hesse_alloc(sizeof(double) * (size_t)m * (size_t)g);
    b.beta = hesse_alloc(sizeof(double) * (size_t)m * (size_t)g);
    b.done = hesse_alloc(sizeof(int) * (size_t)g);
    b.scale = hesse_alloc(sizeof(double) * (size_t)g);
    out->nodes = hesse_calloc((size_t)p->probes * m, sizeof(double));
    out->weights = hesse_calloc((size_t)p->probes * m, sizeof(double));
    out->nsteps = hesse_calloc((size_t)p->probes, sizeof(int));
    theta = hesse_alloc(sizeof(double) * (size_t)m);
    U = hesse_alloc(sizeof(double) * (size_t)m * (size_t)m);
    if (!b.basis || !b.X || !b.Y || !b.h || !b.h2 || !b.alpha || !b.beta || !b.done || !b.scale ||
        !out->nodes || !out->weights || !out->nsteps || !theta || !U) {
        rc = hesse_error(HESSE_ENOMEM, "SLQ: cannot allocate %d probe bases of n = %d", g, n);
        goto cleanup;
    }
    out->probes = p->probes;
    out->steps = m;
    for (int r0 = 0; r0 < p->probes; r0 += g) {
        int gg = p->probes - r0 < g ? p->probes - r0 : g;
        HESSE_CHECK(slq_run_block(op, p, &b, r0, gg, &ops));
        for (int q = 0; q < gg; q++) {
            int ms = b.done[q], r = r0 + q;
            HESSE_CHECK(hesse_sp_tridiag_eig(ms, b.alpha + (size_t)q * m, b.beta + (size_t)q * m,
                                             theta, U));
            out->nsteps[r] = ms;
            for (int j = 0; j < ms; j++) {
                double u0 = U[(size_t)j * ms]; /* first component of eigenvector j */
                out->nodes[(size_t)r * m + j] = theta[j];
                out->weights[(size_t)r * m + j] = u0 * u0;
            }
        }
    }

    /* Gaussian smoothing on the grid; terms beyond 10 sigma are below 2e-22 and skipped. */
    HESSE_CHECK(hesse_sp_density_grid(out, p->points, lo, hi, p->eps));
    double sigma = p->sigma * (hi - lo);
    out->sigma = sigma;
    double norm = 1.0 / (sqrt(2.0 * HESSE_SP_PI) * sigma * p->probes);
    for (int r = 0; r < p->probes; r++)
        for (int j = 0; j < out->nsteps[r]; j++) {
            double x0 = out->nodes[(size_t)r * m + j], wgt = out->weights[(size_t)r * m + j];
            for (int i = 0; i < p->points; i++) {
                double z = (out->grid[i] - x0) / sigma;
                if (fabs(z) < 10.0) out->density[i] += wgt * norm * exp(-0.5 * z * z);
            }
        }
    HESSE_CHECK(hesse_sp_density_normalise(out));
    out->products = ops.products;
    out->seconds_products = ops.seconds;
    out->seconds = hesse_now() - t0;
cleanup:
    hesse_free(b.basis);
    hesse_free(b.X);
    hesse_free(b.Y);
    hesse_free(b.h);
    hesse_free(b.h2);
    hesse_free(b.alpha);
    hesse_free(b.beta);
    hesse_free(b.done);
    hesse_free(b.scale);
    hesse_free(theta);
    hesse_free(U);
    if (rc != HESSE_OK) hesse_density_free(out);
    return rc;
}
