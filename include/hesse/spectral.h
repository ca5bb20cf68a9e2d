/* hesse/spectral.h: eigensolvers and spectral estimators over an abstract symmetric operator
 * (hesse_op, op.h). Nothing here knows about networks.
 *
 * Room (DESIGN.md, layer spectral/): solvers that see only an operator. This header and its
 * sources use core.h and op.h alone, so they build and link without nn/ or data/ (CMake target
 * hesse_spectral: core + op + spectral). Deflation, shifts and explicit matrices for a solver
 * come from op.h; curvature operators of a network from curv.h.
 *
 *   dense      hesse_eigh / hesse_eigh_inplace (LAPACK dsyevd), hesse_dense_eigs (eigenpairs of
 *              a small operator), hesse_trace_exact; materialising an operator is
 *              hesse_op_to_dense (op.h)
 *   Lanczos    hesse_lanczos_tridiag (m steps), hesse_spectral_support,
 *              hesse_lanczos_eigs / hesse_lanczos_resume (thick restart, top / bottom / both)
 *   power      hesse_power_eigs (PyHessian's power iteration with deflation)
 *   densities  hesse_slq_density (stochastic Lanczos quadrature), hesse_kpm_density,
 *              hesse_density_points (known point masses, smoothed as SLQ smooths)
 *   trace      hesse_trace_hutchinson, hesse_trace_hutchpp
 *
 * Every product goes through hesse_op_apply, so every result reports `products` (a block
 * of k counts k) and the seconds spent in them. Runs are deterministic given `seed` (and a
 * fixed BLAS thread count). Results that own arrays are released with their *_free, which
 * accepts a zeroed struct; the caller owns them. The solvers never print: progress goes to a
 * monitor callback. Thread safety: a call keeps all its state in its arguments and its own
 * workspace; calls on distinct operators may run in parallel (see op.h for one operator). */
#ifndef HESSE_SPECTRAL_H
#define HESSE_SPECTRAL_H

#include <hesse/export.h>
#include <hesse/op.h>

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Dense ------------------------------------------------------------------------------ */

/* Eigen-decomposition of a symmetric n x n matrix A (column-major, not modified; its lower
 * triangle is read) by LAPACK dsyevd: w[n] receives the eigenvalues in ascending order and,
 * when V is not NULL, V (n x n) the orthonormal eigenvectors as columns. */
HESSE_API int hesse_eigh(int64_t n, const double *A, double *w, double *V);

/* Every eigenvalue of a symmetric n x n matrix A (column-major), ascending in w[n], in place:
 * with want_vectors A is overwritten by the orthonormal eigenvectors (columns), without it A is
 * destroyed; no further n x n memory is taken. Reads the upper triangle: LAPACK dsyevd 'U',
 * exactly the call `hesse dense` makes on the matrix of hesse_op_to_dense (values only), so its
 * numbers stay the same bit for bit (dsyevd's rounding depends on the triangle, and hesse_eigh
 * reads the lower one). HESSE_ENUMERIC "LAPACK dsyevd failed (info i)" when it fails. */
HESSE_API int hesse_eigh_inplace(int64_t n, double *A, double *w, int want_vectors);

/* The Euclidean norm sqrt(sum_i x_i^2) of count values (a matrix's Frobenius norm when x is
 * its entries), to about one rounding: the values are scaled by a power of two from the
 * largest |x_i| (no overflow or underflow, as LAPACK's dlassq) and the squares, each split
 * exactly by an fma into a rounded part and its error, are summed in double-double, so the
 * result does not lose digits with count as a naive running sum does (count * eps). 0 for
 * count <= 0; NAN when a value is NAN, INFINITY when one is infinite. */
HESSE_API double hesse_norm2(int64_t count, const double *x);

/* ---- Lanczos tridiagonalisation ---------------------------------------------------------- */

