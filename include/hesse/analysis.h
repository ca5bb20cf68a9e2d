/* hesse/analysis.h: the measurements of the four research lines (PAPERS.md beside DESIGN.md):
 * power-law spectra (Xie et al.), the class-mean hierarchy of outliers (Papyan 2019),
 * sample-size dynamics (Papyan 2018), and the Kronecker decoupling of layer Hessians (Wu et
 * al.), block heterogeneity (Zhang et al. 2024), the Hessian tracked along training (Cohen et
 * al. 2021, 2022), plus the subspace tools they share.
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

#include <cjson/cJSON.h>

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

/* ---- Edge of stability (Cohen et al. 2021, 2022) ----------------------------------------- */
/* (section owned by analysis/edge.c) */

/* The verdict on a tracked sharpness series against its stability threshold (PAPERS.md, "Edge
 * of stability"): 2/eta for gradient descent, (2 + 2 beta1)/((1 - beta1) eta) for Adam's
 * preconditioned sharpness. The ratio r_i = sharpness[i] / threshold[i] (lambda_1 eta / 2 for
 * GD); the edge is reached at the first i with r_i >= 1 - band, and the run is "at the edge"
 * when every r from there on lies in [1 - band, 1 + band]. Cohen et al. report the sharpness
 * hovering just above the threshold; band 0.1 is issue 20's +-10 %. */
typedef struct {
    int64_t first;    /* first measurement with r >= 1 - band, or -1: never reached */
    int64_t argmax;   /* measurement of the largest r (-1: no usable point) */
    double max_ratio; /* the largest r over the series (NaN: no usable point) */
    double min_after; /* the smallest and largest r from `first` on (NaN when never reached) */
    double max_after;
    int64_t points; /* usable measurements: finite sharpness, finite threshold > 0 */
    int at_edge;    /* reached, and [min_after, max_after] within [1 - band, 1 + band] */
} hesse_edge_verdict;

/* The verdict over n measurements (sharpness[i], threshold[i]); measurements with a
 * non-finite sharpness or a threshold that is not finite and positive are skipped (a series
 * without a value at some step). HESSE_EINVAL for NULL arrays with n > 0, n < 0, NULL v or
 * band outside (0, 1). */
HESSE_API int hesse_edge_of_stability(const double *sharpness, const double *threshold, int64_t n,
                                      double band, hesse_edge_verdict *v);

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
/* The rank curve that the likelihood fit implies, lambda_K (k / K)^(-s_mle): the expected
 * k-th largest of K draws from the fitted density law above x_min = lambda_K (its upper tail
 * (x / lambda_K)^(1 - beta) = k / K). It passes through (K, lambda_K) by construction. NaN when
 * f has no positive lambda_K or no finite s_mle. */
HESSE_API double hesse_powerlaw_mle_rank(const hesse_powerlaw *f, double k);

/* The solver's accuracy over many decades. An eigenvalue from Lanczos at tolerance tol is off
 * by at most its residual, tol ||A||, so the smallest fitted one, lambda_K, is known to
 * tol ||A|| / lambda_K relatively: over more than a few decades that is no longer small and the
 * fit moves with it. hesse_powerlaw_eigs solves at tol, and while tol ||A|| / lambda_K exceeds
 * HESSE_POWERLAW_ACCURACY solves again at half that accuracy's tolerance, 0.5e-3 lambda_K /
 * ||A|| (at most 3 times); it refuses (HESSE_ENUMERIC, saying why) when that tolerance would
 * be below HESSE_POWERLAW_TOL_MIN. */
#define HESSE_POWERLAW_ACCURACY 1e-3
#define HESSE_POWERLAW_TOL_MIN  1e-13

typedef struct {
    double tol_requested, tol_used;
    double limit;      /* HESSE_POWERLAW_ACCURACY */
    double accuracy;   /* tol_used ||A|| / lambda_K of the last solve */
    double lambda_min; /* lambda_K, the smallest positive value of the last solve */
    double anorm;      /* its ||A|| estimate */
    int tightened;     /* solves again at a smaller tolerance */
    int refused;       /* 1 when the needed tolerance is out of reach */
} hesse_powerlaw_guard;

/* Solves for the top values (descending in out->values[ntop], with residuals and anorm) at a
 * relative tolerance; out is released by the caller with hesse_eigs_free. */
