/* The operator algebra (op.h): explicit dense and diagonal matrices, projection deflation
 * P A P, shift A + sigma I, linear combination alpha A + beta B, diagonal scaling D A D and
 * restriction P^T A P to a subset of coordinates.
 *
 * Operators built on another call the base's callback directly (restriction through
 * hesse_op_apply without stats), not a counting hesse_op_apply, so that one product of the
 * result counts once; they inherit the base's max_block, so the outer hesse_op_apply already
 * splits blocks to a size the base accepts. Scratch for a block grows on demand inside the
 * context and is reused, so repeated products do not allocate. */
#include <hesse/op.h>

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Smallest positive max_block of two (0 means any). */
static int min_block(int a, int b) {
    if (a <= 0) return b;
    if (b <= 0) return a;
    return a < b ? a : b;
}

static int check_base(const hesse_op *a, const char *who) {
    if (!a || !a->apply || a->n <= 0)
        return hesse_error(HESSE_EINVAL, "%s: base operator is missing or has n <= 0", who);
    if (a->n > INT_MAX)
        return hesse_error(HESSE_EINVAL, "%s: n = %lld exceeds the BLAS index range", who,
                           (long long)a->n);
    return HESSE_OK;
}

/* Scratch of at least `count` doubles, grown (never shrunk) in *buf / *cap. */
static int ensure_scratch(double **buf, size_t *cap, size_t count) {
    if (count <= *cap) return HESSE_OK;
    double *p = hesse_calloc(count, sizeof *p);
    if (!p) return HESSE_ENOMEM;
    hesse_free(*buf);
    *buf = p;
    *cap = count;
    return HESSE_OK;
}

/* ---- Dense ------------------------------------------------------------------------------ */

typedef struct {
    int n;
    const double *A; /* borrowed, n x n column-major, symmetric */
} dense_ctx;

/* Y = A X: dgemv for one column, dgemm for a block (both triangles of A are read). */
static int dense_apply(void *ctx, int k, const double *X, double *Y) {
    const dense_ctx *c = ctx;
    if (k == 1)
        cblas_dgemv(CblasColMajor, CblasNoTrans, c->n, c->n, 1.0, c->A, c->n, X, 1, 0.0, Y, 1);
    else
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, c->n, k, c->n, 1.0, c->A, c->n, X,
                    c->n, 0.0, Y, c->n);
    return HESSE_OK;
}

static void plain_free(void *ctx) {
    hesse_free(ctx);
}

int hesse_op_dense(int64_t n, const double *A, hesse_op *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_op_dense: out is NULL");
    *out = (hesse_op){0};
    if (n <= 0 || n > INT_MAX || !A)
        return hesse_error(HESSE_EINVAL, "hesse_op_dense: need 0 < n <= INT_MAX and a matrix");
    dense_ctx *c = hesse_alloc(sizeof *c);
    if (!c) return HESSE_ENOMEM;
    c->n = (int)n;
    c->A = A;
    *out = (hesse_op){n, dense_apply, c, 0, plain_free, 0};
    return HESSE_OK;
}

/* ---- Diagonal --------------------------------------------------------------------------- */

typedef struct {
    int64_t n;
    const double *d; /* borrowed */
} diag_ctx;

static int diag_apply(void *ctx, int k, const double *X, double *Y) {
    const diag_ctx *c = ctx;
    for (int j = 0; j < k; j++) {
        const double *x = X + (size_t)j * c->n;
        double *y = Y + (size_t)j * c->n;
        for (int64_t i = 0; i < c->n; i++) y[i] = c->d[i] * x[i];
    }
    return HESSE_OK;
}

int hesse_op_diag(int64_t n, const double *d, hesse_op *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_op_diag: out is NULL");
    *out = (hesse_op){0};
    if (n <= 0 || !d) return hesse_error(HESSE_EINVAL, "hesse_op_diag: need n > 0 and a diagonal");
    diag_ctx *c = hesse_alloc(sizeof *c);
    if (!c) return HESSE_ENOMEM;
    c->n = n;
    c->d = d;
    *out = (hesse_op){n, diag_apply, c, 0, plain_free, 0};
    return HESSE_OK;
}

