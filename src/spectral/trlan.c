/* Thick-restart Lanczos for the extreme eigenpairs of a symmetric operator (Wu & Simon,
 * "Thick-restart Lanczos method for large symmetric eigenvalue problems", SIAM J. Matrix Anal.
 * Appl. 22(2), 2000; equivalent to Stewart's Krylov-Schur restart for symmetric A).
 *
 * One cycle: expand the active Lanczos basis to the basis size with full reorthogonalisation
 * (every step: three-term recurrence, then classical Gram-Schmidt against the whole basis,
 * locked vectors included, repeated when the DGKS criterion asks); Rayleigh-Ritz on the
 * projected matrix T; lock the wanted Ritz pairs whose residual |beta_last u_i[last]| is at
 * most tol * anorm; restart keeping the wanted unconverged Ritz vectors and some neighbours
 * (about half the active space) plus the residual direction.
 *
 * Repeated eigenvalues: a Krylov space grown from one vector holds one direction of each
 * eigenspace, so one copy of a repeated eigenvalue is found and the others are invisible to
 * it. With `verify`, once every wanted value is locked, the active space restarts from a
 * fresh random vector orthogonal to the locked ones (A restricted to their complement); a
 * wanted value it finds (another copy, or anything missed) is locked and the check repeats;
 * the run ends when a fresh space's extreme Ritz values converge outside the wanted set.
 *
 * Residuals: the Lanczos-relation estimates drive convergence; with explicit_residuals the
 * reported ones come from one final block product A X (k more products). */
#include "trlan-impl.h"

#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

hesse_lanczos_params hesse_lanczos_defaults(void) {
    hesse_lanczos_params p;
    memset(&p, 0, sizeof p);
    p.tol = 1e-8;
    p.max_restarts = 1000;
    p.want_vectors = 1;
    p.verify = 1;
    p.explicit_residuals = 1;
    p.breakdown_tol = 1e-12;
    p.checkpoint_interval = 300.0;
    return p;
}

static double elapsed_since(double t) {
    return hesse_now() - t;
}

/* Copies this run's counters into the state, so that a checkpoint or the result sees the
 * totals over all runs. */
void hesse_trl_sync(hesse_trl_work *w) {
    hesse_trl_state *st = w->st;
    st->products = w->base_products + w->ops.products;
    st->seconds_products = w->base_seconds_products + w->ops.seconds;
    st->seconds = w->base_seconds + elapsed_since(w->t0);
}

static int trl_rayleigh_ritz(hesse_trl_work *w) {
    hesse_trl_state *st = w->st;
    int ma = w->ma, m = st->m;
    for (int j = 0; j < ma; j++)
        memcpy(w->S + (size_t)j * ma, st->T + (size_t)j * m, sizeof(double) * (size_t)ma);
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', ma, w->S, ma, w->theta);
    if (info != 0)
        return hesse_error(HESSE_ENUMERIC, "Lanczos: Rayleigh-Ritz (dsyevd) failed, info = %d",
                           (int)info);
    for (int i = 0; i < ma; i++) w->res[i] = fabs(w->beta_last * w->S[(size_t)i * ma + ma - 1]);
    st->anorm = fmax(st->anorm, fmax(fabs(w->theta[0]), fabs(w->theta[ma - 1])));
    return HESSE_OK;
}

/* ---- Driver --------------------------------------------------------------------------------- */

/* Every check_every steps the expansion asks whether the cycle would end now (all wanted
 * pairs converged: done, or a fresh start next); if so it stops there and saves the remaining
 * steps' products. The basis up to active index j and the residual direction in column p + j
 * are exactly what a full expansion of j steps leaves, so the cycle continues as usual. A
 * check costs one dense eigensolve of the projected matrix (~j^3 flops: about a millisecond
 * at j = 128, far below one network product, but ~1 s at j = 2000), so the default interval
 * is 1 + basis / 100: every step for small bases, every 21 steps for a basis of 2020. */

static int trl_early_exit(hesse_trl_work *w, int j, double beta, int *stop) {
    double t = hesse_now();
    int ma = w->ma;
    w->ma = j;
    w->beta_last = beta;
    int rc = trl_rayleigh_ritz(w);
    hesse_trl_decision dc;
    if (rc == HESSE_OK) hesse_trl_decide(w, &dc);
    *stop = rc == HESSE_OK && (dc.done || dc.fresh_start);
    if (!*stop) w->ma = ma;
    w->st->seconds_restart += elapsed_since(t);
    return rc;
}

/* At a restart boundary (next = 0) or between two products of an expansion (next = the active
 * index of the coming product): checkpoint when the interval has passed or a stop was asked;
 * HESSE_EINTR after a stop. A first cycle of a large basis can take an hour, so neither the
 * checkpoint interval nor a stop waits for its end. */