/* m steps of Lanczos from v0 (normalised here; NULL: a random normal start drawn from `seed`).
 * alpha[m] and beta[m] receive the tridiagonal T (beta[j] couples steps j and j+1; beta of
 * the last step is the residual norm). With reorth, every new vector is orthogonalised
 * against all earlier ones after the three-term recurrence: classical Gram-Schmidt by dgemv,
 * repeated once when the norm falls below 1/sqrt(2) of its value (Daniel, Gragg, Kaufman,
 * Stewart 1976); without it only the recurrence runs (and V may be NULL). V (n x m) receives
 * the basis when not NULL. On an invariant subspace (beta ~ 0) the run stops: *steps (may be
 * NULL) says how many were taken. */
HESSE_API int hesse_lanczos_tridiag(const hesse_op *op, const double *v0, uint64_t seed, int m,
                                    int reorth, double *alpha, double *beta, double *V, int *steps,
                                    hesse_op_stats *stats);

/* An interval that contains the spectrum with high probability: `steps` Lanczos steps
 * (<= 0: 30) from a random start, then [theta_min - r_min, theta_max + r_max] with r the
 * residual norms of the extreme Ritz pairs (each Ritz value is within r of an eigenvalue,
 * and the extreme Ritz values converge to the ends first). No margin is added. */
HESSE_API int hesse_spectral_support(const hesse_op *op, int steps, uint64_t seed, double *lo,
                                     double *hi, hesse_op_stats *stats);

/* ---- Eigenpairs: common result and progress ---------------------------------------------- */

/* Eigenpairs found by hesse_lanczos_eigs / hesse_power_eigs / hesse_dense_eigs. Values come top
 * first (descending), then bottom (ascending). */
typedef struct {
    int64_t n;
    int ntop, nbottom;         /* values[0 .. ntop) top, values[ntop .. ntop + nbottom) bottom */
    double *values;            /* [ntop + nbottom] */
    double *vectors;           /* n x (ntop + nbottom) column-major unit vectors, or NULL */
    double *residuals;         /* ||A v - lambda v|| per pair, see residuals_explicit */
    int residuals_explicit;    /* 1: computed from one final block product A V (honest); 0: the
                                  Lanczos-relation estimate |beta_m u_m| */
    int nconverged;            /* pairs whose residual <= tol * anorm */
    double anorm;              /* ||A|| estimate: largest |Ritz value| seen */
    double tol;                /* the tolerance applied */
    int basis;                 /* basis size used (Lanczos) */
    int64_t products;          /* all products, including the final residual block */
    int64_t iterations;        /* Lanczos steps or power steps */
    int restarts;              /* thick restarts (Lanczos) */
    int breakdowns;            /* invariant subspaces met (restarted with a fresh random vector) */
    int fresh_starts;          /* restarts from a fresh random vector to look for missed copies */
    double seconds;            /* wall time of the call (summed over resumed runs) */
    double seconds_products;   /* inside the operator */
    double seconds_ortho;      /* reorthogonalisation and the three-term recurrence */
    double seconds_restart;    /* Rayleigh-Ritz, basis rotation, locking, final residuals */
    double seconds_checkpoint; /* serialising state and the checkpoint callback */
    double orthogonality;      /* max |X^T X - I| over the k Ritz vectors X (Lanczos; 0 for
                                  power iteration): loss of orthogonality shows here */
} hesse_eigs;
HESSE_API void hesse_eigs_free(hesse_eigs *r);

/* What a monitor sees after every Rayleigh-Ritz step (Lanczos) or power step. The arrays
 * are valid during the call only. */
typedef struct {
    const char *method;      /* "lanczos" or "power" */
    int iteration;           /* restart cycle (Lanczos) or eigenvalue index (power) */
    int64_t products;        /* so far */
    int nconverged, nwanted; /* wanted pairs converged (locked) so far, wanted in all */
    int nvalues;             /* current estimates: top descending then bottom ascending */
    const double *values;    /* [nvalues] */
    const double *residuals; /* [nvalues] residual estimates */
    double anorm;            /* ||A|| estimate */
    double elapsed;          /* seconds since the call started (this run) */
} hesse_eig_progress;
typedef void (*hesse_eig_monitor_fn)(void *ctx, const hesse_eig_progress *p);