typedef int (*hesse_powerlaw_solve_fn)(void *ctx, double tol, hesse_eigs *out);
HESSE_API int hesse_powerlaw_eigs(hesse_powerlaw_solve_fn solve, void *ctx, double tol,
                                  hesse_eigs *out, hesse_powerlaw_guard *g);

/* The fit's sensitivity to the eigenvalues' errors: the largest change of s_ls or s_mle over
 * three refits of the K fitted values desc (descending, positive) with residuals[K]: every
 * value moved down by its residual, every value moved up by it, and only the pairs whose
 * residual is within `bound` (tol ||A||: the converged ones) kept. */
HESSE_API int hesse_powerlaw_sensitivity(const double *desc, const double *residuals, int K,
                                         double bound, const hesse_powerlaw *f,
                                         double *s_sensitivity);

/* ---- Marchenko-Pastur bulk (Papyan 2018) ---------------------------------------------- */
/* (section owned by analysis/mpfit.c)
 *
 * The Marchenko-Pastur law with ratio gamma and scale sigma^2 (the eigenvalues of X X^T / m,
 * X p x m with iid entries of variance sigma^2, gamma = p / m): density
 * sqrt((b - x)(x - a)) / (2 pi sigma^2 gamma x) on [a, b] = sigma^2 (1 -+ sqrt(gamma))^2 and,
 * when gamma > 1, an atom 1 - 1/gamma at 0. Fitted to a measured spectral distribution (the
 * deflated bulk, Papyan 2018) by its first two moments, m1 = sigma^2 and m2 = sigma^4 (1 +
 * gamma), the atom at 0 included. */
typedef struct {
    double gamma, sigma2;             /* ratio and scale */
    double lambda_minus, lambda_plus; /* the edges a, b */
    double zero_mass;                 /* the atom at 0, max(0, 1 - 1/gamma) */
    double ks;          /* Kolmogorov-Smirnov distance sup_x |F_measured(x) - F_MP(x)| */
    double w1;          /* Wasserstein-1 distance: integral of |F_measured - F_MP| dx */
    double w1_relative; /* w1 / sigma2 (scale-free) */
    double tail_mass;   /* measured mass above lambda_plus (the law has none) */
} hesse_mp_law;

/* Two fits: by moments (gamma = m2 / m1^2 - 1, sigma^2 = m1), which a heavy tail inflates, and
 * the law at minimum KS distance (the one to read: a tail weighs at most its mass there). */
typedef struct {
    int fitted;           /* 0 when m1 <= 0 or m2 <= m1^2 (no MP law has them) */
    double m1, m2;        /* measured moments (mean of x and of x^2) */
    hesse_mp_law moments; /* the moment fit */
    hesse_mp_law ks;      /* the minimum-KS fit */
} hesse_mp_fit;

/* Fits the law to the distribution of count atoms x[i] with weights w[i] >= 0 (normalised
 * here). Moments that no law has leave out->fitted = 0 and HESSE_OK (m1, m2 filled). */
HESSE_API int hesse_mp_fit_atoms(int count, const double *x, const double *w, hesse_mp_fit *out);

/* The same over an SLQ density's quadrature: every probe's Gauss nodes and weights, each probe
 * counting 1 / probes (the moments are then Hutchinson estimates of tr(A)/n and tr(A^2)/n,
 * exact per probe for up to 2 steps - 1 >= 2). HESSE_EINVAL for a density without nodes (KPM). */
HESSE_API int hesse_mp_fit_density(const hesse_density *d, hesse_mp_fit *out);

/* The fitted law smoothed by a Gaussian of width sigma (as SLQ smooths its nodes), at
 * points grid values: out[i] = atom * N(grid[i]; 0, sigma) + integral of rho(x) N(grid[i]; x,
 * sigma) dx. */
HESSE_API int hesse_mp_curve(const hesse_mp_law *f, double sigma, int points, const double *grid,
                             double *out);

/* The law's CDF at x (atom included); NAN unless gamma > 0 and sigma2 > 0. */
HESSE_API double hesse_mp_cdf(double gamma, double sigma2, double x);

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

/* HESSE_OK when the model has one class per sample; HESSE_EINVAL "WHAT: the model's output is
 * a sequence ..." for a model with several output positions (hesse_model_positions > 1): the
 * class-mean decomposition, every per-class part and the C outliers of hesse samples need one
 * label a sample. */
