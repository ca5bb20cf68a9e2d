/* Internals of the engine shared by its files:
 *   engine.c         creation (the layer rows and the passes' steps, the precision), the
 *                    worker pool, the cache key, the public passes
 *   engine_typed.inc per-precision worker scratch, cache layout, the pass jobs, and the
 *                    precision's row (nn_precision_f64 / nn_precision_f32)
 *   passes.inc       the passes over one chunk of samples (forward, loss, backward,
 *                    R-forward, R-backward) as loops over the steps; the layers' own pass
 *                    functions are in layer_*.inc (layer-impl.h says which file owns what)
 *   factors.c        backward passes with given output gradients, and Kronecker factors
 * The .inc files are compiled once for double (*_f64.c) and once for float (*_f32.c), with
 * SUF(name) naming each function name_f64 / name_f32 (.ctags.d/hesse.ctags finds them): an
 * engine of single precision runs its products in float while every vector it takes or
 * returns, and every sum over chunks, stays double. The engine picks its precision's row once,
 * when it is made, and calls through it.
 *
 * Parallelism: the engine owns `nworkers` workers, each with its own scratch for one chunk of
 * samples; a pass hands chunk c to worker c mod nworkers (worker 0 is the calling thread), and
 * results are reduced in worker order, so that a fixed worker count gives the same bits every
 * time. While workers run, OpenBLAS is single-threaded. */
#ifndef HESSE_ENGINE_IMPL_H
#define HESSE_ENGINE_IMPL_H

#include "nn/nn-impl.h"

#include <pthread.h>

/* The state of the forward and backward passes over one chunk (activations, conv patches,
 * max-pool arg-maxes, softmax, output gradients): a worker's own scratch, or a chunk of the
 * engine's cache. A worker's per-pass scratch for block R-passes, its pointers for the
 * current chunk (flatten, identity and residual markers alias their input: NN_ALIAS, and
 * have no storage of their own), and its accumulators.
 *
 * Residual blocks run as a chain (nn.h): RESIDUAL passes its input x on, SHORTCUT passes x on
 * again, ADD sums the main output (the SHORTCUT's input) and the shortcut's. Backward, ADD hands
 * its gradient to both branches (the SHORTCUT hands it to the main branch), and RESIDUAL sums
 * the two branches' gradients in x. */
/* A worker's results that are double in both precisions: first in nn_work_f64 and nn_work_f32,
 * so that the engine reads them through nn_common whatever the precision. */
typedef struct {
    double *acc; /* gradient or products of workers 1..: worker 0 writes the output */
    int64_t acc_cap;
    double loss;     /* sum of per-sample losses */
    int64_t correct; /* arg-max predictions equal to the label */
    int64_t bad;     /* first sample with a non-finite loss (pass numbering), or -1 */
} nn_work_common;

