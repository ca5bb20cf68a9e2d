/* Trace of an operator: exact (identity blocks), Hutchinson, and Hutch++.
 *
 * Hutchinson (Comm. Stat. Simul. Comput. 18, 1989): for probes z with E[z z^T] = I,
 * E[z^T A z] = tr(A); with Rademacher probes the variance is 2 (||A||_F^2 - sum_i A_ii^2).
 * Hutch++ (Meyer, Musco, Musco, Woodruff, SOSA 2021, Algorithm 1): the trace of the top
 * subspace found from A S is taken exactly and Hutchinson runs on the deflated rest, whose
 * Frobenius norm is small when A is close to low rank: O(1/eps) products for relative error
 * eps instead of O(1/eps^2).
 *
 * Probes come from one generator seeded with `seed`, column after column, so the estimate does
 * not depend on the block size. */
#include "spectral-impl.h"

#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <string.h>

hesse_trace_params hesse_trace_defaults(void) {
    hesse_trace_params p;
    memset(&p, 0, sizeof p);
    p.samples = 99;
    p.block = 32;
    p.probe = HESSE_PROBE_RADEMACHER;
    return p;
}

static int check_op(const hesse_op *op, const char *who) {
    if (!op || !op->apply || op->n <= 0 || op->n > INT_MAX)
        return hesse_error(HESSE_EINVAL, "%s: invalid operator (need 0 < n <= INT_MAX)", who);
    return HESSE_OK;
}

static void finish(hesse_trace_result *out, const hesse_op_stats *ops, double t0) {
    out->products = ops->products;
    out->seconds_products = ops->seconds;
    out->seconds = hesse_now() - t0;
}

int hesse_trace_exact(const hesse_op *op, const hesse_trace_params *p, hesse_trace_result *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "exact trace: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = check_op(op, "exact trace");
    if (rc != HESSE_OK) return rc;
    int n = (int)op->n, blk = p && p->block > 0 ? p->block : 32;
    if (blk > n) blk = n;
    double t0 = hesse_now();
    hesse_op_stats ops = {0, 0, 0.0};
    double *E = hesse_calloc((size_t)n * blk, sizeof(double));
    double *Y = hesse_alloc(sizeof(double) * (size_t)n * blk);
    if (!E || !Y) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    double tr = 0.0;
    for (int j0 = 0; j0 < n; j0 += blk) {
        int k = n - j0 < blk ? n - j0 : blk;
        for (int j = 0; j < k; j++) E[(size_t)j * n + j0 + j] = 1.0;
        rc = hesse_op_apply(op, k, E, Y, &ops);
        for (int j = 0; j < k; j++) E[(size_t)j * n + j0 + j] = 0.0;
        if (rc != HESSE_OK) goto cleanup;
        for (int j = 0; j < k; j++) tr += Y[(size_t)j * n + j0 + j];
    }
    out->trace = tr;
    out->samples = n;
    finish(out, &ops, t0);
cleanup:
    hesse_free(E);
    hesse_free(Y);
    return rc;
}

/* Mean and standard error of x[0 .. count), the samples independent draws of one distribution.
 *
 * The plain standard error s / sqrt(count) (s^2 the unbiased sample variance) makes the
 * z-score (mean - exact) / se a Student t with count - 1 degrees of freedom when the samples
 * are normal, whose variance is (count - 1) / (count - 3), not 1: at Hutch++'s default 33
 * Hutchinson probes the z-scores' sd is 1.033, at 10 probes 1.134, and the quadratic forms
 * z^T A z are right-skewed on top of that (a small mean comes with a small s). The error
 * reported is therefore
 *     se = s / sqrt(count) * sqrt((count - 1) / (count - 3)),    count >= 4,
 * the standard deviation of that t, so that the z-score has unit variance (docs/results.md,
 * hesse.trace/1; the calibration is in docs/reproduction.md); with fewer than 4 samples the t
 * has no finite variance and the plain s / sqrt(count) is returned. Skewed or light-tailed
 * samples still move the z-scores' sd at small counts (0.87-1.19 at 10 on small nets). */
static void mean_stderr(const double *x, int count, double *mean, double *se) {
    double s = 0.0;
    for (int i = 0; i < count; i++) s += x[i];
    double mu = s / count, ss = 0.0;
    for (int i = 0; i < count; i++) ss += (x[i] - mu) * (x[i] - mu);
    *mean = mu;
    *se = count > 1 ? sqrt(ss / (count - 1) / count) : 0.0;
    if (count >= 4) *se *= sqrt((double)(count - 1) / (double)(count - 3));
}

/* Hutchinson samples z^T P A P z over `count` probes drawn from rng, with P = I - Q Q^T when
 * Q (n x r) is given; x[count] receives them. Uses blocks of blk columns. */
static int hutchinson_samples(const hesse_op *op, hesse_rng *rng, hesse_probe_kind kind, int count,
                              int blk, const double *Q, int r, double *x, hesse_op_stats *ops) {
    int n = (int)op->n, rc = HESSE_OK;
    double *Z = hesse_alloc(sizeof(double) * (size_t)n * blk);
    double *Y = hesse_alloc(sizeof(double) * (size_t)n * blk);
    double *H = Q ? hesse_alloc(sizeof(double) * (size_t)r * blk) : NULL;
    if (!Z || !Y || (Q && !H)) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    for (int i0 = 0; i0 < count; i0 += blk) {
        int k = count - i0 < blk ? count - i0 : blk;
        for (int j = 0; j < k; j++) hesse_sp_fill(rng, kind, n, Z + (size_t)j * n);
        if (Q) { /* Z <- P Z: z^T P A P z = (P z)^T A (P z) */
            cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, r, k, n, 1.0, Q, n, Z, n, 0.0, H,
                        r);
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, k, r, -1.0, Q, n, H, r, 1.0,
                        Z, n);
        }
        HESSE_CHECK(hesse_op_apply(op, k, Z, Y, ops));
        for (int j = 0; j < k; j++)
            x[i0 + j] = cblas_ddot(n, Z + (size_t)j * n, 1, Y + (size_t)j * n, 1);
    }