HESSE_API int hesse_class_means_supported(const hesse_model *m, const char *what);
/* The C^2 means by C backward passes over the samples of each class (so C passes over the
 * data): the backward pass with output gradients sqrt(p_c') (e_c' - p) sums J_i^T g_i. A model
 * with fewer than 2 outputs, or a sequence model (hesse_class_means_supported), is
 * HESSE_EINVAL. */
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

/* The additive two-way structure of the C^2 means (Papyan 2019: "these means possess an
 * additive two-way structure"): delta_{c,c'} = mu + a_c + b_c' + r_{c,c'}, the two-way analysis
 * of variance with G_means' own weights pi_c on the true class c and equal weights on the label
 * c' (so mu = sum_c pi_c (1/C) sum_c' delta_{c,c'}, a_c = (1/C) sum_c' delta_{c,c'} - mu,
 * b_c' = sum_c pi_c delta_{c,c'} - mu, r the rest; sum_c pi_c a_c = sum_c' b_c' = 0 and r sums
 * to 0 along both indices). The four terms are orthogonal under those weights, so both
 *   tr G_means = sum_c pi_c sum_c' ||delta_{c,c'}||^2
 *              = C ||mu||^2 + C sum_c pi_c ||a_c||^2 + sum_c' ||b_c'||^2
 *                + sum_c pi_c sum_c' ||r_{c,c'}||^2
 * and G_means = C mu mu^T + C sum_c pi_c a_c a_c^T + sum_c' b_c' b_c'^T + sum pi_c r r^T hold
 * exactly. Also Papyan's own split of G_means (the paper's code: G_0, G_1, G_2): the class
 * terms c' = c, and G_cross = G_1 + G_2 with delta_c the mean of delta_{c,c'} over c' != c,
 * G_1 = sum_c pi_c (C - 1) delta_c delta_c^T and G_2 = sum_c pi_c sum_{c' != c} (delta_{c,c'} -
 * delta_c)(delta_{c,c'} - delta_c)^T. All are traces (sums of squares) in long double. */
typedef struct {
    double total;             /* tr G_means, exactly: the weighted sum of squared norms */
    double grand_mean;        /* C ||mu||^2 */
    double class_effect;      /* C sum_c pi_c ||a_c||^2 (true class c) */
    double label_effect;      /* sum_c' ||b_c'||^2 (label / logit c') */
    double interaction;       /* sum_c pi_c sum_c' ||r_{c,c'}||^2 */
    double class_terms;       /* tr G_class = sum_c pi_c ||delta_{c,c}||^2 (Papyan's G_0) */
    double cross_class_means; /* tr G_1 */
    double cross_deviations;  /* tr G_2; tr G_cross = tr G_1 + tr G_2 */
} hesse_means_twoway;

HESSE_API int hesse_class_means_twoway(const hesse_class_means *cm, hesse_means_twoway *out);

/* The spectral density of G_means (or its class / cross part) exactly: its nonzero eigenvalues
 * (hesse_class_spectrum) at 1/n each and zero at (n - k)/n, drawn as SLQ draws its Ritz values
 * (hesse_density_points: the same Gaussian width, grid and support rules; p's sigma, points,
 * margin, lo, hi, eps). No products. */
HESSE_API int hesse_class_density(const hesse_class_means *cm, hesse_means_part part,
                                  const hesse_slq_params *p, hesse_density *out);

/* ---- Kronecker decoupling (Wu et al.) -------------------------------------------------- */
/* (section owned by analysis/kronecker.c)
 *
 * Wu, Zhu, Wu, Wang, Ge, "Dissecting Hessian" (arXiv:2010.04261): a layer's weight Hessian is
 * close to E[M] (x) E[x x^T] (hesse_layer_factors, nn.h). Its eigenvalues are the products
 * mu_a nu_b of the factors' eigenvalues and its eigenvectors u_a (x) w_b, which in hesse's
 * row-major vec(W) (index o * in + j) is the out x in matrix u_a w_b^T: rank one. */

/* Whether E[x x^T] is dominated by E[x] E[x]^T (Wu et al., sec. 4: the reason top eigenspaces
 * of layer Hessians agree across seeds), with m = E[x] and S = E[x x^T] (S - m m^T is the
 * covariance, positive semidefinite, so both ratios lie in [0, 1]):
 *   ratio_fro = ||m m^T||_F / ||S||_F = |m|^2 / ||S||_F,
 *   ratio_2   = ||m m^T||_2 / ||S||_2 = |m|^2 / lambda_max(S),
 *   overlap   = |<u_1, m / |m|>|, u_1 the top eigenvector of S.
 * All NAN when m is zero or not known. */
