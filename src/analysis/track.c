/* The Hessian tracked along training (analysis.h, "Tracking the Hessian during training"):
 * a tracker keeps, per Lanczos series (top, bottom, preconditioned, power law), the Ritz
 * vectors of its last measurement and starts the next run of that series from them.
 *
 * Cohen, Kaur, Li, Kolter, Talwalkar, "Gradient Descent on Neural Networks Typically Occurs
 * at the Edge of Stability", ICLR 2021 (the top eigenvalue against 2/eta); Cohen et al.,
 * "Adaptive Gradient Methods at the Edge of Stability", 2022 (the top eigenvalue of P^{-1} H,
 * computed here as that of P^{-1/2} H P^{-1/2}, which is similar). */
#include <hesse/analysis.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SERIES_TOP, SERIES_BOTTOM, SERIES_PRE, SERIES_POWERLAW, SERIES_COUNT, STREAM_TRACE = 4 };

typedef struct {
    int ncols;
    double *V; /* n x ncols, the last run's Ritz vectors */
} track_series;

struct hesse_tracker {
    int64_t n;
    hesse_track_params p;
    hesse_track_totals totals;
    track_series series[SERIES_COUNT];
    double *d; /* n: P^{-1/2} of the current measurement */
};

/* Wanted pairs of a series' runs (0: the series is not run). */
static int series_width(const hesse_track_params *p, int s) {
    switch (s) {
    case SERIES_TOP:
        return p->top;
    case SERIES_BOTTOM:
        return p->bottom;
    case SERIES_PRE:
        return p->preconditioned ? p->top : 0;
    default:
        return p->powerlaw;
    }
}

static int check_params(int64_t n, const hesse_track_params *p) {
    if (!p || n <= 0) return hesse_error(HESSE_EINVAL, "tracker: need n > 0 and parameters");
    if (p->every < 1 || p->top < 1 || p->bottom < 0 || (p->powerlaw != 0 && p->powerlaw < 3) ||
        (p->trace && p->probes < 4) || !(p->tol > 0.0 && p->tol < 1.0) || p->samples < 0)
        return hesse_error(HESSE_EINVAL,
                           "tracker: need every >= 1, top >= 1, bottom >= 0, powerlaw 0 or >= 3, "
                           "probes >= 4 with trace and 0 < tol < 1");
    if (p->top + p->bottom > n || p->powerlaw > n)
        return hesse_error(HESSE_EINVAL,
                           "option --track: top + bottom (%d) and powerlaw (%d) must not exceed "
                           "the %lld parameters",
                           p->top + p->bottom, p->powerlaw, (long long)n);
    return HESSE_OK;
}

int hesse_tracker_create(int64_t n, const hesse_track_params *p, hesse_tracker **out) {
    if (!out) return hesse_error(HESSE_EINVAL, "tracker: out is NULL");
    *out = NULL;
    int rc = check_params(n, p);
    if (rc != HESSE_OK) return rc;
    hesse_tracker *t = hesse_calloc(1, sizeof *t);
    if (!t) return HESSE_ENOMEM;
    t->n = n;
    t->p = *p;
    for (int s = 0; s < SERIES_COUNT; s++) {
        int w = series_width(p, s);
        if (w == 0) continue;
        t->series[s].V = hesse_alloc(sizeof(double) * (size_t)n * (size_t)w);
        if (!t->series[s].V) {
            hesse_tracker_free(t);
            return HESSE_ENOMEM;
        }
    }
    if (p->preconditioned && !(t->d = hesse_alloc(sizeof(double) * (size_t)n))) {
        hesse_tracker_free(t);
        return HESSE_ENOMEM;
    }
    *out = t;
    return HESSE_OK;
}

void hesse_tracker_free(hesse_tracker *t) {
    if (!t) return;
    for (int s = 0; s < SERIES_COUNT; s++) hesse_free(t->series[s].V);
    hesse_free(t->d);
    hesse_free(t);
}

hesse_track_totals hesse_tracker_totals(const hesse_tracker *t) {
    hesse_track_totals z = {0, 0, 0, 0, 0.0, 0.0};
    return t ? t->totals : z;
}

void hesse_track_point_free(hesse_track_point *p) {
    if (!p) return;
    hesse_free(p->top);
    hesse_free(p->top_residuals);
    hesse_free(p->bottom);
    hesse_free(p->bottom_residuals);
    hesse_free(p->preconditioned);
    hesse_free(p->preconditioned_residuals);
    memset(p, 0, sizeof *p);
}

/* ---- One Lanczos series ------------------------------------------------------------------ */

/* The seed of series (or stream) s at measurement `index`: a function of the user's seed, the
 * series and the index alone (SplitMix64's increment and finaliser). */
