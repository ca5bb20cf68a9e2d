/* Kernel polynomial method for the spectral density (Weisse, Wellein, Alvermann, Fehske,
 * "The kernel polynomial method", Rev. Mod. Phys. 78, 275 (2006); Lin, Saad, Yang 2016,
 * sec. 3.1).
 *
 * With A~ = (A - b I) / a mapping the support into [-1 + eps/2, 1 - eps/2] (eq. 67, eps =
 * 0.01), the moments mu_m = (1/n) tr T_m(A~) are estimated by Rademacher probes z (z^T z = n):
 * mu_m ~= mean_z z^T T_m(A~) z / n. The three-term recurrence t_{k+1} = 2 A~ t_k - t_{k-1}
 * gives t_k = T_k(A~) z, and the doubling identities (eq. 36)
 *   mu_{2k}   = 2 <t_k, t_k>     - mu_0
 *   mu_{2k+1} = 2 <t_{k+1}, t_k> - mu_1
 * give two moments per product. The density of A~ is
 *   rho(x) = [g_0 mu_0 + 2 sum_{m>=1} g_m mu_m T_m(x)] / (pi sqrt(1 - x^2))
 * with the Jackson damping g_m (eq. 71), and rho_A(lambda) = rho((lambda - b) / a) / a. */
#include "spectral-impl.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

hesse_kpm_params hesse_kpm_defaults(void) {
    hesse_kpm_params p;
    memset(&p, 0, sizeof p);
    p.moments = 256;
    p.probes = 10;
    p.support_steps = 30;
    p.margin = 0.05;
    p.points = 1000;
    p.eps = 1e-8;
    return p;
}

#define KPM_EPS 0.01 /* keep the spectrum inside [-1 + KPM_EPS/2, 1 - KPM_EPS/2] */

/* Y = A~ X = (A X - b X) / a for n x k blocks. */
static int scaled_apply(const hesse_op *op, double a, double b, int k, const double *X, double *Y,
                        hesse_op_stats *ops) {
    int rc = hesse_op_apply(op, k, X, Y, ops);
    if (rc != HESSE_OK) return rc;
    size_t len = (size_t)op->n * k;
    double ia = 1.0 / a;
    for (size_t i = 0; i < len; i++) Y[i] = (Y[i] - b * X[i]) * ia;
    return HESSE_OK;
}