typedef struct {
    double norm; /* |E[x]| */
    double ratio_fro, ratio_2, overlap;
} hesse_mean_dominance;

typedef struct {
    int layer;                      /* index into the model's layers */
    int64_t out, in;                /* E[M] is out x out, E[x x^T] in x in */
    int M_exact;                    /* see hesse_layer_factors */
    hesse_factor_m M_kind;          /* the M asked for */
    double *M_values, *xx_values;   /* descending */
    double *M_vectors, *xx_vectors; /* column-major, column j for value j */
    hesse_mean_dominance mean;      /* from the factors' x_mean (NAN when it is NULL) */
} hesse_kron_layer;

/* The dominance measures of a mean m (in values) in the second moment S (in x in) whose top
 * eigenpair (lambda_1, u_1) is given. */
HESSE_API hesse_mean_dominance hesse_mean_dominance_of(int64_t in, const double *m, const double *S,
                                                       double lambda1, const double *u1);

/* Eigen-decomposes both factors (copied; f is not modified), and measures E[x]'s dominance. */
HESSE_API int hesse_kron_layer_from_factors(const hesse_layer_factors *f, hesse_kron_layer *out);
HESSE_API void hesse_kron_layer_free(hesse_kron_layer *kl);

/* The k largest eigenvalues of E[M] (x) E[x x^T] (descending; ties by factor index) and,
 * when vectors is not NULL, their eigenvectors (out*in x k, column-major, in vec(W) order). */
HESSE_API int hesse_kron_top(const hesse_kron_layer *kl, int k, double *values, double *vectors);

/* sigma_1^2 / sum_j sigma_j^2 of the vector v reshaped as a row-major rows x cols matrix: 1
 * for a rank-one matrix, 1/min(rows, cols) at the other extreme. NAN for a zero vector or
 * when the SVD fails. */
HESSE_API double hesse_rank_one_ratio(const double *v, int64_t rows, int64_t cols);

/* ---- Block heterogeneity (Zhang, Chen, Ding, Li, Sun, Luo, NeurIPS 2024) ---------------------
 * The parameters are split into blocks, each block's diagonal Hessian block H_bb gets an SLQ
 * density, its top eigenvalues and its trace; the densities, each rescaled by its block's
 * 10th largest eigenvalue, are compared pairwise by the Jensen-Shannon distance, and JS0 is
 * the mean over the pairs (docs/analyses.md gives the exact definition). */

/* How the parameters are grouped: every tensor; a layer's tensors together; or every tensor
 * with the fused attention projections (a tensor named "*in_proj_weight" of shape [3D, D],
 * or "*in_proj_bias" of shape [3D]) split into their Q, K and V row slices. */
typedef enum {
    HESSE_GROUP_TENSOR = 0,
    HESSE_GROUP_LAYER = 1,
    HESSE_GROUP_QKV = 2
} hesse_block_group;

/* "tensor", "layer", "qkv"; HESSE_EINVAL naming --group otherwise. */
HESSE_API int hesse_block_group_parse(const char *name, hesse_block_group *g);

enum { HESSE_BLOCK_MAX_RANGES = 8, HESSE_BLOCKS_MAX_POINTS = 1000000 };
/* One block: coordinates [offset[i], offset[i] + length[i]) of the parameter vector. */
typedef struct {
    char name[HESSE_NAME_MAX + 8]; /* "3.weight", "3" (a layer), "0.in_proj_weight.q" */
    int first_tensor, ntensors;    /* the model's tensors it covers (hesse_model_tensor) */
    int slice;                     /* 0, 1, 2: Q, K, V slice of its tensor; -1: whole tensors */
    int nranges;
    int64_t offset[HESSE_BLOCK_MAX_RANGES], length[HESSE_BLOCK_MAX_RANGES];
    int64_t count; /* sum of length */
} hesse_param_block;

/* The blocks of m's parameters under g, in parameter order, in *blocks (the caller's:
 * hesse_free) and *count. HESSE_EINVAL for bad arguments, HESSE_ENOMEM. */
HESSE_API int hesse_param_blocks(const hesse_model *m, hesse_block_group g,
                                 hesse_param_block **blocks, int *count);
