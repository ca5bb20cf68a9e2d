/* Thick-restart Lanczos (trlan.c): the wanted sets and the decisions of a cycle, the restart
 * itself (basis rotation, locking, fresh starts) and the result. Wu & Simon, SIAM J. Matrix
 * Anal. Appl. 22(2), 2000, sec. 2-3. */
#include "trlan-impl.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double elapsed_since(double t) {
    return hesse_now() - t;
}

/* ---- Wanted sets and decisions ------------------------------------------------------------ */

/* Locked vectors of one side, sorted by value (descending for the top, ascending for the
 * bottom; ties by column), into w->order. Returns their count. */
static int trl_sorted_locked(hesse_trl_work *w, int side) {
    const hesse_trl_state *st = w->st;
    int cnt = 0;
    for (int q = 0; q < st->p; q++) {
        if (st->lock_side[q] != side) continue;
        int pos = cnt++;
        while (pos > 0) {
            double prev = st->lock_val[w->order[pos - 1]], cur = st->lock_val[q];
            int before = side > 0 ? prev < cur : prev > cur;
            if (!before) break;
            w->order[pos] = w->order[pos - 1];
            pos--;
        }
        w->order[pos] = q;
    }
    return cnt;
}

/* The wanted sets: the `top` largest of the top-locked values and the active Ritz values,
 * and the `bottom` smallest of the bottom-locked values and the active Ritz values below
 * the top's. An active value displaces a locked one only when it is beyond it by more than
 * tol * anorm, so that two copies of one eigenvalue do not take turns. Fills win and
 * lock_keep; returns how many positions were filled (top + bottom when the sets are full). */
static int trl_windows(hesse_trl_work *w) {
    const hesse_trl_state *st = w->st;
    int ma = w->ma;
    double slack = st->tol * st->anorm;
    memset(w->win, 0, (size_t)st->m);
    memset(w->lock_keep, 0, (size_t)st->m);
    int filled = 0, lowest_top = ma;
    if (st->top > 0) {
        int nl = trl_sorted_locked(w, +1), a = ma - 1, b = 0;
        for (int taken = 0; taken < st->top && (a >= 0 || b < nl); taken++, filled++) {
            if (b < nl && (a < 0 || st->lock_val[w->order[b]] >= w->theta[a] - slack)) {
                w->lock_keep[w->order[b++]] = 1;
            } else {
                w->win[a] = +1;
                lowest_top = a--;
            }
        }
    }
    if (st->bottom > 0) {
        int nl = trl_sorted_locked(w, -1), a = 0, b = 0;
        for (int taken = 0; taken < st->bottom && (a < lowest_top || b < nl); taken++, filled++) {
            if (b < nl && (a >= lowest_top || st->lock_val[w->order[b]] <= w->theta[a] + slack)) {
                w->lock_keep[w->order[b++]] = 1;
            } else {
                w->win[a++] = -1;
            }
        }
    }
    return filled;
}

