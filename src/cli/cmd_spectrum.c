/* hesse spectrum: extreme eigenvalues (and eigenvectors) of a curvature operator by
 * thick-restart Lanczos, PyHessian-style power iteration, or a dense decomposition. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    cli_lanczos_opts lo;
    const char *out, *method, *vectors, *svg, *residuals;
    int threads, quiet, top, bottom, max_iter;
} spectrum_args;

typedef struct {
    cli_curv c;
    hesse_eigs r;
    cJSON *res, *header;
    cli_checkpoint_ctx cc;
    /* power iteration: each pair judged as Lanczos judges it, residual <= tol ||A||, and how
     * many the iteration's own stopping rule (relative eigenvalue change < tol) ended */
    int *power_ok, power_stopped;
} spectrum_run;

static const cli_command_doc doc = {
    "spectrum", "extreme eigenvalues of the Hessian, GGN, residual or empirical Fisher",
    "--model M [--arch A] [--data D] [--samples N] --top K [--bottom K] [--operator OP] "
    "[--method lanczos|power|dense] [--tol T] [-o out.json]",
    "Lanczos: thick restart with full reorthogonalisation; a pair is converged when "
    "||Av - lambda v|| <= tol ||A||, and the reported residuals are computed from one final "
    "product with the eigenvectors. Power: PyHessian's algorithm (top only). Dense: LAPACK "
    "on the assembled matrix (small n). JSON keys: top (descending), bottom (ascending), "
    "residuals_top, residuals_bottom, products, seconds. Default 1000 samples.\n"
    "Power iteration stops each pair when its eigenvalue changes by less than tol (relative); "
    "its pairs are then judged as Lanczos's, residual <= tol ||A||: converged_top flags each, "
    "converged counts them, stopped_on_change counts the pairs the stopping rule ended, and the "
    "others are estimates.\n"
    "Long runs: --checkpoint FILE saves the state every --checkpoint-every seconds and on "
    "Ctrl-C; rerun the same command with --resume FILE to continue. Once the resumed run has "
    "succeeded and written its outputs, the --resume file is removed (--keep-checkpoint keeps "
    "it; a file that is also another input or output of the run is always kept)."};

