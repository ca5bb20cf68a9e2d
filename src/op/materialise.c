/* Materialising an operator as a dense matrix (op.h), and the memory check before it. */
#include <hesse/op.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

int hesse_dense_check_memory(int64_t n, int copies, uint64_t budget) {
    if (n <= 0) return hesse_error(HESSE_EINVAL, "dense: dimension %" PRId64 " is not positive", n);
    if (budget == 0) budget = hesse_mem_available();
    double need = (double)n * (double)n * 8.0 * copies;
    if (budget > 0 && need > (double)budget)
        return hesse_error(HESSE_ENOMEM,
                           "a dense %" PRId64 " x %" PRId64 " matrix needs %.1f GiB (%d cop%s), "
                           "more than the %.1f GiB available; use fewer parameters or an "
                           "iterative method (hesse spectrum)",
                           n, n, need / 1073741824.0, copies, copies == 1 ? "y" : "ies",
                           (double)budget / 1073741824.0);
    return HESSE_OK;
}

/* The one materialisation (it was two: spectral's hesse_op_to_dense without symmetrising and
 * curv's hesse_dense_matrix). The symmetrisation writes 0.5 * (a + b) into both triangles, so
 * that a solver reading either triangle sees the same matrix. */
int hesse_op_to_dense(const hesse_op *op, int block, double *A, double *asymmetry,
                      hesse_op_stats *stats) {
    if (!op || !op->apply || op->n <= 0 || !A)
        return hesse_error(HESSE_EINVAL, "hesse_op_to_dense: need an operator and an output");
    const int64_t n = op->n;
    if (block <= 0) block = 64;
    if (block > n) block = (int)n; /* the same products; only the unit block is smaller */
    double *E = hesse_calloc((size_t)n * (size_t)block, sizeof *E);
    if (!E) return HESSE_ENOMEM;
    int rc = HESSE_OK;
    double t0 = hesse_now();
    for (int64_t j0 = 0; j0 < n; j0 += block) {
        int k = (int)(n - j0 < block ? n - j0 : block);
        for (int j = 0; j < k; j++) E[(int64_t)j * n + j0 + j] = 1.0;
        rc = hesse_op_apply(op, k, E, A + j0 * n, stats);
        for (int j = 0; j < k; j++) E[(int64_t)j * n + j0 + j] = 0.0;
        if (rc != HESSE_OK) goto cleanup;
        char detail[64];
        snprintf(detail, sizeof detail, "%" PRId64 "/%" PRId64 " columns", j0 + k, n);
        hesse_progress p = {"dense",          (double)(j0 + k), (double)n,
                            hesse_now() - t0, detail,           j0 + k == n};
        hesse_report_progress(&p);
    }
    double asym = 0, amax = 0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = j; i < n; i++) {
            double a = A[j * n + i], b = A[i * n + j];
            asym = fmax(asym, fabs(a - b));
            amax = fmax(amax, fmax(fabs(a), fabs(b)));
            A[j * n + i] = A[i * n + j] = 0.5 * (a + b);
        }
    if (asymmetry) *asymmetry = amax > 0 ? asym / amax : 0.0;
cleanup:
    hesse_free(E);
    return rc;
}