void hesse_trl_decide(hesse_trl_work *w, hesse_trl_decision *dc) {
    const hesse_trl_state *st = w->st;
    int ma = w->ma;
    double thr = st->tol * st->anorm;
    memset(dc, 0, sizeof *dc);
    int filled = trl_windows(w), pending = 0;
    memset(w->lock_now, 0, (size_t)st->m);
    for (int i = 0; i < ma; i++) {
        if (!w->win[i]) continue;
        if (st->complete || w->res[i] <= thr) {
            w->lock_now[i] = 1;
            w->sel[dc->nlock++] = i;
        } else {
            pending++;
        }
    }
    for (int q = 0; q < st->p; q++) dc->locked_wanted += w->lock_keep[q];
    if (st->complete) { /* Ritz pairs are exact: nothing more to find */
        dc->done = 1;
        return;
    }
    if (pending > 0 || filled < st->top + st->bottom) {
        for (int i = 0; i < ma; i++)
            if (w->win[i] && !w->lock_now[i]) {
                if (w->win[i] > 0)
                    dc->want_t++;
                else
                    dc->want_b++;
            }
        return;
    }
    /* every wanted pair is locked or about to be */
    if (!w->prm->verify) {
        dc->done = 1;
        return;
    }
    if (!st->fresh || dc->nlock > 0) {
        dc->fresh_start = 1;
        return;
    }
    /* Nothing was locked since this space started from a fresh vector orthogonal to the locked
     * ones: once its extreme Ritz pairs settle outside the wanted set, nothing was missed. A
     * pair has settled when it converged (residual <= tol ||A||), or when its residual is
     * below sqrt(tol) ||A|| and its whole inclusion interval [theta - r, theta + r] (which
     * holds an eigenvalue) lies beyond the wanted set's edge: in a Krylov space the extreme
     * Ritz value converges first, so this is the same evidence at a fraction of the steps. */
    int it = -1, ib = -1;
    for (int i = ma - 1; i >= 0 && it < 0; i--)
        if (!w->win[i]) it = i;
    for (int i = 0; i < ma && ib < 0; i++)
        if (!w->win[i]) ib = i;
    double edge_t = INFINITY, edge_b = -INFINITY, loose = sqrt(st->tol) * st->anorm;
    for (int q = 0; q < st->p; q++) {
        if (!w->lock_keep[q]) continue;
        if (st->lock_side[q] > 0)
            edge_t = fmin(edge_t, st->lock_val[q]);
        else
            edge_b = fmax(edge_b, st->lock_val[q]);
    }
    int ok_t = it < 0 || st->top == 0 || w->res[it] <= thr ||
               (w->res[it] <= loose && w->theta[it] + w->res[it] < edge_t - thr);
    int ok_b = ib < 0 || st->bottom == 0 || w->res[ib] <= thr ||
               (w->res[ib] <= loose && w->theta[ib] - w->res[ib] > edge_b + thr);
    if (ok_t && ok_b) {
        dc->done = 1;
    } else {
        dc->want_t = st->top > 0;
        dc->want_b = st->bottom > 0;
    }
}

/* Current estimates for the monitor: wanted set, top descending then bottom ascending. */
void hesse_trl_report(hesse_trl_work *w, int nlocked_wanted) {
    const hesse_lanczos_params *prm = w->prm;
    if (!prm->monitor) return;
    const hesse_trl_state *st = w->st;
    int k = 0;
    for (int side = +1; side >= -1; side -= 2) {
        int start = k;
        for (int q = 0; q < st->p; q++)
            if (w->lock_keep[q] && st->lock_side[q] == side) {
                w->mon_val[k] = st->lock_val[q];
                w->mon_res[k++] = st->lock_res[q];
            }
        for (int i = 0; i < w->ma; i++)
            if (w->win[i] == side) {
                w->mon_val[k] = w->theta[i];
                w->mon_res[k++] = w->res[i];
            }
        /* insertion sort of this side's block */
        for (int i = start + 1; i < k; i++) {
            double v = w->mon_val[i], r = w->mon_res[i];
            int j = i;
            while (j > start && (side > 0 ? w->mon_val[j - 1] < v : w->mon_val[j - 1] > v)) {
                w->mon_val[j] = w->mon_val[j - 1];
                w->mon_res[j] = w->mon_res[j - 1];
                j--;
            }
            w->mon_val[j] = v;
            w->mon_res[j] = r;
        }
    }
    hesse_eig_progress pr = {
        "lanczos",           st->cycles,           w->base_products + w->ops.products,
        nlocked_wanted,      st->top + st->bottom, k,
        w->mon_val,          w->mon_res,           st->anorm,
        elapsed_since(w->t0)};
    prm->monitor(prm->monitor_ctx, &pr);
}

/* ---- Restart ------------------------------------------------------------------------------ */

/* Removes the locked vectors that left the wanted set (another value displaced them),
 * moving the later columns of V (active basis and residual direction included) down. */
void hesse_trl_drop_displaced(hesse_trl_work *w) {
    hesse_trl_state *st = w->st;
    size_t n = (size_t)st->n;
    int dst = 0, last = st->p + w->ma; /* columns 0 .. last are in use */
    for (int c = 0; c <= last; c++) {
        if (c < st->p && !w->lock_keep[c]) continue;
        if (dst != c) memmove(st->V + (size_t)dst * n, st->V + (size_t)c * n, n * sizeof(double));
        if (c < st->p) {
            st->lock_val[dst] = st->lock_val[c];
            st->lock_res[dst] = st->lock_res[c];
            st->lock_side[dst] = st->lock_side[c];
            w->lock_keep[dst] = 1;
        }
        dst++;
    }
    st->p -= last + 1 - dst;
}

