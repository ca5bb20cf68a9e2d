/* Thick-restart Lanczos against operators with known spectra (Q D Q^T with Householder
 * reflections, n = 10^4): top and bottom eigenvalues, residuals recomputed here, orthonormal
 * vectors, repeated eigenvalues with their multiplicity, invariant subspaces, small n, argument
 * errors, and checkpoint -> resume (at restart boundaries and between two products) giving the
 * uninterrupted run bit for bit. */
#include <hesse/op.h>
#include <hesse/spectral.h>

#include <string.h>

#include "check.h"
#include "spectral_testops.h"

#define N 10000

/* Runs Lanczos for the kt largest and kb smallest eigenvalues of Q diag(d) Q^T and checks them
 * against the sorted diagonal. Tolerances:
 * - tol = 1e-10: every Ritz value is then within ||r|| <= 1e-10 ||A|| of an eigenvalue, so the
 *   relative error of lambda_i is at most 1e-10 ||A|| / |lambda_i|, <= 4e-9 for these spectra
 *   (smallest wanted |lambda| / ||A||: 0.05 for 1/k, 0.025 for the negative tail), under the
 *   1e-8 asked for. Any missed or duplicated eigenvalue gives an error of >= 1e-3 relative.
 * - residuals recomputed with the test's own operator must be <= tol * ||A|| (the solver's
 *   criterion with its estimate anorm <= ||A||), with 1% slack for the rounding of the product.
 * - orthonormality: full reorthogonalisation keeps |V^T V - I| at a few ulps times the basis
 *   size; 1e-12 leaves two orders of magnitude. */
static void check_case(const char *name, void (*spec)(int, double *), int kt, int kb, uint64_t seed,
                       int64_t *products) {
    double *d = malloc(sizeof(double) * N);
    spec(N, d);
    double anorm = 0.0;
    for (int i = 0; i < N; i++) anorm = fmax(anorm, fabs(d[i]));
    hesse_op op = qdq_make(N, d, 3, seed);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = kt;
    p.bottom = kb;
    p.tol = 1e-10;
    p.seed = seed;
    hesse_eigs r;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    double top[64], bot[64];
    spec_ends(N, d, kt, top, kb, bot);
    CHECK(r.ntop == kt && r.nbottom == kb);
    CHECK(r.residuals_explicit == 1);
    CHECK_MSG(r.nconverged == kt + kb, "%s: %d of %d converged", name, r.nconverged, kt + kb);
    for (int i = 0; i < kt; i++) CHECK_CLOSE(r.values[i], top[i], 1e-8, 0.0);
    for (int i = 0; i < kb; i++) CHECK_CLOSE(r.values[kt + i], bot[i], 1e-8, 0.0);
    double worst_rep = 0.0;
    for (int i = 0; i < kt + kb; i++) worst_rep = fmax(worst_rep, r.residuals[i]);
    CHECK_MSG(worst_rep <= p.tol * r.anorm, "%s: reported residual %g > %g", name, worst_rep,
              p.tol * r.anorm);
    double worst = max_residual(&op, kt + kb, r.vectors, r.values);
    CHECK_MSG(worst <= 1.01 * p.tol * anorm, "%s: recomputed residual %g > %g", name, worst,
              p.tol * anorm);
    CHECK(r.anorm <= anorm * (1 + 1e-12) && r.anorm >= 0.99 * anorm);
    double oe = orth_error(N, kt + kb, r.vectors);
    CHECK_MSG(oe <= 1e-12, "%s: |V^T V - I| = %g", name, oe);
    /* the reported orthogonality is the same measure (summed in another order) */
    CHECK_MSG(r.orthogonality > 0.0 && fabs(r.orthogonality - oe) <= 1e-14,
              "%s: reported orthogonality %g, measured here %g", name, r.orthogonality, oe);
    CHECK(r.products > 0 && r.seconds >= r.seconds_products);
    fprintf(stderr,
            "  %-12s top %2d bottom %2d: %5lld products, %3d restarts, %d fresh starts, %d "
            "breakdowns, basis %d, max residual %.1e, %.2f s (products %.2f, reorth %.2f, "
            "restart %.2f)\n",
            name, kt, kb, (long long)r.products, r.restarts, r.fresh_starts, r.breakdowns, r.basis,
            worst, r.seconds, r.seconds_products, r.seconds_ortho, r.seconds_restart);
    if (products) *products = r.products;
    hesse_eigs_free(&r);
    hesse_op_free(&op);
    free(d);
}

