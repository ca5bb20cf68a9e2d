/* hesse/analysis.h: the measurements of the four research lines (PAPERS.md beside DESIGN.md):
 * power-law spectra (Xie et al.), the class-mean hierarchy of outliers (Papyan 2019),
 * sample-size dynamics (Papyan 2018), and the Kronecker decoupling of layer Hessians (Wu et
 * al.), plus the subspace tools they share.
 *
 * Room: analysis/ composes operators (curv/) and solvers (spectral/) into the papers'
 * quantities; it never reaches into a network's passes. Ownership: results with arrays are
 * released with their *_free; a bare array returned through a pointer (hesse_class_spectrum's
 * values) is the caller's, released with hesse_free. Threads: a call uses the engine it is
 * given, which is not thread-safe (hesse/nn.h), and nothing else shared. */
#ifndef HESSE_ANALYSIS_H
#define HESSE_ANALYSIS_H

#include <hesse/export.h>
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
HESSE_API double hesse_subspace_overlap(int64_t n, int k1, const double *V1, int k2,
                                        const double *V2);

/* The largest relative gap in a descending list: the k in [1, count) maximising
 * lambda_k / lambda_{k+1} over positive values (1-based: the first k values are outliers), and
 * that ratio. Returns 0 when fewer than two positive values. */
HESSE_API int hesse_outlier_count(const double *desc, int count, double *gap_ratio);

/* ---- Power law (Xie et al.) ------------------------------------------------------------ */
/* (section owned by analysis/powerlaw.c) */

/* A power law fitted to the K positive values lambda_1 >= ... >= lambda_K (PAPERS.md
 * section 1): the rank law lambda_k ~ lambda_1 k^(-s) by least squares, the density law
 * p(lambda) ~ lambda^(-beta) by maximum likelihood with x_min = lambda_K (Clauset, Shalizi,
 * Newman, SIAM Review 51(4), 2009), and the Kolmogorov-Smirnov test of the latter. */
typedef struct {
    int K;               /* positive values fitted */
    int dropped;         /* non-positive values left out */
    double lambda_max;   /* lambda_1 */
    double lambda_min;   /* lambda_K, the lower cut-off x_min */
    double s_ls;         /* -slope of ln lambda_k on ln k (least squares) */
    double intercept_ls; /* its intercept: ln lambda_k ~ intercept_ls - s_ls ln k */
    double r2_ls;        /* coefficient of determination of that line */
    double beta;         /* 1 + K / sum_k ln(lambda_k / lambda_K) */
    double beta_stderr;  /* (beta - 1) / sqrt(K) */
    double s_mle;        /* 1 / (beta - 1) */
    double d_ks;         /* sup |empirical CDF - (1 - (lambda / lambda_K)^(1 - beta))| */
    double d_c;          /* 1.36 / sqrt(K), the 5% critical distance */
    int accepted;        /* d_ks < d_c */
} hesse_powerlaw;

/* Fits a power law to `count` values in any order (not modified; non-positive ones are
 * dropped and counted in out->dropped). HESSE_EINVAL when a value is not finite, when fewer
 * than 3 are positive, or when the positive values are all equal (no slope to fit). */
HESSE_API int hesse_powerlaw_fit(const double *lambda, int count, hesse_powerlaw *out);

/* ---- Class means (Papyan 2019) --------------------------------------------------------- */
/* (section owned by analysis/classes.c)
 *
 * For softmax cross-entropy the Gauss-Newton matrix is a second moment (PAPERS.md sec. 4):
 *   G = (1/N) sum_i sum_c' delta_{i,c'} delta_{i,c'}^T,  delta_{i,c'} = sqrt(p_{i,c'}) J_i^T (e_c'
 * - p_i) (for MSE over C outputs, A = (2/C) I and delta_{i,c'} = sqrt(2/C) J_i^T e_c'). With the
 * class means delta_{c,c'} over the samples of true class c and weights pi_c = N_c / N,
 *   G = G_means + G_within,  G_means = sum_c pi_c sum_c' delta_{c,c'} delta_{c,c'}^T,
 * G_means = G_class (c' = c) + G_cross (c' != c), G_within the weighted within-class
 * covariances. */

