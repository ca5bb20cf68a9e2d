/* Stochastic Lanczos quadrature checkpoints (spectral/slq.c) and the run that resumes from
 * them: magic, version, byte order, the problem fields (n, steps, probes, block, reorth, probe
 * kind, seed), the support, the position (block start, step), finished probes' quadratures,
 * and the current block's coefficients and basis.
 *
 * As for Lanczos, the harness reads the problem fields at their fixed offsets and sets up a
 * matching small problem (a diagonal operator of the blob's n when 1 <= n <= 64, at most 32
 * probes), so that inputs reach the state; a finished run's density must be a density. */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#define MAX_N 64

static int diag_apply(void *ctx, int k, const double *X, double *Y) {
    int n = *(const int *)ctx;
    for (int j = 0; j < k; j++)
        for (int i = 0; i < n; i++)
            Y[(size_t)j * n + i] = ((i * 37) % 11 - 5) * X[(size_t)j * n + i];
    return HESSE_OK;
}

static int count_checkpoint(void *ctx, const hesse_blob_part *parts, int nparts, size_t total) {
    size_t sum = 0;
    for (int i = 0; i < nparts; i++) sum += parts[i].size;
    FUZZ_ASSERT(sum == total);
    (*(int *)ctx)++;
    return HESSE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    int n = 8, steps = 4, probes = 2, block = 0, reorth = 1;
    hesse_probe_kind probe = HESSE_PROBE_RADEMACHER;
    uint64_t seed = 0;
    if (size >= 56) {
        int32_t bn = (int32_t)fuzz_le32(data + 24), bm = (int32_t)fuzz_le32(data + 28);
        int32_t bp = (int32_t)fuzz_le32(data + 32), bg = (int32_t)fuzz_le32(data + 36);
        if (bn >= 1 && bn <= MAX_N) n = bn;
        if (bm >= 1 && bm <= n) steps = bm;
        if (bp >= 1 && bp <= 32) probes = bp;
        if (bg >= 1 && bg <= 256) block = bg;
        reorth = fuzz_le32(data + 40) != 0;
        probe = fuzz_le32(data + 44) == 1 ? HESSE_PROBE_NORMAL : HESSE_PROBE_RADEMACHER;
        seed = fuzz_le64(data + 48);
    }
    hesse_op op;
    memset(&op, 0, sizeof op);
    op.n = n;
    op.apply = diag_apply;
    op.ctx = &n;
    hesse_slq_params p = hesse_slq_defaults();
    p.probes = probes;
    p.steps = steps;
    p.reorth = reorth;
    p.probe = probe;
    p.seed = seed;
    p.block = size > 0 && (data[size - 1] & 1) ? block : 0; /* given (checked) or adopted */
    p.points = 33;
    int written = 0;
    p.checkpoint = count_checkpoint;
    p.checkpoint_ctx = &written;
    p.checkpoint_interval = 0;
    hesse_density out;
    hesse_clear_error();
    int rc = hesse_slq_resume(&op, &p, data, size, &out);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        return 0;
    }
    FUZZ_ASSERT(out.points == p.points && out.probes == probes);
    double mass = 0, top = 0;
    for (int i = 0; i < out.points; i++) {
        FUZZ_ASSERT(isfinite(out.density[i]) && out.density[i] >= 0);
        if (i)
            mass += 0.5 * (out.grid[i] - out.grid[i - 1]) * (out.density[i] + out.density[i - 1]);
        top = fmax(top, out.density[i]);
    }
    /* Unit mass, unless a checkpoint put the nodes so far off the grid that only subnormal
     * tails are left to normalise (few significant bits). */
    FUZZ_ASSERT(fabs(mass - 1) < 1e-6 || top < 1e-200);
    for (int r = 0; r < probes; r++) FUZZ_ASSERT(out.nsteps[r] >= 0 && out.nsteps[r] <= out.steps);
    hesse_density_free(&out);
    return 0;
}
