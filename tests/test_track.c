/* analysis/track.c, analysis/track_spec.c and hesse_op_scale: the Hessian tracked along a few
 * gradient-descent and Adam steps of a small tanh MLP (212 parameters, MSE and cross-entropy),
 * every tracked value against a cold dense eigen-decomposition (LAPACK dsyevd) of the
 * materialised Hessian at that step; the preconditioned values against the dense eigenvalues
 * of P^{-1/2} H P^{-1/2} formed here entry by entry; the power law against hesse_powerlaw_fit
 * of the dense eigenvalues; the Hutch++ trace against the dense trace within its reported
 * error; a saved and restored tracker against an uninterrupted one, bit for bit; and the spec
 * parser's values and messages. */
#include <hesse/analysis.h>
#include <hesse/data.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"

enum { IN = 8, HID = 16, OUT = 4, NSAMP = 24, STEPS = 4, TOP = 3, BOTTOM = 2, K2 = 8 };

/* ---- hesse_op_scale against the explicit D A D ------------------------------------------- */

static void test_scale(void) {
    enum { N = 7, K = 3 };
    double A[N * N], d[N], X[N * K], Y[N * K];
    hesse_rng r;
    hesse_rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        d[i] = 0.2 + 2.0 * hesse_rng_uniform(&r);
        for (int j = 0; j <= i; j++) A[i * N + j] = A[j * N + i] = hesse_rng_normal(&r);
    }
    for (int i = 0; i < N * K; i++) X[i] = hesse_rng_normal(&r);
    hesse_op a, s;
    REQUIRE(hesse_op_dense(N, A, &a) == HESSE_OK);
    a.max_block = 2; /* the scaled operator inherits it; hesse_op_apply splits the block */
    REQUIRE(hesse_op_scale(&a, d, &s) == HESSE_OK);
    CHECK(s.n == N && s.max_block == 2);
    hesse_op_stats st = {0, 0, 0};
    REQUIRE(hesse_op_apply(&s, K, X, Y, &st) == HESSE_OK);
    CHECK(st.products == K); /* one product of D A D counts once */
    double err = 0, big = 0;
    for (int c = 0; c < K; c++)
        for (int i = 0; i < N; i++) {
            double y = 0; /* (D A D x)_i = d_i sum_j A_ij d_j x_j */
            for (int j = 0; j < N; j++) y += d[i] * A[j * N + i] * d[j] * X[c * N + j];
            err = fmax(err, fabs(y - Y[c * N + i]));
            big = fmax(big, fabs(y));
        }
    /* a sum of 7 products, reordered: a few roundings of the largest entry */
    CHECK_MSG(err <= 1e-14 * big, "D A D X differs by %.3g of %.3g", err, big);
    hesse_op bad;
    CHECK(hesse_op_scale(&a, NULL, &bad) == HESSE_EINVAL);
    hesse_op_free(&s);
    hesse_op_free(&a);
}

/* ---- The spec parser --------------------------------------------------------------------- */

static void expect_error(const char *spec, const char *part) {
    hesse_track_params p = hesse_track_defaults();
    int rc = hesse_track_parse(spec, &p);
    CHECK_MSG(rc == HESSE_EINVAL, "'%s' gave %d", spec, rc);
    const char *msg = hesse_last_error();
    CHECK_MSG(strstr(msg, "option --track") && strstr(msg, part) && !strchr(msg, '\n'),
              "'%s': message '%s' does not name '%s'", spec, msg, part);
}

