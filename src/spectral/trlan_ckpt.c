/* Checkpoint format of thick-restart Lanczos: everything a restart boundary, or an expansion
 * between two products, needs to continue bit for bit (trlan-impl.h). Native byte order,
 * checked by a marker: a checkpoint is resumed on the machine type that wrote it.
 *
 *   header  magic "HESSETRL", version, byte-order marker, the problem (n, top, bottom, basis,
 *           tol, breakdown_tol, seed, verify, check_every), the state scalars (p, l, next,
 *           flags, anorm, RNG, counters, seconds)
 *   arrays  lock_val[p], lock_res[p], lock_side[p] (int32), T[0..J, 0..J] (column-major),
 *           J = next if inside an expansion, else l
 *   basis   V[:, 0 .. p + J] (n doubles per column)
 *
 * The first two go in one buffer (part 0), the basis is handed over in place (part 1). */
#include "trlan-impl.h"

#include <math.h>
#include <string.h>

#define CKPT_MAGIC   "HESSETRL"
#define CKPT_VERSION 2u

int hesse_trl_alloc(hesse_trl_state *st) {
    size_t n = (size_t)st->n, m = (size_t)st->m;
    st->V = hesse_calloc(n * (m + 1), sizeof(double));
    st->T = hesse_calloc(m * m, sizeof(double));
    st->lock_val = hesse_calloc(m, sizeof(double));
    st->lock_res = hesse_calloc(m, sizeof(double));
    st->lock_side = hesse_calloc(m, sizeof(int));
    if (!st->V || !st->T || !st->lock_val || !st->lock_res || !st->lock_side) {
        hesse_trl_free(st);
        return hesse_error(HESSE_ENOMEM,
                           "Lanczos: cannot allocate a basis of %zu x %zu doubles (%.1f MiB)", n,
                           m + 1, (double)(n * (m + 1) * sizeof(double)) / 1048576.0);
    }
    return HESSE_OK;
}

void hesse_trl_free(hesse_trl_state *st) {
    hesse_free(st->V);
    hesse_free(st->T);
    hesse_free(st->lock_val);
    hesse_free(st->lock_res);
    hesse_free(st->lock_side);
    st->V = st->T = st->lock_val = st->lock_res = NULL;
    st->lock_side = NULL;
}

/* ---- Writing ---------------------------------------------------------------------------- */

/* The last active index in use: l at a boundary, next inside an expansion. */
static int extent(const hesse_trl_state *st) {
    return st->next > 0 ? st->next : st->l;
}

/* Everything but the basis; with w->p NULL only measures. */
static void write_head(hesse_sp_writer *w, const hesse_trl_state *st) {
    hesse_sp_put_magic(w, CKPT_MAGIC, CKPT_VERSION);
    hesse_sp_put_i64(w, st->n);
    hesse_sp_put_i32(w, st->top);
    hesse_sp_put_i32(w, st->bottom);
    hesse_sp_put_i32(w, st->m);
    hesse_sp_put_i32(w, st->verify);
    hesse_sp_put_i32(w, st->check_every);
    hesse_sp_put_f64(w, st->tol);
    hesse_sp_put_f64(w, st->breakdown_tol);
    hesse_sp_put_u64(w, st->seed);
    hesse_sp_put_i32(w, st->p);
    hesse_sp_put_i32(w, st->l);
    hesse_sp_put_i32(w, st->next);
    hesse_sp_put_i32(w, st->fresh);
    hesse_sp_put_i32(w, st->complete);
    hesse_sp_put_f64(w, st->anorm);
    for (int i = 0; i < 4; i++) hesse_sp_put_u64(w, st->rng.s[i]);
    hesse_sp_put_i32(w, st->rng.has_spare);
    hesse_sp_put_f64(w, st->rng.spare);
    hesse_sp_put_i64(w, st->products);
    hesse_sp_put_i64(w, st->iterations);
    hesse_sp_put_i32(w, st->restarts);
    hesse_sp_put_i32(w, st->breakdowns);
    hesse_sp_put_i32(w, st->fresh_starts);
    hesse_sp_put_i32(w, st->cycles);
    hesse_sp_put_f64(w, st->seconds);
    hesse_sp_put_f64(w, st->seconds_products);
    hesse_sp_put_f64(w, st->seconds_ortho);
    hesse_sp_put_f64(w, st->seconds_restart);
    hesse_sp_put_f64(w, st->seconds_checkpoint);
    hesse_sp_put_doubles(w, st->lock_val, (size_t)st->p);
    hesse_sp_put_doubles(w, st->lock_res, (size_t)st->p);
    for (int q = 0; q < st->p; q++) hesse_sp_put_i32(w, w->p ? st->lock_side[q] : 0);
    int l1 = extent(st) + 1;
    for (int j = 0; j < l1; j++)
        hesse_sp_put_doubles(w, w->p ? st->T + (size_t)j * st->m : NULL, (size_t)l1);
}

