/* The counted, timed, checked application of a block operator. */
#include <hesse/op.h>

#include <math.h>
#include <string.h>

int hesse_op_apply(const hesse_op *op, int k, const double *X, double *Y, hesse_op_stats *stats) {
    if (!op || !op->apply || op->n <= 0 || k < 0 || (k > 0 && (!X || !Y)))
        return hesse_error(HESSE_EINVAL, "hesse_op_apply: invalid operator or block (k = %d)", k);
    int step = op->max_block > 0 ? op->max_block : k;
    for (int j0 = 0; j0 < k; j0 += step) {
        int kk = k - j0 < step ? k - j0 : step;
        const double *x = X + (int64_t)j0 * op->n;
        double *y = Y + (int64_t)j0 * op->n;
        double t0 = hesse_now();
        int rc = op->apply(op->ctx, kk, x, y);
        if (stats) {
            stats->seconds += hesse_now() - t0;
            stats->calls += 1;
        }
        if (rc != HESSE_OK) return rc;
        if (stats) stats->products += kk;
        if (op->checks_finite) continue; /* the operator scanned its own output */
        for (int64_t i = 0; i < (int64_t)kk * op->n; i++)
            if (!isfinite(y[i]))
                return hesse_error(HESSE_ENUMERIC,
                                   "operator product is not finite (entry %lld of column %lld)",
                                   (long long)(i % op->n), (long long)(j0 + i / op->n));
    }
    return HESSE_OK;
}

void hesse_op_free(hesse_op *op) {
    if (!op) return;
    if (op->free_ctx) op->free_ctx(op->ctx);
    *op = (hesse_op){0};
}