static void test_parse(void) {
    hesse_track_params p;
    REQUIRE(hesse_track_parse("every=20,top=5,bottom=2,trace,powerlaw=50,samples=5000,"
                              "preconditioned,tol=1e-6,cold,verify,probes=30,seed=7",
                              &p) == HESSE_OK);
    CHECK(p.every == 20 && p.top == 5 && p.bottom == 2 && p.trace == 1 && p.powerlaw == 50);
    CHECK(p.samples == 5000 && p.preconditioned == 1 && p.tol == 1e-6 && p.cold == 1);
    CHECK(p.verify == 1 && p.probes == 30 && p.seed == 7);
    REQUIRE(hesse_track_parse("every=3", &p) == HESSE_OK);
    CHECK(p.every == 3 && p.top == 1 && p.bottom == 0 && !p.trace && p.powerlaw == 0);
    CHECK(p.tol == 1e-8 && !p.cold && !p.verify && p.probes == 99 && !p.preconditioned);
    expect_error("top=3", "every=K is missing");
    expect_error("every=0", "every=0: 0 is outside");
    expect_error("every=ten", "every=ten: expected an integer, got 'ten'");
    expect_error("every=5,top=2.5", "top=2.5: expected an integer");
    expect_error("every=5,foo=1", "unknown item 'foo=1'");
    expect_error("every=5,,top=2", "empty item");
    expect_error("every=5,top=1,top=2", "'top' is given twice");
    expect_error("every=5,trace=3", "trace=3: 'trace' takes no value");
    expect_error("every=5,top", "'top' needs a value");
    expect_error("every=5,powerlaw=2", "powerlaw=2: 2 is outside [3,");
    expect_error("every=5,tol=0", "tol=0: 0 is outside");
    expect_error("every=5,tol=abc", "tol=abc: expected a number");
    expect_error("every=5,probes=10", "probes=10 applies to trace");
    expect_error("every=5,", "empty item");
    /* the settings keys of "tracking" */
    REQUIRE(hesse_track_parse("every=20,top=5,bottom=1,powerlaw=9,cold,samples=300", &p) ==
            HESSE_OK);
    cJSON *o = cJSON_CreateObject();
    hesse_track_params_json(&p, o);
    CHECK(cJSON_GetArraySize(o) == 9);
    CHECK(cJSON_GetObjectItem(o, "every")->valuedouble == 20 &&
          cJSON_GetObjectItem(o, "top")->valuedouble == 5 &&
          cJSON_GetObjectItem(o, "bottom")->valuedouble == 1 &&
          cJSON_GetObjectItem(o, "samples")->valuedouble == 300 &&
          cJSON_GetObjectItem(o, "tol")->valuedouble == 1e-8 &&
          cJSON_GetObjectItem(o, "powerlaw")->valuedouble == 9);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "cold")) &&
          cJSON_IsFalse(cJSON_GetObjectItem(o, "trace")) &&
          cJSON_IsFalse(cJSON_GetObjectItem(o, "preconditioned")));
    cJSON_Delete(o);
    /* more eigenvalues than the operator has, found at creation */
    hesse_tracker *tr = NULL;
    REQUIRE(hesse_track_parse("every=1,top=8,bottom=3", &p) == HESSE_OK);
    CHECK(hesse_tracker_create(10, &p, &tr) == HESSE_EINVAL && !tr);
    CHECK(strstr(hesse_last_error(), "option --track: top + bottom (11) and powerlaw (0) must not "
                                     "exceed the 10 parameters"));
    /* a preconditioner with a zero entry is refused, naming the entry */
    double A[4] = {2, 1, 1, 3}, P[2] = {1, 0};
    hesse_op a;
    hesse_track_point pt;
    REQUIRE(hesse_op_dense(2, A, &a) == HESSE_OK);
    REQUIRE(hesse_track_parse("every=1,preconditioned", &p) == HESSE_OK);
    REQUIRE(hesse_tracker_create(2, &p, &tr) == HESSE_OK);
    CHECK(hesse_tracker_measure(tr, &a, P, &pt) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "preconditioner entry 1 is 0"));
    CHECK(hesse_tracker_totals(tr).measurements == 0);
    hesse_tracker_free(tr);
    hesse_op_free(&a);
    /* the schedule: step 0, multiples of every, the last */
    p = hesse_track_defaults();
    p.every = 4;
    CHECK(hesse_track_due(&p, 0, 10) && hesse_track_due(&p, 8, 10) && hesse_track_due(&p, 10, 10));
    CHECK(!hesse_track_due(&p, 3, 10) && !hesse_track_due(&p, 9, 10));
}

/* ---- The network and its dense references ------------------------------------------------ */

typedef struct {
    hesse_model *m;
    hesse_engine *e;
    hesse_samples s;
    int64_t n;
} net;