typedef struct {
    int C;           /* classes (the model's outputs) */
    int64_t n;       /* parameters */
    int64_t *counts; /* [C] samples per class */
    double *pi;      /* [C] N_c / N */
    double *delta;   /* n x C^2, column c * C + c' = delta_{c,c'} (zero for an empty class) */
    int64_t passes;  /* backward passes over a class's samples, C per class */
} hesse_class_means;

/* The C^2 means by C backward passes over the samples of each class (so C passes over the
 * data): the backward pass with output gradients sqrt(p_c') (e_c' - p) sums J_i^T g_i. A model
 * with fewer than 2 outputs is HESSE_EINVAL. */
HESSE_API int hesse_class_means_compute(hesse_engine *e, const hesse_samples *s,
                                        hesse_class_means *out);
HESSE_API void hesse_class_means_free(hesse_class_means *cm);

typedef enum { HESSE_MEANS_ALL = 0, HESSE_MEANS_CLASS = 1, HESSE_MEANS_CROSS = 2 } hesse_means_part;

/* The nonzero spectrum of G_means (or its class / cross part) without n x n algebra: the
 * eigenvalues of the Gram matrix S^T S of the stacked means S = [sqrt(pi_c) delta_{c,c'}],
 * descending; *count = C^2, C or C(C-1). With basis (n x k, may be NULL) the k leading
 * eigenvectors of that part, S u / sqrt(lambda) ("averaging", Papyan 2019 sec. 5). *values
 * is the caller's: release it with hesse_free. */
HESSE_API int hesse_class_spectrum(const hesse_class_means *cm, hesse_means_part part,
                                   double **values, int *count, int k, double *basis);

/* G_means (or a part) as an operator v -> S (S^T v); cm is borrowed. */
HESSE_API int hesse_op_class_means(const hesse_class_means *cm, hesse_means_part part,
                                   hesse_op *out);

/* ---- Kronecker decoupling (Wu et al.) -------------------------------------------------- */
/* (section owned by analysis/kronecker.c)
 *
 * Wu, Zhu, Wu, Wang, Ge, "Dissecting Hessian" (arXiv:2010.04261): a layer's weight Hessian is
 * close to E[M] (x) E[x x^T] (hesse_layer_factors, nn.h). Its eigenvalues are the products
 * mu_a nu_b of the factors' eigenvalues and its eigenvectors u_a (x) w_b, which in hesse's
 * row-major vec(W) (index o * in + j) is the out x in matrix u_a w_b^T: rank one. */

typedef struct {
    int layer;                      /* index into the model's layers */
    int64_t out, in;                /* E[M] is out x out, E[x x^T] in x in */
    int M_exact;                    /* see hesse_layer_factors */
    double *M_values, *xx_values;   /* descending */
    double *M_vectors, *xx_vectors; /* column-major, column j for value j */
} hesse_kron_layer;

/* Eigen-decomposes both factors (copied; f is not modified). */
HESSE_API int hesse_kron_layer_from_factors(const hesse_layer_factors *f, hesse_kron_layer *out);
HESSE_API void hesse_kron_layer_free(hesse_kron_layer *kl);

/* The k largest eigenvalues of E[M] (x) E[x x^T] (descending; ties by factor index) and,
 * when vectors is not NULL, their eigenvectors (out*in x k, column-major, in vec(W) order). */
HESSE_API int hesse_kron_top(const hesse_kron_layer *kl, int k, double *values, double *vectors);

/* sigma_1^2 / sum_j sigma_j^2 of the vector v reshaped as a row-major rows x cols matrix: 1
 * for a rank-one matrix, 1/min(rows, cols) at the other extreme. NAN for a zero vector or
 * when the SVD fails. */
HESSE_API double hesse_rank_one_ratio(const double *v, int64_t rows, int64_t cols);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_ANALYSIS_H */