static int trl_boundary(hesse_trl_work *w, int next) {
    const hesse_lanczos_params *prm = w->prm;
    int stop = prm->stop && *prm->stop;
    int due =
        prm->checkpoint && (stop || (prm->checkpoint_interval >= 0 &&
                                     elapsed_since(w->last_ckpt) >= prm->checkpoint_interval));
    if (due) {
        double t = hesse_now();
        hesse_trl_sync(w);
        w->st->next = next;
        int rc = hesse_trl_checkpoint(w->st, prm);
        w->st->next = 0;
        w->st->seconds_checkpoint += elapsed_since(t);
        w->last_ckpt = hesse_now();
        if (rc != HESSE_OK) return rc;
    }
    if (stop)
        return hesse_error(HESSE_EINTR, "Lanczos stopped after %lld products%s",
                           (long long)(w->base_products + w->ops.products),
                           prm->checkpoint ? " (state checkpointed)" : " (no checkpoint callback)");
    return HESSE_OK;
}

/* ---- Expansion ---------------------------------------------------------------------------- */

/* Lanczos steps j = l .. ma-1 of the active space (ma = m - p). Column j of T gets alpha_j on
 * the diagonal and beta_j below; a step whose new direction vanishes (an invariant subspace)
 * continues with a random unit vector orthogonal to the basis and a zero coupling. */
static int trl_expand(hesse_trl_work *w) {
    hesse_trl_state *st = w->st;
    int n = (int)st->n, m = st->m, p = st->p, ma = m - p;
    double *V = st->V, *T = st->T;
    w->ma = ma;
    w->beta_last = 0.0;
    int j0 = st->next > 0 ? st->next : st->l; /* resumed between two products: go on there */
    st->next = 0;
    for (int j = j0; j < ma; j++) {
        int c = p + j;
        double *v = V + (size_t)c * n, *x = V + (size_t)(c + 1) * n;
        int rc = hesse_op_apply(w->op, 1, v, x, &w->ops);
        if (rc != HESSE_OK) return rc;
        double t = hesse_now();
        st->iterations++;
        double av = cblas_dnrm2(n, x, 1);
        double a = cblas_ddot(n, v, 1, x, 1);
        T[(size_t)j * m + j] = a;
        /* Three-term recurrence, or after a restart the arrowhead column s (Wu & Simon eq.
         * 2.5): x -= V_active[:, lo..j] T[lo..j, j]. */
        int lo = j == st->l ? 0 : j - 1;
        cblas_dgemv(CblasColMajor, CblasNoTrans, n, j + 1 - lo, -1.0, V + (size_t)(p + lo) * n, n,
                    T + (size_t)j * m + lo, 1, 1.0, x, 1);
        double b = hesse_sp_orth(n, c + 1, V, x, w->h, w->h2);
        a += w->h[c];
        T[(size_t)j * m + j] = a;
        st->anorm = fmax(st->anorm, fabs(a));
        double scale = fmax(st->anorm, av);
        if (c + 1 >= n) {
            /* The basis spans R^n: T is A in that basis, its Ritz pairs are exact. */
            st->complete = 1;
            w->ma = j + 1;
            st->seconds_ortho += elapsed_since(t);
            return HESSE_OK;
        }
        if (b <= st->breakdown_tol * scale) {
            if (!hesse_sp_random_orth(&st->rng, n, c + 1, V, x, w->h, w->h2)) {
                st->complete = 1;
                w->ma = j + 1;
                st->seconds_ortho += elapsed_since(t);
                return HESSE_OK;
            }
            b = 0.0;
            st->breakdowns++;
        } else {
            cblas_dscal(n, 1.0 / b, x, 1);
        }
        if (j + 1 < ma) {
            T[(size_t)j * m + j + 1] = b;
            T[(size_t)(j + 1) * m + j] = b;
        } else {
            w->beta_last = b;
        }
        st->seconds_ortho += elapsed_since(t);
        if (j + 1 < ma && (j + 1 - st->l) % st->check_every == 0) {
            int stop;
            int rc2 = trl_early_exit(w, j + 1, b, &stop);
            if (rc2 != HESSE_OK) return rc2;
            if (stop) return HESSE_OK;
        }
        if (j + 1 < ma && (rc = trl_boundary(w, j + 1)) != HESSE_OK) return rc;
    }
    return HESSE_OK;
}

/* ---- Rayleigh-Ritz and the wanted sets --------------------------------------------------- */