/* The same over a tensor table (hesse_model_tensor's entries, in parameter order; first_tensor
 * indexes it) with layer_names[t.layer] naming a layer block (needed for HESSE_GROUP_LAYER
 * only, else may be NULL). */
HESSE_API int hesse_param_blocks_of(const hesse_tensor_info *tensors, int count_tensors,
                                    const char *const *layer_names, hesse_block_group g,
                                    hesse_param_block **blocks, int *count);

/* The Jensen-Shannon distance between two discrete distributions over the same n points,
 * each given up to a positive factor (p and q are divided by their sums here):
 * sqrt(JSD), JSD = (KL(p||m) + KL(q||m)) / 2, m = (p + q) / 2, natural logarithm, 0 log 0 = 0;
 * in [0, sqrt(ln 2)], sqrt(ln 2) for disjoint supports. scipy.spatial.distance.jensenshannon
 * with its default base. NAN when either sums to zero or has a negative or non-finite value. */
HESSE_API double hesse_js_distance(int64_t n, const double *p, const double *q);

/* The density of d's quadrature (every probe's Ritz nodes with their weights, averaged over
 * the probes) after dividing the eigenvalue axis by `scale` (> 0): a Gaussian of absolute
 * width sigma at each node / scale, on `points` grid values, normalised to integrate to 1
 * over the grid (trapezoid rule). HESSE_EINVAL when d has no quadrature, scale <= 0 or
 * sigma <= 0, or nothing of the density lands on the grid. */
HESSE_API int hesse_density_rescaled(const hesse_density *d, double scale, int points,
                                     const double *grid, double sigma, double *out);

typedef struct {
    int probes, steps; /* SLQ per block (default 10, 80; steps capped by the block's size) */
    int rank;          /* normalise by the rank-th largest eigenvalue (default 10) */
    int points;        /* the common grid of the rescaled densities (default 4000) */
    double sigma;      /* their Gaussian width, a fraction of the common grid (default 0.002) */
    double width;      /* > 0: instead, the width in units of lambda_k for every block, and
                          points = (hi - lo) / (width / 5) + 1, at most HESSE_BLOCKS_MAX_POINTS
                          (default 0) */
    double margin;     /* the common grid's widening each side, of its width (default 0.05) */
    int trace_samples; /* Hutch++ products; the exact trace when the block has <= this many
                          parameters (default 99) */
    double tol;        /* Lanczos tolerance of the top eigenvalues (default 1e-8) */
    int dense_below;   /* top eigenvalues from the dense block up to this size (default 64) */
    uint64_t seed;     /* every block's probes and start vectors (default 0) */
    void (*monitor)(void *ctx, int index, int count, const hesse_param_block *b);
    void *monitor_ctx; /* monitor: called before each block; may be NULL */
} hesse_blocks_params;
HESSE_API hesse_blocks_params hesse_blocks_defaults(void);

typedef struct {
    hesse_param_block def;
    hesse_density density;    /* the block's SLQ density on its own grid */
    hesse_eigs top;           /* its top min(rank, count) eigenvalues with residuals */
    double lambda_ref;        /* the rank-th largest eigenvalue; NAN when the block has fewer */
    hesse_trace_result trace; /* exact (trace_exact) or Hutch++ */
    int trace_exact;
    int included;         /* in the JS matrix */
    const char *excluded; /* why not (a static string), NULL when included */
    double *rescaled;     /* [points] on the common grid; NULL when excluded */
    int64_t products;
    double seconds;
} hesse_block_result;

typedef struct {
    int count;
    hesse_block_result *blocks;
    int rank, points;     /* points: of the common grid (p->points, or from p->width) */
    double lo, hi, sigma; /* the common grid (in units of each block's lambda_ref) and width */
    double *grid;         /* [points]; NULL when fewer than 2 blocks are included */
    double *js;           /* count x count, row-major; NAN where a block is excluded */
    int pairs;            /* included pairs i < j */
    double js0;           /* mean of js over the pairs; NAN when there are none */
    int64_t products;
    double seconds;
} hesse_blocks;
HESSE_API void hesse_blocks_free(hesse_blocks *b);

/* Zhang et al.'s block heterogeneity over `full` (a curvature operator of all parameters, n =
 * the model's parameter count; blocks from hesse_param_blocks). A block is left out of the JS
 * matrix when it has fewer than rank parameters or its rank-th largest eigenvalue is not above
 * tol x |its largest| (zero to the solver's accuracy; excluded says which). Fills *out (release
 * with hesse_blocks_free). Errors: the operator's and the solvers'; HESSE_EINVAL for bad arguments
 * (a block outside [0, n)). */