#define NN_TYPES(real, S)                                                                          \
    typedef struct {                                                                               \
        real **act;       /* act[l], l = 1..L: [B, size[l]] */                                     \
        real **grad;      /* grad[l], l = 1..L: dL/d act[l] */                                     \
        real **cols;      /* conv layers: im2col of the input, [K, B * P] */                       \
        int32_t **argmax; /* max-pool layers: [B, out size] */                                     \
        real **keep;      /* layers with a keep hook: what their passes keep, [B, keep] */         \
        real *probs;      /* softmax of the logits, [B, C] */                                      \
    } nn_state_##S;                                                                                \
    typedef struct {                                                                               \
        nn_work_common c; /* first: see nn_common */                                               \
        nn_state_##S own, st;                                                                      \
        real **ract; /* ract[l], l = 1..L: [k, chunk, size[l]] */                                  \
        real *rg[2]; /* R-backward ping-pong: [k, chunk, max size] */                              \
        real *rgy;   /* R-backward: the current layer's output R-gradient (rg[0], rg[1], rsave) */ \
        real *rsave; /* residual nets: the R-gradient at a block's sum, for its main branch */     \
        real *rshort; /* residual nets: the shortcut's R-gradient in the block's input */          \
        real **rcols; /* conv layers: im2col of the R-input, [K, k * chunk * P] */                 \
        real **rkeep; /* layers with a keep hook: R-forward values for the R-backward */           \
        real *tmp;    /* conv: [max(k*Cout, Cout), k * chunk * P] */                               \
        real *gcols;  /* conv: [K, k * chunk * P] */                                               \
        real *gyp;    /* conv: output gradient as [Cout, chunk * P] */                             \
        real *vstack; /* the k weight directions stacked, [k * weights] */                         \
        real *wbuf;   /* stacked weight-shaped GEMM results, [k * weights] */                      \
        real *perm;   /* linear: [B, k * features] interleavings */                                \
        real *xbuf;   /* single precision: the chunk's inputs, [chunk, size[0]] */                 \
        real *ybuf;   /* single precision: one chunk's products or gradient, [n * k] */            \
        int64_t ybuf_cap;                                                                          \
        const real **a;                                                                            \
        real **g, **ra;                                                                            \
        void *extra; /* per-pass data of a caller (factors.c) */                                   \
        /* diagnosis: with check set, a pass stops at the first non-finite layer output */         \
        int check, diag_layer, diag_pass, diag_vector;                                             \
        int64_t diag_sample; /* in the chunk; -1 when the layer's sum over samples failed */       \
    } nn_work_##S;                                                                                 \
    /* The arguments of a layer's pass functions: the step at layer l (its first layer) over B     \
     * samples and k vectors. */                                                                   \
    typedef struct {                                                                               \
        const hesse_engine *e;                                                                     \
        nn_work_##S *w;                                                                            \
        const hesse_layer *Ly; /* layer l */                                                       \
        int l, B, k;                                                                               \
        const real *theta; /* the parameters in this precision */                                  \
        const real *V;     /* R-passes: the directions, column j at V + j*n */                     \
        real *Y;           /* R-backward: the products, column j at Y + j*n */                     \
        real *pgrad;       /* backward: the parameter gradient to add to, or NULL */               \
        int hessian;       /* R-backward: second-order terms on (Hessian, residual) */             \
    } nn_args_##S;                                                                                 \
    /* A layer type's passes (layer-impl.h): each returns 1 to stop the pass (a diagnosis found    \
     * a non-finite value), else 0. */                                                             \
    typedef struct {                                                                               \
        int (*forward)(nn_args_##S * a);   /* a[l+1] from a[l] */                                  \
        int (*backward)(nn_args_##S * a);  /* g[l] from g[l+1]; parameter gradient into pgrad */   \
        int (*rforward)(nn_args_##S * a);  /* ra[l+1] */                                           \
        int (*rbackward)(nn_args_##S * a); /* w->rgy in x; products into Y */                      \
    } nn_pass_##S;
NN_TYPES(double, f64)
NN_TYPES(float, f32)

/* One step of the passes: layers l .. last run by one row of the layer table (one layer, or a
 * fused pair such as ReLU -> max pool), chosen once when the engine is made. */
typedef struct {
    int l, last;
    const struct nn_layer_type *type;
} nn_step;

/* A cache of the forward and backward state of every chunk of one sample set, valid while the
 * parameters and the samples are those it was built from (compared by checksum). */
typedef struct {
    size_t budget; /* bytes it may use; 0: off */
    int nchunks, chunk;
    void *chunks; /* [nchunks] nn_state_f64 or nn_state_f32, NULL when empty */
    void *block;  /* one allocation for all chunks */
    size_t bytes;
    uint64_t key; /* checksum of parameters and samples it holds; 0: empty */
    int64_t hits; /* passes that reused it */
} nn_cache;

typedef void (*nn_job_fn)(hesse_engine *e, int worker, void *arg);

struct hesse_engine {
    const hesse_model *m;
    int chunk, max_block;
    int L;           /* layers */
    int C;           /* outputs per sample, P * V */
    int P, V;        /* the loss's positions per sample and classes per position: an output
                        (c, 1, 1) is one position of c classes; any other (c, h, w) is c * h
                        positions of w classes (a sequence's tokens) */
    int first_param; /* first layer with parameters: nothing before it is differentiated */
    char *dep;       /* dep[l], l = 0..L: activation l depends on the parameters (else its
                        gradient is not needed and its R-value is zero) */
    int residual;    /* the network has residual blocks */
    int64_t *size;   /* size[l]: values per sample of activation l, l = 0..L */
    const struct nn_layer_type **type; /* type[l]: layer l's row of the layer table */
    nn_step *steps;                    /* the passes' steps in forward order */
    int nsteps;
    const struct nn_precision *prec; /* the per-precision parts, chosen at creation */
    int nworkers;
    void *w; /* [nworkers] nn_work_f64 or nn_work_f32: prec->work_size bytes each */
    nn_cache cache;
    size_t bytes;
    float *params32; /* single precision: the parameters, converted at every pass */
    float *v32;      /* single precision: the directions of a product, [n * k] */
    int64_t v32_cap;
    /* the pool: workers 1 .. nworkers-1 wait for a new generation, run job, count down */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned generation;
    int pending, quit, pool_ready, started;
    nn_job_fn job;
    void *job_arg;
    /* distributed runs: the sum over ranks, or NULL */
    hesse_reduce_fn reduce;
    void *reduce_ctx;
    hesse_pass_check_fn pass_check; /* NULL: the reduction sums the failures */
    void *pass_check_ctx;
};

/* Distributed runs: 1 when any rank failed (every rank calls it, failed or not); the sum over
 * ranks of count doubles in place. Without a reduction: `failed`, and nothing. */
int nn_any_failed(hesse_engine *e, int failed);
int nn_reduce(hesse_engine *e, double *data, int64_t count);

/* Runs fn on every worker (worker 0 in the calling thread) and waits for all. */
void nn_run(hesse_engine *e, nn_job_fn fn, void *arg);

/* How a pass splits n samples: chunks of nn_chunk_size samples, chunk c to worker
 * c mod nworkers. */
int nn_chunk_size(const hesse_engine *e, int64_t n);

/* Elements of a chunk's forward/backward state per sample (with or without the im2col
 * patches, which the cache does not keep); of R-pass scratch per sample and fixed, for
 * block k. */
int64_t nn_state_per_sample(const hesse_engine *e, int with_cols);
void nn_rpass_size(const hesse_engine *e, int k, int64_t *per_sample, int64_t *fixed);

/* The shared R-pass scratch of a worker, per sample for blocks of k vectors (the largest any
 * layer needs: nn_layer_type.scratch), and the largest activation and weight tensor. */
typedef struct {
    int64_t tmp, gcols, gyp, perm;
    int64_t max_size, max_weights;
} nn_scratch;
void nn_scratch_size(const hesse_engine *e, int k, nn_scratch *s);

/* HESSE_EINPUT when the samples' shape or labels do not fit the model. */
int nn_check_samples(const hesse_engine *e, const hesse_samples *s);
/* The scale of the mean loss: 1/(N P) (cross-entropy, mean over positions), 1/(N C) (MSE,
 * mean over all outputs). */
double nn_loss_scale(const hesse_engine *e, int64_t n);
/* Grows workers 1..'s double accumulators to `count` values. */
int nn_ensure_acc(hesse_engine *e, int64_t count);

/* Jobs of the public passes (engine_typed.inc). */
typedef struct {
    const hesse_samples *s;
    double scale;
    int chunk;
    int want_grad;
    double *out; /* worker 0's accumulator */
} nn_loss_job;

typedef struct {
    const hesse_samples *s;
    hesse_curv_kind kind;
    int k, chunk;
    const double *V;
    double *Y;
    double scale;
    int cached; /* 0: own scratch; 1: build the cache; 2: reuse it */
} nn_curv_job;

typedef struct {
    const hesse_samples *s;
    int chunk;
    double *out;
} nn_forward_job;

/* The per-precision parts (engine_typed.inc and passes.inc). */
#define NN_TYPED(real, S)                                                                          \
    int nn_work_alloc_##S(hesse_engine *e, nn_work_##S *w);                                        \
    void nn_work_free_##S(const hesse_engine *e, nn_work_##S *w);                                  \
    int nn_cache_layout_##S(hesse_engine *e, const hesse_samples *s, int chunk, size_t need);      \
    void nn_cache_clear_##S(hesse_engine *e);                                                      \
    void nn_loss_grad_job_##S(hesse_engine *e, int idx, void *arg);                                \
    void nn_curv_job_##S(hesse_engine *e, int idx, void *arg);                                     \
    void nn_forward_job_##S(hesse_engine *e, int idx, void *arg);                                  \
    void nn_forward_chunk_##S(const hesse_engine *e, nn_work_##S *w, int B, const real *x);        \
    int64_t nn_loss_chunk_##S(const hesse_engine *e, nn_work_##S *w, int B, const int32_t *y,      \
                              double scale, double *sum, int64_t *correct);                        \
    void nn_backward_chunk_##S(const hesse_engine *e, nn_work_##S *w, int B, real *pgrad);         \
    void nn_restore_pointers_##S(const hesse_engine *e, nn_work_##S *w, int B, const real *x);     \
    void nn_rforward_chunk_##S(const hesse_engine *e, nn_work_##S *w, int B, int k,                \
                               const real *V);                                                     \
    void nn_rbackward_chunk_##S(const hesse_engine *e, nn_work_##S *w, int B, int k,               \
                                const real *V, real *Y, double scale, int64_t N,                   \
                                hesse_curv_kind kind);                                             \
    real *nn_output_hessian_chunk_##S(const hesse_engine *e, nn_work_##S *w, int B, int k, int l,  \
                                      double scale);                                               \
    int nn_diagnose_##S(hesse_engine *e, const hesse_samples *s, int kind, int k, const double *V, \
                        char *msg, size_t cap);
