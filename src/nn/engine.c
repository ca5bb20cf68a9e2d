/* The engine: creation, the worker pool, the forward/backward cache, and the public passes
 * (loss and gradient, curvature products, logits). The per-precision parts are in
 * engine_typed.inc, the passes over one chunk in passes.inc; the design is in engine-impl.h. */
#include "nn/layer-impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CHUNK       128 /* convolutional nets: larger chunks lose cache locality */
#define MAX_DENSE_CHUNK 512 /* nets without convolutions: weights are packed once a chunk */
#define MIN_CHUNK       32  /* smaller chunks make narrow, slow GEMMs */
#define MIN_CONV_CHUNK  4   /* the cache cap of convolutional nets goes no lower */

/* Scratch for the workers' chunks: an eighth of the machine's memory, between 512 MiB and
 * 2 GiB. Small nets never need that much (their chunks are capped below); ResNet-18 on CIFAR
 * (~100 MB of state a sample) gets chunks of 4 instead of 1, ~20 % faster products. From the
 * installed memory, not the memory free at the moment: the chunk decides the order of the
 * sums, and a run must give the same bits each time on one machine. */
static size_t default_budget(void) {
    const size_t lo = (size_t)512 << 20, hi = (size_t)2 << 30;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return lo;
    double b = (double)pages * (double)page / 8.0;
    return b < (double)lo ? lo : b > (double)hi ? hi : (size_t)b;
}

hesse_engine_params hesse_engine_defaults(void) {
    hesse_engine_params p = {0, 1, default_budget(), 0, 1, 0, HESSE_PRECISION_F64};
    return p;
}

/* ---- Sizes (in elements of the engine's precision) -------------------------------------- */

int64_t nn_state_per_sample(const hesse_engine *e, int with_cols) {
    const hesse_model *m = e->m;
    int64_t ps = e->C;
    for (int l = 0; l < e->L; l++) {
        const nn_layer_type *t = e->type[l];
        ps += (t->flags & NN_ALIAS ? 1 : 2) * e->size[l + 1]; /* act (none for an alias), grad */
        if (with_cols && t->cols) ps += t->cols(&m->layers[l]);
        if (t->keep) {
            int64_t keep = 0, unused = 0;
            t->keep(&m->layers[l], &keep, &unused);
            ps += keep;
        }
        if (t->flags & NN_ARGMAX) ps += e->size[l + 1]; /* int32, rounded up */
    }
    return ps;
}

void nn_scratch_size(const hesse_engine *e, int k, nn_scratch *s) {
    *s = (nn_scratch){0, 0, 0, 0, e->size[0], 0};
    for (int l = 0; l < e->L; l++) {
        const hesse_layer *L = &e->m->layers[l];
        if (e->size[l + 1] > s->max_size) s->max_size = e->size[l + 1];
        if (L->weight_count > s->max_weights) s->max_weights = L->weight_count;
        if (e->type[l]->scratch) e->type[l]->scratch(L, k, s);
    }
}

void nn_rpass_size(const hesse_engine *e, int k, int64_t *per_sample, int64_t *fixed) {
    const hesse_model *m = e->m;
    int64_t ps = 0;
    for (int l = 0; l < e->L; l++) {
        const nn_layer_type *t = e->type[l];
        if (!(t->flags & NN_ALIAS)) ps += (int64_t)k * e->size[l + 1]; /* ract */
        if (t->cols) ps += t->cols(&m->layers[l]) * k;                 /* rcols */
        if (t->keep) {
            int64_t unused = 0, rkeep = 0;
            t->keep(&m->layers[l], &unused, &rkeep);
            ps += rkeep * k; /* rkeep */
        }
    }
    nn_scratch s;
    nn_scratch_size(e, k, &s);
    /* rg[2] (and rsave, rshort in residual nets), tmp, gcols, gyp, perm */
    ps += (e->residual ? 4 : 2) * (int64_t)k * s.max_size + s.tmp + s.gcols + s.gyp + s.perm;
    *per_sample = ps + (e->prec->staged ? e->size[0] : 0); /* xbuf */
    *fixed = 2 * (int64_t)k * s.max_weights;               /* vstack, wbuf */
}

