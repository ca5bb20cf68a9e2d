/* hesse/curv.h: a network's curvature as linear operators (hesse_op, op.h).
 *
 * Room (DESIGN.md, layer curv/ above nn/): the network -> operator vocabulary: the Hessian, GGN,
 * residual and empirical Fisher of a loss as operators, and the parameter tensors a layer block
 * selects. The operator algebra (restriction, deflation, shift, combination, dense and diagonal
 * operators, materialisation) is generic and lives in op.h; solvers are in spectral.h. The
 * curvature kinds and their names (hesse_curv_kind) are the engine's, in nn.h.
 *
 * Ownership: an operator made here owns its context (release it with hesse_op_free) and borrows
 * the engine and the samples, which must outlive it. Thread safety: a curvature operator runs
 * the engine, whose scratch is shared: one product at a time per engine. */
#ifndef HESSE_CURV_H
#define HESSE_CURV_H

#include <hesse/export.h>
#include <hesse/data.h>
#include <hesse/nn.h>
#include <hesse/op.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Network curvature ------------------------------------------------------------------ */

/* The Hessian or GGN of the mean loss over s as an operator of dimension n_params; blocks
 * of up to the engine's max_block vectors per pass. Engine and samples are borrowed. */
HESSE_API int hesse_op_curvature(hesse_engine *e, const hesse_samples *s, hesse_curv_kind kind,
                                 hesse_op *out);

/* Which parameter tensors a block specification selects: "3" (every tensor of nn.Sequential
 * index 3), "3.weight", or a comma-separated list of those. Fills sel[] with tensor indices
 * (hesse_model_tensor) in parameter order, at most cap of them; HESSE_EINPUT naming the
 * token and listing the model's tensors when one matches nothing. */
HESSE_API int hesse_select_tensors(const hesse_model *m, const char *spec, int *sel, int cap,
                                   int *count);

/* The restriction of `full` (a curvature operator over all of m's parameters) to the tensors
 * `spec` selects (hesse_select_tensors): *block (free with hesse_op_free), and the selected
 * tensors in parameter order in tensors[] (room for hesse_model_num_tensors(m)), *ntensors of
 * them. Neighbouring tensors form one range; at most 64 separate ranges (HESSE_EINVAL). */
HESSE_API int hesse_op_layer_block(const hesse_model *m, const hesse_op *full, const char *spec,
                                   int *tensors, int *ntensors, hesse_op *block);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_CURV_H */