/* The "repeated" spectrum with and without the final verification (check_repeated in
 * spectral_testops.h): without it the solver may stop with 10, 10, 9. */
static void test_multiplicity(void) {
    const int64_t with = check_repeated(N, 1, 1, NULL);
    double v[6];
    const int64_t without = check_repeated(N, 1, 0, v); /* for the record only */
    fprintf(stderr,
            "  multiplicity: verify finds 10 x3, -3 x3 in %lld products; without: %g %g %g / %g "
            "%g %g in %lld\n",
            (long long)with, v[0], v[1], v[2], v[3], v[4], v[5], (long long)without);
}

static void test_spectra(void) {
    check_case("power-law", spec_powerlaw, 20, 0, 1, NULL);
    check_case("indefinite", spec_indefinite, 20, 20, 2, NULL);
    check_case("clustered", spec_clustered, 20, 10, 3, NULL);
    /* Repeated: the expected lists carry every copy (10, 10, 10, 9, 8, 8, 8, ...), so a
     * solver that finds one copy per eigenvalue fails the value checks by a full gap. */
    check_case("repeated", spec_repeated, 20, 10, 4, NULL);
    /* bottom only */
    check_case("neg-tail", spec_indefinite, 0, 15, 5, NULL);
}

/* An operator with three distinct eigenvalues (each hundreds of times): Krylov spaces have
 * dimension 3, so Lanczos meets an invariant subspace after 3 steps and must continue with
 * fresh random directions to find 5 orthonormal eigenvectors of the top value. */
static void test_breakdown(void) {
    enum { n = 1000 };
    double d[n];
    for (int i = 0; i < n; i++) d[i] = i < 400 ? 3.0 : (i < 700 ? 2.0 : 1.0);
    hesse_op op = qdq_make(n, d, 2, 9);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = 5;
    p.bottom = 4;
    hesse_eigs r;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    CHECK(r.breakdowns > 0);
    for (int i = 0; i < 5; i++) CHECK_CLOSE(r.values[i], 3.0, 1e-12, 0.0);
    for (int i = 0; i < 4; i++) CHECK_CLOSE(r.values[5 + i], 1.0, 1e-12, 0.0);
    CHECK(orth_error(n, 9, r.vectors) <= 1e-12);
    CHECK(max_residual(&op, 9, r.vectors, r.values) <= 1e-8 * 3.0);
    CHECK(r.nconverged == 9);
    hesse_eigs_free(&r);
    hesse_op_free(&op);
}

/* n smaller than the default basis: the Krylov space becomes the whole space and the Ritz
 * pairs are exact (to rounding: 1e-12 relative). Also k = n and n = 1. */
static void test_small(void) {
    enum { n = 25 };
    double d[n];
    for (int i = 0; i < n; i++) d[i] = (double)((i * 7) % n) - 12.0; /* -12 .. 12, permuted */
    hesse_op op;
    REQUIRE(hesse_op_diag(n, d, &op) == HESSE_OK);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = 3;
    p.bottom = 2;
    hesse_eigs r;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    CHECK(r.basis == n);
    CHECK_CLOSE(r.values[0], 12.0, 1e-12, 1.0);
    CHECK_CLOSE(r.values[1], 11.0, 1e-12, 1.0);
    CHECK_CLOSE(r.values[2], 10.0, 1e-12, 1.0);
    CHECK_CLOSE(r.values[3], -12.0, 1e-12, 1.0);
    CHECK_CLOSE(r.values[4], -11.0, 1e-12, 1.0);
    hesse_eigs_free(&r);

    p.top = n;
    p.bottom = 0;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    int ok = r.ntop == n;
    for (int i = 0; i < n && ok; i++) ok = fabs(r.values[i] - (12.0 - i)) <= 1e-12 * 12;
    CHECK(ok);
    CHECK(orth_error(n, n, r.vectors) <= 1e-12);
    hesse_eigs_free(&r);
    hesse_op_free(&op);

    double one = -2.5;
    REQUIRE(hesse_op_diag(1, &one, &op) == HESSE_OK);
    p.top = 1;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    CHECK(r.values[0] == -2.5 && fabs(fabs(r.vectors[0]) - 1.0) < 1e-15);
    hesse_eigs_free(&r);
    hesse_op_free(&op);
}