static uint64_t seed_of(const hesse_tracker *t, int s, int64_t index) {
    uint64_t z = t->p.seed + 0x9E3779B97F4A7C15ull * (uint64_t)(index * 8 + s + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* What a series' run produced for the point. */
typedef struct {
    hesse_eigs eigs; /* the warm run's */
    int64_t products_cold;
    double seconds_cold;
} series_run;

/* The Lanczos settings of every tracked run, warm and cold alike. */
static hesse_lanczos_params series_params(const hesse_tracker *t, int s) {
    hesse_lanczos_params lp = hesse_lanczos_defaults();
    int w = series_width(&t->p, s);
    lp.top = s == SERIES_BOTTOM ? 0 : w;
    lp.bottom = s == SERIES_BOTTOM ? w : 0;
    lp.tol = t->p.tol;
    lp.seed = seed_of(t, s, t->totals.measurements);
    lp.want_vectors = 1;
    lp.verify = t->p.verify;
    lp.explicit_residuals = 1;
    lp.checkpoint_interval = -1.0; /* no checkpoints inside a measurement */
    lp.check_every = 1;            /* a product costs more than a projected eigensolve */
    return lp;
}

/* Runs series s on op: warm from its last Ritz vectors (a random start the first time), and
 * with cold once more from a random start; keeps the warm run's vectors for the next time. */
static int run_series(hesse_tracker *t, int s, const hesse_op *op, series_run *r) {
    memset(r, 0, sizeof *r);
    track_series *ser = &t->series[s];
    hesse_lanczos_params lp = series_params(t, s);
    lp.start = ser->ncols > 0 ? ser->V : NULL;
    lp.nstart = ser->ncols;
    int rc = hesse_lanczos_eigs(op, &lp, &r->eigs);
    if (rc != HESSE_OK) return rc;
    if (t->p.cold) {
        hesse_eigs cold = {0};
        lp.start = NULL;
        lp.nstart = 0;
        rc = hesse_lanczos_eigs(op, &lp, &cold);
        r->products_cold = cold.products;
        r->seconds_cold = cold.seconds;
        hesse_eigs_free(&cold);
        if (rc != HESSE_OK) return rc;
    }
    int w = series_width(&t->p, s);
    if (!r->eigs.vectors)
        return hesse_error(HESSE_ENUMERIC, "tracker: the Lanczos run returned no vectors");
    memcpy(ser->V, r->eigs.vectors, sizeof(double) * (size_t)t->n * (size_t)w);
    ser->ncols = w;
    return HESSE_OK;
}

/* Copies count doubles into a new array *dst. */
static int copy_doubles(double **dst, const double *src, int count) {
    *dst = hesse_alloc(sizeof(double) * (size_t)count);
    if (!*dst) return HESSE_ENOMEM;
    memcpy(*dst, src, sizeof(double) * (size_t)count);
    return HESSE_OK;
}

/* Adds a run's costs and convergence to the point. */
static void account(hesse_track_point *pt, const series_run *r) {
    pt->products += r->eigs.products;
    pt->seconds += r->eigs.seconds;
    pt->products_cold += r->products_cold;
    pt->seconds_cold += r->seconds_cold;
    pt->nconverged += r->eigs.nconverged;
    pt->nwanted += r->eigs.ntop + r->eigs.nbottom;
}

/* Runs series s on op and hands its values and residuals to *values / *residuals. */
static int measure_values(hesse_tracker *t, int s, const hesse_op *op, hesse_track_point *pt,
                          double **values, double **residuals, int64_t *products,
                          int64_t *products_cold) {
    series_run r;
    int rc = run_series(t, s, op, &r);
    int w = series_width(&t->p, s);
    if (rc == HESSE_OK) rc = copy_doubles(values, r.eigs.values, w);
    if (rc == HESSE_OK) rc = copy_doubles(residuals, r.eigs.residuals, w);
    if (rc == HESSE_OK) {
        account(pt, &r);
        *products = r.eigs.products;
        if (products_cold) *products_cold = r.products_cold;
    }
    hesse_eigs_free(&r.eigs);
    return rc;
}

/* ---- The optional parts ------------------------------------------------------------------ */

/* d = P^{-1/2} (P > 0 and finite) and the top-k of D H D. */
static int measure_preconditioned(hesse_tracker *t, const hesse_op *H, const double *P,
                                  hesse_track_point *pt) {
    for (int64_t i = 0; i < t->n; i++) {
        if (!(P[i] > 0.0) || !isfinite(P[i]))
            return hesse_error(HESSE_EINVAL,
                               "tracker: preconditioner entry %lld is %g; need > 0 and finite",
                               (long long)i, P[i]);
        t->d[i] = 1.0 / sqrt(P[i]);
    }
    hesse_op DHD;
    int rc = hesse_op_scale(H, t->d, &DHD);
    if (rc != HESSE_OK) return rc;
    rc = measure_values(t, SERIES_PRE, &DHD, pt, &pt->preconditioned, &pt->preconditioned_residuals,
                        &pt->preconditioned_products, &pt->preconditioned_products_cold);
    hesse_op_free(&DHD);
    if (rc == HESSE_OK) pt->npreconditioned = t->p.top;
    return rc;
}

/* The top K2 and their power-law fit (a failed fit is recorded, not an error). */
static int measure_powerlaw(hesse_tracker *t, const hesse_op *H, hesse_track_point *pt) {
    series_run r;
    int rc = run_series(t, SERIES_POWERLAW, H, &r);
    if (rc == HESSE_OK) {
        account(pt, &r);
        pt->has_powerlaw = 1;
        pt->powerlaw_products = r.eigs.products;
        pt->powerlaw_products_cold = r.products_cold;
        pt->powerlaw_ok = hesse_powerlaw_fit(r.eigs.values, r.eigs.ntop, &pt->powerlaw) == HESSE_OK;
        int positive = 0;
        for (int i = 0; i < r.eigs.ntop; i++) positive += r.eigs.values[i] > 0.0;
        pt->powerlaw_K = pt->powerlaw_ok ? pt->powerlaw.K : positive;
    }
    hesse_eigs_free(&r.eigs);
    return rc;
}

static int measure_trace(hesse_tracker *t, const hesse_op *H, hesse_track_point *pt) {
    hesse_trace_params tp = hesse_trace_defaults();
    tp.samples = t->p.probes;
    tp.seed = seed_of(t, STREAM_TRACE, t->totals.measurements);
    hesse_trace_result tr;
    int rc = hesse_trace_hutchpp(H, &tp, &tr);
    if (rc != HESSE_OK) return rc;
    pt->has_trace = 1;
    pt->trace = tr.trace;
    pt->trace_se = tr.std_error;
    pt->trace_products = tr.products;
    return HESSE_OK;
}

static int measure_all(hesse_tracker *t, const hesse_op *H, const double *precond,
                       hesse_track_point *pt) {
    int rc =
        measure_values(t, SERIES_TOP, H, pt, &pt->top, &pt->top_residuals, &pt->top_products, NULL);
    if (rc != HESSE_OK) return rc;
    pt->ntop = t->p.top;
    if (t->p.bottom > 0) {
        rc = measure_values(t, SERIES_BOTTOM, H, pt, &pt->bottom, &pt->bottom_residuals,
                            &pt->bottom_products, NULL);
        if (rc != HESSE_OK) return rc;
        pt->nbottom = t->p.bottom;
    }
    if (t->p.preconditioned && precond) {
        rc = measure_preconditioned(t, H, precond, pt);
        if (rc != HESSE_OK) return rc;
    }
    if (t->p.powerlaw > 0) {
        rc = measure_powerlaw(t, H, pt);
        if (rc != HESSE_OK) return rc;
    }
    if (t->p.trace) rc = measure_trace(t, H, pt);
    return rc;
}

int hesse_tracker_measure(hesse_tracker *t, const hesse_op *H, const double *precond,
                          hesse_track_point *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "tracker: out is NULL");
    memset(out, 0, sizeof *out);
    if (!t || !H || !H->apply) return hesse_error(HESSE_EINVAL, "tracker: no tracker or operator");
    if (H->n != t->n)
        return hesse_error(HESSE_EINVAL, "tracker: the operator has dimension %lld, not %lld",
                           (long long)H->n, (long long)t->n);
    out->index = t->totals.measurements;
    out->has_cold = t->p.cold;
    int rc = measure_all(t, H, precond, out);
    if (rc != HESSE_OK) {
        hesse_track_point_free(out);
        return rc;
    }
    t->totals.measurements++;
    t->totals.products += out->products;
    t->totals.products_cold += out->products_cold;
    t->totals.trace_products += out->trace_products;
    t->totals.seconds += out->seconds;
    t->totals.seconds_cold += out->seconds_cold;
    return HESSE_OK;
}

/* ---- State ------------------------------------------------------------------------------- */

/* Layout: magic, version, byte-order mark, n, the params that shape the series and seeds,
 * the totals, then per series its column count and its n x ncols vectors. */
#define TRACK_MAGIC "HSSTRACK"
enum { TRACK_VERSION = 1, TRACK_BOM = 0x01020304 };

typedef struct {
    char magic[8];
    uint32_t version, bom;
    int64_t n;
    int32_t top, bottom, powerlaw, preconditioned, cold, verify, trace, probes;
    double tol;
    uint64_t seed;
    hesse_track_totals totals;
    int32_t ncols[SERIES_COUNT];
} track_header;

static size_t state_size(const hesse_tracker *t, const int32_t *ncols) {
    size_t size = sizeof(track_header);
    for (int s = 0; s < SERIES_COUNT; s++) size += sizeof(double) * (size_t)t->n * (size_t)ncols[s];
    return size;
}

static track_header header_of(const hesse_tracker *t) {
    track_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, TRACK_MAGIC, 8);
    h.version = TRACK_VERSION;
    h.bom = TRACK_BOM;
    h.n = t->n;
    h.top = t->p.top;
    h.bottom = t->p.bottom;
    h.powerlaw = t->p.powerlaw;
    h.preconditioned = t->p.preconditioned;
    h.cold = t->p.cold;
    h.verify = t->p.verify;
    h.trace = t->p.trace;
    h.probes = t->p.probes;
    h.tol = t->p.tol;
    h.seed = t->p.seed;
    h.totals = t->totals;
    for (int s = 0; s < SERIES_COUNT; s++) h.ncols[s] = t->series[s].ncols;
    return h;
}