/* Counters only grow from 0 (a negative restart count would outlast max_restarts), a few at a
 * time: one near its type's limit would overflow and is far beyond any run (2^30 restarts,
 * 2^62 products). Checked on reading, and on writing, so that nothing is written that the
 * reader refuses (a run resumed just below a limit can cross it). */
static int counters_ok(const hesse_trl_state *st) {
    const int32_t big = (int32_t)1 << 30;
    const int64_t big64 = (int64_t)1 << 62;
    return st->products >= 0 && st->iterations >= 0 && st->restarts >= 0 && st->breakdowns >= 0 &&
           st->fresh_starts >= 0 && st->cycles >= 0 && st->products <= big64 &&
           st->iterations <= big64 && st->restarts <= big && st->breakdowns <= big &&
           st->fresh_starts <= big && st->cycles <= big;
}

int hesse_trl_checkpoint(const hesse_trl_state *st, const hesse_lanczos_params *p) {
    if (!counters_ok(st))
        return hesse_error(HESSE_EINPUT, "Lanczos: a counter is out of range (resumed from a "
                                         "damaged checkpoint?); no checkpoint written");
    hesse_sp_writer w = {NULL, 0};
    write_head(&w, st);
    size_t head = w.used;
    w.p = hesse_alloc(head);
    if (!w.p) return HESSE_ENOMEM;
    w.used = 0;
    write_head(&w, st);
    size_t basis = sizeof(double) * (size_t)st->n * (size_t)(st->p + extent(st) + 1);
    hesse_blob_part parts[2] = {{w.p, head}, {st->V, basis}};
    int rc = p->checkpoint(p->checkpoint_ctx, parts, 2, head + basis);
    hesse_free(w.p);
    if (rc != HESSE_OK && hesse_last_error()[0] == '\0')
        hesse_error(rc, "Lanczos: the checkpoint callback failed");
    return rc;
}

/* ---- Reading ---------------------------------------------------------------------------- */

static int mismatch(const char *what, double blob, double given) {
    return hesse_error(HESSE_EINVAL,
                       "Lanczos resume: the checkpoint was made with %s = %.17g, this run asks "
                       "for %.17g",
                       what, blob, given);
}

