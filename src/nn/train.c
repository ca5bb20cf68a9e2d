/* The training loop as a library object: one optimizer step at a time over shuffled
 * minibatches (or the full batch for GD), with a state blob for checkpoints. */
#include <hesse/nn.h>

#include <stdlib.h>
#include <string.h>

struct hesse_trainer {
    hesse_trainer_params p;
    hesse_model *m;
    const hesse_samples *s;
    hesse_engine *e;
    hesse_optimizer *opt;
    hesse_samples batch;
    hesse_rng rng;
    int64_t *order, n, N, batches, total, done;
    int B, gd;
    double *grad;
    double loss_sum;     /* the running epoch: sum of minibatch loss x samples */
    int64_t correct_sum; /* and of positions predicted right */
};

hesse_trainer_params hesse_trainer_defaults(void) {
    hesse_trainer_params p = {hesse_optim_defaults(HESSE_OPTIM_SGD),
                              HESSE_SCHEDULE_CONSTANT,
                              0.01,
                              1,
                              64,
                              1,
                              0.1,
                              0,
                              0,
                              0};
    return p;
}

/* The sizes of a run: minibatch, minibatches per epoch and steps in all. */
static int trainer_sizes(hesse_trainer *t) {
    const hesse_trainer_params *p = &t->p;
    if (t->N < 1 || p->epochs < 0 || (p->batch < 1 && !t->gd) || p->step_epochs < 1)
        return hesse_error(HESSE_EINVAL, "trainer: invalid parameters");
    t->B = t->gd || p->batch >= t->N ? (int)t->N : p->batch;
    t->batches = (t->N + t->B - 1) / t->B;
    t->total = (int64_t)p->epochs * t->batches;
    if (p->schedule == HESSE_SCHEDULE_WARMUP_COSINE && t->total > 0 &&
        (p->warmup < 0 || p->warmup >= t->total))
        return hesse_error(HESSE_EINVAL,
                           "option --warmup %lld: the run has %lld optimizer steps (%d epochs x "
                           "%lld minibatches); the warm-up must leave at least one step of decay",
                           (long long)p->warmup, (long long)t->total, p->epochs,
                           (long long)t->batches);
    return HESSE_OK;
}

/* The engine, the minibatch, the order, the gradient and the optimizer. */
static int trainer_alloc(hesse_trainer *t) {
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = t->gd ? t->p.chunk : t->B;
    int rc;
    HESSE_CHECK(hesse_engine_create(t->m, &ep, &t->e));
    HESSE_CHECK(hesse_samples_alloc_like(t->s, t->gd ? 1 : t->B, &t->batch));
    HESSE_CHECK(hesse_optimizer_create(t->n, &t->p.optim, &t->opt));
    t->order = malloc((size_t)t->N * sizeof *t->order);
    t->grad = hesse_calloc((size_t)t->n, sizeof *t->grad);
    if (!t->order || !t->grad) rc = hesse_error(HESSE_ENOMEM, "trainer: out of memory");
cleanup:
    return rc;
}

int hesse_trainer_create(hesse_model *m, const hesse_samples *s, const hesse_trainer_params *p,
                         hesse_trainer **out) {
    if (!m || !s || !p || !out) return hesse_error(HESSE_EINVAL, "trainer: NULL argument");
    *out = NULL;
    hesse_trainer *t = calloc(1, sizeof *t);
    if (!t) return hesse_error(HESSE_ENOMEM, "trainer: out of memory");
    t->p = *p;
    t->m = m;
    t->s = s;
    t->n = hesse_model_num_params(m);
    t->N = s->n;
    t->gd = p->optim.kind == HESSE_OPTIM_GD;
    int rc = trainer_sizes(t);
    if (rc == HESSE_OK) rc = trainer_alloc(t);
    if (rc != HESSE_OK) {
        hesse_trainer_free(t);
        return rc;
    }
    hesse_rng_seed_stream(&t->rng, p->seed, 1); /* stream 0 initialised the weights */
    for (int64_t i = 0; i < t->N; i++) t->order[i] = i;
    *out = t;
    return HESSE_OK;
}

