/* The state of a thick-restart Lanczos run (trlan.c), shared with its checkpoint format
 * (trlan_ckpt.c). Not installed. */
#ifndef HESSE_TRLAN_IMPL_H
#define HESSE_TRLAN_IMPL_H

#include "spectral-impl.h"

#define HESSE_TRL_ROT_ROWS 2048 /* rows per block of the in-place basis rotation */

/* Layout of the basis V (n x (m + 1), column-major):
 *   columns [0, p)          locked Ritz vectors (converged, wanted), values lock_val
 *   columns [p, p + j]      the active Lanczos basis v_0 .. v_j of A restricted to the
 *                           complement of the locked vectors
 *   column  p + ma          after an expansion of ma = m - p steps: the residual direction
 * The active projected matrix T (ld m) is, after a restart that kept l Ritz vectors,
 *   [ diag(theta_0 .. theta_{l-1})  s ]
 *   [ s^T                      alpha_l ] followed by the tridiagonal of later steps,
 * with s_i = beta_last * u_i[last] (Wu & Simon 2000, eq. 2.4). Locked vectors are treated as
 * exact: their coupling (<= tol * anorm) is dropped. */
typedef struct {
    /* the problem: these must match on resume */
    int64_t n;
    int top, bottom; /* wanted at each end */
    int m;           /* basis size */
    double tol, breakdown_tol;
    uint64_t seed;
    int verify;
    int check_every; /* steps between convergence checks inside a cycle */

    /* the state at a restart boundary or between two products (what a checkpoint holds) */
    int p;        /* locked vectors */
    int l;        /* active vectors kept; the next expansion starts at active index l */
    int next;     /* 0 at a restart boundary; inside an expansion (a checkpoint taken between
                     two products), the active index of the next product, > l */
    int fresh;    /* 1 while nothing was locked since the active space last started from a
                     fresh random vector: only then can it show that nothing is missed */
    int complete; /* the basis spans the whole space (n small): Ritz pairs are exact */
    double anorm; /* largest |Ritz value| (or Rayleigh quotient alpha) seen */
    hesse_rng rng;
    int64_t products, iterations; /* accumulated over earlier runs of this problem */
    int restarts, breakdowns, fresh_starts, cycles;
    double seconds, seconds_products, seconds_ortho, seconds_restart, seconds_checkpoint;
    double *V;        /* n x (m + 1) */
    double *T;        /* m x m, ld m */
    double *lock_val; /* [m] */
    double *lock_res; /* [m] residual estimate when locked */
    int *lock_side;   /* [m] +1 top, -1 bottom */
} hesse_trl_state;

/* Per-call workspace and bookkeeping of a run (never serialised). */
typedef struct {
    const hesse_op *op;
    const hesse_lanczos_params *prm;
    hesse_trl_state *st;
    hesse_op_stats ops; /* this run's products */
    int64_t base_products;
    double base_seconds, base_seconds_products;
    double t0, last_ckpt;
    int ma;           /* active size after the last expansion */
    double beta_last; /* coupling of the last active vector to the residual direction */
    double *S;        /* ma x ma eigenvectors of T */
    double *theta, *res;
    double *h, *h2;
    double *rot, *ssel;
    int *sel;
    signed char *win; /* [m] +1 / -1: active Ritz pair inside the top / bottom wanted set */
    char *lock_now;   /* [m] active pair locked this cycle */
    char *lock_keep;  /* [m] locked vector still inside the wanted set */
    int *order;       /* [m] scratch for sorting locked values */
    double *mon_val, *mon_res;
} hesse_trl_work;

/* What a cycle does after Rayleigh-Ritz (hesse_trl_decide). */
typedef struct {
    int nlock;          /* wanted active pairs that converged: w->sel[0 .. nlock) */
    int locked_wanted;  /* locked vectors inside the wanted set before this cycle */
    int done;           /* every wanted pair converged (and, with verify, nothing missed) */
    int fresh_start;    /* every wanted pair converged: look again from a fresh vector */
    int want_t, want_b; /* otherwise: extreme pairs of each end the restart must keep */
} hesse_trl_decision;

/* From the Ritz pairs in w (theta, res, ma): the wanted sets, the pairs to lock and the next
 * step. Changes only w's scratch arrays. */
void hesse_trl_decide(hesse_trl_work *w, hesse_trl_decision *dc);
/* Calls the monitor with the current estimates of the wanted set. */
void hesse_trl_report(hesse_trl_work *w, int nlocked_wanted);
/* Removes locked vectors that left the wanted set (compacting V). */
void hesse_trl_drop_displaced(hesse_trl_work *w);
/* Chooses the Ritz pairs a thick restart keeps (into w->sel[nlock ..]); returns how many. */
int hesse_trl_choose_keep(hesse_trl_work *w, int nlock, int want_t, int want_b, int room);
/* Thick restart: locks w->sel[0 .. nlock), keeps w->sel[nlock .. nsel). */
void hesse_trl_restart(hesse_trl_work *w, int nlock, int nsel);
/* Locks w->sel[0 .. nlock) and restarts from a random vector orthogonal to the locked ones;
 * returns 0 when they span the space. */
int hesse_trl_fresh_start(hesse_trl_work *w, int nlock);
/* Locks the wanted active pairs and fills out (top descending, bottom ascending), with explicit
 * residuals when asked. */
int hesse_trl_finish(hesse_trl_work *w, hesse_eigs *out);
/* Copies this run's counters into the state (totals over all runs). */
void hesse_trl_sync(hesse_trl_work *w);

/* Warm start (trlan_warm.c). The weight of the random unit vector added to the combination of
 * the start vectors (which has norm 1) before normalising. */
#define HESSE_TRL_WARM_MIX 1e-4
/* HESSE_EINVAL when p->start / p->nstart are unusable (nstart < 0, NULL start, a non-finite
 * entry). */
int hesse_trl_check_start(const hesse_lanczos_params *p, int64_t n);
/* Writes the warm start vector into column 0 of st->V (st allocated, rng seeded): the
 * normalised sum of an orthonormal basis of the first min(nstart, m) columns of start plus
 * the random part. HESSE_EINVAL when every column is zero. */
int hesse_trl_warm_vector(hesse_trl_state *st, const double *start, int nstart);

/* Allocates V, T and the lock arrays for st->n, st->m (zeroed). */
int hesse_trl_alloc(hesse_trl_state *st);
void hesse_trl_free(hesse_trl_state *st);

/* Hands the state to p->checkpoint as a blob in parts (header and small arrays, then the used
 * columns of V). */
int hesse_trl_checkpoint(const hesse_trl_state *st, const hesse_lanczos_params *p);

/* Restores a state from a blob, checking it against st's problem fields (already set from
 * the caller's operator and parameters; the basis size and check interval only when given,
 * otherwise the blob's are adopted). Allocates st's arrays. */
int hesse_trl_restore(hesse_trl_state *st, const void *blob, size_t size, int basis_given,
                      int check_every_given);

#endif
