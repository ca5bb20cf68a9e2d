/* Network curvature as operators, and dense matrices assembled from products. */
#include <hesse/curv.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    hesse_engine *engine;
    const hesse_samples *samples;
    hesse_curv_kind kind;
} curvature_ctx;

static int curvature_apply(void *ctx, int k, const double *X, double *Y) {
    curvature_ctx *c = ctx;
    return hesse_curv_product(c->engine, c->samples, c->kind, k, X, Y);
}

int hesse_op_curvature(hesse_engine *e, const hesse_samples *s, hesse_curv_kind kind,
                       hesse_op *out) {
    if (!e || !s || !out) return hesse_error(HESSE_EINVAL, "hesse_op_curvature: NULL argument");
    curvature_ctx *c = malloc(sizeof *c);
    if (!c) return hesse_error(HESSE_ENOMEM, "out of memory");
    c->engine = e;
    c->samples = s;
    c->kind = kind;
    /* The engine reads parameter counts from its model; the operator's n is that count. */
    *out = (hesse_op){0};
    out->n = hesse_engine_num_params(e);
    out->apply = curvature_apply;
    out->ctx = c;
    out->max_block = 0; /* the engine splits larger blocks itself, reusing each forward pass */
    out->free_ctx = free;
    return HESSE_OK;
}

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

int hesse_dense_matrix(const hesse_op *op, int block, double *A, double *asymmetry,
                       hesse_op_stats *stats) {
    if (!op || !A || block < 1)
        return hesse_error(HESSE_EINVAL, "hesse_dense_matrix: bad argument");
    const int64_t n = op->n;
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

typedef struct {
    hesse_op base;
    int count;
    int64_t *offset, *length;
    int64_t m;
    double *X, *Y; /* n x k scratch, grown on demand */
    int cap;
} restrict_ctx;

static void restrict_free(void *p) {
    restrict_ctx *c = p;
    if (!c) return;
    free(c->offset);
    free(c->length);
    hesse_free(c->X);
    hesse_free(c->Y);
    free(c);
}

static int restrict_apply(void *ctx, int k, const double *X, double *Y) {
    restrict_ctx *c = ctx;
    const int64_t n = c->base.n;
    if (k > c->cap) {
        hesse_free(c->X);
        hesse_free(c->Y);
        c->X = hesse_alloc((size_t)n * (size_t)k * sizeof(double));
        c->Y = hesse_alloc((size_t)n * (size_t)k * sizeof(double));
        c->cap = c->X && c->Y ? k : 0;
        if (!c->cap) return HESSE_ENOMEM;
    }
    memset(c->X, 0, (size_t)n * (size_t)k * sizeof(double));
    for (int j = 0; j < k; j++) {
        int64_t at = 0;
        for (int r = 0; r < c->count; r++) {
            memcpy(c->X + j * n + c->offset[r], X + j * c->m + at,
                   (size_t)c->length[r] * sizeof(double));
            at += c->length[r];
        }
    }
    /* no stats here: the caller's hesse_op_apply counts this product once */
    int rc = hesse_op_apply(&c->base, k, c->X, c->Y, NULL);
    if (rc != HESSE_OK) return rc;
    for (int j = 0; j < k; j++) {
        int64_t at = 0;
        for (int r = 0; r < c->count; r++) {
            memcpy(Y + j * c->m + at, c->Y + j * n + c->offset[r],
                   (size_t)c->length[r] * sizeof(double));
            at += c->length[r];
        }
    }
    return HESSE_OK;
}

int hesse_op_restrict(const hesse_op *a, int count, const int64_t *offset, const int64_t *length,
                      hesse_op *out) {
    if (!a || !out || count < 1 || !offset || !length)
        return hesse_error(HESSE_EINVAL, "hesse_op_restrict: invalid arguments");
    int64_t m = 0, end = 0;
    for (int r = 0; r < count; r++) {
        if (offset[r] < end || length[r] < 1 || offset[r] + length[r] > a->n)
            return hesse_error(HESSE_EINVAL,
                               "hesse_op_restrict: range %d [%lld, +%lld) is out of order, empty "
                               "or beyond dimension %lld",
                               r, (long long)offset[r], (long long)length[r], (long long)a->n);
        end = offset[r] + length[r];
        m += length[r];
    }
    restrict_ctx *c = calloc(1, sizeof *c);
    if (!c) return hesse_error(HESSE_ENOMEM, "out of memory");
    c->base = *a;
    c->count = count;
    c->m = m;
    c->offset = malloc((size_t)count * sizeof *c->offset);
    c->length = malloc((size_t)count * sizeof *c->length);
    if (!c->offset || !c->length) {
        restrict_free(c);
        return hesse_error(HESSE_ENOMEM, "out of memory");
    }
    memcpy(c->offset, offset, (size_t)count * sizeof *offset);
    memcpy(c->length, length, (size_t)count * sizeof *length);
    *out = (hesse_op){m, restrict_apply, c, a->max_block, restrict_free};
    return HESSE_OK;
}

int hesse_select_tensors(const hesse_model *m, const char *spec, int *sel, int cap, int *count) {
    *count = 0;
    if (!spec || !*spec) return hesse_error(HESSE_EINVAL, "layer: empty specification");
    int nt = hesse_model_num_tensors(m);
    char *taken = calloc((size_t)nt, 1);
    if (!taken) return hesse_error(HESSE_ENOMEM, "out of memory");
    int rc = HESSE_OK;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        char tok[64];
        if (len == 0 || len >= sizeof tok) {
            rc = hesse_error(HESSE_EINPUT, "layer: bad entry in \"%s\"", spec);
            goto cleanup;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        int matched = 0;
        for (int t = 0; t < nt; t++) {
            const char *name = hesse_model_tensor(m, t)->name;
            size_t tl = strlen(tok);
            /* "3" matches "3.weight" and "3.bias"; a full name matches itself */
            if (strcmp(name, tok) == 0 || (strncmp(name, tok, tl) == 0 && name[tl] == '.')) {
                taken[t] = 1;
                matched = 1;
            }
        }
        if (!matched) {
            char names[512] = "";
            size_t at = 0;
            for (int t = 0; t < nt && at + 40 < sizeof names; t++)
                at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", t ? ", " : "",
                                       hesse_model_tensor(m, t)->name);
            rc = hesse_error(HESSE_EINPUT,
                             "layer '%s' matches no parameter tensor (the model has %s)", tok,
                             names);
            goto cleanup;
        }
        p += len;
        if (*p == ',') p++;
    }
    for (int t = 0; t < nt; t++)
        if (taken[t]) {
            if (*count == cap) {
                rc = hesse_error(HESSE_EINVAL, "layer: more than %d tensors selected", cap);
                goto cleanup;
            }
            sel[(*count)++] = t;
        }
cleanup:
    free(taken);
    return rc;
}