/* V[:, p .. p+nsel) = V[:, p .. p+ma) S[:, sel], in place, a block of rows at a time (every
 * row block is read whole before it is overwritten). */
static void trl_rotate(hesse_trl_work *w, int nsel) {
    hesse_trl_state *st = w->st;
    int n = (int)st->n, ma = w->ma;
    if (nsel == 0) return;
    for (int q = 0; q < nsel; q++)
        memcpy(w->ssel + (size_t)q * ma, w->S + (size_t)w->sel[q] * ma, sizeof(double) * ma);
    double *Va = st->V + (size_t)st->p * n;
    for (int r0 = 0; r0 < n; r0 += HESSE_TRL_ROT_ROWS) {
        int rows = n - r0 < HESSE_TRL_ROT_ROWS ? n - r0 : HESSE_TRL_ROT_ROWS;
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, rows, nsel, ma, 1.0, Va + r0, n,
                    w->ssel, ma, 0.0, w->rot, rows);
        for (int q = 0; q < nsel; q++)
            memcpy(Va + (size_t)q * n + r0, w->rot + (size_t)q * rows, sizeof(double) * rows);
    }
}

/* Appends the active pairs sel[0 .. nlock) (already rotated into columns p ..) to the locked
 * set. */
static void trl_lock(hesse_trl_work *w, int nlock) {
    hesse_trl_state *st = w->st;
    for (int q = 0; q < nlock; q++) {
        int i = w->sel[q];
        st->lock_val[st->p + q] = w->theta[i];
        st->lock_res[st->p + q] = w->res[i];
        st->lock_side[st->p + q] = w->win[i];
        w->lock_keep[st->p + q] = 1;
    }
    st->p += nlock;
}

/* Thick restart: lock sel[0 .. nlock), keep sel[nlock .. nsel) as the new active start with
 * the residual direction after them, and T the arrowhead of Wu & Simon eq. 2.4. */
void hesse_trl_restart(hesse_trl_work *w, int nlock, int nsel) {
    hesse_trl_state *st = w->st;
    size_t n = (size_t)st->n;
    int m = st->m, ma = w->ma, p0 = st->p, l = nsel - nlock;
    trl_rotate(w, nsel);
    if (nsel != ma)
        memcpy(st->V + (size_t)(p0 + nsel) * n, st->V + (size_t)(p0 + ma) * n, n * sizeof(double));
    trl_lock(w, nlock);
    memset(st->T, 0, sizeof(double) * (size_t)m * m);
    for (int q = 0; q < l; q++) {
        int i = w->sel[nlock + q];
        double s = w->beta_last * w->S[(size_t)i * ma + ma - 1];
        st->T[(size_t)q * m + q] = w->theta[i];
        st->T[(size_t)q * m + l] = s;
        st->T[(size_t)l * m + q] = s;
    }
    st->l = l;
    st->restarts++;
}

/* Restart from a fresh random vector orthogonal to the locked ones (after locking
 * sel[0 .. nlock)). Returns 0 when the locked vectors span the space. */
int hesse_trl_fresh_start(hesse_trl_work *w, int nlock) {
    hesse_trl_state *st = w->st;
    size_t n = (size_t)st->n;
    trl_rotate(w, nlock);
    trl_lock(w, nlock);
    memset(st->T, 0, sizeof(double) * (size_t)st->m * st->m);
    st->l = 0;
    st->fresh = 1;
    st->fresh_starts++;
    st->restarts++;
    return hesse_sp_random_orth(&st->rng, (int)n, st->p, st->V, st->V + (size_t)st->p * n, w->h,
                                w->h2);
}

/* Chooses what the next cycle keeps: the `want_t` / `want_b` extreme unlocked Ritz pairs of
 * each end plus neighbours, so that about half the active space is kept. Writes the kept
 * indices (ascending) to sel[nlock ..]; returns how many. */