HESSE_API int hesse_blocks_compute(const hesse_op *full, const hesse_param_block *blocks, int count,
                                   const hesse_blocks_params *p, hesse_blocks *out);

/* ---- Tracking the Hessian during training (Cohen et al. 2021, 2022) ----------------------
 * (section owned by analysis/track.c)
 *
 * A tracker measures a sequence of operators H_0, H_1, ... (the Hessian at the parameters of
 * successive training steps; it sees operators only, the caller builds them): per measurement
 * the top-k and bottom-b eigenvalues with explicit residuals, optionally the Hutch++ trace, a
 * power-law fit of the top K2 and the top-k of the preconditioned Hessian D H D, D = P^{-1/2}
 * (eig(D H D) = eig(P^{-1} H); Adam's P, Cohen et al. 2022). Every Lanczos run (top, bottom,
 * preconditioned, power law: four series, each its own) starts from that series' Ritz vectors
 * of the previous measurement (hesse_lanczos_params.start), so a slowly moving spectrum costs
 * few products; with `cold` each run is repeated from a random start and its products and
 * seconds are recorded beside (the values reported are the warm run's).
 *
 * Lanczos settings, the same for the warm and the cold runs: tolerance `tol` (relative to
 * ||H||, default 1e-8), explicit residuals (one final block product, reported per value),
 * convergence checked after every step (check_every = 1), verify = 0 (no fresh-start search
 * for missed copies of a repeated eigenvalue: a warm start already spans the previous
 * eigenvectors; `verify` in the spec turns the check on, for both). Seeds depend on
 * hesse_track_params.seed, the series and the measurement index only, so a run is deterministic and
 * a tracker restored from its state continues bit for bit. */

/* `--track SPEC`: comma-separated items (hesse_track_parse):
 *   every=K         measure every K optimizer steps (required), at step 0 and the last step
 *   top=k           top-k eigenvalues (default 1)          bottom=b   bottom-b (default 0)
 *   trace           Hutch++ trace with its standard error  probes=N   its products (99)
 *   powerlaw=K2     power-law fit of the top K2 (>= 3)     samples=N  measurement subset
 *   preconditioned  top-k of P^{-1/2} H P^{-1/2} (Adam)    cold       also from random starts
 *   tol=T           Lanczos tolerance (1e-8)               verify     Lanczos' fresh-start check
 *   seed=S          start vectors and probes (0) */
typedef struct {
    int every;          /* >= 1 */
    int top;            /* >= 1 */
    int bottom;         /* >= 0 */
    int trace;          /* 0 / 1 */
    int probes;         /* Hutch++ products when trace (>= 4; default 99) */
    int powerlaw;       /* K2: 0 (none) or >= 3 */
    int64_t samples;    /* measurement subset size; 0: the caller's default (not read here) */
    int preconditioned; /* 0 / 1 */
    int cold;           /* 0 / 1 */
    int verify;         /* 0 / 1 (default 0) */
    double tol;         /* in (0, 1) (default 1e-8) */
    uint64_t seed;      /* default 0 */
} hesse_track_params;

/* every = 1, top = 1, probes = 99, tol = 1e-8, everything else 0. */
HESSE_API hesse_track_params hesse_track_defaults(void);

/* Parses a spec into *p (starting from hesse_track_defaults; *p is unchanged on error).
 * HESSE_EINVAL with a one-line message "option --track: ..." naming the bad item: an unknown
 * key, a value that is not a number or out of range, a flag given a value, an item given twice,
 * an empty item, probes= without trace, or a spec without every=. */
HESSE_API int hesse_track_parse(const char *spec, hesse_track_params *p);

/* The settings keys of a "tracking" object (docs/results.md): every, top, bottom, samples,
 * tol, trace, powerlaw, preconditioned, cold. The caller adds spec (the text parsed), sets
 * p->samples to the subset size used when it was 0, and adds the optimizer's keys. */
HESSE_API void hesse_track_params_json(const hesse_track_params *p, cJSON *tracking);

/* Whether step `step` (0 .. last) is measured: step 0, every multiple of every, and last. */
HESSE_API int hesse_track_due(const hesse_track_params *p, int64_t step, int64_t last);