static void test_errors(void) {
    double d[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    hesse_op op;
    REQUIRE(hesse_op_diag(10, d, &op) == HESSE_OK);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    hesse_eigs r;
    p.top = 0; /* nothing wanted */
    CHECK(hesse_lanczos_eigs(&op, &p, &r) == HESSE_EINVAL);
    CHECK(r.values == NULL);
    p.top = 11; /* more than n */
    CHECK(hesse_lanczos_eigs(&op, &p, &r) == HESSE_EINVAL);
    p.top = 4;
    p.basis = 5; /* below k + 2 */
    CHECK(hesse_lanczos_eigs(&op, &p, &r) == HESSE_EINVAL);
    p.basis = 0;
    p.tol = 0.0;
    CHECK(hesse_lanczos_eigs(&op, &p, &r) == HESSE_EINVAL);
    hesse_op_free(&op);

    /* a budget below the smallest basis is refused before anything is allocated */
    double *big = calloc(N, sizeof(double));
    REQUIRE(hesse_op_diag(N, big, &op) == HESSE_OK);
    p = hesse_lanczos_defaults();
    p.top = 10;
    p.memory_budget = sizeof(double) * N * 5;
    CHECK(hesse_lanczos_eigs(&op, &p, &r) == HESSE_ENOMEM);
    CHECK(strstr(hesse_last_error(), "budget") != NULL);
    hesse_op_free(&op);
    free(big);

    /* the restart limit returns the best estimates, flagged unconverged */
    double *dd = malloc(sizeof(double) * N);
    spec_powerlaw(N, dd);
    hesse_op q = qdq_make(N, dd, 3, 1);
    p = hesse_lanczos_defaults();
    p.bottom = 10; /* the bottom of 1/k is a cluster with gaps 1e-8: slow */
    p.max_restarts = 1;
    REQUIRE(hesse_lanczos_eigs(&q, &p, &r) == HESSE_OK);
    CHECK(r.nbottom == 10 && r.nconverged < 10 && r.restarts == 1);
    hesse_eigs_free(&r);
    hesse_op_free(&q);
    free(dd);
}

/* ---- checkpoint / resume ---------------------------------------------------------------- */

typedef struct {
    unsigned char *blob; /* the blob of call number `keep` (or the last, keep = 0) */
    size_t size;
    int calls, keep;
} store;

static int store_blob(void *ctx, const hesse_blob_part *parts, int nparts, size_t total) {
    store *s = ctx;
    s->calls++;
    if (s->keep && s->calls != s->keep) return HESSE_OK;
    free(s->blob);
    s->blob = malloc(total);
    s->size = 0;
    for (int i = 0; i < nparts; i++) {
        memcpy(s->blob + s->size, parts[i].data, parts[i].size);
        s->size += parts[i].size;
    }
    return s->size == total ? HESSE_OK : HESSE_EIO;
}

static volatile sig_atomic_t stop_flag;

/* An operator that raises the stop flag at its `at`-th product (inside an expansion). */
typedef struct {
    const hesse_op *inner;
    int64_t count, at;
} stopping_op;

static int stopping_apply(void *ctx, int k, const double *X, double *Y) {
    stopping_op *s = ctx;
    s->count += k;
    if (s->count == s->at) stop_flag = 1;
    return s->inner->apply(s->inner->ctx, k, X, Y);
}

static void stop_after(void *ctx, const hesse_eig_progress *pr) {
    if (pr->iteration >= *(const int *)ctx) stop_flag = 1; /* as a SIGINT handler would */
}

static int same_result(const hesse_eigs *a, const hesse_eigs *b) {
    int k = a->ntop + a->nbottom;
    return a->ntop == b->ntop && a->nbottom == b->nbottom && a->products == b->products &&
           a->restarts == b->restarts && a->iterations == b->iterations &&
           memcmp(a->values, b->values, sizeof(double) * k) == 0 &&
           memcmp(a->residuals, b->residuals, sizeof(double) * k) == 0 &&
           memcmp(a->vectors, b->vectors, sizeof(double) * (size_t)k * a->n) == 0;
}

static void test_checkpoint(void) {
    double *d = malloc(sizeof(double) * N);
    spec_repeated(N, d); /* exercises locking, fresh starts and the RNG in the state */
    hesse_op op = qdq_make(N, d, 3, 11);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = 3;
    p.bottom = 3;
    p.seed = 42;
    p.basis = 20;
    hesse_eigs ref, r;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &ref) == HESSE_OK);
    /* the stop (cycle 3) and the mid-run checkpoint (restart 5) come before a fresh start */
    REQUIRE(ref.restarts >= 8 && ref.fresh_starts >= 1);

    /* stopped by the flag at cycle 3: checkpoint, then HESSE_EINTR */
    store s = {NULL, 0, 0, 0};
    int stop_cycle = 3;
    hesse_lanczos_params ps = p;
    ps.monitor = stop_after;
    ps.monitor_ctx = &stop_cycle;
    ps.checkpoint = store_blob;
    ps.checkpoint_ctx = &s;
    ps.checkpoint_interval = -1; /* only when stopped */
    ps.stop = &stop_flag;
    stop_flag = 0;
    CHECK(hesse_lanczos_eigs(&op, &ps, &r) == HESSE_EINTR);
    CHECK(s.calls == 1 && s.blob != NULL);
    CHECK(r.values == NULL);
    stop_flag = 0;
    REQUIRE(hesse_lanczos_resume(&op, &p, s.blob, s.size, &r) == HESSE_OK);
    CHECK_MSG(same_result(&ref, &r), "resumed run differs from the uninterrupted one");
    hesse_eigs_free(&r);

    /* stopped between two products of an expansion (product 27: inside the second cycle of a
     * basis of 20): the checkpoint holds the partial expansion and resumes it bit for bit */
    stopping_op so = {&op, 0, 27};
    hesse_op sop = {op.n, stopping_apply, &so, 0, NULL, 0};
    store s3 = {NULL, 0, 0, 0};
    hesse_lanczos_params pm = p;
    pm.checkpoint = store_blob;
    pm.checkpoint_ctx = &s3;
    pm.checkpoint_interval = -1;
    pm.stop = &stop_flag;
    stop_flag = 0;
    CHECK(hesse_lanczos_eigs(&sop, &pm, &r) == HESSE_EINTR);
    CHECK(strstr(hesse_last_error(), "after 27 products") != NULL);
    CHECK(s3.calls == 1);
    stop_flag = 0;
    REQUIRE(hesse_lanczos_resume(&op, &p, s3.blob, s3.size, &r) == HESSE_OK);
    CHECK_MSG(same_result(&ref, &r), "run resumed inside an expansion differs");
    hesse_eigs_free(&r);
    free(s3.blob);

    /* a checkpoint after every product (interval 0) does not change the run; resuming from
     * any of them (inside an expansion, at a restart boundary, before and after a fresh start)
     * gives the same bits again */
    hesse_lanczos_params pc = p;
    pc.checkpoint_interval = 0;
    pc.checkpoint = store_blob;
    store s2 = {NULL, 0, 0, 0};
    pc.checkpoint_ctx = &s2;
    REQUIRE(hesse_lanczos_eigs(&op, &pc, &r) == HESSE_OK);
    CHECK(same_result(&ref, &r));
    int ncalls = s2.calls;
    CHECK(ncalls > ref.restarts && ncalls < ref.products);
    hesse_eigs_free(&r);
    free(s2.blob);
    int keeps[] = {1, 5, 19, 20, ncalls / 2, ncalls - 1, ncalls};
    for (size_t i = 0; i < sizeof keeps / sizeof keeps[0]; i++) {
        s2 = (store){NULL, 0, 0, keeps[i]};
        REQUIRE(hesse_lanczos_eigs(&op, &pc, &r) == HESSE_OK);
        hesse_eigs_free(&r);
        REQUIRE(s2.blob != NULL);
        REQUIRE(hesse_lanczos_resume(&op, &p, s2.blob, s2.size, &r) == HESSE_OK);
        CHECK_MSG(same_result(&ref, &r), "resumed from checkpoint %d of %d: differs", keeps[i],
                  ncalls);
        hesse_eigs_free(&r);
        free(s2.blob);
    }

    /* a blob that does not match the problem is refused with a clear reason */
    hesse_lanczos_params bad = p;
    bad.seed = 43;
    CHECK(hesse_lanczos_resume(&op, &bad, s.blob, s.size, &r) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "seed") != NULL);
    bad = p;
    bad.check_every = 5; /* the default is 1 + basis / 100 = 1 here */
    CHECK(hesse_lanczos_resume(&op, &bad, s.blob, s.size, &r) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "check_every") != NULL);
    bad.check_every = 1; /* given and equal: accepted */
    CHECK(hesse_lanczos_resume(&op, &bad, s.blob, s.size, &r) == HESSE_OK);
    CHECK(same_result(&ref, &r));
    hesse_eigs_free(&r);
    bad = p;
    bad.tol = 1e-6;
    CHECK(hesse_lanczos_resume(&op, &bad, s.blob, s.size, &r) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "tol") != NULL);
    bad = p;
    bad.top = 4;
    CHECK(hesse_lanczos_resume(&op, &bad, s.blob, s.size, &r) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "top") != NULL);
    double small[5] = {1, 2, 3, 4, 5};
    hesse_op other;
    REQUIRE(hesse_op_diag(5, small, &other) == HESSE_OK);
    bad = p;
    bad.top = 2;
    bad.bottom = 0;
    CHECK(hesse_lanczos_resume(&other, &bad, s.blob, s.size, &r) == HESSE_EINVAL);
    hesse_op_free(&other);
    CHECK(hesse_lanczos_resume(&op, &p, s.blob, s.size - 8, &r) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "truncated") != NULL);
    unsigned char junk[64] = "not a checkpoint";
    CHECK(hesse_lanczos_resume(&op, &p, junk, sizeof junk, &r) == HESSE_EINPUT);
    s.blob[8] ^= 0xff; /* version */
    CHECK(hesse_lanczos_resume(&op, &p, s.blob, s.size, &r) == HESSE_EINPUT);
    CHECK(r.values == NULL);

    /* a stop without a checkpoint callback still stops */
    hesse_lanczos_params pn = p;
    pn.monitor = stop_after;
    pn.monitor_ctx = &stop_cycle;
    pn.stop = &stop_flag;
    stop_flag = 0;
    CHECK(hesse_lanczos_eigs(&op, &pn, &r) == HESSE_EINTR);
    stop_flag = 0;

    free(s.blob);
    hesse_eigs_free(&ref);
    hesse_op_free(&op);
    free(d);
}