int hesse_trl_choose_keep(hesse_trl_work *w, int nlock, int want_t, int want_b, int room) {
    const hesse_trl_state *st = w->st;
    int ma = w->ma, avail = ma - nlock;
    int l = want_t + want_b;
    if (l < avail / 2) l = avail / 2;
    if (l > avail) l = avail;
    if (l > room - 1) l = room - 1;
    if (l < 0) l = 0;
    int extra = l - want_t - want_b, keep_t, keep_b;
    if (extra < 0) {
        keep_t = want_t < l ? want_t : l;
        keep_b = l - keep_t;
    } else if (st->top > 0 && st->bottom > 0) {
        int wsum = want_t + want_b;
        int et = wsum > 0 ? (int)((long long)extra * want_t / wsum) : extra / 2;
        keep_t = want_t + et;
        keep_b = l - keep_t;
    } else if (st->top > 0) {
        keep_t = l;
        keep_b = 0;
    } else {
        keep_t = 0;
        keep_b = l;
    }
    char *taken = w->lock_now; /* reuse: 1 = locked now or kept */
    int cnt = 0;
    for (int i = ma - 1; i >= 0 && keep_t > 0; i--)
        if (!taken[i]) {
            taken[i] = 2;
            keep_t--;
            cnt++;
        }
    keep_b += keep_t; /* what the top could not use */
    for (int i = 0; i < ma && keep_b > 0; i++)
        if (!taken[i]) {
            taken[i] = 2;
            keep_b--;
            cnt++;
        }
    int q = nlock;
    for (int i = 0; i < ma; i++)
        if (taken[i] == 2) w->sel[q++] = i;
    return cnt;
}

/* ---- Result -------------------------------------------------------------------------------- */

/* Moves columns cols[0..k) of V (n rows; cols distinct) to columns 0..k-1 in place. Column q
 * receives column cols[q]; a destination is overwritten only once the column it held was
 * copied to where it goes. Chains that start at a destination nobody reads go first, in order;
 * what is left are cycles among destinations, each turned with one column of scratch. */
static int gather_columns(double *V, int n, const int *cols, int k) {
    if (k <= 0) return HESSE_OK;
    const size_t col = sizeof(double) * (size_t)n;
    int *reader = malloc(sizeof(int) * (size_t)k); /* reader[c]: q with cols[q] == c, or -1 */
    char *done = calloc((size_t)k, 1);
    double *tmp = NULL;
    int rc = HESSE_OK;
    if (!reader || !done) {
        rc = hesse_error(HESSE_ENOMEM, "Lanczos: cannot allocate %d column indices", k);
        goto cleanup;
    }
    for (int c = 0; c < k; c++) reader[c] = -1;
    for (int q = 0; q < k; q++) {
        if (cols[q] < k) reader[cols[q]] = q;
        if (cols[q] == q) done[q] = 1;
    }
    for (int h = 0; h < k; h++) {
        if (done[h] || reader[h] >= 0) continue; /* not the head of a chain */
        for (int j = h;;) {
            int src = cols[j];
            memcpy(V + (size_t)j * n, V + (size_t)src * n, col);
            done[j] = 1;
            if (src >= k) break; /* the chain ends at a column beyond the destinations */
            j = src;             /* src was read by j alone: it may now be written */
        }
    }
    for (int h = 0; h < k; h++) {
        if (done[h]) continue; /* h starts a cycle */
        if (!tmp && !(tmp = hesse_alloc(col))) {
            rc = hesse_error(HESSE_ENOMEM, "Lanczos: cannot allocate a column of %d", n);
            goto cleanup;
        }
        memcpy(tmp, V + (size_t)h * n, col);
        int j = h;
        while (cols[j] != h) {
            memcpy(V + (size_t)j * n, V + (size_t)cols[j] * n, col);
            done[j] = 1;
            j = cols[j];
        }
        memcpy(V + (size_t)j * n, tmp, col);
        done[j] = 1;
    }
cleanup:
    free(reader);
    free(done);
    hesse_free(tmp);
    return rc;
}

/* Moves the wanted active pairs (converged or not) into the locked set, then copies the
 * wanted set to out: top descending, bottom ascending; explicit residuals when asked. */