/* One measurement. Arrays are the caller's (hesse_track_point_free releases them). */
typedef struct {
    int64_t index; /* 0-based measurement number of the tracker */
    int ntop, nbottom;
    double *top, *top_residuals;       /* [ntop], descending; ||H v - lambda v|| */
    double *bottom, *bottom_residuals; /* [nbottom], ascending */
    int nconverged;                    /* pairs of all Lanczos runs within tol ||H|| (of nwanted) */
    int nwanted;      /* ntop + nbottom (+ npreconditioned, + powerlaw_K when run) */
    int64_t products; /* every warm Lanczos run of this measurement: top, bottom, preconditioned,
                         power law (final residual blocks included; the trace not) */
    double seconds;   /* their wall time */
    int has_cold;     /* 1: the runs were repeated from random starts (cold) */
    int64_t products_cold; /* their products and seconds (0 otherwise) */
    double seconds_cold;
    int64_t top_products, bottom_products; /* parts of products (warm) */
    int has_trace;
    double trace, trace_se; /* Hutch++ estimate and its standard error */
    int64_t trace_products;
    int has_powerlaw;        /* 1: the top K2 were solved and fitted */
    int powerlaw_K;          /* values fitted (the positive ones of the top K2) */
    int powerlaw_ok;         /* 0 when the fit failed (fewer than 3 positive values, ...) */
    hesse_powerlaw powerlaw; /* the fit; s_mle is the reported s-hat (docs/analyses.md) */
    int64_t powerlaw_products, powerlaw_products_cold;
    int npreconditioned; /* top-k of D H D; 0 when not asked or no preconditioner was given */
    double *preconditioned, *preconditioned_residuals;
    int64_t preconditioned_products, preconditioned_products_cold;
} hesse_track_point;
HESSE_API void hesse_track_point_free(hesse_track_point *p);

/* A series row's measurement keys (docs/results.md, "tracking"): top, top_residuals,
 * products, seconds; bottom, bottom_residuals (bottom > 0); products_cold, seconds_cold
 * (cold); trace, trace_se, trace_products (trace); powerlaw_s (= s_mle), powerlaw_d_ks,
 * powerlaw_d_c, powerlaw_K (power law; null values when the fit failed); preconditioned,
 * preconditioned_residuals, preconditioned_products (when measured). The caller adds step,
 * epoch, loss, accuracy and lr. */
HESSE_API void hesse_track_point_json(const hesse_track_point *p, cJSON *row);

typedef struct hesse_tracker hesse_tracker;

/* A tracker of operators of dimension n; p is copied. HESSE_EINVAL when p is out of range or
 * asks for more eigenvalues than n (top + bottom, powerlaw). */
HESSE_API int hesse_tracker_create(int64_t n, const hesse_track_params *p, hesse_tracker **out);
HESSE_API void hesse_tracker_free(hesse_tracker *t);

/* Measures H (dimension n; borrowed for the call). precond: Adam's diagonal preconditioner P
 * (length n, entries > 0 and finite; borrowed), or NULL (no preconditioned values this time,
 * e.g. at step 0 before Adam's first step); read only when p.preconditioned. Fills *out (zeroed
 * first; release with hesse_track_point_free). Errors: the operator's, the solvers',
 * HESSE_EINVAL (dimension, a non-positive preconditioner entry). On error the tracker may
 * have updated some of its series: discard it. */
HESSE_API int hesse_tracker_measure(hesse_tracker *t, const hesse_op *H, const double *precond,
                                    hesse_track_point *out);

/* Totals over the measurements so far (restored by hesse_tracker_load). */
typedef struct {
    int64_t measurements;
    int64_t products, products_cold, trace_products;
    double seconds, seconds_cold;
} hesse_track_totals;
HESSE_API hesse_track_totals hesse_tracker_totals(const hesse_tracker *t);

/* The state a resumed run needs to continue bit for bit (measurement count, totals, every
 * series' Ritz vectors) as one byte blob in *blob (the caller's: hesse_free), *size bytes. */
HESSE_API int hesse_tracker_save(const hesse_tracker *t, void **blob, size_t *size);
/* Restores a saved state into a tracker created with the same n and params (HESSE_EINVAL
 * naming the first that differs); a blob that is not a tracker state, of another version, byte
 * order or size is HESSE_EINPUT. */
HESSE_API int hesse_tracker_load(hesse_tracker *t, const void *blob, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_ANALYSIS_H */