static void net_make(net *t, hesse_loss_kind loss) {
    REQUIRE(hesse_model_create("flatten,linear(8,16),tanh,linear(16,4)", 1, 1, IN, loss, &t->m) ==
            HESSE_OK);
    hesse_model_init(t->m, 3);
    REQUIRE(hesse_samples_alloc(NSAMP, 1, 1, IN, OUT, &t->s) == HESSE_OK);
    hesse_rng r;
    hesse_rng_seed(&r, 5);
    for (int i = 0; i < NSAMP * IN; i++) t->s.x[i] = hesse_rng_normal(&r);
    for (int i = 0; i < NSAMP; i++) t->s.y[i] = (i * 7) % OUT;
    hesse_engine_params ep = hesse_engine_defaults();
    REQUIRE(hesse_engine_create(t->m, &ep, &t->e) == HESSE_OK);
    t->n = hesse_model_num_params(t->m);
    REQUIRE(t->n == IN * HID + HID + HID * OUT + OUT);
}

static void net_free(net *t) {
    hesse_engine_free(t->e);
    hesse_samples_free(&t->s);
    hesse_model_free(t->m);
}

/* The dense Hessian at the current parameters, its eigenvalues (ascending) and trace. */
typedef struct {
    double *H, *w;
    double trace;
} dense_ref;

static void dense_eigs(int64_t n, const double *A, double *w) {
    REQUIRE(hesse_eigh(n, A, w, NULL) == HESSE_OK);
}

static void dense_make(net *t, hesse_op *H, dense_ref *d) {
    const int64_t n = t->n;
    REQUIRE(hesse_op_curvature(t->e, &t->s, HESSE_CURV_HESSIAN, H) == HESSE_OK);
    d->H = malloc(sizeof(double) * (size_t)(n * n));
    d->w = malloc(sizeof(double) * (size_t)n);
    REQUIRE(d->H && d->w);
    REQUIRE(hesse_op_to_dense(H, 16, d->H, NULL, NULL) == HESSE_OK);
    dense_eigs(n, d->H, d->w);
    d->trace = 0;
    for (int64_t i = 0; i < n; i++) d->trace += d->H[i * n + i];
}

static void dense_free(dense_ref *d) {
    free(d->H);
    free(d->w);
}

/* ||H||: the largest |eigenvalue|. */
static double dense_norm(int64_t n, const double *w) {
    return fmax(fabs(w[0]), fabs(w[n - 1]));
}

/* The bound: every tracked eigenvalue equals the dense one to 1e-10 relative. (Lanczos
 * at tol 1e-8 ||H|| puts a well-separated Ritz value within residual^2 / gap ~ 1e-16 ||H|| of
 * its eigenvalue.) */
#define TRACK_REL 1e-10

static void check_values(const char *what, int step, int count, const double *got,
                         const double *want) {
    for (int i = 0; i < count; i++)
        CHECK_MSG(fabs(got[i] - want[i]) <= TRACK_REL * fabs(want[i]) && isfinite(got[i]),
                  "%s %d at step %d: %.17g vs dense %.17g (rel %.3g)", what, i + 1, step, got[i],
                  want[i], fabs(got[i] - want[i]) / fabs(want[i]));
}

/* The dense eigenvalues of P^{-1/2} H P^{-1/2}, formed entry by entry, top `count`
 * descending in top[]. */
static void dense_preconditioned(int64_t n, const double *H, const double *P, int count,
                                 double *top) {
    double *M = malloc(sizeof(double) * (size_t)(n * n)), *w = malloc(sizeof(double) * (size_t)n);
    REQUIRE(M && w);
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < n; i++) M[j * n + i] = H[j * n + i] / sqrt(P[i] * P[j]);
    dense_eigs(n, M, w);
    for (int i = 0; i < count; i++) top[i] = w[n - 1 - i];
    free(M);
    free(w);
}

/* ---- One tracked run --------------------------------------------------------------------- */

typedef struct {
    hesse_optim_kind kind;
    hesse_loss_kind loss;
    double lr;
    int fixed_precond; /* 1: a positive diagonal of the test's own; 0: Adam's own
                          (hesse_optimizer_preconditioner, checked against v computed here) */
} run_case;

