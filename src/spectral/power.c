/* Power iteration with deflation, as PyHessian computes the top Hessian eigenvalues
 * (Yao, Gholami, Keutzer, Mahoney, "PyHessian", 2020; `hessian.eigenvalues`): kept for parity
 * and for comparing its cost with Lanczos. Each eigenvalue starts from a random normal unit
 * vector; every step orthonormalises the iterate against the eigenvectors found so far,
 * applies A, and stops when the Rayleigh quotient changes by less than tol relative. */
#include "spectral-impl.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

hesse_power_params hesse_power_defaults(void) {
    hesse_power_params p;
    memset(&p, 0, sizeof p);
    p.top = 1;
    p.max_iter = 100;
    p.tol = 1e-3;
    p.want_vectors = 1;
    p.residuals = 1;
    return p;
}

int hesse_power_eigs(const hesse_op *op, const hesse_power_params *p, hesse_eigs *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "power iteration: out is NULL");
    memset(out, 0, sizeof *out);
    if (!op || !op->apply || op->n <= 0 || op->n > INT_MAX || !p)
        return hesse_error(HESSE_EINVAL, "power iteration: invalid operator or parameters");
    if (p->top < 1 || p->top > op->n || p->max_iter < 1 || !(p->tol > 0.0))
        return hesse_error(HESSE_EINVAL,
                           "power iteration: need 1 <= top <= n (%lld), max_iter >= 1, tol > 0; "
                           "got top = %d, max_iter = %d, tol = %g",
                           (long long)op->n, p->top, p->max_iter, p->tol);
    int n = (int)op->n, k = p->top;
    double t0 = hesse_now();
    hesse_op_stats ops = {0, 0, 0.0};
    double *E = hesse_alloc(sizeof(double) * (size_t)n * k); /* eigenvectors found */
    double *v = hesse_alloc(sizeof(double) * (size_t)n);
    double *hv = hesse_alloc(sizeof(double) * (size_t)n);
    double *h = hesse_alloc(sizeof(double) * (size_t)k);
    double *R = NULL;
    out->values = hesse_alloc(sizeof(double) * (size_t)k);
    out->residuals = hesse_calloc((size_t)k, sizeof(double));
    int rc = HESSE_OK;
    if (!E || !v || !hv || !h || !out->values || !out->residuals) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    out->n = n;
    out->ntop = k;
    out->tol = p->tol;
    for (int i = 0; i < k; i++) {
        hesse_rng rng;
        hesse_rng_seed_stream(&rng, p->seed, (uint64_t)i);
        hesse_sp_fill(&rng, HESSE_PROBE_NORMAL, n, v);
        cblas_dscal(n, 1.0 / cblas_dnrm2(n, v, 1), v, 1);
        double lambda = 0.0;
        int converged = 0;
        for (int it = 0; it < p->max_iter; it++) {
            /* PyHessian's orthnormal(): remove the found directions, then normalise. */
            if (i > 0) {
                cblas_dgemv(CblasColMajor, CblasTrans, n, i, 1.0, E, n, v, 1, 0.0, h, 1);
                cblas_dgemv(CblasColMajor, CblasNoTrans, n, i, -1.0, E, n, h, 1, 1.0, v, 1);
            }
            double nv = cblas_dnrm2(n, v, 1);
            if (nv > 0.0) cblas_dscal(n, 1.0 / nv, v, 1);
            HESSE_CHECK(hesse_op_apply(op, 1, v, hv, &ops));
            out->iterations++;
            double q = cblas_ddot(n, hv, 1, v, 1);
            double nh = cblas_dnrm2(n, hv, 1);
            if (nh > 0.0) {
                for (int j = 0; j < n; j++) v[j] = hv[j] / nh;
            }
            if (it == 0) {
                lambda = q;
            } else if (fabs(lambda - q) / (fabs(lambda) + 1e-6) < p->tol) {
                converged = 1; /* PyHessian keeps the previous value */
                break;
            } else {
                lambda = q;
            }
            if (nh == 0.0) { /* v in the null space: A v = 0 exactly */
                converged = 1;
                break;
            }
        }
        out->values[i] = lambda;
        out->nconverged += converged;
        memcpy(E + (size_t)i * n, v, sizeof(double) * (size_t)n);
        out->anorm = fmax(out->anorm, fabs(lambda));
        if (p->monitor) {
            hesse_eig_progress pr = {
                "power", i,           ops.products,   out->nconverged, k,
                i + 1,   out->values, out->residuals, out->anorm,      hesse_now() - t0};
            p->monitor(p->monitor_ctx, &pr);
        }
    }
    if (p->residuals) {
        /* The honest residual of each reported pair: one block product. */
        R = hesse_alloc(sizeof(double) * (size_t)n * k);
        if (!R) {
            rc = HESSE_ENOMEM;
            goto cleanup;
        }
        HESSE_CHECK(hesse_op_apply(op, k, E, R, &ops));
        for (int i = 0; i < k; i++) {
            cblas_daxpy(n, -out->values[i], E + (size_t)i * n, 1, R + (size_t)i * n, 1);
            out->residuals[i] = cblas_dnrm2(n, R + (size_t)i * n, 1);
        }
        out->residuals_explicit = 1;
    }
    /* Deflation finds the pairs in an order that can differ from their size when the
     * tolerance stops an iterate early; hesse_eigs promises them descending. A stable
     * insertion sort keeps found order among equal values. */
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && out->values[j - 1] < out->values[j]; j--) {
            double t = out->values[j];
            out->values[j] = out->values[j - 1];
            out->values[j - 1] = t;
            t = out->residuals[j];
            out->residuals[j] = out->residuals[j - 1];
            out->residuals[j - 1] = t;
            cblas_dswap(n, E + (size_t)j * n, 1, E + (size_t)(j - 1) * n, 1);
        }
    if (p->want_vectors) {
        out->vectors = E;
        E = NULL;
    }
    out->products = ops.products;
    out->seconds_products = ops.seconds;
    out->seconds = hesse_now() - t0;
cleanup:
    hesse_free(E);
    hesse_free(v);
    hesse_free(hv);
    hesse_free(h);
    hesse_free(R);
    if (rc != HESSE_OK) hesse_eigs_free(out);
    return rc;
}