void hesse_trainer_free(hesse_trainer *t) {
    if (!t) return;
    hesse_engine_free(t->e);
    hesse_optimizer_free(t->opt);
    hesse_samples_free(&t->batch);
    free(t->order);
    hesse_free(t->grad);
    free(t);
}

double hesse_trainer_lr(const hesse_trainer *t, int64_t step) {
    const hesse_trainer_params *p = &t->p;
    if (p->schedule == HESSE_SCHEDULE_WARMUP_COSINE)
        return hesse_schedule_warmup_cosine(p->lr, step, t->total, p->warmup);
    return hesse_schedule_lr(p->schedule, p->lr, (int)(step / t->batches), p->epochs,
                             p->step_epochs, p->gamma);
}

int hesse_trainer_step(hesse_trainer *t, hesse_train_step *info) {
    if (!t) return hesse_error(HESSE_EINVAL, "trainer: NULL argument");
    if (t->done >= t->total)
        return hesse_error(HESSE_EINVAL, "trainer: all %lld steps are done", (long long)t->total);
    const int64_t bi = t->done % t->batches, b0 = bi * t->B;
    const int64_t count = t->N - b0 < t->B ? t->N - b0 : t->B;
    if (bi == 0) {
        if (!t->gd) hesse_rng_shuffle(&t->rng, t->order, t->N);
        t->loss_sum = 0;
        t->correct_sum = 0;
    }
    const hesse_samples *batch = t->gd ? t->s : &t->batch;
    if (!t->gd) hesse_samples_gather(t->s, t->order + b0, count, &t->batch);
    double loss = 0;
    int64_t correct = 0;
    int rc = hesse_loss_grad(t->e, batch, &loss, t->grad, &correct);
    if (rc != HESSE_OK) return rc;
    const double lr = hesse_trainer_lr(t, t->done);
    hesse_optimizer_step(t->opt, lr, hesse_model_params(t->m), t->grad);
    t->done++;
    t->loss_sum += loss * (double)count;
    t->correct_sum += correct;
    if (info) {
        const int64_t seen = b0 + count;
        *info = (hesse_train_step){t->done,
                                   (int)((t->done - 1) / t->batches),
                                   bi,
                                   bi + 1 == t->batches,
                                   lr,
                                   loss,
                                   count,
                                   t->loss_sum / (double)seen,
                                   (double)t->correct_sum /
                                       (double)(seen * hesse_samples_targets(t->s)),
                                   seen};
    }
    return HESSE_OK;
}

int64_t hesse_trainer_steps_done(const hesse_trainer *t) {
    return t->done;
}

int64_t hesse_trainer_steps_total(const hesse_trainer *t) {
    return t->total;
}

int64_t hesse_trainer_batches(const hesse_trainer *t) {
    return t->batches;
}

int hesse_trainer_batch_size(const hesse_trainer *t) {
    return t->B;
}

const hesse_optimizer *hesse_trainer_optimizer(const hesse_trainer *t) {
    return t->opt;
}

/* ---- State ---------------------------------------------------------------------------------
 * "HESSETRN", then int64 n, N, steps done, steps in all, minibatches per epoch, the epoch's
 * positions right, the minibatch size; double its loss sum; the rng (4 x u64, int64 has_spare,
 * double spare); the order (N x int64); the parameters (n x double); the optimizer's state. Native
 * byte order. */
static const char trn_magic[8] = {'H', 'E', 'S', 'S', 'E', 'T', 'R', 'N'};
enum { TRN_HEAD = 8 + 7 * 8 + 8 + 4 * 8 + 8 + 8 };

size_t hesse_trainer_state_bytes(const hesse_trainer *t) {
    return TRN_HEAD + (size_t)t->N * sizeof(int64_t) + (size_t)t->n * sizeof(double) +
           hesse_optimizer_state_bytes(t->opt);
}

