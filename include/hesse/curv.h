/* hesse/curv.h: curvature products as linear operators (hesse_op, core.h), and the generic
 * operators built from others: explicit dense and diagonal matrices (for tests and small
 * problems), projection deflation, shifts and linear combinations.
 *
 * Operators made here own their context: release them with hesse_op_free. An operator built
 * on another (deflate, shift, combine) borrows it: the base must outlive the result. */
#ifndef HESSE_CURV_H
#define HESSE_CURV_H

#include <hesse/core.h>
#include <hesse/data.h>
#include <hesse/nn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Generic operators ------------------------------------------------------------------ */

/* Y = A X for an explicit symmetric n x n matrix A (column-major, borrowed). */
int hesse_op_dense(int64_t n, const double *A, hesse_op *out);
/* Y = diag(d) X (d borrowed). */
int hesse_op_diag(int64_t n, const double *d, hesse_op *out);
/* Y = P A P X with P = I - U U^T: A restricted to the complement of the m orthonormal
 * columns of U (n x m, column-major, borrowed). Used to study the bulk without outliers. */
int hesse_op_deflate(const hesse_op *a, int m, const double *U, hesse_op *out);
/* Y = A X + sigma X. */
int hesse_op_shift(const hesse_op *a, double sigma, hesse_op *out);
/* Y = alpha A X + beta B X (same n). */
int hesse_op_combine(const hesse_op *a, double alpha, const hesse_op *b, double beta,
                     hesse_op *out);

/* Y = P^T A P X: A restricted to the coordinates in `count` ranges [offset[i], offset[i] +
 * length[i]) of its n (sorted, not overlapping; copied). The result has dimension
 * sum(length). Used for layer blocks of a network's curvature. */
int hesse_op_restrict(const hesse_op *a, int count, const int64_t *offset, const int64_t *length,
                      hesse_op *out);

/* ---- Network curvature ------------------------------------------------------------------ */

/* The Hessian or GGN of the mean loss over s as an operator of dimension n_params; blocks
 * of up to the engine's max_block vectors per pass. Engine and samples are borrowed. */
int hesse_op_curvature(hesse_engine *e, const hesse_samples *s, hesse_curv_kind kind,
                       hesse_op *out);

/* Which parameter tensors a block specification selects: "3" (every tensor of nn.Sequential
 * index 3), "3.weight", or a comma-separated list of those. Fills sel[] with tensor indices
 * (hesse_model_tensor) in parameter order, at most cap of them; HESSE_EINPUT naming the
 * token and listing the model's tensors when one matches nothing. */
int hesse_select_tensors(const hesse_model *m, const char *spec, int *sel, int cap, int *count);

/* The restriction of `full` (a curvature operator over all of m's parameters) to the tensors
 * `spec` selects (hesse_select_tensors): *block (free with hesse_op_free), and the selected
 * tensors in parameter order in tensors[] (room for hesse_model_num_tensors(m)), *ntensors of
 * them. Neighbouring tensors form one range; at most 64 separate ranges (HESSE_EINVAL). */
int hesse_op_layer_block(const hesse_model *m, const hesse_op *full, const char *spec, int *tensors,
                         int *ntensors, hesse_op *block);

/* HESSE_OK when `copies` dense n x n matrices (n^2 doubles each) fit in `budget` bytes (0: the
 * memory available now); HESSE_ENOMEM with a message naming n, the GiB needed and the budget
 * otherwise; HESSE_EINVAL for n <= 0. */
int hesse_dense_check_memory(int64_t n, int copies, uint64_t budget);

/* The dense matrix of an operator, A (n x n, column-major), assembled from products with
 * blocks of `block` unit vectors and symmetrised as (A + A^T) / 2. Reports progress as task
 * "dense" (columns done). *asymmetry receives max |A - A^T| / max |A| before symmetrising
 * (may be NULL): for an exact Hessian this is rounding, ~1e-15. */
int hesse_dense_matrix(const hesse_op *op, int block, double *A, double *asymmetry,
                       hesse_op_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_CURV_H */