int hesse_trl_finish(hesse_trl_work *w, hesse_eigs *out) {
    hesse_trl_state *st = w->st;
    const hesse_lanczos_params *prm = w->prm;
    int n = (int)st->n;
    double t = hesse_now();
    hesse_trl_drop_displaced(w);
    int nsel = 0;
    for (int i = 0; i < w->ma; i++)
        if (w->win[i]) w->sel[nsel++] = i;
    trl_rotate(w, nsel);
    trl_lock(w, nsel);

    /* Output order: top descending, then bottom ascending (columns of the locked set). */
    int k = st->top + st->bottom, ntop;
    int *cols = malloc(sizeof(int) * (size_t)k);
    if (!cols) return hesse_error(HESSE_ENOMEM, "cannot allocate %d indices", k);
    ntop = trl_sorted_locked(w, +1);
    if (ntop > st->top) ntop = st->top;
    memcpy(cols, w->order, sizeof(int) * (size_t)ntop);
    int nbot = trl_sorted_locked(w, -1);
    if (nbot > st->bottom) nbot = st->bottom;
    memcpy(cols + ntop, w->order, sizeof(int) * (size_t)nbot);
    k = ntop + nbot;

    int rc = HESSE_OK;
    double *X = NULL, *R = NULL;
    out->n = st->n;
    out->ntop = ntop;
    out->nbottom = k - ntop;
    out->values = hesse_alloc(sizeof(double) * (size_t)(k > 0 ? k : 1));
    out->residuals = hesse_alloc(sizeof(double) * (size_t)(k > 0 ? k : 1));
    if (!out->values || !out->residuals) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    for (int q = 0; q < k; q++) {
        out->values[q] = st->lock_val[cols[q]];
        out->residuals[q] = st->lock_res[cols[q]];
    }
    if (prm->want_vectors || prm->explicit_residuals) {
        /* The basis is not needed after this: its first k columns become the vectors, so no
         * second n x k block exists beside it (the peak stays the basis) */
        HESSE_CHECK(gather_columns(st->V, n, cols, k));
        X = st->V;
        st->V = NULL;
    }
    if (prm->explicit_residuals && k > 0) {
        /* The products go a slice of vectors at a time, so that neither the results nor the
         * operator's per-product scratch (which grows with the vectors in one call) hold k
         * more vectors. */
        int slice = (int)fmin(64.0, fmax(8.0, 268435456.0 / (8.0 * (double)n))); /* ~256 MiB */
        if (slice > k) slice = k;
        R = hesse_alloc(sizeof(double) * (size_t)n * (size_t)slice);
        if (!R) {
            rc = HESSE_ENOMEM;
            goto cleanup;
        }
        double in_products = w->ops.seconds;
        for (int q0 = 0; q0 < k; q0 += slice) {
            const int ns = k - q0 < slice ? k - q0 : slice;
            HESSE_CHECK(hesse_op_apply(w->op, ns, X + (size_t)q0 * n, R, &w->ops));
            for (int q = q0; q < q0 + ns; q++) {
                double *r = R + (size_t)(q - q0) * n;
                cblas_daxpy(n, -out->values[q], X + (size_t)q * n, 1, r, 1);
                out->residuals[q] = cblas_dnrm2(n, r, 1);
            }
        }
        t += w->ops.seconds - in_products; /* the products' time counts as products only */
        out->residuals_explicit = 1;
    }
    if (k > 0) {
        /* the returned vectors' orthogonality, measured: max |X^T X - I| (one k x k Gram) */
        double *G = hesse_alloc(sizeof(double) * (size_t)k * (size_t)k);
        if (!G) {
            rc = HESSE_ENOMEM;
            goto cleanup;
        }
        cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, k, n, 1.0, X, n, 0.0, G, k);
        double dev = 0.0;
        for (int c = 0; c < k; c++)
            for (int r = 0; r <= c; r++) dev = fmax(dev, fabs(G[(size_t)c * k + r] - (r == c)));
        out->orthogonality = dev;
        hesse_free(G);
    }
    if (prm->want_vectors) {
        out->vectors = X;
        X = NULL;
    }
    out->nconverged = 0;
    for (int q = 0; q < k; q++)
        if (out->residuals[q] <= st->tol * st->anorm) out->nconverged++;
    st->seconds_restart += elapsed_since(t);
    hesse_trl_sync(w);
    out->anorm = st->anorm;
    out->tol = st->tol;
    out->basis = st->m;
    out->products = st->products;
    out->iterations = st->iterations;
    out->restarts = st->restarts;
    out->breakdowns = st->breakdowns;
    out->fresh_starts = st->fresh_starts;
    out->seconds = st->seconds;
    out->seconds_products = st->seconds_products;
    out->seconds_ortho = st->seconds_ortho;
    out->seconds_restart = st->seconds_restart;
    out->seconds_checkpoint = st->seconds_checkpoint;
cleanup:
    free(cols);
    hesse_free(X);
    hesse_free(R);
    return rc;
}
