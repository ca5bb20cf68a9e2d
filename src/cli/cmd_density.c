/* hesse density: the spectral density of a curvature operator by stochastic Lanczos
 * quadrature or the kernel polynomial method, optionally with the top outliers deflated. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PREFIX.svg and PREFIX-log.svg from --svg PREFIX[.svg], both listed in files. */
static int write_plots(const char *svg, const hesse_density *dn, const char *what, cJSON *files) {
    char path[CLI_SVG_PATH], title[160];
    hesse_series s = {NULL, dn->grid, dn->density, dn->points, HESSE_PLOT_LINE, NULL, 0};
    hesse_plot p = hesse_plot_defaults();
    p.xlabel = "eigenvalue";
    p.title = title;
    snprintf(title, sizeof title, "Spectral density of the %s", what);
    p.ylabel = "density";
    int rc = cli_svg_name(svg, "", path, sizeof path);
    if (rc == HESSE_OK) rc = hesse_svg_write(&p, &s, 1, path);
    if (rc != HESSE_OK) return rc;
    cJSON_AddItemToArray(files, cJSON_CreateString(path));
    snprintf(title, sizeof title, "Spectral density of the %s (log scale)", what);
    p.ylabel = "log10(density + eps)";
    s.y = dn->log10_density;
    rc = cli_svg_name(svg, "-log", path, sizeof path);
    if (rc == HESSE_OK) rc = hesse_svg_write(&p, &s, 1, path);
    if (rc == HESSE_OK) cJSON_AddItemToArray(files, cJSON_CreateString(path));
    return rc;
}

typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    const char *out, *method, *svg, *probe, *ckpt, *resume;
    double ckpt_every, sigma, margin, lo, hi, eps;
    int threads, quiet, probes, steps, points, moments, deflate, no_reorth;
    uint64_t seed;
} density_args;

typedef struct {
    cli_curv c;
    hesse_density dn;
    hesse_eigs outliers;
    hesse_op deflated;
    const hesse_op *op; /* c.op, or deflated */
    cJSON *res, *header;
    unsigned char *ckpt_data;
    cli_checkpoint_ctx cc;
    int64_t products;
    double t0;
} density_run;

static const cli_command_doc doc = {
    "density", "spectral density by stochastic Lanczos quadrature or KPM",
    "--model M [--data D] [--samples N] [--method slq|kpm] [--probes P] [--steps S] "
    "[--deflate K] [-o out.json]",
    "The density is on an equally spaced grid over the support (estimated by a short "
    "Lanczos run and widened by --margin), normalised to integrate to 1 (trapezoid rule); "
    "log10_density = log10(density + eps) shows bulk and outliers on one plot. SLQ also "
    "returns every probe's Ritz nodes and weights. JSON keys: grid, density, "
    "log10_density, products, seconds."};