/* Every field of a measurement compared against the dense references at this step. */
static void check_point(const net *t, const dense_ref *d, const hesse_track_point *pt,
                        const double *P, int step) {
    const int64_t n = t->n;
    double want[K2];
    for (int i = 0; i < TOP; i++) want[i] = d->w[n - 1 - i];
    CHECK(pt->ntop == TOP && pt->nbottom == BOTTOM);
    check_values("top", step, TOP, pt->top, want);
    check_values("bottom", step, BOTTOM, pt->bottom, d->w);
    double anorm = dense_norm(n, d->w);
    for (int i = 0; i < TOP; i++) CHECK(pt->top_residuals[i] <= 1e-8 * anorm);
    for (int i = 0; i < BOTTOM; i++) CHECK(pt->bottom_residuals[i] <= 1e-8 * anorm);
    CHECK(pt->has_cold && pt->products_cold > 0 && pt->products > 0);
    /* warm starts: the first measurement has no previous vectors (warm = cold, the same
     * seed); every later one starts from the last Ritz vectors and must need fewer products */
    if (pt->index == 0)
        CHECK(pt->products == pt->products_cold);
    else
        CHECK_MSG(pt->products < pt->products_cold, "step %d: warm %lld products, cold %lld", step,
                  (long long)pt->products, (long long)pt->products_cold);
    CHECK(pt->products == pt->top_products + pt->bottom_products + pt->preconditioned_products +
                              pt->powerlaw_products);
    if (P) {
        double pre[TOP];
        dense_preconditioned(n, d->H, P, TOP, pre);
        CHECK(pt->npreconditioned == TOP);
        if (pt->npreconditioned == TOP)
            check_values("preconditioned", step, TOP, pt->preconditioned, pre);
    } else {
        CHECK(pt->npreconditioned == 0 && !pt->preconditioned);
    }
    /* Hutch++ against the exact trace: within 4 of its standard errors */
    CHECK(pt->has_trace && pt->trace_se > 0);
    CHECK_MSG(fabs(pt->trace - d->trace) <= 4 * pt->trace_se,
              "trace %.10g +- %.3g vs dense %.10g at step %d", pt->trace, pt->trace_se, d->trace,
              step);
    /* the power law of the dense top K2 */
    for (int i = 0; i < K2; i++) want[i] = d->w[n - 1 - i];
    hesse_powerlaw f;
    int ok = hesse_powerlaw_fit(want, K2, &f) == HESSE_OK;
    CHECK(pt->has_powerlaw && pt->powerlaw_ok == ok);
    if (ok && pt->powerlaw_ok) {
        CHECK(pt->powerlaw_K == f.K);
        /* eigenvalues equal to 1e-10 relative move ln-ratios by ~1e-10 / ln-gap */
        CHECK_CLOSE(pt->powerlaw.s_mle, f.s_mle, 1e-8, 0);
        CHECK_CLOSE(pt->powerlaw.d_ks, f.d_ks, 1e-8, 0);
        CHECK(pt->powerlaw.d_c == f.d_c);
    }
}

/* The row keys of hesse_track_point_json: present exactly when measured, equal to the point. */
static void check_json(const hesse_track_point *pt) {
    cJSON *row = cJSON_CreateObject();
    REQUIRE(row);
    hesse_track_point_json(pt, row);
    const cJSON *top = cJSON_GetObjectItem(row, "top");
    CHECK(cJSON_GetArraySize(top) == TOP && cJSON_GetArrayItem(top, 0)->valuedouble == pt->top[0]);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(row, "top_residuals")) == TOP);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(row, "bottom")) == BOTTOM);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(row, "bottom_residuals")) == BOTTOM);
    const char *numbers[] = {"products",      "seconds",      "products_cold",  "seconds_cold",
                             "trace",         "trace_se",     "trace_products", "powerlaw_s",
                             "powerlaw_d_ks", "powerlaw_d_c", "powerlaw_K"};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        CHECK_MSG(cJSON_IsNumber(cJSON_GetObjectItem(row, numbers[i])), "%s", numbers[i]);
    CHECK(cJSON_GetObjectItem(row, "products")->valuedouble == (double)pt->products);
    CHECK(cJSON_GetObjectItem(row, "trace")->valuedouble == pt->trace);
    CHECK(cJSON_GetObjectItem(row, "powerlaw_s")->valuedouble == pt->powerlaw.s_mle);
    CHECK(cJSON_GetObjectItem(row, "powerlaw_d_ks")->valuedouble == pt->powerlaw.d_ks);
    const cJSON *pre = cJSON_GetObjectItem(row, "preconditioned");
    CHECK(pt->npreconditioned ? cJSON_GetArraySize(pre) == TOP : pre == NULL);
    CHECK(pt->npreconditioned ? cJSON_IsNumber(cJSON_GetObjectItem(row, "preconditioned_products"))
                              : !cJSON_GetObjectItem(row, "preconditioned_products"));
    CHECK(cJSON_GetArraySize(row) == 15 + (pt->npreconditioned ? 3 : 0));
    cJSON_Delete(row);
}

