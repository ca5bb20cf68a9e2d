/* hesse/op.h: the linear operator every solver runs against, and its algebra.
 *
 * Room (DESIGN.md, layer op/ between core/ and data/): this header owns `hesse_op` (the block
 * callback of "The operator contract"), its one counted application, operators made from
 * explicit matrices (dense, diagonal), operators made from others (restriction to a subset of
 * coordinates, projection deflation, shift, linear combination, diagonal scaling D A D) and
 * materialisation of an operator as a dense matrix. It knows nothing of networks or data: it uses
 * core.h only. Curvature operators of a network are made in curv.h; solvers over operators are in
 * spectral.h.
 *
 * Ownership: an operator made here owns its context: release it with hesse_op_free. An
 * operator built on another (restrict, deflate, shift, combine) borrows the base, and one
 * made from a matrix borrows the matrix: those must outlive the result.
 * Thread safety: applying an operator may use scratch kept in its context, so one operator
 * (and the operators built on it) must not be applied from two threads at once; distinct
 * operators over distinct bases may. */
#ifndef HESSE_OP_H
#define HESSE_OP_H

#include <hesse/export.h>
#include <hesse/core.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The operator ------------------------------------------------------------------------
 * Everything spectral runs against one block callback (DESIGN.md, "The operator contract"):
 * Y = A X for X, Y of n rows and k columns, column-major with leading dimension n. */
typedef int (*hesse_matvec_fn)(void *ctx, int k, const double *X, double *Y);
/* A plain value: copies share ctx, so exactly one copy is released (and only when it owns
 * ctx, free_ctx != NULL); a copy with free_ctx = NULL borrows it. */
typedef struct {
    int64_t n;             /* dimension */
    hesse_matvec_fn apply; /* returns HESSE_OK or a status (with hesse_error detail) */
    void *ctx;
    int max_block;               /* largest k one call accepts; 0 = any */
    void (*free_ctx)(void *ctx); /* releases ctx in hesse_op_free; NULL: ctx is borrowed */
    int checks_finite; /* 1: apply itself fails (HESSE_ENUMERIC, with a diagnosis) when an output
                          is not finite, so hesse_op_apply does not scan it again; 0: it does */
} hesse_op;

/* Releases an operator's context (when it owns one) and zeroes the struct. NULL-safe. */
HESSE_API void hesse_op_free(hesse_op *op);

/* What applying an operator has cost so far. */
typedef struct {
    int64_t products; /* matrix-vector products: a block of k counts k */
    int64_t calls;    /* callback invocations */
    double seconds;   /* wall time inside the callback */
} hesse_op_stats;

/* The one counted way to apply an operator: splits X into blocks of at most max_block
 * columns, adds k to stats->products and the time taken to stats->seconds (stats may be
 * NULL), and fails with HESSE_ENUMERIC if any output entry is not finite (scanned here unless the
 * operator checks its own outputs: op->checks_finite). */
HESSE_API int hesse_op_apply(const hesse_op *op, int k, const double *X, double *Y,
                             hesse_op_stats *stats);

/* ---- Operators from matrices ------------------------------------------------------------ */

/* Y = A X for an explicit symmetric n x n matrix A (column-major, borrowed). */
HESSE_API int hesse_op_dense(int64_t n, const double *A, hesse_op *out);
/* Y = diag(d) X (d borrowed). */
HESSE_API int hesse_op_diag(int64_t n, const double *d, hesse_op *out);

/* ---- Operators from operators -----------------------------------------------------------
 * A product of the result is counted once, by the caller's hesse_op_apply (the bases' own
 * calls inside are not counted again); the result's max_block is the base's (the smaller of
 * two for combine). */

/* Y = P A P X with P = I - U U^T: A restricted to the complement of the m orthonormal
 * columns of U (n x m, column-major, borrowed). Used to study the bulk without outliers. */
HESSE_API int hesse_op_deflate(const hesse_op *a, int m, const double *U, hesse_op *out);
/* Y = A X + sigma X. */
HESSE_API int hesse_op_shift(const hesse_op *a, double sigma, hesse_op *out);
/* Y = alpha A X + beta B X (same n). */
HESSE_API int hesse_op_combine(const hesse_op *a, double alpha, const hesse_op *b, double beta,
                               hesse_op *out);

/* Y = D A D X with D = diag(d) (d borrowed, length n, the base's dimension): a symmetric
 * diagonal scaling of A. With d = P^{-1/2} for a positive diagonal preconditioner P, the
 * eigenvalues of D H D are those of P^{-1} H (similar matrices), e.g. Adam's preconditioned
 * Hessian. */
HESSE_API int hesse_op_scale(const hesse_op *a, const double *d, hesse_op *out);

/* Y = P^T A P X: A restricted to the coordinates in `count` ranges [offset[i], offset[i] +
 * length[i]) of its n (sorted, not overlapping; copied). The result has dimension
 * sum(length). Used for layer blocks of a network's curvature. */
HESSE_API int hesse_op_restrict(const hesse_op *a, int count, const int64_t *offset,
                                const int64_t *length, hesse_op *out);

/* ---- Materialisation -------------------------------------------------------------------- */

/* HESSE_OK when `copies` dense n x n matrices (n^2 doubles each) fit in `budget` bytes (0: the
 * memory available now); HESSE_ENOMEM with a message naming n, the GiB needed and the budget
 * otherwise; HESSE_EINVAL for n <= 0. */
HESSE_API int hesse_dense_check_memory(int64_t n, int copies, uint64_t budget);

/* The dense matrix of an operator, A (n x n, column-major, caller's), assembled from products
 * with blocks of `block` unit vectors (block <= 0: 64) and symmetrised as (A + A^T) / 2, so
 * that either triangle may be read. Costs n products. Reports progress as task "dense"
 * (columns done). *asymmetry receives max |A - A^T| / max |A| before symmetrising (may be
 * NULL): for an exact Hessian this is rounding, ~1e-15. */
HESSE_API int hesse_op_to_dense(const hesse_op *op, int block, double *A, double *asymmetry,
                                hesse_op_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_OP_H */
