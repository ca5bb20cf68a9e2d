/* Internals of the engine shared by its files:
 *   engine.c   creation, worker threads, the forward/backward cache, the public passes
 *   passes.c   the passes over one chunk of samples (forward, loss, backward, R-forward,
 *              R-backward)
 *   factors.c  backward passes with given output gradients, and Kronecker factors
 *
 * Parallelism: the engine owns `nworkers` workers, each with its own scratch for one chunk of
 * samples; a pass hands chunk c to worker c mod nworkers (worker 0 is the calling thread), and
 * results are reduced in worker order, so that a fixed worker count gives the same bits every
 * time. While workers run, OpenBLAS is single-threaded. */
#ifndef HESSE_ENGINE_IMPL_H
#define HESSE_ENGINE_IMPL_H

#include "nn/nn-impl.h"

#include <pthread.h>

/* The state of the forward and backward passes over one chunk: activations, conv patches,
 * max-pool arg-maxes, softmax, and output gradients. Either a worker's scratch or a chunk of
 * the engine's cache. */
typedef struct {
    double **act;     /* act[l], l = 1..L: [B, size[l]] */
    double **grad;    /* grad[l], l = 1..L: dL/d act[l] */
    double **cols;    /* conv layers: im2col of the input, [K, B * P] */
    int32_t **argmax; /* max-pool layers: [B, out size] */
    double *probs;    /* softmax of the logits, [B, C] */
} nn_state;

/* One worker: scratch for a chunk of up to e->chunk samples and blocks of up to max_block
 * vectors, and its accumulators for the pass under way. */
typedef struct {
    nn_state own;   /* this worker's forward/backward buffers */
    nn_state st;    /* the buffers of the current chunk: own, or a chunk of the cache */
    double **ract;  /* ract[l], l = 1..L: [k, chunk, size[l]] */
    double *rg[2];  /* R-backward ping-pong: [k, chunk, max size] */
    double **rcols; /* conv layers: im2col of the R-input, [K, k * chunk * P] */
    double *tmp;    /* conv: [max(k*Cout, Cout), k * chunk * P] */
    double *gcols;  /* conv: [K, k * chunk * P] */
    double *gyp;    /* conv: output gradient as [Cout, chunk * P] */
    double *vstack; /* the k weight directions stacked, [k * weights] */
    double *wbuf;   /* stacked weight-shaped GEMM results, [k * weights] */
    double *perm;   /* linear: [B, k * features] interleavings */
    /* pointers for the current chunk: flatten makes its output an alias of its input */
    const double **a;
    double **g, **ra;
    /* accumulators of a pass */
    double *acc;     /* gradient or products of workers 1..: worker 0 writes the output */
    int64_t acc_cap; /* doubles acc holds */
    double loss;     /* sum of per-sample losses */
    int64_t correct; /* arg-max predictions equal to the label */
    int64_t bad;     /* first sample (in the pass's numbering) with a non-finite loss, or -1 */
    void *extra;     /* per-pass data of a caller (factors.c) */
} nn_work;

/* A cache of the forward and backward state of every chunk of one sample set, valid while the
 * parameters and the samples are those it was built from (compared by checksum). */
typedef struct {
    size_t budget; /* bytes it may use; 0: off */
    int nchunks, chunk;
    nn_state *chunks; /* [nchunks], NULL when empty */
    void *block;      /* one allocation for all chunks */
    size_t bytes;
    uint64_t key; /* checksum of parameters and samples it holds; 0: empty */
    int64_t hits; /* passes that reused it */
} nn_cache;

typedef void (*nn_job_fn)(hesse_engine *e, nn_work *w, int worker, void *arg);

struct hesse_engine {
    const hesse_model *m;
    int chunk, max_block;
    int L;           /* layers */
    int C;           /* outputs */
    int first_param; /* first layer with parameters: nothing before it is differentiated */
    int64_t *size;   /* size[l]: values per sample of activation l, l = 0..L */
    int nworkers;
    nn_work *w;
    nn_cache cache;
    size_t bytes;
    /* the pool: workers 1 .. nworkers-1 wait for a new generation, run job, count down */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned generation;
    int pending, quit, pool_ready, started;
    nn_job_fn job;
    void *job_arg;
};

/* Runs fn on every worker (worker 0 in the calling thread) and waits for all. */
void nn_run(hesse_engine *e, nn_job_fn fn, void *arg);

/* How a pass splits n samples: chunks of nn_chunk_size samples, chunk c to worker
 * c mod nworkers. */
int nn_chunk_size(const hesse_engine *e, int64_t n);

/* ---- Passes over one chunk of B samples (passes.c) -------------------------------------- */

/* Forward through every layer (inputs x, [B, size[0]]) into w->st. */
void nn_forward_chunk(const hesse_engine *e, nn_work *w, int B, const double *x);
/* Loss of each sample from the logits; fills w->st.probs (cross-entropy) and
 * g[L] = scale * dl/dz. Returns the index of the first sample with a non-finite loss, or -1;
 * adds the losses to *sum and the correct predictions to *correct (may be NULL). */
int64_t nn_loss_chunk(const hesse_engine *e, nn_work *w, int B, const int32_t *y, double scale,
                      double *sum, int64_t *correct);
/* Back-propagates g[L] to every layer output g[l], l > first_param, adding the parameter
 * gradient to pgrad when it is not NULL. */
void nn_backward_chunk(const hesse_engine *e, nn_work *w, int B, double *pgrad);
/* Sets the pass pointers (a, g) of w to its chunk state without computing (after a cache
 * hit): flatten aliases as a forward and backward pass would have left them. */
void nn_restore_pointers(const hesse_engine *e, nn_work *w, const double *x);
/* R-forward for k directions V (column j at V + j*n). */
void nn_rforward_chunk(const hesse_engine *e, nn_work *w, int B, int k, const double *V);
/* R-backward: Y[:, j] += (C V)_j for the chunk, C as `kind`, N the samples of the pass. */
void nn_rbackward_chunk(const hesse_engine *e, nn_work *w, int B, int k, const double *V, double *Y,
                        double scale, int64_t N, hesse_curv_kind kind);

/* HESSE_EINPUT when the samples' shape or labels do not fit the model. */
int nn_check_samples(const hesse_engine *e, const hesse_samples *s);
/* The scale of the mean loss: 1/N (cross-entropy), 1/(N C) (MSE, mean over all outputs). */
double nn_loss_scale(const hesse_engine *e, int64_t n);

#endif
