/* The engine: scratch for data-parallel workers, the worker pool, the forward/backward cache,
 * and the public passes (loss and gradient, curvature products, logits). The passes over one
 * chunk are in passes.c; the design is in engine-impl.h. */
#include "nn/engine-impl.h"

#include <stdlib.h>
#include <string.h>

/* OpenBLAS extensions (declared in its cblas.h). */
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

#define MAX_CHUNK 128 /* larger chunks gain little in GEMM speed and lose cache locality */

hesse_engine_params hesse_engine_defaults(void) {
    hesse_engine_params p = {0, 1, (size_t)512 << 20, 0, 1, 0};
    return p;
}

/* ---- Sizes -------------------------------------------------------------------------------- */

/* Doubles of a chunk's forward/backward state per sample (act, grad, cols, arg-max, probs). */
static int64_t state_per_sample(const hesse_engine *e) {
    const hesse_model *m = e->m;
    int64_t ps = e->C;
    for (int l = 0; l < e->L; l++) {
        const hesse_layer *L = &m->layers[l];
        ps += 2 * e->size[l + 1];
        if (L->kind == HESSE_LAYER_CONV2D) ps += nn_conv_k(L) * nn_conv_p(L);
        if (L->kind == HESSE_LAYER_MAXPOOL2D) ps += (e->size[l + 1] + 1) / 2; /* int32 */
    }
    return ps;
}

/* Doubles of R-pass scratch per sample of a chunk for block k, and independent of the chunk. */
static void rpass_size(const hesse_engine *e, int k, int64_t *per_sample, int64_t *fixed) {
    const hesse_model *m = e->m;
    int64_t ps = 0, max_size = e->size[0], max_tmp = 0, max_gcols = 0, max_gyp = 0, max_w = 0;
    int64_t max_lin = 0;
    for (int l = 0; l < e->L; l++) {
        const hesse_layer *L = &m->layers[l];
        ps += (int64_t)k * e->size[l + 1]; /* ract */
        if (e->size[l + 1] > max_size) max_size = e->size[l + 1];
        if (L->kind == HESSE_LAYER_CONV2D) {
            int64_t K = nn_conv_k(L), P = nn_conv_p(L);
            ps += K * P * k; /* rcols */
            if (K * P * k > max_gcols) max_gcols = K * P * k;
            if ((int64_t)L->out_c * P * k > max_tmp) max_tmp = (int64_t)L->out_c * P * k;
            if ((int64_t)L->out_c * P > max_gyp) max_gyp = (int64_t)L->out_c * P;
        }
        if (L->weight_count > max_w) max_w = L->weight_count;
        if (L->kind == HESSE_LAYER_LINEAR) {
            int64_t d = L->in_c > L->out_c ? L->in_c : L->out_c;
            if (d > max_lin) max_lin = d;
        }
    }
    ps += 2 * (int64_t)k * max_size + max_tmp + max_gcols + max_gyp + (int64_t)k * max_lin;
    *per_sample = ps;
    *fixed = 2 * (int64_t)k * max_w; /* vstack, wbuf */
}

/* ---- Chunk states --------------------------------------------------------------------------- */

/* Points st's arrays into `mem` (which holds B * state_per_sample doubles), or measures when
 * mem is NULL. Returns the doubles used. */
static int64_t state_layout(const hesse_engine *e, int B, double *mem, nn_state *st) {
    const hesse_model *m = e->m;
    int64_t at = 0;
#define TAKE(count) (mem ? mem + at : NULL), at += (count)
    for (int l = 0; l < e->L; l++) {
        const hesse_layer *L = &m->layers[l];
        st->act[l + 1] = TAKE((int64_t)B * e->size[l + 1]);
        st->grad[l + 1] = TAKE((int64_t)B * e->size[l + 1]);
        st->cols[l] = NULL;
        st->argmax[l] = NULL;
        if (L->kind == HESSE_LAYER_CONV2D)
            st->cols[l] = TAKE((int64_t)B * nn_conv_k(L) * nn_conv_p(L));
        if (L->kind == HESSE_LAYER_MAXPOOL2D) {
            st->argmax[l] = mem ? (int32_t *)(mem + at) : NULL;
            at += ((int64_t)B * e->size[l + 1] + 1) / 2;
        }
    }
    st->probs = TAKE((int64_t)B * e->C);
#undef TAKE
    return at;
}