cleanup:
    hesse_free(Z);
    hesse_free(Y);
    hesse_free(H);
    return rc;
}

static int check_params(const hesse_trace_params *p, int min_samples, const char *who) {
    if (!p) return hesse_error(HESSE_EINVAL, "%s: parameters are NULL", who);
    if (p->samples < min_samples)
        return hesse_error(HESSE_EINVAL,
                           "%s: need samples >= %d (a standard error needs two stochastic "
                           "probes), got %d",
                           who, min_samples, p->samples);
    if (p->probe != HESSE_PROBE_RADEMACHER && p->probe != HESSE_PROBE_NORMAL)
        return hesse_error(HESSE_EINVAL, "%s: unknown probe kind %d", who, (int)p->probe);
    return HESSE_OK;
}

int hesse_trace_hutchinson(const hesse_op *op, const hesse_trace_params *p,
                           hesse_trace_result *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "Hutchinson: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = check_op(op, "Hutchinson");
    if (rc == HESSE_OK) rc = check_params(p, 2, "Hutchinson");
    if (rc != HESSE_OK) return rc;
    double t0 = hesse_now();
    hesse_op_stats ops = {0, 0, 0.0};
    int blk = p->block > 0 ? p->block : 32;
    if (blk > p->samples) blk = p->samples;
    double *x = hesse_alloc(sizeof(double) * (size_t)p->samples);
    if (!x) return HESSE_ENOMEM;
    hesse_rng rng;
    hesse_rng_seed(&rng, p->seed);
    HESSE_CHECK(hutchinson_samples(op, &rng, p->probe, p->samples, blk, NULL, 0, x, &ops));
    mean_stderr(x, p->samples, &out->trace, &out->std_error);
    out->samples = p->samples;
    finish(out, &ops, t0);
cleanup:
    hesse_free(x);
    return rc;
}

int hesse_trace_hutchpp(const hesse_op *op, const hesse_trace_params *p, hesse_trace_result *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "Hutch++: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = check_op(op, "Hutch++");
    if (rc == HESSE_OK) rc = check_params(p, 4, "Hutch++");
    if (rc != HESSE_OK) return rc;
    int n = (int)op->n;
    int s = p->samples / 3;
    if (s > n) s = n;
    int g = p->samples - 2 * s; /* the Hutchinson part gets the rest */
    int blk = p->block > 0 ? p->block : 32;
    double t0 = hesse_now();
    hesse_op_stats ops = {0, 0, 0.0};
    double *Q = hesse_alloc(sizeof(double) * (size_t)n * s);
    double *tau = hesse_alloc(sizeof(double) * (size_t)s);
    double *S = hesse_alloc(sizeof(double) * (size_t)n * (blk < s ? blk : s));
    double *x = hesse_alloc(sizeof(double) * (size_t)(g > 0 ? g : 1));
    if (!Q || !tau || !S || !x) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    hesse_rng rng;
    hesse_rng_seed(&rng, p->seed);
    /* Q = orth(A S), S with s sign (or normal) columns. */
    for (int j0 = 0; j0 < s; j0 += blk) {
        int k = s - j0 < blk ? s - j0 : blk;
        for (int j = 0; j < k; j++) hesse_sp_fill(&rng, p->probe, n, S + (size_t)j * n);
        HESSE_CHECK(hesse_op_apply(op, k, S, Q + (size_t)j0 * n, &ops));
    }
    lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, s, Q, n, tau);
    if (info == 0) info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, s, s, Q, n, tau);
    if (info != 0) {
        rc = hesse_error(HESSE_ENUMERIC, "Hutch++: QR of A S failed (info = %d)", (int)info);
        goto cleanup;
    }
    /* tr(Q^T A Q), a block at a time (S is reused for A Q). */
    double lowrank = 0.0;
    for (int j0 = 0; j0 < s; j0 += blk) {
        int k = s - j0 < blk ? s - j0 : blk;
        HESSE_CHECK(hesse_op_apply(op, k, Q + (size_t)j0 * n, S, &ops));
        for (int j = 0; j < k; j++)
            lowrank += cblas_ddot(n, Q + (size_t)(j0 + j) * n, 1, S + (size_t)j * n, 1);
    }
    out->rank = s;
    out->lowrank_trace = lowrank;
    out->trace = lowrank;
    if (g > 0) {
        double mean, se;
        HESSE_CHECK(hutchinson_samples(op, &rng, p->probe, g, blk < g ? blk : g, Q, s, x, &ops));
        mean_stderr(x, g, &mean, &se);
        out->trace += mean;
        out->std_error = se;
    }
    out->samples = g;
    finish(out, &ops, t0);
cleanup:
    hesse_free(Q);
    hesse_free(tau);
    hesse_free(S);
    hesse_free(x);
    return rc;
}
