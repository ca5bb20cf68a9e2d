/* Writes solver checkpoints for the seed corpora of fuzz_trlan_blob and fuzz_slq_blob:
 *
 *   fuzz_seed_blobs TRLAN_DIR SLQ_DIR
 *
 * Every checkpoint of a few small runs over the harnesses' diagonal operator (eigenvalues
 * -5 .. 5, repeated when n > 11), so that the seeds reach a resumed run. */
#include "fuzz.h"

#include <string.h>

static int diag_apply(void *ctx, int k, const double *X, double *Y) {
    int n = *(const int *)ctx;
    for (int j = 0; j < k; j++)
        for (int i = 0; i < n; i++)
            Y[(size_t)j * n + i] = ((i * 37) % 11 - 5) * X[(size_t)j * n + i];
    return HESSE_OK;
}

typedef struct {
    const char *dir, *tag;
    int count, max;
} saver;

static int save(void *ctx, const hesse_blob_part *parts, int nparts, size_t total) {
    saver *s = ctx;
    if (s->count >= s->max) return HESSE_OK;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s-%02d.blob", s->dir, s->tag, s->count++);
    const void *data[8];
    size_t len[8];
    for (int i = 0; i < nparts && i < 8; i++) {
        data[i] = parts[i].data;
        len[i] = parts[i].size;
    }
    (void)total;
    return hesse_write_parts_atomic(path, nparts, data, len);
}

static hesse_op diag_op(int *n) {
    hesse_op op;
    memset(&op, 0, sizeof op);
    op.n = *n;
    op.apply = diag_apply;
    op.ctx = n;
    return op;
}

static int lanczos(const char *dir, const char *tag, int n, int top, int bottom, int basis,
                   int verify) {
    hesse_op op = diag_op(&n);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = top;
    p.bottom = bottom;
    p.basis = basis;
    p.verify = verify;
    p.seed = 3;
    saver s = {dir, tag, 0, 6};
    p.checkpoint = save;
    p.checkpoint_ctx = &s;
    p.checkpoint_interval = 0;
    hesse_eigs out;
    int rc = hesse_lanczos_eigs(&op, &p, &out);
    if (rc == HESSE_OK) hesse_eigs_free(&out);
    return rc;
}

static int slq(const char *dir, const char *tag, int n, int probes, int steps, int block,
               int reorth, hesse_probe_kind probe) {
    hesse_op op = diag_op(&n);
    hesse_slq_params p = hesse_slq_defaults();
    p.probes = probes;
    p.steps = steps;
    p.block = block;
    p.reorth = reorth;
    p.probe = probe;
    p.seed = 5;
    p.points = 33;
    saver s = {dir, tag, 0, 8};
    p.checkpoint = save;
    p.checkpoint_ctx = &s;
    p.checkpoint_interval = 0;
    hesse_density out;
    int rc = hesse_slq_density(&op, &p, &out);
    if (rc == HESSE_OK) hesse_density_free(&out);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s TRLAN_DIR SLQ_DIR\n", argv[0]);
        return 1;
    }
    int rc = HESSE_OK;
    if (!rc) rc = lanczos(argv[1], "both-verify", 12, 2, 1, 7, 1);
    if (!rc) rc = lanczos(argv[1], "top", 30, 3, 0, 8, 0);
    if (!rc) rc = lanczos(argv[1], "bottom-small", 6, 0, 2, 0, 1);
    if (!rc) rc = slq(argv[2], "reorth", 10, 3, 6, 2, 1, HESSE_PROBE_RADEMACHER);
    if (!rc) rc = slq(argv[2], "invariant", 16, 2, 16, 1, 0, HESSE_PROBE_NORMAL);
    if (!rc) rc = slq(argv[2], "one-step", 4, 1, 1, 1, 1, HESSE_PROBE_RADEMACHER);
    if (rc != HESSE_OK) {
        fprintf(stderr, "fuzz_seed_blobs: %s\n", hesse_last_error());
        return 1;
    }
    return 0;
}