static int state_arrays(const hesse_engine *e, nn_state *st) {
    st->act = calloc((size_t)e->L + 1, sizeof *st->act);
    st->grad = calloc((size_t)e->L + 1, sizeof *st->grad);
    st->cols = calloc((size_t)e->L, sizeof *st->cols);
    st->argmax = calloc((size_t)e->L, sizeof *st->argmax);
    return st->act && st->grad && st->cols && st->argmax ? HESSE_OK : HESSE_ENOMEM;
}

static void state_free_arrays(nn_state *st) {
    free(st->act);
    free(st->grad);
    free(st->cols);
    free(st->argmax);
}

/* ---- Workers ------------------------------------------------------------------------------- */

static void work_free(const hesse_engine *e, nn_work *w) {
    if (w->own.act) hesse_free(w->own.act[1]); /* the block holding the whole state */
    state_free_arrays(&w->own);
    for (int l = 0; w->ract && l <= e->L; l++) hesse_free(w->ract[l]);
    for (int l = 0; w->rcols && l < e->L; l++) hesse_free(w->rcols[l]);
    free(w->ract);
    free(w->rcols);
    hesse_free(w->rg[0]);
    hesse_free(w->rg[1]);
    hesse_free(w->tmp);
    hesse_free(w->gcols);
    hesse_free(w->gyp);
    hesse_free(w->vstack);
    hesse_free(w->wbuf);
    hesse_free(w->perm);
    hesse_free(w->acc);
    free(w->a);
    free(w->g);
    free(w->ra);
}

