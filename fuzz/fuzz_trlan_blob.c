/* Thick-restart Lanczos checkpoints (spectral/trlan_ckpt.c) and the run that resumes from
 * them (spectral/trlan.c): magic, version, byte order, the problem fields, the state scalars
 * (locked and kept counts, flags, counters, the generator), the projected matrix and the basis.
 *
 * The harness reads the problem fields at their fixed offsets and sets up a matching small
 * problem (a diagonal operator of the blob's n when 1 <= n <= 64), so that inputs reach past
 * the mismatch checks into the state; other inputs exercise those checks. A resumed run is
 * held to a few restarts, and each checkpoint it writes must restore again. */
#include "fuzz.h"

#include "spectral/trlan-impl.h"

#include <math.h>
#include <string.h>

#define MAX_N 64

static int diag_apply(void *ctx, int k, const double *X, double *Y) {
    int n = *(const int *)ctx;
    for (int j = 0; j < k; j++)
        for (int i = 0; i < n; i++) /* eigenvalues -5 .. 5, repeated when n > 11 */
            Y[(size_t)j * n + i] = ((i * 37) % 11 - 5) * X[(size_t)j * n + i];
    return HESSE_OK;
}

typedef struct {
    hesse_trl_state problem; /* the problem fields a checkpoint must match */
    int written;
} ckpt_check;

/* A checkpoint written after a resume must restore to the same problem. */
static int check_checkpoint(void *ctx, const hesse_blob_part *parts, int nparts, size_t total) {
    ckpt_check *cc = ctx;
    size_t sum = 0;
    for (int i = 0; i < nparts; i++) sum += parts[i].size;
    FUZZ_ASSERT(sum == total);
    unsigned char *blob = malloc(total);
    FUZZ_ASSERT(blob);
    for (int i = 0, at = 0; i < nparts; at += (int)parts[i].size, i++)
        memcpy(blob + at, parts[i].data, parts[i].size);
    hesse_trl_state st = cc->problem;
    int rc = hesse_trl_restore(&st, blob, total, 0, 0);
    if (rc != HESSE_OK) fprintf(stderr, "re-restore: %s\n", hesse_last_error());
    FUZZ_ASSERT(rc == HESSE_OK);
    hesse_trl_free(&st);
    free(blob);
    cc->written++;
    return HESSE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    int64_t n = 8;
    int top = 1, bottom = 0, verify = 1, m = 0, check_every = 0;
    double tol = 1e-8, btol = 1e-12;
    uint64_t seed = 0;
    if (size >= 76) {
        int64_t bn = (int64_t)fuzz_le64(data + 24);
        int32_t bt = (int32_t)fuzz_le32(data + 32), bb = (int32_t)fuzz_le32(data + 36);
        if (bn >= 1 && bn <= MAX_N) n = bn;
        if (bt >= 0 && bb >= 0 && bt <= n && bb <= n && bt + bb >= 1 && bt + bb <= n) {
            top = bt;
            bottom = bb;
        }
        m = (int32_t)fuzz_le32(data + 40);
        verify = fuzz_le32(data + 44) != 0;
        check_every = (int32_t)fuzz_le32(data + 48);
        double t, b;
        uint64_t u = fuzz_le64(data + 52);
        memcpy(&t, &u, 8);
        u = fuzz_le64(data + 60);
        memcpy(&b, &u, 8);
        if (t > 0) tol = t;
        if (b > 0) btol = b;
        seed = fuzz_le64(data + 68);
    }
    int nn = (int)n;
    hesse_op op;
    memset(&op, 0, sizeof op);
    op.n = n;
    op.apply = diag_apply;
    op.ctx = &nn;
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = top;
    p.bottom = bottom;
    p.tol = tol;
    p.breakdown_tol = btol;
    p.seed = seed;
    p.verify = verify;
    /* The basis and check interval are adopted from the blob, or given (then checked). */
    int give = size > 0 && (data[size - 1] & 1);
    if (give && m >= top + bottom + 2 && m <= n) p.basis = m;
    if (give && check_every > 0) p.check_every = check_every;
    p.max_restarts = 6;
    ckpt_check cc;
    memset(&cc, 0, sizeof cc);
    cc.problem.n = n;
    cc.problem.top = top;
    cc.problem.bottom = bottom;
    cc.problem.tol = tol;
    cc.problem.breakdown_tol = btol;
    cc.problem.seed = seed;
    cc.problem.verify = verify;
    p.checkpoint = check_checkpoint;
    p.checkpoint_ctx = &cc;
    p.checkpoint_interval = 0;
    hesse_eigs out;
    hesse_clear_error();
    int rc = hesse_lanczos_resume(&op, &p, data, size, &out);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        return 0;
    }
    FUZZ_ASSERT(out.ntop >= 0 && out.ntop <= top && out.nbottom >= 0 && out.nbottom <= bottom);
    hesse_eigs_free(&out);
    return 0;
}