static int trl_work_alloc(hesse_trl_work *w) {
    int m = w->st->m, k = w->st->top + w->st->bottom;
    w->S = hesse_alloc(sizeof(double) * (size_t)m * m);
    w->theta = hesse_alloc(sizeof(double) * (size_t)m);
    w->res = hesse_alloc(sizeof(double) * (size_t)m);
    w->h = hesse_alloc(sizeof(double) * (size_t)(m + 1));
    w->h2 = hesse_alloc(sizeof(double) * (size_t)(m + 1));
    w->rot = hesse_alloc(sizeof(double) * (size_t)HESSE_TRL_ROT_ROWS * m);
    w->ssel = hesse_alloc(sizeof(double) * (size_t)m * m);
    w->sel = hesse_alloc(sizeof(int) * (size_t)m);
    w->win = hesse_alloc((size_t)m);
    w->lock_now = hesse_alloc((size_t)m);
    w->lock_keep = hesse_alloc((size_t)m);
    w->order = hesse_alloc(sizeof(int) * (size_t)m);
    w->mon_val = hesse_alloc(sizeof(double) * (size_t)(k + m));
    w->mon_res = hesse_alloc(sizeof(double) * (size_t)(k + m));
    if (!w->S || !w->theta || !w->res || !w->h || !w->h2 || !w->rot || !w->ssel || !w->sel ||
        !w->win || !w->lock_now || !w->lock_keep || !w->order || !w->mon_val || !w->mon_res)
        return HESSE_ENOMEM;
    return HESSE_OK;
}

static void trl_work_free(hesse_trl_work *w) {
    hesse_free(w->S);
    hesse_free(w->theta);
    hesse_free(w->res);
    hesse_free(w->h);
    hesse_free(w->h2);
    hesse_free(w->rot);
    hesse_free(w->ssel);
    hesse_free(w->sel);
    hesse_free(w->win);
    hesse_free(w->lock_now);
    hesse_free(w->lock_keep);
    hesse_free(w->order);
    hesse_free(w->mon_val);
    hesse_free(w->mon_res);
}

/* Cycles from a restart boundary until the wanted pairs are locked (and verified), or the
 * restart limit. */
static int trl_run(hesse_trl_work *w, hesse_eigs *out) {
    hesse_trl_state *st = w->st;
    int rc;
    for (;;) {
        if ((rc = trl_expand(w)) != HESSE_OK) return rc;
        double t = hesse_now();
        st->cycles++;
        if ((rc = trl_rayleigh_ritz(w)) != HESSE_OK) return rc;
        hesse_trl_decision dc;
        hesse_trl_decide(w, &dc);
        st->seconds_restart += elapsed_since(t);
        hesse_trl_report(w, dc.locked_wanted + dc.nlock);
        t = hesse_now();
        if (dc.nlock > 0) st->fresh = 0;
        if (dc.done || st->restarts >= w->prm->max_restarts) {
            st->seconds_restart += elapsed_since(t);
            return hesse_trl_finish(w, out);
        }
        hesse_trl_drop_displaced(w);
        if (dc.fresh_start) {
            if (!hesse_trl_fresh_start(w, dc.nlock)) {
                /* the locked vectors span the space: nothing is left to find */
                st->complete = 1;
                w->ma = 0;
                st->seconds_restart += elapsed_since(t);
                return hesse_trl_finish(w, out);
            }
        } else {
            int room = st->m - (st->p + dc.nlock);
            int nkeep = hesse_trl_choose_keep(w, dc.nlock, dc.want_t, dc.want_b, room);
            hesse_trl_restart(w, dc.nlock, dc.nlock + nkeep);
        }
        st->seconds_restart += elapsed_since(t);
        if ((rc = trl_boundary(w, 0)) != HESSE_OK) return rc;
    }
}

