/* Dense symmetric eigen-decomposition (LAPACK dsyevd). */
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