/* ---- Dense eigenpairs of an operator ------------------------------------------------------ */

typedef struct {
    int top, bottom;        /* largest / smallest eigenpairs kept; top + bottom in [1, n] */
    int want_vectors;       /* return the eigenvectors (default 1) */
    int block;              /* unit vectors per product while materialising (default 64) */
    uint64_t memory_budget; /* bytes the three n x n copies must fit in (0: memory available) */
} hesse_dense_params;

HESSE_API hesse_dense_params hesse_dense_defaults(void);

/* The `top` largest and `bottom` smallest eigenpairs of a small operator, exactly: the matrix
 * is materialised (hesse_op_to_dense, n products, symmetrised), decomposed by hesse_eigh
 * (dsyevd 'V', lower triangle), and the residuals ||A v - lambda v|| are computed against the
 * materialised matrix (residuals_explicit = 1, nconverged = top + bottom, anorm = max |lambda|).
 * The same computation, in the same order, as `hesse spectrum --method dense` (its dense_eigs),
 * so its numbers stay bit for bit. Fills *out (release with hesse_eigs_free; zeroed on error).
 * Errors: HESSE_EINVAL (arguments), HESSE_ENOMEM (the check against memory_budget, or an
 * allocation), the operator's status, HESSE_ENUMERIC (dsyevd). */
HESSE_API int hesse_dense_eigs(const hesse_op *op, const hesse_dense_params *p, hesse_eigs *out);

/* ---- Thick-restart Lanczos -------------------------------------------------------------- */

/* A checkpoint is one byte blob handed over in parts, so that the basis (the bulk of it) is
 * not copied: the blob is the concatenation of parts[0 .. nparts) (`total` bytes). The
 * callback writes it somewhere (the CLI: a temporary file, then rename) and returns HESSE_OK
 * or a status that stops the solver. The parts are valid during the call only. */
typedef struct {
    const void *data;
    size_t size;
} hesse_blob_part;
typedef int (*hesse_checkpoint_fn)(void *ctx, const hesse_blob_part *parts, int nparts,
                                   size_t total);

typedef struct {
    int top, bottom;        /* how many largest / smallest (most negative) eigenvalues; >= 0 */
    double tol;             /* converged when ||A v - theta v|| <= tol * anorm (default 1e-8) */
    int basis;              /* basis vectors kept in memory (0: default, see below) */
    size_t memory_budget;   /* bytes for the basis when basis = 0 (0: half of MemAvailable, or
                               2 GiB when unknown). Default basis: max(2k + 20, min(128, budget
                               columns)), capped by the budget and by n; k = top + bottom. */
    int max_restarts;       /* give up after this many restarts (default 1000) */
    uint64_t seed;          /* start vectors and fresh directions (default 0) */
    int want_vectors;       /* return eigenvectors (default 1) */
    int verify;             /* after convergence, restart from a fresh random vector orthogonal to
                               the converged ones until no further wanted value appears: finds
                               repeated eigenvalues with their multiplicity (default 1) */
    int explicit_residuals; /* final block product to compute residuals exactly (default 1;
                               needs want_vectors or costs the vectors' memory anyway) */
    double breakdown_tol;   /* beta <= breakdown_tol * anorm means an invariant subspace
                               (default 1e-12) */
    int check_every;        /* steps between convergence checks inside a cycle (0: 1 +
                               basis / 100); each costs a dense eigensolve of the projected
                               matrix */
    hesse_eig_monitor_fn monitor; /* may be NULL */
    void *monitor_ctx;
    /* Checkpointing (at restart boundaries only). The callback runs when `checkpoint_interval`
     * seconds have passed since the start or the last checkpoint (default 300; 0: every
     * restart; < 0: only when stopped), or when *stop is non-zero; after a stop the solver
     * returns HESSE_EINTR (also without a callback). */
    hesse_checkpoint_fn checkpoint;
    void *checkpoint_ctx;
    double checkpoint_interval;
    volatile sig_atomic_t *stop; /* set from a signal handler; may be NULL */
    const double *start; /* n x nstart column-major start vectors (borrowed; a previous run's
                            Ritz vectors), or NULL: a warm start instead of a random vector */
    int nstart;          /* columns of start (0: a cold start from the seed) */
} hesse_lanczos_params;