static int options(spectrum_args *a, cli_opt *opts) {
    const cli_opt t[] = {
        CLI_MODEL_OPTIONS(a->mo),
        CLI_DATA_OPTIONS(a->d),
        CLI_CURV_OPTIONS(a->co),
        {"top", 0, OPT_INT, &a->top, "K", "largest eigenvalues wanted", 0, 1e8, 0},
        {"bottom", 0, OPT_INT, &a->bottom, "K", "smallest (most negative) eigenvalues wanted", 0,
         1e8, 0},
        {"method", 0, OPT_STRING, &a->method, "M",
         "lanczos (default), power (PyHessian's power iteration) or dense", CLI_NO_RANGE, 0},
        CLI_LANCZOS_OPTIONS(a->lo, "residual tolerance relative to ||A|| (default 1e-8; power: "
                                   "1e-3 relative change)"),
        {"max-iter", 0, OPT_INT, &a->max_iter, "I", "power iterations per eigenvalue (default 100)",
         1, 1e9, 0},
        {"residuals", 0, OPT_STRING, &a->residuals, "R",
         "explicit (default: one final block product) or relation (the Lanczos relation, no "
         "extra products)",
         CLI_NO_RANGE, 0},
        {"vectors", 0, OPT_STRING, &a->vectors, "FILE", "write the eigenvectors (safetensors)",
         CLI_NO_RANGE, 0},
        {"svg", 0, OPT_STRING, &a->svg, "FILE", "plot the eigenvalues", CLI_NO_RANGE, 0},
        {"block", 0, OPT_INT, &a->co.block, "K", "vectors per pass over the data (default 8)", 1,
         4096, 0},
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    CLI_OPTS_RETURN(opts, t);
}

/* Which options the chosen method takes, before any work. */
static int validate(const spectrum_args *a, const cli_opt *opts, int nopts) {
    const int lanczos = strcmp(a->method, "lanczos") == 0, power = strcmp(a->method, "power") == 0;
    if (!lanczos && !power && strcmp(a->method, "dense") != 0)
        return hesse_error(
            HESSE_EINVAL, "option --method: expected lanczos, power or dense, got '%s'", a->method);
    if (strcmp(a->residuals, "explicit") != 0 && strcmp(a->residuals, "relation") != 0)
        return hesse_error(HESSE_EINVAL,
                           "option --residuals: expected explicit or relation, got '%s'",
                           a->residuals);
    if (a->top + a->bottom == 0)
        return hesse_error(HESSE_EINVAL, "nothing to compute: give --top K and/or --bottom K");
    if (power && a->bottom > 0)
        return hesse_error(HESSE_EINVAL, "option --bottom: power iteration finds only the largest "
                                         "eigenvalues; use --method lanczos");
    if ((a->lo.checkpoint || a->lo.resume) && !lanczos)
        return hesse_error(HESSE_EINVAL, "options --checkpoint/--resume need --method lanczos");
    static const char *const lanczos_only[] = {"basis",     "memory",    "max-restarts",
                                               "no-verify", "residuals", NULL};
    static const char *const power_only[] = {"max-iter", NULL};
    static const char *const iterative_only[] = {"tol", "solver-seed", NULL};
    int rc = HESSE_OK;
    if (!lanczos)
        HESSE_CHECK(cli_refuse_given(opts, nopts, lanczos_only, "applies to --method lanczos"));
    if (!power) HESSE_CHECK(cli_refuse_given(opts, nopts, power_only, "applies to --method power"));
    if (!lanczos && !power)
        HESSE_CHECK(cli_refuse_given(opts, nopts, iterative_only,
                                     "applies to --method lanczos or power (dense is exact)"));
    HESSE_CHECK(cli_checkpoint_options(opts, nopts, a->lo.checkpoint));
    HESSE_CHECK(cli_check_output(a->out, "option --output"));
    HESSE_CHECK(cli_check_output(a->vectors, "option --vectors"));
    HESSE_CHECK(cli_check_output(a->svg, "option --svg"));
    HESSE_CHECK(cli_check_checkpoint(a->lo.checkpoint));
cleanup:
    return rc;
}

/* Power iteration's pairs judged by the Lanczos criterion ||Av - lambda v|| <= tol ||A|| (its
 * explicit residuals, ||A|| estimated by the largest |lambda|); r.nconverged becomes their
 * count, power_stopped keeps the count of its own eigenvalue-change rule. */
static int power_judge(spectrum_run *s, double tol) {
    hesse_eigs *r = &s->r;
    s->power_ok = calloc((size_t)r->ntop + 1, sizeof *s->power_ok);
    if (!s->power_ok) return hesse_error(HESSE_ENOMEM, "out of memory");
    s->power_stopped = r->nconverged;
    r->nconverged = 0;
    for (int i = 0; i < r->ntop; i++) {
        s->power_ok[i] = r->residuals_explicit && r->residuals[i] <= tol * r->anorm;
        r->nconverged += s->power_ok[i];
    }
    return HESSE_OK;
}

/* The chosen solver over s->c.op; its parameters into `solver`. */
static int solve(const spectrum_args *a, spectrum_run *s, cJSON *solver) {
    const char *method = a->method;
    cJSON_AddStringToObject(solver, "method", method);
    if (strcmp(method, "lanczos") == 0) {
        hesse_lanczos_params p = hesse_lanczos_defaults();
        p.top = a->top;
        p.bottom = a->bottom;
        cli_lanczos_params(&a->lo, &p);
        p.explicit_residuals = strcmp(a->residuals, "explicit") == 0;
        p.want_vectors = 1;
        int rc = cli_lanczos_solve(&s->c, "spectrum", &a->lo, &p, &s->cc, &s->r);
        if (rc == HESSE_OK) cli_lanczos_describe(solver, &p, &s->r, a->lo.resume);
        return rc;
    }
    double t0 = hesse_now();
    int rc;
    if (strcmp(method, "power") == 0) {
        hesse_power_params p = hesse_power_defaults();
        p.top = a->top;
        if (a->lo.tol >= 0) p.tol = a->lo.tol;
        if (a->max_iter > 0) p.max_iter = a->max_iter;
        p.seed = a->lo.seed;
        cli_eig_watch watch;
        hesse_op watched = cli_eig_watch_start(&watch, "spectrum", &s->c.op, a->top);
        p.monitor = cli_eig_monitor;
        p.monitor_ctx = &watch;
        rc = hesse_power_eigs(&watched, &p, &s->r);
        if (rc == HESSE_OK) rc = power_judge(s, p.tol);
        cJSON_AddNumberToObject(solver, "tol", p.tol);
        cJSON_AddNumberToObject(solver, "max_iter", p.max_iter);
        cJSON_AddNumberToObject(solver, "seed", (double)p.seed);
    } else {
        hesse_dense_params p = hesse_dense_defaults();
        p.top = a->top;
        p.bottom = a->bottom;
        p.want_vectors = a->vectors != NULL;
        rc = hesse_dense_eigs(&s->c.op, &p, &s->r);
    }
    if (rc == HESSE_OK) cli_solved("spectrum", &s->r, a->top + a->bottom, t0);
    cJSON_AddNumberToObject(solver, "iterations", (double)s->r.iterations);
    return rc;
}

static int run(const spectrum_args *a, spectrum_run *s, int argc, char **argv) {
    int rc = cli_curv_open(&a->mo, &a->d, &a->co, &s->c);
    if (rc != HESSE_OK) return rc;
    if (a->top + a->bottom > s->c.op.n)
        return hesse_error(HESSE_EINVAL,
                           "asked for %d eigenvalues of an operator of dimension %lld",
                           a->top + a->bottom, (long long)s->c.op.n);
    s->res = hesse_result_new("spectrum", argc, argv);
    cli_curv_describe(s->res, &s->c, a->mo.model);
    HESSE_CHECK(cli_curv_loss(&s->c, s->res));
    s->header = cli_run_header("spectrum", &s->c); /* what a checkpoint must agree on */
    s->cc = (cli_checkpoint_ctx){a->lo.checkpoint, s->header, 0};
    cli_note("spectrum: %s of %lld parameters on %s: top %d, bottom %d by %s",
             hesse_curv_name(s->c.kind), (long long)s->c.op.n, s->c.data.description, a->top,
             a->bottom, a->method);
    HESSE_CHECK(solve(a, s, cJSON_AddObjectToObject(s->res, "solver")));
cleanup:
    return rc;
}

/* The top values against their rank k = 1, 2, ..., and the bottom ones beside them. */
static int plot(const char *svg, const char *what, const hesse_eigs *r) {
    int k = r->ntop > r->nbottom ? r->ntop : r->nbottom;
    double *idx = malloc((size_t)k * sizeof *idx);
    if (!idx) return hesse_error(HESSE_ENOMEM, "%s: out of memory", svg);
    for (int i = 0; i < k; i++) idx[i] = i + 1;
    hesse_series s[2] = {
        {"top", idx, r->values, r->ntop, HESSE_PLOT_STEMS, NULL, 0},
        {"bottom", idx, r->values + r->ntop, r->nbottom, HESSE_PLOT_STEMS, NULL, 0}};
    hesse_plot pl = hesse_plot_defaults();
    char title[128];
    snprintf(title, sizeof title, "Extreme eigenvalues of the %s", what);
    pl.title = title;
    pl.xlabel = "rank k";
    pl.ylabel = "eigenvalue";
    int rc =
        hesse_svg_write(&pl, r->ntop ? s : s + 1, (r->ntop ? 1 : 0) + (r->nbottom ? 1 : 0), svg);
    free(idx);
    return rc;
}

/* The values, residuals and costs; the eigenvectors and the plot when asked for. */
static int emit(const spectrum_args *a, spectrum_run *s) {
    const hesse_eigs *r = &s->r;
    cJSON *res = s->res;
    cli_eigs_describe(res, r, strcmp(a->method, "lanczos") == 0);
    hesse_json_add_doubles(res, "top", r->values, r->ntop);
    hesse_json_add_doubles(res, "bottom", r->values + r->ntop, r->nbottom);
    hesse_json_add_doubles(res, "residuals_top", r->residuals, r->ntop);
    hesse_json_add_doubles(res, "residuals_bottom", r->residuals + r->ntop, r->nbottom);
    if (s->power_ok) {
        cJSON *ok = cJSON_AddArrayToObject(res, "converged_top");
        for (int i = 0; i < r->ntop; i++)
            cJSON_AddItemToArray(ok, cJSON_CreateBool(s->power_ok[i]));
        cJSON_AddNumberToObject(res, "stopped_on_change", s->power_stopped);
    }
    cJSON_AddNumberToObject(res, "products", (double)r->products);
    cJSON_AddNumberToObject(res, "seconds", r->seconds);
    cJSON *split = cJSON_AddObjectToObject(res, "seconds_split");
    cJSON_AddNumberToObject(split, "products", r->seconds_products);
    cJSON_AddNumberToObject(split, "orthogonalisation", r->seconds_ortho);
    cJSON_AddNumberToObject(split, "restart", r->seconds_restart);
    cJSON_AddNumberToObject(split, "checkpoint", r->seconds_checkpoint);
    cJSON_AddNumberToObject(res, "peak_rss_bytes", (double)hesse_peak_rss());
    int rc = HESSE_OK;
    if (a->vectors && r->vectors) {
        HESSE_CHECK(cli_write_vectors(&s->c, a->vectors, r->ntop + r->nbottom, r->vectors,
                                      r->values, "top then bottom"));
        cJSON_AddStringToObject(res, "vectors", a->vectors);
    }
    if (a->svg && cli_root) { /* rank 0 writes */
        HESSE_CHECK(plot(a->svg, hesse_curv_name(s->c.kind), r));
        cJSON_AddStringToObject(res, "svg", a->svg);
    }
    HESSE_CHECK(cli_emit(res, a->out));
cleanup:
    return rc;
}

static void summary(const spectrum_args *a, const spectrum_run *s) {
    if (cli_quiet) return;
    const hesse_eigs *r = &s->r;
    const int wanted = a->top + a->bottom, estimates = s->power_ok && r->nconverged < wanted;
    fprintf(stderr, "spectrum: %d/%d converged%s, %lld products, %.2fs\n", r->nconverged, wanted,
            estimates ? " to tol (power iteration stopped on its own eigenvalue-change rule; "
                        "values are estimates)"
                      : "",
            (long long)r->products, r->seconds);
    for (int i = 0; i < r->ntop + r->nbottom && i < 12; i++)
        fprintf(stderr, "  %-6s %3d  %+.10e  (residual %.2e%s)\n", i < r->ntop ? "top" : "bottom",
                i < r->ntop ? i + 1 : i - r->ntop + 1, r->values[i], r->residuals[i],
                s->power_ok && !s->power_ok[i] ? ", estimate" : "");
}

int cmd_spectrum(int argc, char **argv) {
    spectrum_args a = {{"fashion-mnist", "train", 1000, "first", 0, NULL, NULL, 0, 0},
                       {NULL, NULL, NULL},
                       {"hessian", NULL, 0, 0, "f64"},
                       CLI_LANCZOS_DEFAULTS,
                       NULL,
                       "lanczos",
                       NULL,
                       NULL,
                       "explicit",
                       0,
                       0,
                       0,
                       0,
                       0};
    cli_opt opts[CLI_MAX_OPTS];
    const int nopts = options(&a, opts);
    int rc = cli_start(&doc, argc, argv, opts, nopts, &a.threads, &a.quiet);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("spectrum", rc);
    cli_signals_install(); /* a signal stops Lanczos at its next boundary */
    if (a.co.block == 0) a.co.block = 8;
    spectrum_run s = {0};
    rc = validate(&a, opts, nopts);
    if (rc == HESSE_OK) rc = run(&a, &s, argc, argv);
    if (rc == HESSE_OK) rc = emit(&a, &s);
    if (rc == HESSE_OK) summary(&a, &s);
    free(s.power_ok);
    cJSON_Delete(s.res);
    cJSON_Delete(s.header);
    hesse_eigs_free(&s.r);
    cli_curv_close(&s.c);
    return rc == HESSE_OK ? 0 : cli_fail("spectrum", rc);
}