/* Adam's divisor of its last step (torch.optim.Adam's denom), from the gradients seen here:
 * v = beta2 v + (1 - beta2) g^2, P = sqrt(v / (1 - beta2^t)) + eps. */
static void adam_update(const hesse_optim_params *op, int64_t n, const double *g, double *v, int t,
                        double *P) {
    for (int64_t i = 0; i < n; i++) {
        v[i] = op->beta2 * v[i] + (1 - op->beta2) * g[i] * g[i];
        P[i] = sqrt(v[i] / (1 - pow(op->beta2, t))) + op->eps;
    }
}

static hesse_track_params case_params(const run_case *c) {
    hesse_track_params p;
    REQUIRE(hesse_track_parse("every=1,top=3,bottom=2,trace,probes=60,powerlaw=8,preconditioned,"
                              "cold,seed=4",
                              &p) == HESSE_OK);
    (void)c;
    return p;
}

/* Compares two measurements bit for bit (values, residuals, fits, products). */
static int same_point(const hesse_track_point *a, const hesse_track_point *b) {
    size_t t = sizeof(double) * (size_t)a->ntop, bo = sizeof(double) * (size_t)a->nbottom;
    size_t pr = sizeof(double) * (size_t)a->npreconditioned;
    return a->ntop == b->ntop && a->nbottom == b->nbottom &&
           a->npreconditioned == b->npreconditioned && !memcmp(a->top, b->top, t) &&
           !memcmp(a->top_residuals, b->top_residuals, t) && !memcmp(a->bottom, b->bottom, bo) &&
           !memcmp(a->bottom_residuals, b->bottom_residuals, bo) &&
           (!pr || (!memcmp(a->preconditioned, b->preconditioned, pr) &&
                    !memcmp(a->preconditioned_residuals, b->preconditioned_residuals, pr))) &&
           !memcmp(&a->trace, &b->trace, sizeof a->trace) &&
           !memcmp(&a->trace_se, &b->trace_se, sizeof a->trace_se) &&
           !memcmp(&a->powerlaw, &b->powerlaw, sizeof a->powerlaw) && a->products == b->products &&
           a->products_cold == b->products_cold;
}

/* Saves a's state, loads it into a fresh tracker and returns that. */
static hesse_tracker *clone_by_state(const hesse_tracker *a, int64_t n,
                                     const hesse_track_params *p) {
    void *blob = NULL;
    size_t size = 0;
    REQUIRE(hesse_tracker_save(a, &blob, &size) == HESSE_OK);
    hesse_tracker *b = NULL;
    REQUIRE(hesse_tracker_create(n, p, &b) == HESSE_OK);
    REQUIRE(hesse_tracker_load(b, blob, size) == HESSE_OK);
    /* a state of other params, and a damaged one, are refused */
    hesse_track_params q = *p;
    q.top = p->top + 1;
    hesse_tracker *c = NULL;
    REQUIRE(hesse_tracker_create(n, &q, &c) == HESSE_OK);
    CHECK(hesse_tracker_load(c, blob, size) == HESSE_EINVAL && strstr(hesse_last_error(), "top"));
    CHECK(hesse_tracker_load(b, blob, size - 8) == HESSE_EINPUT);
    ((char *)blob)[0] ^= 1;
    CHECK(hesse_tracker_load(b, blob, size) == HESSE_EINPUT);
    hesse_tracker_free(c);
    hesse_free(blob);
    return b;
}