HESSE_API hesse_lanczos_params hesse_lanczos_defaults(void);

/* The `top` largest and `bottom` smallest eigenpairs of a symmetric operator by thick-restart
 * Lanczos (Wu & Simon, SIAM J. Matrix Anal. Appl. 22(2), 2000) with full reorthogonalisation
 * and locking of converged pairs. Convergence is also checked every `check_every` steps inside
 * a cycle, which then ends as soon as every wanted pair has converged (one product = one Lanczos
 * step; the final residual block adds top + bottom). Fills *out (release with hesse_eigs_free).
 * When the restart limit is reached first the call still returns HESSE_OK with the best estimates
 * and out->nconverged < top + bottom. Errors: HESSE_EINVAL (arguments), HESSE_ENOMEM (the basis
 * does not fit), the operator's own status, HESSE_EINTR (stopped; a checkpoint was handed to
 * the callback if one is set). */
HESSE_API int hesse_lanczos_eigs(const hesse_op *op, const hesse_lanczos_params *p,
                                 hesse_eigs *out);

/* Continues a run from a checkpoint blob. `op` and `p` must describe the same problem: n,
 * top, bottom, tol, seed, verify, breakdown_tol and, when given (> 0), basis and check_every
 * must match the blob's (HESSE_EINVAL naming the first mismatch; otherwise the blob's are used);
 * callbacks, intervals, max_restarts, want_vectors and explicit_residuals may differ. A blob
 * that is not a checkpoint, of another version, byte order or size gives HESSE_EINPUT. With
 * the same BLAS (and thread count) the result equals the uninterrupted run's bit for bit. */
HESSE_API int hesse_lanczos_resume(const hesse_op *op, const hesse_lanczos_params *p,
                                   const void *blob, size_t size, hesse_eigs *out);

/* ---- Power iteration with deflation ------------------------------------------------------- */

typedef struct {
    int top;          /* eigenvalues wanted (largest in magnitude first, as power iteration
                         finds them) */
    int max_iter;     /* products per eigenvalue at most (default 100, PyHessian's) */
    double tol;       /* stop when |l_new - l_old| / (|l_old| + 1e-6) < tol (default 1e-3) */
    uint64_t seed;    /* random normal start for each eigenvalue (default 0) */
    int want_vectors; /* default 1 */
    int residuals;    /* compute ||A v - l v|| with one final block product (default 1) */
    hesse_eig_monitor_fn monitor;
    void *monitor_ctx;
} hesse_power_params;

HESSE_API hesse_power_params hesse_power_defaults(void);

/* PyHessian's `hessian.eigenvalues`: for each of the top eigenvalues, power iterate from a
 * random normal start, orthonormalising the iterate against the eigenvectors found so far
 * before each product. The value reported is the Rayleigh quotient before the step that met
 * the tolerance, and the vector the normalised last product, as PyHessian reports them.
 * out->ntop = top, nbottom = 0; nconverged counts eigenvalues that met tol. */
HESSE_API int hesse_power_eigs(const hesse_op *op, const hesse_power_params *p, hesse_eigs *out);

/* ---- Spectral densities ----------------------------------------------------------------- */

typedef enum { HESSE_PROBE_RADEMACHER = 0, HESSE_PROBE_NORMAL = 1 } hesse_probe_kind;