int hesse_trl_restore(hesse_trl_state *st, const void *blob, size_t size, int basis_given,
                      int check_every_given) {
    hesse_sp_reader r = {blob, size, 0, 0};
    int rc = hesse_sp_get_magic(&r, CKPT_MAGIC, CKPT_VERSION, "Lanczos resume");
    if (rc != HESSE_OK) return rc;
    int64_t n = hesse_sp_get_i64(&r);
    int top = hesse_sp_get_i32(&r), bottom = hesse_sp_get_i32(&r), m = hesse_sp_get_i32(&r),
        verify = hesse_sp_get_i32(&r);
    int check_every = hesse_sp_get_i32(&r);
    double tol = hesse_sp_get_f64(&r), btol = hesse_sp_get_f64(&r);
    uint64_t seed = hesse_sp_get_u64(&r);
    if (r.short_read) return hesse_error(HESSE_EINPUT, "Lanczos resume: checkpoint is truncated");
    if (n != st->n) return mismatch("n", (double)n, (double)st->n);
    if (top != st->top) return mismatch("top", top, st->top);
    if (bottom != st->bottom) return mismatch("bottom", bottom, st->bottom);
    if (basis_given && m != st->m) return mismatch("basis", m, st->m);
    if (tol != st->tol) return mismatch("tol", tol, st->tol);
    if (btol != st->breakdown_tol) return mismatch("breakdown_tol", btol, st->breakdown_tol);
    if (seed != st->seed)
        return hesse_error(HESSE_EINVAL,
                           "Lanczos resume: the checkpoint was made with seed %llu, this run "
                           "asks for %llu",
                           (unsigned long long)seed, (unsigned long long)st->seed);
    if (verify != st->verify) return mismatch("verify", verify, st->verify);
    if (check_every_given && check_every != st->check_every)
        return mismatch("check_every", check_every, st->check_every);
    /* the rule of a fresh run (trl_setup): room for the wanted pairs and two more, unless the
     * basis spans R^n; a smaller basis can lock all its columns and leave no room to expand */
    if (m < 1 || m > n || (m < top + bottom + 2 && m < n))
        return hesse_error(HESSE_EINPUT, "Lanczos resume: checkpoint has an invalid basis size %d",
                           m);
    if (check_every < 1) /* a divisor in the expansion */
        return hesse_error(HESSE_EINPUT,
                           "Lanczos resume: checkpoint has an invalid check interval %d",
                           check_every);
    st->m = m;
    st->check_every = check_every;

    int p = hesse_sp_get_i32(&r), l = hesse_sp_get_i32(&r), next = hesse_sp_get_i32(&r);
    int fresh = hesse_sp_get_i32(&r), complete = hesse_sp_get_i32(&r);
    if (r.short_read || p < 0 || l < 0 || p > m || l > m - p - 1 ||
        (next != 0 && (next <= l || next >= m - p)))
        return hesse_error(HESSE_EINPUT,
                           "Lanczos resume: checkpoint state is inconsistent (locked %d, kept %d, "
                           "next step %d, basis %d)",
                           p, l, next, m);
    /* Above: the kept vectors and the residual direction leave room for one more step
     * (l < m - p), as every restart keeps them; T holds (l + 1)^2 of its m x m entries.
     * The exact size follows from the header: refuse a truncated or padded blob. */
    hesse_trl_state shape;
    memset(&shape, 0, sizeof shape);
    shape.p = p;
    shape.l = l;
    shape.next = next;
    hesse_sp_writer meas = {NULL, 0};
    write_head(&meas, &shape);
    size_t head = meas.used;
    int J = extent(&shape);
    size_t expect = head + sizeof(double) * (size_t)n * (size_t)(p + J + 1);
    if (size != expect)
        return hesse_error(HESSE_EINPUT,
                           "Lanczos resume: checkpoint has %zu bytes, its header implies %zu "
                           "(truncated or damaged)",
                           size, expect);
    rc = hesse_trl_alloc(st);
    if (rc != HESSE_OK) return rc;
    st->p = p;
    st->l = l;
    st->next = next;
    st->fresh = fresh;
    st->complete = complete;
    st->anorm = hesse_sp_get_f64(&r);
    for (int i = 0; i < 4; i++) st->rng.s[i] = hesse_sp_get_u64(&r);
    st->rng.has_spare = hesse_sp_get_i32(&r);
    st->rng.spare = hesse_sp_get_f64(&r);
    st->products = hesse_sp_get_i64(&r);
    st->iterations = hesse_sp_get_i64(&r);
    st->restarts = hesse_sp_get_i32(&r);
    st->breakdowns = hesse_sp_get_i32(&r);
    st->fresh_starts = hesse_sp_get_i32(&r);
    st->cycles = hesse_sp_get_i32(&r);
    st->seconds = hesse_sp_get_f64(&r);
    st->seconds_products = hesse_sp_get_f64(&r);
    st->seconds_ortho = hesse_sp_get_f64(&r);
    st->seconds_restart = hesse_sp_get_f64(&r);
    st->seconds_checkpoint = hesse_sp_get_f64(&r);
    hesse_sp_get(&r, st->lock_val, sizeof(double) * (size_t)p);
    hesse_sp_get(&r, st->lock_res, sizeof(double) * (size_t)p);
    for (int q = 0; q < p; q++) st->lock_side[q] = hesse_sp_get_i32(&r);
    for (int j = 0; j <= J; j++)
        hesse_sp_get(&r, st->T + (size_t)j * m, sizeof(double) * (size_t)(J + 1));
    hesse_sp_get(&r, st->V, sizeof(double) * (size_t)n * (size_t)(p + J + 1));
    if (r.short_read || r.at != size) {
        hesse_trl_free(st);
        return hesse_error(HESSE_EINPUT, "Lanczos resume: checkpoint is truncated");
    }
    if (!counters_ok(st)) {
        hesse_trl_free(st);
        return hesse_error(HESSE_EINPUT,
                           "Lanczos resume: checkpoint has a negative or impossible counter");
    }
    /* xoshiro256** never leaves the all-zero state (it would draw zeros for ever, and the
     * normal sampler would wait for a positive uniform for ever); the spare is 0/1 + a number */
    const hesse_rng *g = &st->rng;
    if ((g->s[0] | g->s[1] | g->s[2] | g->s[3]) == 0 || (g->has_spare != 0 && g->has_spare != 1) ||
        !isfinite(g->spare)) {
        hesse_trl_free(st);
        return hesse_error(HESSE_EINPUT,
                           "Lanczos resume: checkpoint has an invalid random-number state");
    }
    for (int q = 0; q < p; q++)
        if (st->lock_side[q] != 1 && st->lock_side[q] != -1) {
            hesse_trl_free(st);
            return hesse_error(HESSE_EINPUT, "Lanczos resume: checkpoint has a bad lock entry");
        }
    return HESSE_OK;
}