/* Validates the problem and fills st's problem fields; basis from the budget when not given. */
static int trl_setup(const hesse_op *op, const hesse_lanczos_params *p, hesse_trl_state *st) {
    memset(st, 0, sizeof *st);
    if (!op || !op->apply || op->n <= 0)
        return hesse_error(HESSE_EINVAL, "Lanczos: invalid operator");
    if (!p) return hesse_error(HESSE_EINVAL, "Lanczos: parameters are NULL");
    if (op->n > INT_MAX)
        return hesse_error(HESSE_EINVAL, "Lanczos: n = %lld exceeds the BLAS index range",
                           (long long)op->n);
    int64_t n = op->n;
    int k = p->top + p->bottom;
    if (p->top < 0 || p->bottom < 0 || k < 1 || k > n)
        return hesse_error(HESSE_EINVAL,
                           "Lanczos: need top, bottom >= 0 and 1 <= top + bottom <= n (%lld), got "
                           "top = %d, bottom = %d",
                           (long long)n, p->top, p->bottom);
    if (!(p->tol > 0.0) || !(p->breakdown_tol > 0.0))
        return hesse_error(HESSE_EINVAL, "Lanczos: tol (%g) and breakdown_tol (%g) must be > 0",
                           p->tol, p->breakdown_tol);
    int m = p->basis;
    if (m > 0) {
        if (m > n) m = (int)n;
        if (m < k + 2 && m < n)
            return hesse_error(HESSE_EINVAL,
                               "Lanczos: basis %d is too small for %d eigenvalues (need >= %d)",
                               p->basis, k, k + 2);
    } else {
        size_t budget = hesse_sp_budget(p->memory_budget);
        size_t cols = budget / (sizeof(double) * (size_t)n);
        long long cap = cols > 1 ? (long long)cols - 1 : 0; /* the residual column */
        long long want = 2LL * k + 20;
        /* a roomier basis (fewer restarts) when it costs at most 1 GiB: 128 vectors up to
         * n ~ 10^6; an 11 M-parameter ResNet keeps 2k + 20 (128 of its vectors are 11 GB) */
        long long roomy = (long long)(((size_t)1 << 30) / (sizeof(double) * (size_t)n));
        if (roomy > 128) roomy = 128;
        if (want < roomy && cap > want) want = cap < roomy ? cap : roomy;
        if (want > cap) want = cap;
        if (want > n) want = n;
        if (want < k + 2 && want < n)
            return hesse_error(HESSE_ENOMEM,
                               "Lanczos: a basis for %d eigenvalues of n = %lld needs %lld bytes, "
                               "the budget is %zu",
                               k, (long long)n, (long long)(k + 3) * n * 8, budget);
        m = (int)want;
    }
    st->n = n;
    st->top = p->top;
    st->bottom = p->bottom;
    st->m = m;
    st->tol = p->tol;
    st->breakdown_tol = p->breakdown_tol;
    st->seed = p->seed;
    st->verify = p->verify ? 1 : 0;
    st->check_every = p->check_every > 0 ? p->check_every : 1 + m / 100;
    return hesse_trl_check_start(p, n);
}

static int trl_start(const hesse_op *op, const hesse_lanczos_params *p, hesse_trl_state *st,
                     hesse_eigs *out) {
    hesse_trl_work w;
    memset(&w, 0, sizeof w);
    w.op = op;
    w.prm = p;
    w.st = st;
    w.t0 = hesse_now();
    w.last_ckpt = w.t0;
    w.base_products = st->products;
    w.base_seconds = st->seconds;
    w.base_seconds_products = st->seconds_products;
    int rc = trl_work_alloc(&w);
    if (rc == HESSE_OK) rc = trl_run(&w, out);
    trl_work_free(&w);
    return rc;
}

int hesse_lanczos_eigs(const hesse_op *op, const hesse_lanczos_params *p, hesse_eigs *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "Lanczos: out is NULL");
    memset(out, 0, sizeof *out);
    hesse_trl_state st;
    int rc = trl_setup(op, p, &st);
    if (rc != HESSE_OK) return rc;
    if ((rc = hesse_trl_alloc(&st)) != HESSE_OK) goto cleanup;
    hesse_rng_seed(&st.rng, st.seed);
    if (p->nstart > 0) {
        /* a warm start is no fresh random space: verify still looks from a fresh one */
        if ((rc = hesse_trl_warm_vector(&st, p->start, p->nstart)) != HESSE_OK) goto cleanup;
    } else {
        hesse_sp_fill(&st.rng, HESSE_PROBE_NORMAL, st.n, st.V);
        cblas_dscal((int)st.n, 1.0 / cblas_dnrm2((int)st.n, st.V, 1), st.V, 1);
        st.fresh = 1;
    }
    rc = trl_start(op, p, &st, out);
cleanup:
    hesse_trl_free(&st);
    if (rc != HESSE_OK) hesse_eigs_free(out);
    return rc;
}

int hesse_lanczos_resume(const hesse_op *op, const hesse_lanczos_params *p, const void *blob,
                         size_t size, hesse_eigs *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "Lanczos resume: out is NULL");
    memset(out, 0, sizeof *out);
    if (!blob) return hesse_error(HESSE_EINVAL, "Lanczos resume: no checkpoint given");
    hesse_trl_state st;
    int rc = trl_setup(op, p, &st);
    if (rc != HESSE_OK) return rc;
    if ((rc = hesse_trl_restore(&st, blob, size, p->basis > 0, p->check_every > 0)) != HESSE_OK)
        goto cleanup;
    rc = trl_start(op, p, &st, out);
cleanup:
    hesse_trl_free(&st);
    if (rc != HESSE_OK) hesse_eigs_free(out);
    return rc;
}