static void run_tracked(const run_case *c) {
    net t;
    net_make(&t, c->loss);
    const int64_t n = t.n;
    hesse_track_params tp = case_params(c);
    hesse_tracker *tr = NULL, *resumed = NULL;
    REQUIRE(hesse_tracker_create(n, &tp, &tr) == HESSE_OK);
    hesse_optim_params op = hesse_optim_defaults(c->kind);
    hesse_optimizer *opt = NULL;
    REQUIRE(hesse_optimizer_create(n, &op, &opt) == HESSE_OK);
    double *g = malloc(sizeof(double) * (size_t)n), *v = calloc((size_t)n, sizeof(double));
    double *P = malloc(sizeof(double) * (size_t)n), *Pref = malloc(sizeof(double) * (size_t)n);
    REQUIRE(g && v && P && Pref);
    for (int64_t i = 0; i < n; i++) P[i] = 0.5 + (double)(i % 7) / 3.0;
    for (int step = 0; step <= STEPS; step++) {
        hesse_op H;
        dense_ref d;
        dense_make(&t, &H, &d);
        const double *Pnow = c->fixed_precond || step > 0 ? P : NULL;
        hesse_track_point pt;
        REQUIRE(hesse_tracker_measure(tr, &H, Pnow, &pt) == HESSE_OK);
        CHECK(pt.index == step);
        check_point(&t, &d, &pt, Pnow, step);
        check_json(&pt);
        if (step > 0 && pt.index > 0 && resumed) { /* the restored tracker, bit for bit */
            hesse_track_point q;
            REQUIRE(hesse_tracker_measure(resumed, &H, Pnow, &q) == HESSE_OK);
            CHECK_MSG(same_point(&pt, &q), "restored tracker differs at step %d", step);
            hesse_track_point_free(&q);
            hesse_tracker_free(resumed);
            resumed = NULL;
        }
        if (step == 1) resumed = clone_by_state(tr, n, &tp);
        hesse_track_point_free(&pt);
        hesse_op_free(&H);
        dense_free(&d);
        double loss;
        REQUIRE(hesse_loss_grad(t.e, &t.s, &loss, g, NULL) == HESSE_OK);
        if (!c->fixed_precond) adam_update(&op, n, g, v, step + 1, Pref);
        hesse_optimizer_step(opt, c->lr, hesse_model_params(t.m), g);
        if (!c->fixed_precond) { /* the optimizer's own divisor, checked against ours */
            REQUIRE(hesse_optimizer_preconditioner(opt, P) == HESSE_OK);
            double err = 0;
            for (int64_t i = 0; i < n; i++) err = fmax(err, fabs(P[i] - Pref[i]) / Pref[i]);
            CHECK_MSG(err <= 1e-14, "Adam's preconditioner differs by %.3g relative", err);
        }
    }
    hesse_track_totals tot = hesse_tracker_totals(tr);
    CHECK(tot.measurements == STEPS + 1 && tot.products > 0 && tot.products_cold > 0);
    free(g);
    free(v);
    free(P);
    free(Pref);
    hesse_optimizer_free(opt);
    hesse_tracker_free(tr);
    net_free(&t);
}

int main(void) {
    test_scale();
    test_parse();
    /* full-batch gradient descent (the gradient over all samples each step) */
    run_case gd_mse = {HESSE_OPTIM_GD, HESSE_LOSS_MSE, 0.5, 1};
    run_case gd_ce = {HESSE_OPTIM_GD, HESSE_LOSS_CROSS_ENTROPY, 0.5, 1};
    run_case adam_ce = {HESSE_OPTIM_ADAM, HESSE_LOSS_CROSS_ENTROPY, 0.01, 0};
    run_case adam_mse = {HESSE_OPTIM_ADAM, HESSE_LOSS_MSE, 0.01, 0};
    run_tracked(&gd_mse);
    run_tracked(&gd_ce);
    run_tracked(&adam_ce);
    run_tracked(&adam_mse);
    return test_summary("test_track");
}