/* ---- Projection deflation P A P, P = I - U U^T --------------------------------------------- */

typedef struct {
    hesse_op a; /* borrowed base (its ctx is not ours) */
    int n, m;
    const double *U; /* borrowed, n x m orthonormal columns */
    double *px;      /* n x k scratch: P X */
    size_t px_cap;
    double *h; /* m x k scratch: U^T (.) */
    size_t h_cap;
} deflate_ctx;

/* Z <- P Z = Z - U (U^T Z) for Z of n x k; h is m x k scratch. Two dgemm calls. */
static void project_out(const deflate_ctx *c, int k, double *Z, double *h) {
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, c->m, k, c->n, 1.0, c->U, c->n, Z, c->n,
                0.0, h, c->m);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, c->n, k, c->m, -1.0, c->U, c->n, h, c->m,
                1.0, Z, c->n);
}

static int deflate_apply(void *ctx, int k, const double *X, double *Y) {
    deflate_ctx *c = ctx;
    if (c->m == 0) return c->a.apply(c->a.ctx, k, X, Y);
    int rc = ensure_scratch(&c->px, &c->px_cap, (size_t)c->n * k);
    if (rc == HESSE_OK) rc = ensure_scratch(&c->h, &c->h_cap, (size_t)c->m * k);
    if (rc != HESSE_OK) return rc;
    memcpy(c->px, X, sizeof(double) * (size_t)c->n * k);
    project_out(c, k, c->px, c->h);
    rc = c->a.apply(c->a.ctx, k, c->px, Y);
    if (rc != HESSE_OK) return rc;
    project_out(c, k, Y, c->h);
    return HESSE_OK;
}

static void deflate_free(void *ctx) {
    deflate_ctx *c = ctx;
    if (!c) return;
    hesse_free(c->px);
    hesse_free(c->h);
    hesse_free(c);
}

int hesse_op_deflate(const hesse_op *a, int m, const double *U, hesse_op *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_op_deflate: out is NULL");
    *out = (hesse_op){0};
    int rc = check_base(a, "hesse_op_deflate");
    if (rc != HESSE_OK) return rc;
    if (m < 0 || m > a->n || (m > 0 && !U))
        return hesse_error(HESSE_EINVAL,
                           "hesse_op_deflate: need 0 <= m <= n (%lld) and U, got m = %d",
                           (long long)a->n, m);
    deflate_ctx *c = hesse_calloc(1, sizeof *c);
    if (!c) return HESSE_ENOMEM;
    c->a = *a;
    c->a.free_ctx = NULL;
    c->n = (int)a->n;
    c->m = m;
    c->U = U;
    *out = (hesse_op){a->n, deflate_apply, c, a->max_block, deflate_free, 0};
    return HESSE_OK;
}

/* ---- Shift A + sigma I ------------------------------------------------------------------- */

typedef struct {
    hesse_op a;
    double sigma;
} shift_ctx;

static int shift_apply(void *ctx, int k, const double *X, double *Y) {
    const shift_ctx *c = ctx;
    int rc = c->a.apply(c->a.ctx, k, X, Y);
    if (rc != HESSE_OK) return rc;
    size_t len = (size_t)c->a.n * k;
    for (size_t i = 0; i < len; i++) Y[i] += c->sigma * X[i];
    return HESSE_OK;
}

int hesse_op_shift(const hesse_op *a, double sigma, hesse_op *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_op_shift: out is NULL");
    *out = (hesse_op){0};
    int rc = check_base(a, "hesse_op_shift");
    if (rc != HESSE_OK) return rc;
    shift_ctx *c = hesse_alloc(sizeof *c);
    if (!c) return HESSE_ENOMEM;
    c->a = *a;
    c->a.free_ctx = NULL;
    c->sigma = sigma;
    *out = (hesse_op){a->n, shift_apply, c, a->max_block, plain_free, 0};
    return HESSE_OK;
}

/* ---- Combination alpha A + beta B --------------------------------------------------------- */