static size_t elem_size(const hesse_engine *e) {
    return e->prec->real_size;
}

/* ---- The pool ------------------------------------------------------------------------------ */

typedef struct {
    hesse_engine *e;
    int index;
} pool_arg;

static void *pool_main(void *p) {
    pool_arg *pa = p;
    hesse_engine *e = pa->e;
    const int idx = pa->index;
    free(pa);
    unsigned seen = 0;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->quit && e->generation == seen) pthread_cond_wait(&e->wake, &e->mu);
        if (e->quit) break;
        seen = e->generation;
        nn_job_fn job = e->job;
        void *arg = e->job_arg;
        pthread_mutex_unlock(&e->mu);
        job(e, idx, arg);
        pthread_mutex_lock(&e->mu);
        if (--e->pending == 0) pthread_cond_signal(&e->done);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

void nn_run(hesse_engine *e, nn_job_fn fn, void *arg) {
    if (e->nworkers == 1) {
        fn(e, 0, arg);
        return;
    }
    /* the workers' GEMMs run in their own threads: OpenBLAS stays single-threaded meanwhile */
    int blas = hesse_blas_get_threads();
    if (blas > 1) hesse_blas_set_threads(1);
    pthread_mutex_lock(&e->mu);
    e->job = fn;
    e->job_arg = arg;
    e->pending = e->nworkers - 1;
    e->generation++;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->mu);
    fn(e, 0, arg);
    pthread_mutex_lock(&e->mu);
    while (e->pending > 0) pthread_cond_wait(&e->done, &e->mu);
    pthread_mutex_unlock(&e->mu);
    if (blas > 1) hesse_blas_set_threads(blas);
}

int nn_chunk_size(const hesse_engine *e, int64_t n) {
    int64_t per = (n + e->nworkers - 1) / e->nworkers; /* every worker gets some */
    return (int)(per < e->chunk ? (per > 0 ? per : 1) : e->chunk);
}

/* ---- Creation ----------------------------------------------------------------------------- */

/* The largest chunk whose biggest im2col patch matrix fits in one and a half second-level
 * caches: each convolution then writes its patches and reads them back in the GEMM while they
 * are still in cache. On LeNet-5 single products with chunks of 8 run ~1.5x faster than with
 * chunks of 128, whose 20 MB of patches go through main memory twice (the optimum is flat
 * from 4 to 10 samples, about one L2 of patches); with patches far beyond the cache
 * (ResNet-18: 4.7 MB a sample) chunks of 4 still beat 1 (wider GEMMs in the late stages, 20 %)
 * and 8 (35 %). Block products would rather have ~32 (16 products ~8 % faster than with 8),
 * but the solvers' many single products decide: hesse spectrum on LeNet-5 spends 20 % less
 * time in products with chunks of 10 than of 32, its final block product included. Nets
 * without convolutions take up to MAX_DENSE_CHUNK samples: OpenBLAS packs a weight matrix
 * once per GEMM, so wider chunks amortise it (784-1024-1024-10: 7 % faster at 500 than 128). */
static int cache_chunk(const hesse_engine *e) {
    int64_t patch = 0;
    for (int l = 0; l < e->L; l++) {
        if (!e->type[l]->cols) continue;
        int64_t p = e->type[l]->cols(&e->m->layers[l]) * (int64_t)elem_size(e);
        if (p > patch) patch = p;
    }
    if (patch == 0) return MAX_DENSE_CHUNK;
    long l2 = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    if (l2 <= 0) l2 = 1 << 20;
    const int64_t fit = 3 * (int64_t)l2 / (2 * patch);
    return fit < MIN_CONV_CHUNK ? MIN_CONV_CHUNK : fit > MAX_CHUNK ? MAX_CHUNK : (int)fit;
}