static int work_alloc(hesse_engine *e, nn_work *w) {
    const hesse_model *m = e->m;
    const int B = e->chunk, k = e->max_block, L = e->L;
    int rc = HESSE_OK;
    if (state_arrays(e, &w->own)) goto nomem; /* st only ever borrows own's or the cache's */
    w->ract = calloc((size_t)L + 1, sizeof *w->ract);
    w->rcols = calloc((size_t)L, sizeof *w->rcols);
    w->a = calloc((size_t)L + 1, sizeof *w->a);
    w->g = calloc((size_t)L + 1, sizeof *w->g);
    w->ra = calloc((size_t)L + 1, sizeof *w->ra);
    if (!w->ract || !w->rcols || !w->a || !w->g || !w->ra) goto nomem;
    int64_t state = state_layout(e, B, NULL, &w->own);
    double *block = hesse_alloc((size_t)state * sizeof(double));
    if (!block) goto nomem;
    state_layout(e, B, block, &w->own);
    e->bytes += (size_t)state * sizeof(double);
    int64_t max_size = e->size[0], max_tmp = 0, max_gcols = 0, max_gyp = 0, max_w = 0, max_lin = 0;
#define ALLOC(ptr, count)                                                                          \
    do {                                                                                           \
        size_t bytes_ = (size_t)(count) * sizeof *(ptr);                                           \
        (ptr) = hesse_alloc(bytes_);                                                               \
        if (!(ptr)) goto nomem;                                                                    \
        e->bytes += bytes_;                                                                        \
    } while (0)
    for (int l = 0; l < L; l++) {
        const hesse_layer *Ly = &m->layers[l];
        int64_t sz = e->size[l + 1];
        if (sz > max_size) max_size = sz;
        ALLOC(w->ract[l + 1], (int64_t)k * B * sz);
        if (Ly->kind == HESSE_LAYER_CONV2D) {
            int64_t K = nn_conv_k(Ly), P = nn_conv_p(Ly);
            ALLOC(w->rcols[l], K * k * B * P);
            if (K * P * k > max_gcols) max_gcols = K * P * k;
            if ((int64_t)Ly->out_c * P * k > max_tmp) max_tmp = (int64_t)Ly->out_c * P * k;
            if ((int64_t)Ly->out_c * P > max_gyp) max_gyp = (int64_t)Ly->out_c * P;
        }
        if (Ly->weight_count > max_w) max_w = Ly->weight_count;
        if (Ly->kind == HESSE_LAYER_LINEAR) {
            int64_t d = Ly->in_c > Ly->out_c ? Ly->in_c : Ly->out_c;
            if (d > max_lin) max_lin = d;
        }
    }
    ALLOC(w->rg[0], (int64_t)k * B * max_size);
    ALLOC(w->rg[1], (int64_t)k * B * max_size);
    ALLOC(w->tmp, max_tmp > 0 ? (int64_t)B * max_tmp : 1);
    ALLOC(w->gcols, max_gcols > 0 ? (int64_t)B * max_gcols : 1);
    ALLOC(w->gyp, max_gyp > 0 ? (int64_t)B * max_gyp : 1);
    ALLOC(w->vstack, max_w > 0 ? (int64_t)k * max_w : 1);
    ALLOC(w->wbuf, max_w > 0 ? (int64_t)k * max_w : 1);
    ALLOC(w->perm, max_lin > 0 ? (int64_t)k * B * max_lin : 1);
#undef ALLOC
    return rc;
nomem:
    return hesse_error(
        HESSE_ENOMEM, "engine: cannot allocate the scratch of a worker (chunk %d, block %d)", B, k);
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
        job(e, &e->w[idx], idx, arg);
        pthread_mutex_lock(&e->mu);
        if (--e->pending == 0) pthread_cond_signal(&e->done);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

void nn_run(hesse_engine *e, nn_job_fn fn, void *arg) {
    if (e->nworkers == 1) {
        fn(e, &e->w[0], 0, arg);
        return;
    }
    /* the workers' GEMMs run in their own threads: OpenBLAS stays single-threaded meanwhile */
    int blas = openblas_get_num_threads();
    if (blas > 1) openblas_set_num_threads(1);
    pthread_mutex_lock(&e->mu);
    e->job = fn;
    e->job_arg = arg;
    e->pending = e->nworkers - 1;
    e->generation++;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->mu);
    fn(e, &e->w[0], 0, arg);
    pthread_mutex_lock(&e->mu);
    while (e->pending > 0) pthread_cond_wait(&e->done, &e->mu);
    pthread_mutex_unlock(&e->mu);
    if (blas > 1) openblas_set_num_threads(blas);
}

int nn_chunk_size(const hesse_engine *e, int64_t n) {
    int64_t per = (n + e->nworkers - 1) / e->nworkers; /* every worker gets some */
    return (int)(per < e->chunk ? (per > 0 ? per : 1) : e->chunk);
}

/* ---- Creation -------------------------------------------------------------------------------- */