typedef struct {
    hesse_op a, b;
    double alpha, beta;
    double *bx; /* n x k scratch for B X */
    size_t bx_cap;
} combine_ctx;

static int combine_apply(void *ctx, int k, const double *X, double *Y) {
    combine_ctx *c = ctx;
    size_t len = (size_t)c->a.n * k;
    int rc = ensure_scratch(&c->bx, &c->bx_cap, len);
    if (rc != HESSE_OK) return rc;
    rc = c->a.apply(c->a.ctx, k, X, Y);
    if (rc != HESSE_OK) return rc;
    rc = c->b.apply(c->b.ctx, k, X, c->bx);
    if (rc != HESSE_OK) return rc;
    for (size_t i = 0; i < len; i++) Y[i] = c->alpha * Y[i] + c->beta * c->bx[i];
    return HESSE_OK;
}

static void combine_free(void *ctx) {
    combine_ctx *c = ctx;
    if (!c) return;
    hesse_free(c->bx);
    hesse_free(c);
}

int hesse_op_combine(const hesse_op *a, double alpha, const hesse_op *b, double beta,
                     hesse_op *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_op_combine: out is NULL");
    *out = (hesse_op){0};
    int rc = check_base(a, "hesse_op_combine (A)");
    if (rc == HESSE_OK) rc = check_base(b, "hesse_op_combine (B)");
    if (rc != HESSE_OK) return rc;
    if (a->n != b->n)
        return hesse_error(HESSE_EINVAL, "hesse_op_combine: dimensions differ (%lld vs %lld)",
                           (long long)a->n, (long long)b->n);
    combine_ctx *c = hesse_calloc(1, sizeof *c);
    if (!c) return HESSE_ENOMEM;
    c->a = *a;
    c->a.free_ctx = NULL;
    c->b = *b;
    c->b.free_ctx = NULL;
    c->alpha = alpha;
    c->beta = beta;
    *out =
        (hesse_op){a->n, combine_apply, c, min_block(a->max_block, b->max_block), combine_free, 0};
    return HESSE_OK;
}

/* ---- Diagonal scaling D A D ----------------------------------------------------------------- */

typedef struct {
    hesse_op a;
    const double *d; /* borrowed, length n */
    double *dx;      /* n x k scratch: D X */
    size_t dx_cap;
} scale_ctx;

static int scale_apply(void *ctx, int k, const double *X, double *Y) {
    scale_ctx *c = ctx;
    const int64_t n = c->a.n;
    int rc = ensure_scratch(&c->dx, &c->dx_cap, (size_t)n * k);
    if (rc != HESSE_OK) return rc;
    for (int j = 0; j < k; j++)
        for (int64_t i = 0; i < n; i++) c->dx[(size_t)j * n + i] = c->d[i] * X[(size_t)j * n + i];
    rc = c->a.apply(c->a.ctx, k, c->dx, Y);
    if (rc != HESSE_OK) return rc;
    for (int j = 0; j < k; j++)
        for (int64_t i = 0; i < n; i++) Y[(size_t)j * n + i] *= c->d[i];
    return HESSE_OK;
}

static void scale_free(void *ctx) {
    scale_ctx *c = ctx;
    if (!c) return;
    hesse_free(c->dx);
    hesse_free(c);
}

int hesse_op_scale(const hesse_op *a, const double *d, hesse_op *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_op_scale: out is NULL");
    *out = (hesse_op){0};
    int rc = check_base(a, "hesse_op_scale");
    if (rc != HESSE_OK) return rc;
    if (!d) return hesse_error(HESSE_EINVAL, "hesse_op_scale: the diagonal d is NULL");
    scale_ctx *c = hesse_calloc(1, sizeof *c);
    if (!c) return HESSE_ENOMEM;
    c->a = *a;
    c->a.free_ctx = NULL;
    c->d = d;
    *out = (hesse_op){a->n, scale_apply, c, a->max_block, scale_free, 0};
    return HESSE_OK;
}

/* ---- Restriction P^T A P to coordinate ranges ------------------------------------------- */

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
    *out = (hesse_op){m, restrict_apply, c, a->max_block, restrict_free, 0};
    return HESSE_OK;
}