static int options(density_args *a, cli_opt *opts) {
    const cli_opt t[] = {
        CLI_MODEL_OPTIONS(a->mo),
        CLI_DATA_OPTIONS(a->d),
        CLI_CURV_OPTIONS(a->co),
        {"method", 0, OPT_STRING, &a->method, "M", "slq (default) or kpm", CLI_NO_RANGE, 0},
        {"probes", 0, OPT_INT, &a->probes, "P", "random probes (default 10)", 1, 1e6, 0},
        {"steps", 0, OPT_INT, &a->steps, "S", "SLQ: Lanczos steps per probe (default 80)", 2, 1e6,
         0},
        {"moments", 0, OPT_INT, &a->moments, "M", "KPM: Chebyshev moments (default 256)", 2, 1e7,
         0},
        {"no-reorth", 0, OPT_FLAG, &a->no_reorth, NULL, "SLQ: skip full reorthogonalisation",
         CLI_NO_RANGE, 0},
        {"probe", 0, OPT_STRING, &a->probe, "P", "SLQ probes: rademacher (default) or normal",
         CLI_NO_RANGE, 0},
        {"sigma", 0, OPT_DOUBLE, &a->sigma, "F",
         "SLQ: Gaussian width as a fraction of the support (default 0.005)", 1e-9, 1, 0},
        {"margin", 0, OPT_DOUBLE, &a->margin, "F", "widen the estimated support (default 0.05)", 0,
         10, 0},
        {"lo", 0, OPT_DOUBLE, &a->lo, "X", "support lower end (with --hi; default estimated)",
         CLI_NO_RANGE, 0},
        {"hi", 0, OPT_DOUBLE, &a->hi, "X", "support upper end", CLI_NO_RANGE, 0},
        {"points", 0, OPT_INT, &a->points, "G", "grid points (default 1000)", 2, 1e7, 0},
        {"eps", 0, OPT_DOUBLE, &a->eps, "E", "added before log10 (default 1e-8)", 0, 1, 0},
        {"deflate", 0, OPT_INT, &a->deflate, "K",
         "project out the top K eigenvectors first (the bulk alone)", 0, 1e6, 0},
        {"solver-seed", 0, OPT_U64, &a->seed, "S", "seed of the probes (default 0)", CLI_NO_RANGE,
         0},
        {"svg", 0, OPT_STRING, &a->svg, "FILE", "plot to FILE and FILE-log (.svg)", CLI_NO_RANGE,
         0},
        {"checkpoint", 0, OPT_STRING, &a->ckpt, "FILE",
         "SLQ: save the state here periodically and on SIGINT/SIGTERM", CLI_NO_RANGE, 0},
        {"checkpoint-every", 0, OPT_DOUBLE, &a->ckpt_every, "SEC",
         "seconds between checkpoints (default 300; 0: every Lanczos step)", 0, 1e9, 0},
        {"resume", 0, OPT_STRING, &a->resume, "FILE", "SLQ: continue from a checkpoint",
         CLI_NO_RANGE, 0},
        {"block", 0, OPT_INT, &a->co.block, "K", "probes per pass over the data (default 10)", 1,
         4096, 0},
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    CLI_OPTS_RETURN(opts, t);
}

/* --lo and --hi together, or neither (then --margin widens the estimated support). */
static int validate_support(const density_args *a, const cli_opt *opts, int nopts) {
    const int lo_seen = cli_find(opts, nopts, "lo")->seen,
              hi_seen = cli_find(opts, nopts, "hi")->seen;
    if (lo_seen != hi_seen)
        return hesse_error(HESSE_EINVAL,
                           "option --%s given without --%s: a support needs both ends (or "
                           "neither, to estimate it)",
                           lo_seen ? "lo" : "hi", lo_seen ? "hi" : "lo");
    static const char *const estimate_only[] = {"margin", NULL};
    int rc = HESSE_OK;
    if (lo_seen)
        HESSE_CHECK(cli_refuse_given(opts, nopts, estimate_only,
                                     "widens an estimated support; with --lo/--hi the support is "
                                     "given"));
    if (lo_seen && !(a->lo < a->hi))
        return hesse_error(HESSE_EINVAL, "options --lo/--hi: need lo < hi (got %g, %g)", a->lo,
                           a->hi);
cleanup:
    return rc;
}

static int validate(const density_args *a, const cli_opt *opts, int nopts) {
    const int slq = strcmp(a->method, "slq") == 0;
    if (!slq && strcmp(a->method, "kpm") != 0)
        return hesse_error(HESSE_EINVAL, "option --method: expected slq or kpm, got '%s'",
                           a->method);
    if ((a->ckpt || a->resume) && !slq)
        return hesse_error(HESSE_EINVAL, "options --checkpoint/--resume need --method slq");
    if (strcmp(a->probe, "rademacher") != 0 && strcmp(a->probe, "normal") != 0)
        return hesse_error(HESSE_EINVAL, "option --probe: expected rademacher or normal, got '%s'",
                           a->probe);
    static const char *const slq_only[] = {"steps", "no-reorth", "probe", "sigma", NULL};
    static const char *const kpm_only[] = {"moments", NULL};
    int rc = HESSE_OK;
    HESSE_CHECK(cli_refuse_given(opts, nopts, slq ? kpm_only : slq_only,
                                 slq ? "applies to --method kpm" : "applies to --method slq"));
    HESSE_CHECK(cli_checkpoint_options(opts, nopts, a->ckpt));
    HESSE_CHECK(validate_support(a, opts, nopts));
    HESSE_CHECK(cli_check_output(a->out, "option --output"));
    HESSE_CHECK(cli_check_svg(a->svg, (const char *const[]){"", "-log", NULL}));
    HESSE_CHECK(cli_check_checkpoint(a->ckpt));
cleanup:
    return rc;
}

/* --deflate K: the top K eigenvectors by Lanczos, projected out of the operator. */
static int deflate(const density_args *a, density_run *s) {
    const int K = a->deflate;
    hesse_lanczos_params lp = hesse_lanczos_defaults();
    lp.top = K;
    lp.seed = a->seed;
    cli_eig_watch watch;
    hesse_op watched = cli_eig_watch_start(&watch, "deflation", &s->c.op, K);
    lp.monitor = cli_eig_monitor;
    lp.monitor_ctx = &watch;
    cli_note("density: finding the top %d eigenvectors to deflate", K);
    int rc = cli_lanczos_stoppable(&watched, &lp, &s->outliers);
    if (rc == HESSE_EINTR) rc = cli_stopped(&s->cc);
    if (rc != HESSE_OK) return rc;
    if (s->outliers.nconverged < K)
        hesse_log(HESSE_LOG_WARN,
                  "deflation: only %d of the top %d eigenvectors reached the tolerance; part "
                  "of the outliers' mass may remain in the density (see deflated_residuals)",
                  s->outliers.nconverged, K);
    rc = hesse_op_deflate(&s->c.op, K, s->outliers.vectors, &s->deflated);
    if (rc != HESSE_OK) return rc;
    s->op = &s->deflated;
    s->products += s->outliers.products;
    hesse_json_add_doubles(s->res, "deflated", s->outliers.values, K);
    hesse_json_add_doubles(s->res, "deflated_residuals", s->outliers.residuals, K);
    return HESSE_OK;
}

/* The options SLQ and KPM share (their parameter structs name them alike): probes, the grid and
 * its support, the block and the seed. */
#define SET_GRID(p, a)                                                                             \
    do {                                                                                           \
        if ((a)->probes) (p).probes = (a)->probes;                                                 \
        if ((a)->margin >= 0) (p).margin = (a)->margin;                                            \
        (p).lo = (a)->lo;                                                                          \
        (p).hi = (a)->hi;                                                                          \
        if ((a)->points) (p).points = (a)->points;                                                 \
        if ((a)->eps >= 0) (p).eps = (a)->eps;                                                     \
        (p).block = (a)->co.block;                                                                 \
        (p).seed = (a)->seed;                                                                      \
    } while (0)

static int slq(const density_args *a, density_run *s, cJSON *solver) {
    hesse_slq_params p = hesse_slq_defaults();
    if (a->steps) p.steps = a->steps;
    p.reorth = !a->no_reorth;
    p.probe = strcmp(a->probe, "normal") == 0 ? HESSE_PROBE_NORMAL : HESSE_PROBE_RADEMACHER;
    if (a->sigma > 0) p.sigma = a->sigma;
    SET_GRID(p, a);
    p.stop = &cli_stop;
    cli_checkpoint_attach(&s->cc, a->ckpt_every, &p.checkpoint, &p.checkpoint_ctx,
                          &p.checkpoint_interval);
    int rc = HESSE_OK;
    if (a->resume) {
        const unsigned char *blob = NULL;
        size_t blob_size = 0;
        HESSE_CHECK(cli_checkpoint_resume(a->resume, s->header, &s->ckpt_data, &blob, &blob_size));
        cli_stoppable(1);
        rc = cli_resume_failed(a->resume, hesse_slq_resume(s->op, &p, blob, blob_size, &s->dn));
    } else {
        cli_stoppable(1);
        rc = hesse_slq_density(s->op, &p, &s->dn);
    }
    cli_stoppable(0);
    if (rc == HESSE_EINTR) rc = cli_stopped(&s->cc);
    if (rc != HESSE_OK) return rc;
    if (a->resume) cJSON_AddStringToObject(solver, "resumed_from", a->resume);
    cJSON_AddNumberToObject(solver, "probes", p.probes);
    cJSON_AddNumberToObject(solver, "steps", p.steps);
    cJSON_AddBoolToObject(solver, "reorth", p.reorth);
    cJSON_AddStringToObject(solver, "probe", a->probe);
    cJSON_AddNumberToObject(solver, "sigma_fraction", p.sigma);
    cJSON_AddNumberToObject(solver, "margin", p.margin);
cleanup:
    return rc;
}

static int kpm(const density_args *a, density_run *s, cJSON *solver) {
    hesse_kpm_params p = hesse_kpm_defaults();
    if (a->moments) p.moments = a->moments;
    SET_GRID(p, a);
    int rc = hesse_kpm_density(s->op, &p, &s->dn);
    if (rc != HESSE_OK) return rc;
    cJSON_AddNumberToObject(solver, "moments", p.moments);
    cJSON_AddNumberToObject(solver, "probes", p.probes);
    cJSON_AddNumberToObject(solver, "margin", p.margin);
    cJSON_AddStringToObject(solver, "kernel", "jackson");
    return HESSE_OK;
}

static int run(const density_args *a, density_run *s, int argc, char **argv) {
    int rc = cli_curv_open(&a->mo, &a->d, &a->co, &s->c);
    if (rc != HESSE_OK) return rc;
    if ((int64_t)a->deflate >= s->c.op.n)
        return hesse_error(HESSE_EINVAL,
                           "option --deflate: %d directions of an operator of dimension %lld "
                           "leave no bulk (at most %lld)",
                           a->deflate, (long long)s->c.op.n, (long long)s->c.op.n - 1);
    s->header = cli_run_header("density", &s->c);
    cJSON_AddNumberToObject(s->header, "deflate", a->deflate);
    s->cc = (cli_checkpoint_ctx){a->ckpt, s->header, 0};
    s->res = hesse_result_new("density", argc, argv);
    cli_curv_describe(s->res, &s->c, a->mo.model);
    HESSE_CHECK(cli_curv_loss(&s->c, s->res));
    s->t0 = hesse_now();
    s->op = &s->c.op;
    if (a->deflate > 0) HESSE_CHECK(deflate(a, s));
    cli_note("density: %s of the %s, %lld parameters, %s", a->method, hesse_curv_name(s->c.kind),
             (long long)s->op->n, s->c.data.description);
    cJSON *solver = cJSON_AddObjectToObject(s->res, "solver");
    cJSON_AddStringToObject(solver, "method", a->method);
    HESSE_CHECK(strcmp(a->method, "slq") == 0 ? slq(a, s, solver) : kpm(a, s, solver));
    cJSON_AddNumberToObject(solver, "seed", (double)a->seed);
    s->products += s->dn.products;
cleanup:
    return rc;
}

static int emit(const density_args *a, density_run *s) {
    const hesse_density *dn = &s->dn;
    cJSON *res = s->res;
    cJSON_AddNumberToObject(res, "lo", dn->lo);
    cJSON_AddNumberToObject(res, "hi", dn->hi);
    cJSON_AddNumberToObject(res, "sigma", dn->sigma);
    cJSON_AddNumberToObject(res, "weight_outside", dn->weight_outside);
    cJSON_AddNumberToObject(res, "eps", dn->eps);
    hesse_json_add_doubles(res, "grid", dn->grid, dn->points);
    hesse_json_add_doubles(res, "density", dn->density, dn->points);
    hesse_json_add_doubles(res, "log10_density", dn->log10_density, dn->points);
    if (dn->nodes) {
        cJSON *q = cJSON_AddArrayToObject(res, "quadrature");
        for (int r = 0; r < dn->probes; r++) {
            cJSON *one = cJSON_CreateObject();
            const int64_t at = (int64_t)r * dn->steps;
            hesse_json_add_doubles(one, "nodes", dn->nodes + at, dn->nsteps[r]);
            hesse_json_add_doubles(one, "weights", dn->weights + at, dn->nsteps[r]);
            cJSON_AddItemToArray(q, one);
        }
    }
    if (dn->mu) hesse_json_add_doubles(res, "moments", dn->mu, dn->moments);
    cJSON_AddNumberToObject(res, "products", (double)s->products);
    cJSON_AddNumberToObject(res, "seconds", hesse_now() - s->t0);
    cJSON_AddNumberToObject(res, "product_seconds", dn->seconds_products);
    int rc = HESSE_OK;
    if (a->svg && cli_root) { /* rank 0 writes */
        cJSON_AddStringToObject(res, "svg", a->svg);
        HESSE_CHECK(write_plots(a->svg, dn, hesse_curv_name(s->c.kind),
                                cJSON_AddArrayToObject(res, "svg_files")));
    }
    HESSE_CHECK(cli_emit(res, a->out));
    cli_note("density: support [%.6g, %.6g], %lld products, %.2fs", dn->lo, dn->hi,
             (long long)s->products, hesse_now() - s->t0);
cleanup:
    return rc;
}

int cmd_density(int argc, char **argv) {
    density_args a = {{"fashion-mnist", "train", 1000, "first", 0, NULL, NULL, 0},
                      {NULL, NULL, NULL},
                      {"hessian", NULL, 0, 0, "f64"},
                      .method = "slq",
                      .probe = "rademacher",
                      .ckpt_every = 300,
                      .sigma = -1,
                      .margin = -1,
                      .eps = -1};
    cli_opt opts[CLI_MAX_OPTS];
    const int nopts = options(&a, opts);
    int rc = cli_start(&doc, argc, argv, opts, nopts, &a.threads, &a.quiet);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("density", rc);
    cli_signals_install(); /* a signal stops SLQ or Lanczos at their next boundary */
    if (a.co.block == 0) a.co.block = a.probes > 0 && a.probes < 10 ? a.probes : 10;
    density_run s = {0};
    rc = validate(&a, opts, nopts);
    if (rc == HESSE_OK) rc = run(&a, &s, argc, argv);
    if (rc == HESSE_OK) rc = emit(&a, &s);
    cJSON_Delete(s.res);
    cJSON_Delete(s.header);
    free(s.ckpt_data);
    hesse_density_free(&s.dn);
    hesse_op_free(&s.deflated);
    hesse_eigs_free(&s.outliers);
    cli_curv_close(&s.c);
    return rc == HESSE_OK ? 0 : cli_fail("density", rc);
}
