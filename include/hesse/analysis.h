/* hesse/analysis.h: the measurements of the four research lines (PAPERS.md beside DESIGN.md):
 * power-law spectra (Xie et al.), the class-mean hierarchy of outliers (Papyan 2019),
 * sample-size dynamics (Papyan 2018), and the Kronecker decoupling of layer Hessians (Wu et
 * al.), plus the subspace tools they share. */
#ifndef HESSE_ANALYSIS_H
#define HESSE_ANALYSIS_H

#include <hesse/core.h>
#include <hesse/curv.h>
#include <hesse/nn.h>
#include <hesse/spectral.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Subspaces ------------------------------------------------------------------------------ */

/* Overlap of two subspaces given by orthonormal bases V1 (n x k1) and V2 (n x k2),
 * column-major: ||V1^T V2||_F^2 / min(k1, k2), in [0, 1] (1: one contains the other). */
double hesse_subspace_overlap(int64_t n, int k1, const double *V1, int k2, const double *V2);

/* The largest relative gap in a descending list: the k in [1, count) maximising
 * lambda_k / lambda_{k+1} over positive values (1-based: the first k values are outliers), and
 * that ratio. Returns 0 when fewer than two positive values. */
int hesse_outlier_count(const double *desc, int count, double *gap_ratio);

/* ---- Power law (Xie et al.) ------------------------------------------------------------ */
/* (section owned by analysis/powerlaw.c) */

/* ---- Class means (Papyan 2019) --------------------------------------------------------- */
/* (section owned by analysis/classes.c) */

/* ---- Kronecker decoupling (Wu et al.) -------------------------------------------------- */
/* (section owned by analysis/kronecker.c) */

#ifdef __cplusplus
}
#endif
#endif /* HESSE_ANALYSIS_H */