int hesse_tracker_save(const hesse_tracker *t, void **blob, size_t *size) {
    if (!t || !blob || !size) return hesse_error(HESSE_EINVAL, "tracker save: invalid arguments");
    track_header h = header_of(t);
    size_t total = state_size(t, h.ncols);
    char *b = hesse_alloc(total);
    if (!b) return HESSE_ENOMEM;
    memcpy(b, &h, sizeof h);
    size_t at = sizeof h;
    for (int s = 0; s < SERIES_COUNT; s++) {
        size_t bytes = sizeof(double) * (size_t)t->n * (size_t)h.ncols[s];
        if (bytes) memcpy(b + at, t->series[s].V, bytes);
        at += bytes;
    }
    *blob = b;
    *size = total;
    return HESSE_OK;
}

/* The first parameter in which the blob's header differs from the tracker's, or NULL. */
static const char *header_mismatch(const track_header *a, const track_header *b) {
    if (a->n != b->n) return "n (the parameter count)";
    if (a->top != b->top) return "top";
    if (a->bottom != b->bottom) return "bottom";
    if (a->powerlaw != b->powerlaw) return "powerlaw";
    if (a->preconditioned != b->preconditioned) return "preconditioned";
    if (a->cold != b->cold) return "cold";
    if (a->verify != b->verify) return "verify";
    if (a->trace != b->trace || (a->trace && a->probes != b->probes)) return "trace / probes";
    if (a->tol != b->tol) return "tol";
    if (a->seed != b->seed) return "seed";
    return NULL;
}