/* A density on a grid, with what produced it. */
typedef struct {
    int points;            /* grid size */
    double *grid;          /* [points] equally spaced over [lo, hi] */
    double *density;       /* [points] >= 0, trapezoid integral over the grid = 1 */
    double *log10_density; /* [points] log10(density + eps) */
    double eps;
    double lo, hi; /* the support used (estimated and widened, or given) */
    double sigma;  /* SLQ: absolute Gaussian width; KPM: 0 */
    /* SLQ: the quadrature weight (mean over probes) of nodes more than 3 sigma outside
     * [lo, hi], which the grid cannot show (a support given too narrow, or an outlier the
     * support estimate missed); a warning is logged when it exceeds 1e-3. KPM: 0. */
    double weight_outside;
    /* SLQ: Gauss quadrature of every probe: nodes and weights [probes * steps], probe r's
     * entries at r * steps, nsteps[r] of them valid (fewer on an invariant subspace); the
     * weights of one probe sum to 1. KPM: NULL. */
    int probes, steps;
    double *nodes, *weights;
    int *nsteps;
    /* KPM: the averaged Chebyshev moments mu_0 .. mu_{moments-1} before damping. */
    int moments;
    double *mu;
    int64_t products; /* including the support estimate */
    double seconds, seconds_products;
} hesse_density;
HESSE_API void hesse_density_free(hesse_density *d);

typedef struct {
    int probes;             /* random probes (default 10) */
    int steps;              /* Lanczos steps per probe (default 80) */
    int reorth;             /* full reorthogonalisation (default 1) */
    hesse_probe_kind probe; /* default Rademacher; probes are normalised */
    int support_steps;      /* Lanczos steps of the support estimate (default 30) */
    double margin;          /* widen the support by this fraction of its width each side
                               (default 0.05) */
    double lo, hi;          /* a support given by the caller when lo < hi (default 0, 0) */
    double sigma;           /* Gaussian width as a fraction of hi - lo (default 0.005) */
    int points;             /* grid points (default 1000) */
    double eps;             /* added before log10 (default 1e-8) */
    int block;              /* probes advanced together, one block product per step (0: as
                               many as memory_budget allows) */
    size_t memory_budget;   /* bytes for the probes' bases (0: as hesse_lanczos_params) */
    uint64_t seed;
    /* Checkpointing, as for Lanczos, after any Lanczos step of a block of probes: the
     * callback runs when checkpoint_interval seconds have passed (0: every step; < 0: only
     * when stopped) or *stop is set; after a stop the call returns HESSE_EINTR. */
    hesse_checkpoint_fn checkpoint;
    void *checkpoint_ctx;
    double checkpoint_interval;
    volatile sig_atomic_t *stop;
} hesse_slq_params;

HESSE_API hesse_slq_params hesse_slq_defaults(void);

/* Stochastic Lanczos quadrature (Papyan 2018; Ghorbani, Krishnan, Xiao 2019): each probe z
 * gives the quadrature sum_j u_j[0]^2 delta(lambda - theta_j) of z^T delta(lambda - A) z,
 * the average over probes is smoothed with a Gaussian of width sigma. To study the bulk
 * alone, pass an operator deflated with hesse_op_deflate. */
HESSE_API int hesse_slq_density(const hesse_op *op, const hesse_slq_params *p, hesse_density *out);

/* Continues an SLQ run from a checkpoint blob. probes, steps, reorth, probe, seed, block and
 * n must match the blob's (HESSE_EINVAL naming the first mismatch; block 0 adopts the
 * blob's); the support comes from the blob. Smoothing options may differ. The result equals
 * the uninterrupted run's bit for bit. A blob that is not an SLQ checkpoint is HESSE_EINPUT. */
HESSE_API int hesse_slq_resume(const hesse_op *op, const hesse_slq_params *p, const void *blob,
                               size_t size, hesse_density *out);

