/* Dense symmetric eigen-decomposition (LAPACK dsyevd), and the eigenpairs of a small operator
 * from its materialised matrix.
 *
 * hesse_eigh_inplace and hesse_dense_eigs are the computations of `hesse dense` and `hesse
 * spectrum --method dense` (cli/cmd_dense.c, cli/cmd_spectrum.c) moved into the library: the
 * same LAPACK calls on the same triangle, the same loops in the same order, so that the
 * commands give the same numbers bit for bit once they call these. */
#include "spectral-impl.h"

#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <string.h>

int hesse_eigh(int64_t n, const double *A, double *w, double *V) {
    if (n <= 0 || n > INT_MAX || !A || !w)
        return hesse_error(HESSE_EINVAL, "hesse_eigh: need 0 < n <= INT_MAX, A and w (n = %lld)",
                           (long long)n);
    size_t bytes = sizeof(double) * (size_t)n * (size_t)n;
    double *work = V ? V : hesse_alloc(bytes);
    if (!work) return HESSE_ENOMEM;
    if (work != A) memcpy(work, A, bytes);
    lapack_int info =
        LAPACKE_dsyevd(LAPACK_COL_MAJOR, V ? 'V' : 'N', 'L', (lapack_int)n, work, (lapack_int)n, w);
    if (!V) hesse_free(work);
    if (info != 0)
        return hesse_error(HESSE_ENUMERIC, "hesse_eigh: dsyevd failed (info = %d, n = %lld)",
                           (int)info, (long long)n);
    return HESSE_OK;
}

int hesse_eigh_inplace(int64_t n, double *A, double *w, int want_vectors) {
    if (n <= 0 || n > INT_MAX || !A || !w)
        return hesse_error(HESSE_EINVAL,
                           "hesse_eigh_inplace: need 0 < n <= INT_MAX, A and w (n = %lld)",
                           (long long)n);
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, want_vectors ? 'V' : 'N', 'U', (lapack_int)n,
                                     A, (lapack_int)n, w);
    if (info != 0) return hesse_error(HESSE_ENUMERIC, "LAPACK dsyevd failed (info %d)", (int)info);
    return HESSE_OK;
}

hesse_dense_params hesse_dense_defaults(void) {
    hesse_dense_params p;
    memset(&p, 0, sizeof p);
    p.want_vectors = 1;
    p.block = 64;
    return p;
}

/* Fills out's pairs from the decomposition (w ascending, V its vectors) of the materialised A:
 * top from the end of w, then bottom from its start, each with ||A v - lambda v||. */
static int dense_pairs(int64_t n, const double *A, const double *w, const double *V, int top,
                       int bottom, int want_vectors, hesse_eigs *out) {
    const int k = top + bottom;
    out->n = n;
    out->ntop = top;
    out->nbottom = bottom;
    out->values = hesse_alloc((size_t)k * sizeof(double));
    out->residuals = hesse_alloc((size_t)k * sizeof(double));
    out->vectors = want_vectors ? hesse_alloc((size_t)(n * k) * sizeof(double)) : NULL;
    if (!out->values || !out->residuals || (want_vectors && !out->vectors))
        return hesse_error(HESSE_ENOMEM, "dense eigenpairs: cannot allocate %d eigenpairs", k);
    for (int i = 0; i < k; i++) {
        int64_t col = i < top ? n - 1 - i : i - top;
        const double *v = V + col * n;
        out->values[i] = w[col];
        /* residual ||A v - lambda v|| against the assembled (symmetrised) matrix */
        double r2 = 0;
        for (int64_t a = 0; a < n; a++) {
            double s = -w[col] * v[a];
            for (int64_t b = 0; b < n; b++) s += A[b * n + a] * v[b];
            r2 += s * s;
        }
        out->residuals[i] = sqrt(r2);
        if (out->vectors) memcpy(out->vectors + (int64_t)i * n, v, (size_t)n * sizeof(double));
    }
    out->residuals_explicit = 1;
    out->nconverged = k;
    out->anorm = fmax(fabs(w[0]), fabs(w[n - 1]));
    return HESSE_OK;
}

int hesse_dense_eigs(const hesse_op *op, const hesse_dense_params *p, hesse_eigs *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_dense_eigs: out is NULL");
    memset(out, 0, sizeof *out);
    if (!op || !op->apply || op->n <= 0 || !p)
        return hesse_error(HESSE_EINVAL, "hesse_dense_eigs: need an operator and parameters");
    const int64_t n = op->n;
    if (p->top < 0 || p->bottom < 0 || p->top + p->bottom < 1 || p->top + p->bottom > n)
        return hesse_error(HESSE_EINVAL,
                           "hesse_dense_eigs: need 1 <= top + bottom <= n (%lld), got top %d, "
                           "bottom %d",
                           (long long)n, p->top, p->bottom);
    int rc = hesse_dense_check_memory(n, 3, p->memory_budget);
    if (rc != HESSE_OK) return rc;
    double *A = hesse_alloc((size_t)(n * n) * sizeof *A),
           *V = hesse_alloc((size_t)(n * n) * sizeof *V);
    double *w = hesse_alloc((size_t)n * sizeof *w);
    hesse_op_stats st = {0, 0, 0};
    double t0 = hesse_now();
    if (!A || !V || !w) {
        rc = hesse_error(HESSE_ENOMEM,
                         "dense eigenpairs: cannot allocate two %lld x %lld matrices (%.3g GiB); "
                         "use an iterative method",
                         (long long)n, (long long)n, (double)n * (double)n * 16.0 / 1073741824.0);
        goto cleanup;
    }
    HESSE_CHECK(hesse_op_to_dense(op, p->block, A, NULL, &st));
    HESSE_CHECK(hesse_eigh(n, A, w, V));
    HESSE_CHECK(dense_pairs(n, A, w, V, p->top, p->bottom, p->want_vectors, out));
    out->products = st.products;
    out->seconds_products = st.seconds;
    out->seconds = hesse_now() - t0;
cleanup:
    hesse_free(A);
    hesse_free(V);
    hesse_free(w);
    if (rc != HESSE_OK) hesse_eigs_free(out);
    return rc;
}

/* Knuth's TwoSum: s + e == a + b exactly. */
static inline void two_sum(double a, double b, double *s, double *e) {
    double t = a + b, bb = t - a;
    *e = (a - (t - bb)) + (b - bb);
    *s = t;
}

double hesse_norm2(int64_t count, const double *x) {
    double big = 0.0;
    for (int64_t i = 0; i < count; i++) {
        double a = fabs(x[i]);
        if (isnan(a)) return NAN;
        if (a > big) big = a;
    }
    if (big == 0.0) return 0.0;
    if (isinf(big)) return INFINITY;
    /* scale = 2^e with big / scale in [0.5, 1): exact, and the squares cannot overflow; values
     * below 2^-537 of the largest underflow to zero when squared, far below one rounding. */
    int e;
    (void)frexp(big, &e);
    const double inv = ldexp(1.0, -e);
    double hi = 0.0, lo = 0.0;
    for (int64_t i = 0; i < count; i++) {
        const double v = x[i] * inv, p = v * v, perr = fma(v, v, -p); /* v^2 = p + perr */
        double s, err;
        two_sum(hi, p, &s, &err);
        hi = s;
        lo += err + perr;
    }
    return ldexp(sqrt(hi + lo), e);
}
