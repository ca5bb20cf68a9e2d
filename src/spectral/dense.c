/* Dense symmetric eigen-decomposition (LAPACK dsyevd) and materialising an operator. */
#include "spectral-impl.h"

#include <lapacke.h>
#include <limits.h>
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

int hesse_op_to_dense(const hesse_op *op, int block, double *A, hesse_op_stats *stats) {
    if (!op || !op->apply || op->n <= 0 || !A)
        return hesse_error(HESSE_EINVAL, "hesse_op_to_dense: need an operator and an output");
    int64_t n = op->n;
    if (block <= 0) block = 64;
    if (block > n) block = (int)n;
    double *E = hesse_calloc((size_t)n * (size_t)block, sizeof(double));
    if (!E) return HESSE_ENOMEM;
    int rc = HESSE_OK;
    for (int64_t j0 = 0; j0 < n; j0 += block) {
        int k = n - j0 < block ? (int)(n - j0) : block;
        for (int j = 0; j < k; j++) E[(size_t)j * n + j0 + j] = 1.0;
        rc = hesse_op_apply(op, k, E, A + (size_t)j0 * n, stats);
        for (int j = 0; j < k; j++) E[(size_t)j * n + j0 + j] = 0.0;
        if (rc != HESSE_OK) break;
    }
    hesse_free(E);
    return rc;
}