/* The density of `count` known point masses (values[j] with weights[j] >= 0, e.g. the exact
 * eigenvalues of a low-rank operator at 1/n each plus its zero eigenvalue at (n - k)/n), drawn
 * as SLQ draws its Ritz values: a Gaussian of width p->sigma (hi - lo) on p->points equally
 * spaced points over [p->lo, p->hi] when lo < hi, otherwise over [min, max] of the values
 * widened by p->margin of its width each side; normalised to integrate to 1 (trapezoid rule);
 * weight_outside is the weight more than 3 sigma outside the grid. Only points, sigma, margin,
 * lo, hi and eps of p are read. No products. */
HESSE_API int hesse_density_points(int count, const double *values, const double *weights,
                                   const hesse_slq_params *p, hesse_density *out);

typedef struct {
    int moments;       /* Chebyshev moments (default 256; even) */
    int probes;        /* Rademacher probes (default 10) */
    int support_steps; /* default 30 */
    double margin;     /* default 0.05, as SLQ */
    double lo, hi;     /* given support when lo < hi */
    int points;        /* default 1000 */
    double eps;        /* default 1e-8 */
    int block;         /* probes advanced together (0: all) */
    uint64_t seed;
} hesse_kpm_params;

HESSE_API hesse_kpm_params hesse_kpm_defaults(void);

/* Kernel polynomial method (Weisse, Wellein, Alvermann, Fehske, Rev. Mod. Phys. 78, 2006):
 * scale A to [-1, 1] over the support, estimate mu_m = E[z^T T_m(A~) z] / n with the doubling
 * identities (two moments per product), damp with the Jackson kernel, sum the Chebyshev
 * series on the grid. */
HESSE_API int hesse_kpm_density(const hesse_op *op, const hesse_kpm_params *p, hesse_density *out);

/* ---- Trace ------------------------------------------------------------------------------ */

typedef struct {
    int samples;            /* products to spend: Hutchinson probes, or Hutch++'s total
                               (default 99) */
    int block;              /* columns per product call (default 32) */
    hesse_probe_kind probe; /* default Rademacher */
    uint64_t seed;
} hesse_trace_params;

HESSE_API hesse_trace_params hesse_trace_defaults(void);

typedef struct {
    double trace;
    double std_error;     /* of the stochastic part; 0 for the exact trace */
    int samples;          /* stochastic probes used (Hutch++: its Hutchinson part) */
    int rank;             /* Hutch++: dimension of the exact low-rank part */
    double lowrank_trace; /* Hutch++: tr(Q^T A Q) */
    int64_t products;
    double seconds, seconds_products;
} hesse_trace_result;

/* sum_i e_i^T A e_i with identity blocks of p->block columns (p may be NULL): n products. */
HESSE_API int hesse_trace_exact(const hesse_op *op, const hesse_trace_params *p,
                                hesse_trace_result *out);

/* Hutchinson (1989): mean of z^T A z over p->samples probes; std_error = sample standard
 * deviation / sqrt(samples) times sqrt((samples - 1) / (samples - 3)) when samples >= 4 (the sd
 * of a Student t with samples - 1 degrees of freedom, so that (trace - exact) / std_error has
 * unit variance; trace.c). samples >= 2 (one probe has no standard error). */
HESSE_API int hesse_trace_hutchinson(const hesse_op *op, const hesse_trace_params *p,
                                     hesse_trace_result *out);

/* Hutch++ (Meyer, Musco, Musco, Woodruff, SOSA 2021, Algorithm 1) with p->samples products:
 * Q = orth(A S) for s = samples / 3 random columns S, trace = tr(Q^T A Q) + the Hutchinson
 * estimate of tr((I - QQ^T) A (I - QQ^T)) with the remaining samples - 2 s probes;
 * std_error is that Hutchinson part's (the low-rank part is exact). samples >= 4 (two
 * Hutchinson probes at least). */
HESSE_API int hesse_trace_hutchpp(const hesse_op *op, const hesse_trace_params *p,
                                  hesse_trace_result *out);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_SPECTRAL_H */