typedef struct {
    int calls, last_iteration, monotone, nvalues, nconverged, nwanted;
    int64_t products;
} watch;

static void watch_progress(void *ctx, const hesse_eig_progress *pr) {
    watch *w = ctx;
    w->monotone &= pr->iteration > w->last_iteration && pr->products >= w->products;
    w->last_iteration = pr->iteration;
    w->products = pr->products;
    w->calls++;
    w->nvalues = pr->nvalues;
    w->nconverged = pr->nconverged;
    w->nwanted = pr->nwanted;
    for (int i = 1; i < pr->nvalues; i++) /* top block descending, then bottom ascending */
        if (i != 5)
            w->monotone &=
                i < 5 ? pr->values[i] <= pr->values[i - 1] : pr->values[i] >= pr->values[i - 1];
}

/* Same seed, same bits; another seed, another start (same values to tolerance). */
static void test_determinism(void) {
    double *d = malloc(sizeof(double) * N);
    spec_indefinite(N, d);
    hesse_op op = qdq_make(N, d, 3, 2);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = 5;
    p.bottom = 5;
    p.seed = 3;
    hesse_eigs a, b;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &a) == HESSE_OK);
    watch w = {0, 0, 1, 0, 0, 0, 0};
    p.monitor = watch_progress;
    p.monitor_ctx = &w;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &b) == HESSE_OK);
    CHECK(same_result(&a, &b)); /* a monitor does not change the run */
    CHECK(w.calls >= 1 && w.monotone && w.nvalues == 10 && w.nwanted == 10);
    CHECK(w.nconverged == 10);
    p.monitor = NULL;
    hesse_eigs_free(&b);
    p.seed = 4;
    p.want_vectors = 0;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &b) == HESSE_OK);
    CHECK(b.vectors == NULL && b.residuals_explicit == 1);
    CHECK(b.orthogonality > 0.0 && b.orthogonality <= 1e-12); /* measured without vectors too */
    /* both within tol = 1e-8 of the truth: 1e-8 * ||A|| / |lambda| <= 1e-8 / 0.1 relative */
    for (int i = 0; i < 10; i++) CHECK_CLOSE(a.values[i], b.values[i], 2e-7, 0.0);
    hesse_eigs_free(&a);
    hesse_eigs_free(&b);
    hesse_op_free(&op);
    free(d);
}

int main(void) {
    test_spectra();
    test_multiplicity();
    test_breakdown();
    test_small();
    test_errors();
    test_checkpoint();
    test_determinism();
    return test_summary("test_lanczos");
}