int hesse_tracker_load(hesse_tracker *t, const void *blob, size_t size) {
    if (!t || !blob) return hesse_error(HESSE_EINVAL, "tracker load: invalid arguments");
    track_header h, mine = header_of(t);
    if (size < sizeof h)
        return hesse_error(HESSE_EINPUT, "tracker state: %zu bytes is too short", size);
    memcpy(&h, blob, sizeof h);
    if (memcmp(h.magic, TRACK_MAGIC, 8) != 0 || h.version != TRACK_VERSION || h.bom != TRACK_BOM)
        return hesse_error(HESSE_EINPUT,
                           "tracker state: not a version-%d tracker state of this byte order",
                           TRACK_VERSION);
    const char *diff = header_mismatch(&h, &mine);
    if (diff)
        return hesse_error(HESSE_EINVAL, "tracker state: %s differs from this run's tracking",
                           diff);
    for (int s = 0; s < SERIES_COUNT; s++)
        if (h.ncols[s] != 0 && h.ncols[s] != series_width(&t->p, s))
            return hesse_error(HESSE_EINPUT, "tracker state: series %d has %d columns", s,
                               h.ncols[s]);
    if (size != state_size(t, h.ncols))
        return hesse_error(HESSE_EINPUT, "tracker state: %zu bytes, expected %zu", size,
                           state_size(t, h.ncols));
    size_t at = sizeof h;
    for (int s = 0; s < SERIES_COUNT; s++) {
        size_t bytes = sizeof(double) * (size_t)t->n * (size_t)h.ncols[s];
        if (bytes) memcpy(t->series[s].V, (const char *)blob + at, bytes);
        t->series[s].ncols = h.ncols[s];
        at += bytes;
    }
    t->totals = h.totals;
    return HESSE_OK;
}