NN_TYPED(double, f64)
NN_TYPED(float, f32)

/* The per-precision parts of an engine (engine_typed.inc), chosen once when it is made: the
 * engine calls through this table and never asks which precision it has. */
typedef struct nn_precision {
    hesse_precision precision;
    size_t real_size; /* bytes of one value in the passes */
    size_t work_size; /* bytes of one worker */
    int staged;       /* inputs, directions and per-chunk sums pass through float copies */
    int (*work_alloc)(hesse_engine *e, void *w);
    void (*work_free)(const hesse_engine *e, void *w);
    int (*cache_layout)(hesse_engine *e, const hesse_samples *s, int chunk, size_t need);
    void (*cache_clear)(hesse_engine *e);
    /* Grows every worker's per-chunk buffer of the products or gradient to count values
     * (HESSE_ENOMEM when it cannot). */
    int (*reserve)(hesse_engine *e, int64_t count);
    /* Before a pass: the parameters, and the k directions V (k may be 0), in this precision. */
    int (*stage)(hesse_engine *e, int k, const double *V);
    nn_job_fn loss_grad_job, curv_job, forward_job;
    int (*diagnose)(hesse_engine *e, const hesse_samples *s, int kind, int k, const double *V,
                    char *msg, size_t cap);
} nn_precision;
extern const nn_precision nn_precision_f64, nn_precision_f32;

/* Worker i's double results, whatever the precision. */
static inline nn_work_common *nn_common(const hesse_engine *e, int i) {
    return (nn_work_common *)((char *)e->w + (size_t)i * e->prec->work_size);
}

/* The passes a diagnosis names. */
enum { NN_PASS_FORWARD = 0, NN_PASS_BACKWARD, NN_PASS_RFORWARD, NN_PASS_RBACKWARD, NN_PASS_SUM };

/* After a non-finite loss or product: finds the first layer output that is not finite, by
 * re-running the passes chunk by chunk with checks (kind < 0: forward and loss only), and
 * writes a one-line description into msg. Returns 1 when it found the culprit. */
int nn_diagnose(hesse_engine *e, const hesse_samples *s, int kind, int k, const double *V,
                char *msg, size_t cap);

/* The double-precision worker i (factors.c). */
static inline nn_work_f64 *nn_work64(hesse_engine *e, int i) {
    return (nn_work_f64 *)e->w + i;
}

#endif