/* Each layer's row, which activations depend on the parameters (a layer's output does when
 * its input does or it has parameters, unless its row says otherwise: the residual block's
 * markers), and the passes' steps: one per layer, but where a row fuses its layer with the
 * next (ReLU -> max pool), one for both. */
static void plan_steps(hesse_engine *e) {
    const hesse_model *m = e->m;
    for (int l = 0; l < e->L; l++) {
        const hesse_layer *Ly = &m->layers[l];
        const nn_layer_type *t = e->type[l] = nn_layer_type_of(Ly->kind);
        if (t->depends)
            e->dep[l + 1] = (char)t->depends(e, l);
        else
            e->dep[l + 1] = e->dep[l] || Ly->weight_count + Ly->bias_count > 0;
        if (t->flags & NN_BLOCK) e->residual = 1;
    }
    e->nsteps = 0;
    for (int l = 0; l < e->L; l++) {
        const nn_layer_type *fused =
            e->type[l]->fuse && l + 1 < e->L ? e->type[l]->fuse(&m->layers[l + 1]) : NULL;
        e->steps[e->nsteps++] = (nn_step){l, fused ? l + 1 : l, fused ? fused : e->type[l]};
        if (fused) l++;
    }
}

int hesse_engine_create(const hesse_model *m, const hesse_engine_params *p, hesse_engine **out) {
    if (!m || !out) return hesse_error(HESSE_EINVAL, "hesse_engine_create: NULL argument");
    *out = NULL;
    hesse_engine_params d = p ? *p : hesse_engine_defaults();
    if (d.max_block <= 0) d.max_block = 1;
    if (d.memory_budget == 0) d.memory_budget = hesse_engine_defaults().memory_budget;
    if (d.chunk < 0 || d.threads < 0)
        return hesse_error(HESSE_EINVAL, "engine: chunk %d and threads %d must not be negative",
                           d.chunk, d.threads);
    if (d.precision != HESSE_PRECISION_F64 && d.precision != HESSE_PRECISION_F32)
        return hesse_error(HESSE_EINVAL, "engine: unknown precision %d", (int)d.precision);
    hesse_engine *e = calloc(1, sizeof *e);
    if (!e) return hesse_error(HESSE_ENOMEM, "engine: out of memory");
    int rc = HESSE_OK;
    const int L = m->num_layers;
    e->m = m;
    e->L = L;
    e->C = hesse_model_num_outputs(m);
    e->P = hesse_model_positions(m);
    e->V = hesse_model_classes(m);
    e->max_block = d.max_block;
    e->prec = d.precision == HESSE_PRECISION_F32 ? &nn_precision_f32 : &nn_precision_f64;
    e->nworkers = d.threads > 0 ? d.threads : hesse_blas_get_threads();
    if (e->nworkers < 1) e->nworkers = 1;
    if (e->nworkers > 256) e->nworkers = 256;
    e->first_param = L;
    for (int l = L - 1; l >= 0; l--)
        if (m->layers[l].weight_count + m->layers[l].bias_count > 0) e->first_param = l;
    e->size = calloc((size_t)L + 1, sizeof *e->size);
    e->dep = calloc((size_t)L + 1, 1);
    e->type = calloc((size_t)L, sizeof *e->type);
    e->steps = calloc((size_t)L, sizeof *e->steps);
    if (!e->size || !e->dep || !e->type || !e->steps) {
        rc = hesse_error(HESSE_ENOMEM, "engine: out of memory");
        goto cleanup;
    }
    e->size[0] = nn_in_size(&m->layers[0]);
    for (int l = 0; l < L; l++) e->size[l + 1] = nn_out_size(&m->layers[l]);
    plan_steps(e);
    if (d.chunk == 0) {
        /* The largest chunk the budget allows; when a block of max_block vectors would leave
         * chunks of fewer than MIN_CHUNK samples (slow, narrow GEMMs), take fewer vectors per
         * pass instead: larger blocks are then done in several passes. */
        int64_t fit;
        for (;;) {
            int64_t per, fixed;
            nn_rpass_size(e, e->max_block, &per, &fixed);
            per += nn_state_per_sample(e, 1);
            fit = ((int64_t)(d.memory_budget / elem_size(e)) / e->nworkers - fixed) / per;
            if (fit >= MIN_CHUNK || e->max_block == 1) break;
            e->max_block = (e->max_block + 1) / 2;
        }
        int cap = cache_chunk(e);
        d.chunk = (int)(fit > cap ? cap : fit < 1 ? 1 : fit);
    }
    e->chunk = d.chunk;
    e->cache.budget = 0;
    if (d.cache) {
        size_t avail = (size_t)hesse_mem_available() / 4, cap = (size_t)4 << 30;
        e->cache.budget = d.cache_budget ? d.cache_budget : (avail && avail < cap ? avail : cap);
    }
    if (e->prec->staged) {
        e->params32 = hesse_alloc((size_t)m->n * sizeof(float));
        if (!e->params32) {
            rc = hesse_error(HESSE_ENOMEM, "engine: out of memory for single-precision weights");
            goto cleanup;
        }
    }
    e->w = calloc((size_t)e->nworkers, e->prec->work_size);
    if (!e->w) {
        rc = hesse_error(HESSE_ENOMEM, "engine: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < e->nworkers; i++) HESSE_CHECK(e->prec->work_alloc(e, nn_common(e, i)));
    if (e->nworkers > 1) {
        e->threads = calloc((size_t)e->nworkers, sizeof *e->threads);
        if (!e->threads || pthread_mutex_init(&e->mu, NULL) || pthread_cond_init(&e->wake, NULL) ||
            pthread_cond_init(&e->done, NULL)) {
            rc = hesse_error(HESSE_ENOMEM, "engine: cannot set up the worker pool");
            goto cleanup;
        }
        e->pool_ready = 1;
        for (int i = 1; i < e->nworkers; i++) {
            pool_arg *pa = malloc(sizeof *pa);
            if (pa) *pa = (pool_arg){e, i};
            if (!pa || pthread_create(&e->threads[i], NULL, pool_main, pa) != 0) {
                free(pa);
                rc = hesse_error(HESSE_ENOMEM, "engine: cannot start worker thread %d", i);
                goto cleanup;
            }
            e->started = i; /* threads 1 .. started are running */
        }
    }
    *out = e;
    return HESSE_OK;
cleanup:
    hesse_engine_free(e);
    return rc;
}

void hesse_engine_free(hesse_engine *e) {
    if (!e) return;
    if (e->pool_ready) {
        pthread_mutex_lock(&e->mu);
        e->quit = 1;
        pthread_cond_broadcast(&e->wake);
        pthread_mutex_unlock(&e->mu);
        for (int i = 1; i <= e->started; i++) pthread_join(e->threads[i], NULL);
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->wake);
        pthread_cond_destroy(&e->done);
    }
    free(e->threads);
    for (int i = 0; e->w && i < e->nworkers; i++) e->prec->work_free(e, nn_common(e, i));
    free(e->w);
    if (e->prec) e->prec->cache_clear(e);
    hesse_free(e->params32);
    hesse_free(e->v32);
    free(e->size);
    free(e->dep);
    free(e->type);
    free(e->steps);
    free(e);
}

void hesse_engine_set_reduce(hesse_engine *e, hesse_reduce_fn fn, void *ctx) {
    e->reduce = fn;
    e->reduce_ctx = ctx;
}

void hesse_engine_set_pass_check(hesse_engine *e, hesse_pass_check_fn fn, void *ctx) {
    e->pass_check = fn;
    e->pass_check_ctx = ctx;
}

int nn_any_failed(hesse_engine *e, int failed) {
    if (e->pass_check) {
        int any = 1;
        if (e->pass_check(e->pass_check_ctx, failed, &any) != HESSE_OK) return 1;
        return any;
    }
    if (!e->reduce) return failed;
    double v = failed ? 1.0 : 0.0;
    if (e->reduce(e->reduce_ctx, &v, 1) != HESSE_OK) return 1;
    return v > 0.0;
}

int nn_reduce(hesse_engine *e, double *data, int64_t count) {
    if (!e->reduce || count == 0) return HESSE_OK;
    int rc = e->reduce(e->reduce_ctx, data, count);
    if (rc != HESSE_OK && hesse_last_error()[0] == '\0')
        hesse_error(rc, "the reduction over ranks failed");
    return rc;
}

int hesse_engine_reduce(hesse_engine *e, double *data, int64_t count) {
    if (!e || (count > 0 && !data)) return hesse_error(HESSE_EINVAL, "reduce: NULL argument");
    return nn_reduce(e, data, count);
}

int nn_diagnose(hesse_engine *e, const hesse_samples *s, int kind, int k, const double *V,
                char *msg, size_t cap) {
    /* first the inputs a user controls: the parameters and the directions */
    const hesse_model *m = e->m;
    for (int t = 0; t < m->num_tensors; t++)
        for (int64_t i = 0; i < m->tensors[t].count; i++)
            if (!isfinite(m->params[m->tensors[t].offset + i])) {
                snprintf(msg, cap, "parameter %s[%lld] is not finite", m->tensors[t].name,
                         (long long)i);
                return 1;
            }
    for (int64_t i = 0; kind >= 0 && i < m->n * k; i++)
        if (!isfinite(V[i])) {
            snprintf(msg, cap, "direction %lld has a non-finite entry at %lld",
                     (long long)(i / m->n), (long long)(i % m->n));
            return 1;
        }
    return e->prec->diagnose(e, s, kind, k, V, msg, cap);
}

/* The error of a pass that failed on some rank: this rank's own non-finite sample (with the
 * layer that produced it), or another rank's. */
static int failed_pass(hesse_engine *e, const hesse_samples *s, int64_t bad) {
    if (bad >= 0) {
        char why[256];
        if (nn_diagnose(e, s, -1, 0, NULL, why, sizeof why))
            return hesse_error(HESSE_ENUMERIC, "the loss of sample %lld is not finite: %s",
                               (long long)(s->source ? s->source[bad] : bad), why);
        return hesse_error(HESSE_ENUMERIC,
                           "the loss of sample %lld is not finite (check the weights and inputs)",
                           (long long)(s->source ? s->source[bad] : bad));
    }
    if (hesse_last_error()[0] != '\0') return HESSE_ENUMERIC;
    return hesse_error(HESSE_ENUMERIC, "a sample on another rank has a non-finite loss");
}

int hesse_engine_chunk(const hesse_engine *e) {
    return e->chunk;
}

int hesse_engine_max_block(const hesse_engine *e) {
    return e->max_block;
}

size_t hesse_engine_bytes(const hesse_engine *e) {
    return e->bytes + e->cache.bytes;
}

int64_t hesse_engine_num_params(const hesse_engine *e) {
    return e->m->n;
}

const hesse_model *hesse_engine_model(const hesse_engine *e) {
    return e->m;
}

int hesse_engine_threads(const hesse_engine *e) {
    return e->nworkers;
}

hesse_precision hesse_engine_precision(const hesse_engine *e) {
    return e->prec->precision;
}

size_t hesse_engine_cache_bytes(const hesse_engine *e) {
    return e->cache.bytes;
}

int64_t hesse_engine_cache_hits(const hesse_engine *e) {
    return e->cache.hits;
}

/* ---- The cache ---------------------------------------------------------------------------- */

/* A 64-bit checksum of a byte range: four independent multiply-xorshift lanes over 8-byte
 * words (so that the chain of dependent multiplies does not limit its speed), then folded. */
static uint64_t checksum(uint64_t h, const void *data, size_t bytes) {
    const unsigned char *p = data;
    uint64_t lane[4] = {h, h ^ 0x6a09e667f3bcc909ull, h ^ 0xbb67ae8584caa73bull,
                        h ^ 0x3c6ef372fe94f82bull};
    size_t words = bytes / 8, i = 0;
    for (; i + 4 <= words; i += 4)
        for (int q = 0; q < 4; q++) {
            uint64_t v;
            memcpy(&v, p + 8 * (i + (size_t)q), 8);
            lane[q] = (lane[q] ^ v) * 0x9e3779b97f4a7c15ull;
            lane[q] ^= lane[q] >> 29;
        }
    for (; i < words; i++) {
        uint64_t v;
        memcpy(&v, p + 8 * i, 8);
        lane[0] = (lane[0] ^ v) * 0x9e3779b97f4a7c15ull;
        lane[0] ^= lane[0] >> 29;
    }
    for (size_t t = words * 8; t < bytes; t++) lane[1] = (lane[1] ^ p[t]) * 0x100000001b3ull;
    uint64_t r = lane[0];
    for (int q = 1; q < 4; q++) {
        r = (r ^ lane[q]) * 0x9e3779b97f4a7c15ull;
        r ^= r >> 31;
    }
    return r ? r : 1;
}

static uint64_t cache_key(const hesse_engine *e, const hesse_samples *s, int chunk) {
    uint64_t h = 0x243f6a8885a308d3ull ^ (uint64_t)s->n ^ ((uint64_t)chunk << 40) ^
                 ((uint64_t)hesse_samples_total(s) << 20);
    h = checksum(h, e->m->params, (size_t)e->m->n * sizeof(double));
    h = checksum(h, e->m->buffers, (size_t)e->m->nbuf * sizeof(double));
    h = checksum(h, s->x, (size_t)(s->n * hesse_samples_dim(s)) * sizeof(double));
    return checksum(h, s->y, (size_t)(s->n * hesse_samples_targets(s)) * sizeof(int32_t));
}

/* Lays out the cache for s in chunks of `chunk` samples; 0 when it does not fit the budget. */
static int cache_prepare(hesse_engine *e, const hesse_samples *s, int chunk) {
    int nchunks = (int)((s->n + chunk - 1) / chunk);
    /* each chunk is rounded up by at most one element per rounded array: allow 64 per chunk */
    double need =
        ((double)s->n * (double)nn_state_per_sample(e, 0) + 64.0 * nchunks) * (double)elem_size(e);
    if (need > (double)e->cache.budget) return 0;
    return e->prec->cache_layout(e, s, chunk, (size_t)need);
}

/* ---- Public passes ---------------------------------------------------------------------- */

int nn_check_samples(const hesse_engine *e, const hesse_samples *s) {
    int c, h, w;
    hesse_model_input_shape(e->m, &c, &h, &w);
    if (!s || s->n <= 0 || !s->x || !s->y) return hesse_error(HESSE_EINVAL, "no samples given");
    if (s->c != c || s->h != h || s->w != w)
        return hesse_error(HESSE_EINPUT,
                           "samples are %dx%dx%d but the model \"%s\" expects input %dx%dx%d", s->c,
                           s->h, s->w, hesse_model_arch(e->m), c, h, w);
    const int P = hesse_samples_targets(s);
    if (P != e->P)
        return hesse_error(HESSE_EINPUT,
                           "the samples have %d label%s each but the model \"%s\" has %d output "
                           "position%s (%d of %d classes): a sequence model needs one label per "
                           "position",
                           P, P == 1 ? "" : "s", hesse_model_arch(e->m), e->P, e->P == 1 ? "" : "s",
                           e->P, e->V);
    for (int64_t i = 0; i < s->n * P; i++)
        if (s->y[i] < 0 || s->y[i] >= e->V) {
            const int64_t k = i / P, at = s->source ? s->source[k] : k;
            if (P == 1)
                return hesse_error(HESSE_EINPUT,
                                   "sample %lld has label %d but the model has %d outputs (labels "
                                   "must lie in [0, %d))",
                                   (long long)at, (int)s->y[i], e->V, e->V);
            return hesse_error(HESSE_EINPUT,
                               "sample %lld has label %d at position %lld but the model has %d "
                               "classes a position (labels must lie in [0, %d))",
                               (long long)at, (int)s->y[i], (long long)(i % P), e->V, e->V);
        }
    /* the layers that read the samples: the first, and those after aliases of the input */
    for (int l = 0; l < e->L; l++) {
        int rc = e->type[l]->check_input ? e->type[l]->check_input(&e->m->layers[l], s) : HESSE_OK;
        if (rc != HESSE_OK || !(e->type[l]->flags & NN_ALIAS)) return rc;
    }
    return HESSE_OK;
}

double nn_loss_scale(const hesse_engine *e, int64_t n) {
    /* PyTorch's reduction='mean': over the n P positions for cross-entropy
     * (F.cross_entropy(z.view(-1, V), y.view(-1))), over all n C elements for MSE. */
    return e->m->loss == HESSE_LOSS_MSE ? 1.0 / ((double)n * e->C) : 1.0 / ((double)n * e->P);
}

/* The first non-finite sample over the workers (-1: none). */
static int64_t first_bad(const hesse_engine *e) {
    int64_t bad = -1;
    for (int i = 0; i < e->nworkers; i++) {
        int64_t b = nn_common(e, i)->bad;
        if (b >= 0 && (bad < 0 || b < bad)) bad = b;
    }
    return bad;
}

int nn_ensure_acc(hesse_engine *e, int64_t count) {
    for (int i = 1; i < e->nworkers; i++) {
        nn_work_common *c = nn_common(e, i);
        if (c->acc_cap < count) {
            hesse_free(c->acc);
            c->acc = hesse_alloc((size_t)count * sizeof(double));
            c->acc_cap = c->acc ? count : 0;
            if (!c->acc) return HESSE_ENOMEM;
        }
    }
    return e->prec->reserve(e, count);
}

/* out += the accumulators of workers 1.. in order (worker 0 wrote into out). */
static void reduce_acc(hesse_engine *e, double *out, int64_t count) {
    for (int i = 1; i < e->nworkers; i++) {
        const double *acc = nn_common(e, i)->acc;
        for (int64_t j = 0; j < count; j++) out[j] += acc[j];
    }
}

int hesse_loss_grad(hesse_engine *e, const hesse_samples *s, double *loss, double *grad,
                    int64_t *correct) {
    if (!e || !loss) return hesse_error(HESSE_EINVAL, "hesse_loss_grad: NULL argument");
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    const int64_t n = e->m->n;
    if (grad && (rc = nn_ensure_acc(e, n)) != HESSE_OK)
        return hesse_error(rc, "engine: no memory for the workers' gradients");
    e->prec->stage(e, 0, NULL);
    nn_loss_job j = {s, nn_loss_scale(e, hesse_samples_total(s)), nn_chunk_size(e, s->n),
                     grad != NULL, grad};
    nn_run(e, e->prec->loss_grad_job, &j);
    int64_t bad = first_bad(e);
    if (nn_any_failed(e, bad >= 0)) return failed_pass(e, s, bad);
    double tot[2] = {0.0, 0.0}; /* loss sum, correct predictions */
    for (int i = 0; i < e->nworkers; i++) {
        tot[0] += nn_common(e, i)->loss;
        tot[1] += (double)nn_common(e, i)->correct;
    }
    if (grad) reduce_acc(e, grad, n);
    if ((rc = nn_reduce(e, tot, 2)) != HESSE_OK) return rc;
    if (grad && (rc = nn_reduce(e, grad, n)) != HESSE_OK) return rc;
    *loss = tot[0] * j.scale;
    if (correct) *correct = (int64_t)tot[1];
    return HESSE_OK;
}

int hesse_curv_product(hesse_engine *e, const hesse_samples *s, hesse_curv_kind kind, int k,
                       const double *V, double *Y) {
    if (!e || (k > 0 && (!V || !Y)) || k < 0)
        return hesse_error(HESSE_EINVAL, "hesse_curv_product: invalid arguments");
    if (kind < HESSE_CURV_HESSIAN || kind > HESSE_CURV_EFISHER)
        return hesse_error(HESSE_EINVAL, "hesse_curv_product: unknown curvature %d", (int)kind);
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    if (k == 0) return HESSE_OK;
    const int64_t n = e->m->n;
    if ((rc = nn_ensure_acc(e, n * k)) != HESSE_OK)
        return hesse_error(rc, "engine: no memory for the workers' products (%d vectors)", k);
    if ((rc = e->prec->stage(e, k, V)) != HESSE_OK) return rc;
    nn_curv_job j = {
        s, kind, k, nn_chunk_size(e, s->n), V, Y, nn_loss_scale(e, hesse_samples_total(s)), 0};
    uint64_t key = 0;
    if (e->cache.budget > 0) {
        key = cache_key(e, s, j.chunk);
        if (key == e->cache.key && e->cache.chunk == j.chunk) {
            j.cached = 2;
            e->cache.hits++;
        } else if (cache_prepare(e, s, j.chunk)) {
            j.cached = 1;
            e->cache.key = 0; /* valid only once the pass completes */
        }
    }
    nn_run(e, e->prec->curv_job, &j);
    int64_t bad = first_bad(e);
    if (nn_any_failed(e, bad >= 0)) return failed_pass(e, s, bad);
    if (j.cached == 1) e->cache.key = key;
    reduce_acc(e, Y, n * k);
    if ((rc = nn_reduce(e, Y, n * k)) != HESSE_OK) return rc;
    int64_t nonfinite = -1;
    for (int64_t i = 0; i < n * k && nonfinite < 0; i++)
        if (!isfinite(Y[i])) nonfinite = i;
    if (nonfinite >= 0) {
        char why[256];
        if (nn_diagnose(e, s, kind, k, V, why, sizeof why))
            return hesse_error(HESSE_ENUMERIC, "the %s product is not finite: %s",
                               hesse_curv_name(kind), why);
        return hesse_error(HESSE_ENUMERIC,
                           "the %s product is not finite (entry %lld of vector %lld) although "
                           "every layer's values are",
                           hesse_curv_name(kind), (long long)(nonfinite % n),
                           (long long)(nonfinite / n));
    }
    return HESSE_OK;
}

int hesse_forward(hesse_engine *e, const hesse_samples *s, double *out) {
    if (!e || !out) return hesse_error(HESSE_EINVAL, "hesse_forward: NULL argument");
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    e->prec->stage(e, 0, NULL);
    nn_forward_job j = {s, nn_chunk_size(e, s->n), out};
    nn_run(e, e->prec->forward_job, &j);
    return HESSE_OK;
}

const char *hesse_curv_name(hesse_curv_kind kind) {
    static const char *const names[] = {"hessian", "ggn", "residual", "efisher"};
    return kind >= HESSE_CURV_HESSIAN && kind <= HESSE_CURV_EFISHER ? names[kind] : "?";
}

int hesse_curv_parse(const char *name, hesse_curv_kind *kind) {
    for (int k = HESSE_CURV_HESSIAN; k <= HESSE_CURV_EFISHER; k++)
        if (strcmp(name, hesse_curv_name((hesse_curv_kind)k)) == 0) {
            *kind = (hesse_curv_kind)k;
            return HESSE_OK;
        }
    return hesse_error(HESSE_EINVAL,
                       "unknown operator '%s' (expected hessian, ggn, residual or efisher)", name);
}