void hesse_trainer_state_save(const hesse_trainer *t, unsigned char *buf) {
    const int64_t head[7] = {t->n, t->N, t->done, t->total, t->batches, t->correct_sum, t->B};
    const int64_t spare = t->rng.has_spare;
    unsigned char *q = buf;
    memcpy(q, trn_magic, 8);
    memcpy(q + 8, head, sizeof head);
    q += 8 + sizeof head;
    memcpy(q, &t->loss_sum, 8);
    memcpy(q + 8, t->rng.s, 32);
    memcpy(q + 40, &spare, 8);
    memcpy(q + 48, &t->rng.spare, 8);
    q += 56;
    memcpy(q, t->order, (size_t)t->N * sizeof *t->order);
    q += (size_t)t->N * sizeof *t->order;
    memcpy(q, hesse_model_params_const(t->m), (size_t)t->n * sizeof(double));
    hesse_optimizer_state_save(t->opt, q + (size_t)t->n * sizeof(double));
}

/* The saved run's sizes against this one's. */
static int trn_check_head(const hesse_trainer *t, const unsigned char *buf, size_t size,
                          int64_t head[7]) {
    if (size < TRN_HEAD || memcmp(buf, trn_magic, 8) != 0)
        return hesse_error(HESSE_EINPUT, "training state: not a hesse trainer state");
    memcpy(head, buf + 8, 7 * sizeof *head);
    if (head[0] != t->n || head[1] != t->N || head[3] != t->total || head[4] != t->batches ||
        head[6] != t->B)
        return hesse_error(HESSE_EINPUT,
                           "training state: of %lld parameters, %lld samples and %lld steps (%lld "
                           "per epoch of %lld); this run has %lld, %lld and %lld (%lld of %d)",
                           (long long)head[0], (long long)head[1], (long long)head[3],
                           (long long)head[4], (long long)head[6], (long long)t->n, (long long)t->N,
                           (long long)t->total, (long long)t->batches, t->B);
    if (size != hesse_trainer_state_bytes(t) || head[2] < 0 || head[2] > t->total)
        return hesse_error(HESSE_EINPUT, "training state: %zu bytes at step %lld, expected %zu",
                           size, (long long)head[2], hesse_trainer_state_bytes(t));
    for (int64_t i = 0; i < t->N; i++) {
        int64_t k;
        memcpy(&k, buf + TRN_HEAD + (size_t)i * sizeof k, sizeof k);
        if (k < 0 || k >= t->N)
            return hesse_error(HESSE_EINPUT, "training state: sample order entry %lld is %lld",
                               (long long)i, (long long)k);
    }
    return HESSE_OK;
}

int hesse_trainer_state_load(hesse_trainer *t, const unsigned char *buf, size_t size) {
    if (!t || !buf) return hesse_error(HESSE_EINVAL, "trainer: NULL argument");
    int64_t head[7] = {0}, spare;
    int rc = trn_check_head(t, buf, size, head);
    if (rc != HESSE_OK) return rc;
    const size_t ob = (size_t)t->N * sizeof *t->order, pb = (size_t)t->n * sizeof(double);
    const unsigned char *q = buf + TRN_HEAD;
    rc = hesse_optimizer_state_load(t->opt, q + ob + pb, size - TRN_HEAD - ob - pb);
    if (rc != HESSE_OK) return rc;
    t->done = head[2];
    t->correct_sum = head[5];
    q = buf + 8 + 7 * 8;
    memcpy(&t->loss_sum, q, 8);
    memcpy(t->rng.s, q + 8, 32);
    memcpy(&spare, q + 40, 8);
    memcpy(&t->rng.spare, q + 48, 8);
    t->rng.has_spare = spare != 0;
    q = buf + TRN_HEAD;
    memcpy(t->order, q, ob);
    memcpy(hesse_model_params(t->m), q + ob, pb);
    return HESSE_OK;
}
