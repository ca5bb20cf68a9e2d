/* Regression tests for the parser bugs the fuzz harnesses found (fuzz/README.md); each was a
 * crash, an overflow or a hang before its fix. The inputs that found them are also in
 * fuzz/corpus/<harness>/regress-*, which the fuzz smoke tests run.
 *
 *   architecture strings  shapes computed in int overflowed (huge padding, flatten of a huge
 *                         activation); a conv2d of ten-digit sizes lost the end of its
 *                         canonical text, which then did not parse back
 *   SLQ checkpoints       step counts of the current block were trusted (a heap read of any
 *                         size); quadrature weights were trusted (a negative density)
 *   Lanczos checkpoints   a check interval of 0 divided by zero; a kept count of m - p wrote
 *                         past the projected matrix */
#include "check.h"
#include "spectral_testops.h"

#include <hesse/hesse.h>

#include <stdlib.h>
#include <string.h>

/* ---- Architecture strings ----------------------------------------------------------------- */

static void test_arch(void) {
    hesse_model *m = NULL, *again = NULL;
    /* The canonical text of a conv2d with ten-digit sizes is 77 characters. */
    const char *wide = "conv2d(1,1,(1,1000000000),stride=(1000000000,1000000000),"
                       "padding=(1000000000,999999999)),flatten,linear(3,2)";
    CHECK(hesse_model_create(wide, 1, 1, 1, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    if (m) {
        const char *canon = hesse_model_arch(m);
        CHECK(strstr(canon, "padding=(1000000000,999999999)),flatten,linear(3,2)") != NULL);
        CHECK(hesse_model_create(canon, 1, 1, 1, HESSE_LOSS_CROSS_ENTROPY, &again) == HESSE_OK);
        if (again) CHECK(strcmp(hesse_model_arch(again), canon) == 0);
        hesse_model_free(again);
        hesse_model_free(m);
    }
    /* h + 2 * padding overflowed int at the second layer. */
    m = NULL;
    CHECK(hesse_model_create("conv2d(1,1,1,padding=1000000000),conv2d(1,1,1,padding=1000000000),"
                             "flatten,linear(1,2)",
                             1, 1, 1, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_EINPUT);
    CHECK(m == NULL && strstr(hesse_last_error(), "values per sample"));
    /* flatten's c * h * w overflowed int. */
    CHECK(hesse_model_create("conv2d(1,1000000000,1,padding=1000000000),flatten,linear(2,2)", 1, 1,
                             1, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_EINPUT);
    /* A conv2d weight of 10^27 elements overflowed the model's int64 count. */
    CHECK(hesse_model_create("conv2d(1,1000000000,1),conv2d(1000000000,1000000000,(1000000000,1),"
                             "padding=(500000000,0)),maxpool2d((2,1)),flatten,"
                             "linear(1000000000,2)",
                             1, 1, 1, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "parameters at layer 1") != NULL);
    /* An input shape of 10^18 values per sample. */
    CHECK(hesse_model_create("flatten,linear(1,2)", 1000000, 1000000, 1000000,
                             HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_EINPUT);
}

/* ---- Solver checkpoints ------------------------------------------------------------------- */

typedef struct {
    unsigned char *blob[64];
    size_t size[64];
    int count;
} capture;

static int keep(void *ctx, const hesse_blob_part *parts, int nparts, size_t total) {
    capture *c = ctx;
    if (c->count == 64) return HESSE_OK;
    unsigned char *b = malloc(total);
    if (!b) return HESSE_ENOMEM;
    size_t at = 0;
    for (int i = 0; i < nparts; i++) {
        memcpy(b + at, parts[i].data, parts[i].size);
        at += parts[i].size;
    }
    c->blob[c->count] = b;
    c->size[c->count++] = total;
    return HESSE_OK;
}

static void release(capture *c) {
    for (int i = 0; i < c->count; i++) free(c->blob[i]);
    c->count = 0;
}

static int32_t get32(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
static void put32(unsigned char *p, int32_t v) {
    memcpy(p, &v, 4);
}
static void putf64(unsigned char *p, double v) {
    memcpy(p, &v, 8);
}

/* SLQ layout (slq.c): 24-byte magic/version/byte order; n, m, probes, g, reorth, probe (i32);
 * seed (u64); lo, hi (f64); r0, j (i32); products (i64); seconds x2 (f64) = 104 bytes; then
 * nsteps[probes] (int), nodes and weights [probes * m], done[g] (int), ... */
static void test_slq(void) {
    enum { N = 10, PROBES = 3, STEPS = 6, BLOCK = 2 };
    double diag[N];
    for (int i = 0; i < N; i++) diag[i] = i - 4.5;
    hesse_op op = qdq_make(N, diag, 0, 1); /* no reflections: diag(d) itself */
    hesse_slq_params p = hesse_slq_defaults();
    p.probes = PROBES;
    p.steps = STEPS;
    p.block = BLOCK;
    p.points = 50;
    hesse_density ref;
    CHECK(hesse_slq_density(&op, &p, &ref) == HESSE_OK);
    capture c = {{0}, {0}, 0};
    p.checkpoint = keep;
    p.checkpoint_ctx = &c;
    p.checkpoint_interval = 0;
    hesse_density d;
    CHECK(hesse_slq_density(&op, &p, &d) == HESSE_OK);
    hesse_density_free(&d);
    /* A checkpoint inside the second block: the first block's probes finished. */
    int pick = -1;
    for (int i = 0; i < c.count && pick < 0; i++)
        if (get32(c.blob[i] + 72) == BLOCK && get32(c.blob[i] + 76) == 2) pick = i;
    CHECK(pick >= 0);
    if (pick < 0) {
        release(&c);
        hesse_density_free(&ref);
        hesse_op_free(&op);
        return;
    }
    size_t size = c.size[pick];
    unsigned char *b = malloc(size);
    const size_t nsteps = 104, weights = nsteps + 4 * PROBES + 8 * PROBES * STEPS;
    const size_t done = weights + 8 * PROBES * STEPS;
    /* Untouched: resumes to the uninterrupted bits. */
    CHECK(hesse_slq_resume(&op, &p, c.blob[pick], size, &d) == HESSE_OK);
    for (int i = 0; i < p.points; i++) CHECK(d.density[i] == ref.density[i]);
    hesse_density_free(&d);
    /* A step count of the current block beyond the steps taken. */
    memcpy(b, c.blob[pick], size);
    put32(b + done, 100000000);
    CHECK(hesse_slq_resume(&op, &p, b, size, &d) == HESSE_EINPUT);
    /* A finished probe with more steps than the run takes. */
    memcpy(b, c.blob[pick], size);
    put32(b + nsteps, STEPS + 1);
    CHECK(hesse_slq_resume(&op, &p, b, size, &d) == HESSE_EINPUT);
    /* Quadrature weights that are negative, or do not sum to 1. */
    memcpy(b, c.blob[pick], size);
    putf64(b + weights, -0.5);
    CHECK(hesse_slq_resume(&op, &p, b, size, &d) == HESSE_EINPUT);
    memcpy(b, c.blob[pick], size);
    putf64(b + weights, 1e-300);
    CHECK(hesse_slq_resume(&op, &p, b, size, &d) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "summing to") != NULL);
    free(b);
    release(&c);
    hesse_density_free(&ref);
    hesse_op_free(&op);
}

/* Lanczos: the problem fields end with the seed (u64); the locked and kept counts p and l
 * follow it. The check interval is found by its value. */
static void test_lanczos(void) {
    enum { N = 30 };
    double diag[N];
    for (int i = 0; i < N; i++) diag[i] = (double)((i * 7) % N);
    hesse_op op = qdq_make(N, diag, 0, 1); /* no reflections: diag(d) itself */
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = 2;
    p.bottom = 1;
    p.basis = 8;
    p.seed = 0x5eed5eed5eed5eedull;
    p.check_every = 0x2a2a2a;
    capture c = {{0}, {0}, 0};
    p.checkpoint = keep;
    p.checkpoint_ctx = &c;
    p.checkpoint_interval = 0;
    hesse_eigs e;
    CHECK(hesse_lanczos_eigs(&op, &p, &e) == HESSE_OK);
    hesse_eigs_free(&e);
    CHECK(c.count > 0);
    if (!c.count) {
        hesse_op_free(&op);
        return;
    }
    size_t size = c.size[0];
    unsigned char *b = malloc(size);
    size_t seed_at = 0, every_at = 0;
    for (size_t i = 0; i + 8 <= 128 && i + 8 <= size; i++) {
        uint64_t s;
        memcpy(&s, c.blob[0] + i, 8);
        if (s == p.seed) seed_at = i;
        if (get32(c.blob[0] + i) == 0x2a2a2a) every_at = i;
    }
    CHECK(seed_at > 0 && every_at > 0);
    if (seed_at && every_at) {
        /* The untouched checkpoint resumes. */
        CHECK(hesse_lanczos_resume(&op, &p, c.blob[0], size, &e) == HESSE_OK);
        hesse_eigs_free(&e);
        /* A check interval of 0 (adopted when the caller gives none): was a division by 0. */
        memcpy(b, c.blob[0], size);
        put32(b + every_at, 0);
        hesse_lanczos_params q = p;
        q.check_every = 0;
        CHECK(hesse_lanczos_resume(&op, &q, b, size, &e) == HESSE_EINPUT);
        CHECK(strstr(hesse_last_error(), "check interval") != NULL);
        /* Kept vectors filling the basis (l = m - p): wrote past the m x m projected matrix. */
        memcpy(b, c.blob[0], size);
        int32_t locked = get32(b + seed_at + 8);
        put32(b + seed_at + 12, 8 - locked);
        CHECK(hesse_lanczos_resume(&op, &p, b, size, &e) == HESSE_EINPUT);
        CHECK(strstr(hesse_last_error(), "inconsistent") != NULL);
        /* ... and a count that overflows when added to the locked one. */
        put32(b + seed_at + 12, 0x7ffffffe);
        CHECK(hesse_lanczos_resume(&op, &p, b, size, &e) == HESSE_EINPUT);
    }
    free(b);
    release(&c);
    hesse_op_free(&op);
}

int main(void) {
    test_arch();
    test_slq();
    test_lanczos();
    return test_summary("test_hostile_inputs");
}