int hesse_engine_create(const hesse_model *m, const hesse_engine_params *p, hesse_engine **out) {
    if (!m || !out) return hesse_error(HESSE_EINVAL, "hesse_engine_create: NULL argument");
    *out = NULL;
    hesse_engine_params d = p ? *p : hesse_engine_defaults();
    if (d.max_block <= 0) d.max_block = 1;
    if (d.memory_budget == 0) d.memory_budget = hesse_engine_defaults().memory_budget;
    if (d.chunk < 0 || d.threads < 0)
        return hesse_error(HESSE_EINVAL, "engine: chunk %d and threads %d must not be negative",
                           d.chunk, d.threads);
    hesse_engine *e = calloc(1, sizeof *e);
    if (!e) return hesse_error(HESSE_ENOMEM, "engine: out of memory");
    int rc = HESSE_OK;
    const int L = m->num_layers;
    e->m = m;
    e->L = L;
    e->C = hesse_model_num_outputs(m);
    e->max_block = d.max_block;
    e->nworkers = d.threads > 0 ? d.threads : openblas_get_num_threads();
    if (e->nworkers < 1) e->nworkers = 1;
    if (e->nworkers > 256) e->nworkers = 256;
    e->first_param = L;
    for (int l = L - 1; l >= 0; l--)
        if (m->layers[l].weight_count > 0) e->first_param = l;
    e->size = calloc((size_t)L + 1, sizeof *e->size);
    if (!e->size) {
        rc = hesse_error(HESSE_ENOMEM, "engine: out of memory");
        goto cleanup;
    }
    e->size[0] = nn_in_size(&m->layers[0]);
    for (int l = 0; l < L; l++) e->size[l + 1] = nn_out_size(&m->layers[l]);
    if (d.chunk == 0) {
        int64_t per, fixed;
        rpass_size(e, e->max_block, &per, &fixed);
        per += state_per_sample(e);
        int64_t fit = ((int64_t)(d.memory_budget / sizeof(double)) / e->nworkers - fixed) / per;
        d.chunk = (int)(fit > MAX_CHUNK ? MAX_CHUNK : fit < 1 ? 1 : fit);
    }
    e->chunk = d.chunk;
    e->cache.budget = 0;
    if (d.cache) {
        size_t avail = (size_t)hesse_mem_available() / 4, cap = (size_t)4 << 30;
        e->cache.budget = d.cache_budget ? d.cache_budget : (avail && avail < cap ? avail : cap);
    }
    e->w = calloc((size_t)e->nworkers, sizeof *e->w);
    if (!e->w) {
        rc = hesse_error(HESSE_ENOMEM, "engine: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < e->nworkers; i++) HESSE_CHECK(work_alloc(e, &e->w[i]));
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

static void cache_clear(nn_cache *c) {
    for (int i = 0; c->chunks && i < c->nchunks; i++) state_free_arrays(&c->chunks[i]);
    free(c->chunks);
    hesse_free(c->block);
    c->chunks = NULL;
    c->block = NULL;
    c->nchunks = 0;
    c->bytes = 0;
    c->key = 0;
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
    for (int i = 0; e->w && i < e->nworkers; i++) work_free(e, &e->w[i]);
    free(e->w);
    cache_clear(&e->cache);
    free(e->size);
    free(e);
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

size_t hesse_engine_cache_bytes(const hesse_engine *e) {
    return e->cache.bytes;
}

int64_t hesse_engine_cache_hits(const hesse_engine *e) {
    return e->cache.hits;
}

/* ---- The cache ------------------------------------------------------------------------------- */

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
    uint64_t h = 0x243f6a8885a308d3ull ^ (uint64_t)s->n ^ ((uint64_t)chunk << 40);
    h = checksum(h, e->m->params, (size_t)e->m->n * sizeof(double));
    h = checksum(h, s->x, (size_t)(s->n * hesse_samples_dim(s)) * sizeof(double));
    return checksum(h, s->y, (size_t)s->n * sizeof(int32_t));
}

/* Lays out the cache for s in chunks of `chunk` samples; 0 when it does not fit the budget. */
static int cache_prepare(hesse_engine *e, const hesse_samples *s, int chunk) {
    nn_cache *c = &e->cache;
    int nchunks = (int)((s->n + chunk - 1) / chunk);
    double need = (double)s->n * (double)state_per_sample(e) * sizeof(double);
    if (need > (double)c->budget) return 0;
    if (c->chunks && c->nchunks == nchunks && c->chunk == chunk) return 1; /* same layout */
    cache_clear(c);
    c->chunks = calloc((size_t)nchunks, sizeof *c->chunks);
    c->block = hesse_alloc((size_t)need);
    if (!c->chunks || !c->block) {
        cache_clear(c);
        hesse_clear_error();
        return 0; /* run uncached */
    }
    double *at = c->block;
    for (int i = 0; i < nchunks; i++) {
        int B = (int)(s->n - (int64_t)i * chunk < chunk ? s->n - (int64_t)i * chunk : chunk);
        if (state_arrays(e, &c->chunks[i]) != HESSE_OK) {
            cache_clear(c);
            return 0;
        }
        at += state_layout(e, B, at, &c->chunks[i]);
    }
    c->nchunks = nchunks;
    c->chunk = chunk;
    c->bytes = (size_t)need;
    return 1;
}

/* ---- Public passes ----------------------------------------------------------------------- */

static int nonfinite_loss(const hesse_samples *s, int64_t i) {
    return hesse_error(HESSE_ENUMERIC,
                       "the loss of sample %lld is not finite (check the weights and inputs)",
                       (long long)(s->source ? s->source[i] : i));
}

/* The first non-finite sample over the workers (-1: none). */
static int64_t first_bad(const hesse_engine *e) {
    int64_t bad = -1;
    for (int i = 0; i < e->nworkers; i++)
        if (e->w[i].bad >= 0 && (bad < 0 || e->w[i].bad < bad)) bad = e->w[i].bad;
    return bad;
}

/* Gives every worker an accumulator of at least `count` doubles (worker 0 may use the
 * caller's output instead). */
static int ensure_acc(hesse_engine *e, int64_t count) {
    for (int i = 1; i < e->nworkers; i++) {
        nn_work *w = &e->w[i];
        if (w->acc_cap >= count) continue;
        hesse_free(w->acc);
        w->acc = hesse_alloc((size_t)count * sizeof(double));
        w->acc_cap = w->acc ? count : 0;
        if (!w->acc) return HESSE_ENOMEM;
    }
    return HESSE_OK;
}

/* out += the accumulators of workers 1.. in order (worker 0 wrote into out). */
static void reduce_acc(const hesse_engine *e, double *out, int64_t count) {
    for (int i = 1; i < e->nworkers; i++)
        for (int64_t j = 0; j < count; j++) out[j] += e->w[i].acc[j];
}

typedef struct {
    const hesse_samples *s;
    double scale;
    int chunk;
    int want_grad;
    double *out; /* worker 0's accumulator */
} loss_job;

static void loss_grad_job(hesse_engine *e, nn_work *w, int idx, void *arg) {
    loss_job *j = arg;
    const int64_t dim = hesse_samples_dim(j->s), n = e->m->n;
    double *acc = idx == 0 ? j->out : w->acc;
    w->loss = 0.0;
    w->correct = 0;
    w->bad = -1;
    w->st = w->own;
    if (j->want_grad) memset(acc, 0, (size_t)n * sizeof *acc);
    for (int64_t c0 = (int64_t)idx * j->chunk; c0 < j->s->n;
         c0 += (int64_t)e->nworkers * j->chunk) {
        int B = (int)(j->s->n - c0 < j->chunk ? j->s->n - c0 : j->chunk);
        nn_forward_chunk(e, w, B, j->s->x + c0 * dim);
        int64_t bad = nn_loss_chunk(e, w, B, j->s->y + c0, j->scale, &w->loss, &w->correct);
        if (bad >= 0) {
            w->bad = c0 + bad;
            return;
        }
        if (j->want_grad) nn_backward_chunk(e, w, B, acc);
    }
}

int hesse_loss_grad(hesse_engine *e, const hesse_samples *s, double *loss, double *grad,
                    int64_t *correct) {
    if (!e || !loss) return hesse_error(HESSE_EINVAL, "hesse_loss_grad: NULL argument");
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    const int64_t n = e->m->n;
    if (grad && (rc = ensure_acc(e, n)) != HESSE_OK)
        return hesse_error(rc, "engine: no memory for the workers' gradients");
    loss_job j = {s, nn_loss_scale(e, s->n), nn_chunk_size(e, s->n), grad != NULL, grad};
    nn_run(e, loss_grad_job, &j);
    int64_t bad = first_bad(e);
    if (bad >= 0) return nonfinite_loss(s, bad);
    double sum = 0.0;
    int64_t right = 0;
    for (int i = 0; i < e->nworkers; i++) {
        sum += e->w[i].loss;
        right += e->w[i].correct;
    }
    if (grad) reduce_acc(e, grad, n);
    *loss = sum * j.scale;
    if (correct) *correct = right;
    return HESSE_OK;
}

typedef struct {
    const hesse_samples *s;
    hesse_curv_kind kind;
    int k, chunk;
    const double *V;
    double *Y;
    double scale;
    int cached; /* 0: own scratch; 1: build the cache; 2: reuse it */
} curv_job;

static void curv_job_run(hesse_engine *e, nn_work *w, int idx, void *arg) {
    curv_job *j = arg;
    const int64_t dim = hesse_samples_dim(j->s), n = e->m->n;
    const int second_order = j->kind == HESSE_CURV_HESSIAN || j->kind == HESSE_CURV_RESIDUAL;
    double *Y = idx == 0 ? j->Y : w->acc;
    w->bad = -1;
    memset(Y, 0, (size_t)(n * j->k) * sizeof *Y);
    for (int64_t c0 = (int64_t)idx * j->chunk; c0 < j->s->n;
         c0 += (int64_t)e->nworkers * j->chunk) {
        int B = (int)(j->s->n - c0 < j->chunk ? j->s->n - c0 : j->chunk);
        const double *x = j->s->x + c0 * dim;
        w->st = j->cached ? e->cache.chunks[c0 / j->chunk] : w->own;
        if (j->cached == 2) {
            nn_restore_pointers(e, w, x);
        } else {
            double sum = 0.0;
            nn_forward_chunk(e, w, B, x);
            int64_t bad = nn_loss_chunk(e, w, B, j->s->y + c0, j->scale, &sum, NULL);
            if (bad >= 0) {
                w->bad = c0 + bad;
                return;
            }
            /* a cache serves every later kind of product, so it always holds the backward */
            if (second_order || j->cached) nn_backward_chunk(e, w, B, NULL);
        }
        for (int j0 = 0; j0 < j->k; j0 += e->max_block) {
            int kk = j->k - j0 < e->max_block ? j->k - j0 : e->max_block;
            nn_rforward_chunk(e, w, B, kk, j->V + j0 * n);
            nn_rbackward_chunk(e, w, B, kk, j->V + j0 * n, Y + j0 * n, j->scale, j->s->n, j->kind);
        }
    }
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
    if ((rc = ensure_acc(e, n * k)) != HESSE_OK)
        return hesse_error(rc, "engine: no memory for the workers' products (%d vectors)", k);
    curv_job j = {s, kind, k, nn_chunk_size(e, s->n), V, Y, nn_loss_scale(e, s->n), 0};
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
    nn_run(e, curv_job_run, &j);
    int64_t bad = first_bad(e);
    if (bad >= 0) return nonfinite_loss(s, bad);
    if (j.cached == 1) e->cache.key = key;
    reduce_acc(e, Y, n * k);
    return HESSE_OK;
}

typedef struct {
    const hesse_samples *s;
    int chunk;
    double *out;
} forward_job;

static void forward_job_run(hesse_engine *e, nn_work *w, int idx, void *arg) {
    forward_job *j = arg;
    const int64_t dim = hesse_samples_dim(j->s);
    w->st = w->own;
    for (int64_t c0 = (int64_t)idx * j->chunk; c0 < j->s->n;
         c0 += (int64_t)e->nworkers * j->chunk) {
        int B = (int)(j->s->n - c0 < j->chunk ? j->s->n - c0 : j->chunk);
        nn_forward_chunk(e, w, B, j->s->x + c0 * dim);
        memcpy(j->out + c0 * e->C, w->a[e->L], (size_t)B * e->C * sizeof *j->out);
    }
}

int hesse_forward(hesse_engine *e, const hesse_samples *s, double *out) {
    if (!e || !out) return hesse_error(HESSE_EINVAL, "hesse_forward: NULL argument");
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    forward_job j = {s, nn_chunk_size(e, s->n), out};
    nn_run(e, forward_job_run, &j);
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