int hesse_kpm_density(const hesse_op *op, const hesse_kpm_params *p, hesse_density *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "KPM: out is NULL");
    memset(out, 0, sizeof *out);
    if (!op || !op->apply || op->n <= 0 || op->n > INT_MAX || !p)
        return hesse_error(HESSE_EINVAL, "KPM: invalid operator or parameters");
    if (p->moments < 2 || p->moments % 2 != 0 || p->probes < 1 || p->points < 2 || p->margin < 0 ||
        p->eps < 0)
        return hesse_error(HESSE_EINVAL,
                           "KPM: need an even number of moments >= 2, probes >= 1, points >= 2, "
                           "margin >= 0, eps >= 0 (got %d, %d, %d, %g, %g)",
                           p->moments, p->probes, p->points, p->margin, p->eps);
    int n = (int)op->n, M = p->moments, half = M / 2;
    double t0 = hesse_now();
    hesse_op_stats ops = {0, 0, 0.0};
    double *T0 = NULL, *T1 = NULL, *T2 = NULL, *acc = NULL, *pm = NULL;
    int rc = HESSE_OK;

    double lo, hi;
    HESSE_CHECK(
        hesse_sp_support(op, p->lo, p->hi, p->support_steps, p->margin, p->seed, &lo, &hi, &ops));
    double a = (hi - lo) / (2.0 - KPM_EPS), b = 0.5 * (hi + lo);

    int blk = p->block > 0 && p->block < p->probes ? p->block : p->probes;
    T0 = hesse_alloc(sizeof(double) * (size_t)n * blk);
    T1 = hesse_alloc(sizeof(double) * (size_t)n * blk);
    T2 = hesse_alloc(sizeof(double) * (size_t)n * blk);
    acc = hesse_calloc((size_t)M + 1, sizeof(double));  /* sums over probes of z^T T_m z */
    pm = hesse_alloc(sizeof(double) * 2 * (size_t)blk); /* per probe mu_0, mu_1 */
    out->mu = hesse_alloc(sizeof(double) * (size_t)M);
    if (!T0 || !T1 || !T2 || !acc || !pm || !out->mu) {
        rc = hesse_error(HESSE_ENOMEM, "KPM: cannot allocate 3 blocks of %d x %d", n, blk);
        goto cleanup;
    }
    for (int r0 = 0; r0 < p->probes; r0 += blk) {
        int k = p->probes - r0 < blk ? p->probes - r0 : blk;
        for (int q = 0; q < k; q++) {
            hesse_rng rng;
            hesse_rng_seed_stream(&rng, p->seed, (uint64_t)(r0 + q) + 1);
            hesse_sp_fill(&rng, HESSE_PROBE_RADEMACHER, n, T0 + (size_t)q * n);
        }
        /* t_0 = z, t_1 = A~ z: mu_0 = <z, z>, mu_1 = <t_1, z>, mu_2 = 2 <t_1, t_1> - mu_0. */
        HESSE_CHECK(scaled_apply(op, a, b, k, T0, T1, &ops));
        for (int q = 0; q < k; q++) {
            const double *z = T0 + (size_t)q * n, *t1 = T1 + (size_t)q * n;
            pm[2 * q] = cblas_ddot(n, z, 1, z, 1);
            pm[2 * q + 1] = cblas_ddot(n, t1, 1, z, 1);
            acc[0] += pm[2 * q];
            acc[1] += pm[2 * q + 1];
            acc[2] += 2.0 * cblas_ddot(n, t1, 1, t1, 1) - pm[2 * q];
        }
        /* For j = 1 .. half-1: t_{j+1} = 2 A~ t_j - t_{j-1};
         * mu_{2j+1} = 2 <t_{j+1}, t_j> - mu_1 and mu_{2j+2} = 2 <t_{j+1}, t_{j+1}> - mu_0. */
        double *prev = T0, *cur = T1, *next = T2;
        for (int j = 1; j < half; j++) {
            HESSE_CHECK(scaled_apply(op, a, b, k, cur, next, &ops));
            size_t len = (size_t)n * k;
            for (size_t i = 0; i < len; i++) next[i] = 2.0 * next[i] - prev[i];
            for (int q = 0; q < k; q++) {
                const double *tj = cur + (size_t)q * n, *tj1 = next + (size_t)q * n;
                acc[2 * j + 1] += 2.0 * cblas_ddot(n, tj1, 1, tj, 1) - pm[2 * q + 1];
                acc[2 * j + 2] += 2.0 * cblas_ddot(n, tj1, 1, tj1, 1) - pm[2 * q];
            }
            double *old = prev;
            prev = cur;
            cur = next;
            next = old;
        }
    }
    /* acc[M] (one past the last moment) is computed and dropped. */
    for (int m = 0; m < M; m++) out->mu[m] = acc[m] / ((double)p->probes * n);
    out->moments = M;
    /* |mu_m| <= sum_i |T_m(x_i)| (z^T q_i)^2 / n <= 1 when every x_i is in [-1, 1]: a larger
     * moment means the spectrum reaches outside the support and the series is meaningless. */
    for (int m = 0; m < M; m++)
        if (!(fabs(out->mu[m]) <= 1.0 + 1e-8)) {
            rc = hesse_error(HESSE_ENUMERIC,
                             "KPM: moment %d is %g, outside [-1, 1]: the spectrum reaches beyond "
                             "the support [%g, %g]; give a wider margin or the support",
                             m, out->mu[m], lo, hi);
            goto cleanup;
        }

    /* Jackson kernel, Weisse et al. eq. 71 with N = M moments. */
    double th = HESSE_SP_PI / (M + 1);
    HESSE_CHECK(hesse_sp_density_grid(out, p->points, lo, hi, p->eps));
    for (int i = 0; i < p->points; i++) {
        double x = (out->grid[i] - b) / a;
        double sum = 0.0, tprev = 1.0, tcur = x; /* T_0(x), T_1(x) */
        for (int m = 0; m < M; m++) {
            double gm = ((M - m + 1) * cos(th * m) + sin(th * m) / tan(th)) / (M + 1);
            double tm = m == 0 ? 1.0 : (m == 1 ? x : 0.0);
            if (m >= 2) {
                tm = 2.0 * x * tcur - tprev;
                tprev = tcur;
                tcur = tm;
            }
            sum += (m == 0 ? 1.0 : 2.0) * gm * out->mu[m] * tm;
        }
        double rho = sum / (HESSE_SP_PI * sqrt(1.0 - x * x)) / a;
        /* The Jackson kernel is positive, so the damped series of a positive measure is >= 0;
         * what is below zero is rounding. */
        out->density[i] = rho > 0.0 ? rho : 0.0;
    }
    HESSE_CHECK(hesse_sp_density_normalise(out));
    out->probes = p->probes;
    out->products = ops.products;
    out->seconds_products = ops.seconds;
    out->seconds = hesse_now() - t0;
cleanup:
    hesse_free(T0);
    hesse_free(T1);
    hesse_free(T2);
    hesse_free(acc);
    hesse_free(pm);
    if (rc != HESSE_OK) hesse_density_free(out);
    return rc;
}
