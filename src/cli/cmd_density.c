/* hesse density: the spectral density of a curvature operator by stochastic Lanczos
 * quadrature or the kernel polynomial method, optionally with the top outliers deflated. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PREFIX.svg and PREFIX-log.svg from --svg PREFIX[.svg], both listed in files; with --mp the
 * fitted Marchenko-Pastur curve (mp, may be NULL; its log10 in mp_log) drawn over the density. */
static int write_plots(const char *svg, const hesse_density *dn, const char *what, const double *mp,
                       const double *mp_log, cJSON *files) {
    char path[CLI_SVG_PATH], title[160];
    hesse_series s[2] = {
        {"measured", dn->grid, dn->density, dn->points, HESSE_PLOT_LINE, NULL, 0},
        {"Marchenko-Pastur (min KS)", dn->grid, mp, dn->points, HESSE_PLOT_LINE, NULL, 1}};
    const int ns = mp ? 2 : 1;
    if (!mp) s[0].label = NULL;
    hesse_plot p = hesse_plot_defaults();
    p.xlabel = "eigenvalue";
    p.title = title;
    snprintf(title, sizeof title, "Spectral density of the %s", what);
    p.ylabel = "density";
    int rc = cli_svg_name(svg, "", path, sizeof path);
    if (rc == HESSE_OK) rc = hesse_svg_write(&p, s, ns, path);
    if (rc != HESSE_OK) return rc;
    cJSON_AddItemToArray(files, cJSON_CreateString(path));
    snprintf(title, sizeof title, "Spectral density of the %s (log scale)", what);
    p.ylabel = "log10(density + eps)";
    s[0].y = dn->log10_density;
    s[1].y = mp_log;
    rc = cli_svg_name(svg, "-log", path, sizeof path);
    if (rc == HESSE_OK) rc = hesse_svg_write(&p, s, ns, path);
    if (rc == HESSE_OK) cJSON_AddItemToArray(files, cJSON_CreateString(path));
    return rc;
}

typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    const char *out, *method, *svg, *probe, *ckpt, *resume;
    double ckpt_every, sigma, margin, lo, hi, eps;
    int threads, quiet, probes, steps, points, moments, deflate, no_reorth, mp;
    uint64_t seed;
} density_args;

/* The operators of the class-mean decomposition (Papyan 2019), built here from the class means
 * over the GGN's engine: G_means and its class / cross parts (rank <= C^2), and G_within = G -
 * G_means through the operator algebra. */
static const char *const class_ops[] = {"gmeans", "gclass", "gcross", "gwithin"};
enum { CLASS_WITHIN = 3 };

/* Which of class_ops names (0-3), or -1. */
static int class_op(const char *name) {
    for (int i = 0; i < 4; i++)
        if (strcmp(name, class_ops[i]) == 0) return i;
    return -1;
}

typedef struct {
    cli_curv c;
    hesse_class_means cm; /* --operator gmeans|gclass|gcross|gwithin */
    hesse_op means, within;
    int part; /* class_op(), or -1 */
    hesse_density dn;
    hesse_mp_fit mp;
    double *mp_curve, *mp_log; /* the fitted law smoothed as the density, and its log10 */
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
    "[--deflate K [--mp]] [-o out.json]",
    "The density is on an equally spaced grid over the support (estimated by a short "
    "Lanczos run and widened by --margin), normalised to integrate to 1 (trapezoid rule); "
    "log10_density = log10(density + eps) shows bulk and outliers on one plot. SLQ also "
    "returns every probe's Ritz nodes and weights. --operator gmeans, gclass and gcross (the "
    "class-mean parts of G, Papyan 2019: rank <= C^2) are drawn exactly by default (--method "
    "exact): their Gram eigenvalues at 1/n each and zero at (n - k)/n, smoothed by SLQ's "
    "Gaussian (--sigma); gwithin = G - G_means by SLQ or KPM. JSON keys: grid, density, "
    "log10_density, products, seconds.\n"
    "--mp (with --deflate K, SLQ; Papyan 2018, the bulk against Marchenko-Pastur): the law "
    "with ratio gamma and scale sigma2 (edges sigma2 (1 -+ sqrt(gamma))^2, an atom 1 - 1/gamma "
    "at 0 when gamma > 1, counted as part of the law) fitted to the quadrature's distribution "
    "two ways: at minimum Kolmogorov-Smirnov distance (mp.gamma, mp.sigma2, ...: the fit to "
    "read, a heavy tail weighs at most its mass) and by moments (mp.moments: sigma2 = m1, gamma "
    "= m2/m1^2 - 1, which a heavy tail inflates). Each gives lambda_minus, lambda_plus, "
    "zero_mass, ks (sup |F - F_MP|), w1 (integral |F - F_MP| dx; w1_relative = w1/sigma2) and "
    "tail_mass (measured mass above lambda_plus; MP has none). mp.curve is the min-KS law "
    "smoothed like the density, on the grid (drawn on the --svg plots)."};

static int options(density_args *a, cli_opt *opts) {
    const cli_opt t[] = {
        CLI_MODEL_OPTIONS(a->mo),
        CLI_DATA_OPTIONS(a->d),
        CLI_CURV_OPTIONS(a->co),
        {"method", 0, OPT_STRING, &a->method, "M",
         "slq (default), kpm, or exact (gmeans, gclass, gcross: their default)", CLI_NO_RANGE, 0},
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
        {"mp", 0, OPT_FLAG, &a->mp, NULL,
         "fit a Marchenko-Pastur law to the deflated bulk (needs --deflate and SLQ; Papyan "
         "2018): minimum-KS and moment fits, edges, KS and W1 distances, tail mass beyond the "
         "upper edge",
         CLI_NO_RANGE, 0},
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
        CLI_KEEP_CHECKPOINT_OPTION,
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

/* --operator: the engine's curvatures or the class-mean operators; --method exact only for the
 * low-rank ones (and their default), which span every parameter (no --layer). */
static int validate_operator(density_args *a, const cli_opt *opts, int nopts) {
    const char *op = a->co.operator_name;
    const int part = class_op(op);
    hesse_curv_kind kind;
    if (part < 0 && hesse_curv_parse(op, &kind) != HESSE_OK)
        return hesse_error(HESSE_EINVAL,
                           "option --operator: expected hessian, ggn, residual, efisher, gmeans, "
                           "gclass, gcross or gwithin, got '%s'",
                           op);
    if (part >= 0 && part != CLASS_WITHIN && !cli_find(opts, nopts, "method")->seen)
        a->method = "exact";
    if (part >= 0 && a->co.layer)
        return hesse_error(HESSE_EINVAL,
                           "option --layer: --operator %s is built from the class means over all "
                           "parameters; it has no layer block",
                           op);
    if (strcmp(a->method, "exact") == 0 && (part < 0 || part == CLASS_WITHIN))
        return hesse_error(HESSE_EINVAL,
                           "option --method exact: only the low-rank operators gmeans, gclass and "
                           "gcross have an exact density here, not %s",
                           op);
    static const char *const exact_refused[] = {"deflate",     "probes",  "block",
                                                "solver-seed", "steps",   "no-reorth",
                                                "probe",       "moments", NULL};
    if (strcmp(a->method, "exact") == 0)
        return cli_refuse_given(opts, nopts, exact_refused, "applies to --method slq or kpm");
    return HESSE_OK;
}

static int validate(density_args *a, const cli_opt *opts, int nopts) {
    int rc = validate_operator(a, opts, nopts);
    if (rc != HESSE_OK) return rc;
    const int slq = strcmp(a->method, "slq") == 0, exact = strcmp(a->method, "exact") == 0;
    if (!slq && !exact && strcmp(a->method, "kpm") != 0)
        return hesse_error(HESSE_EINVAL, "option --method: expected slq, kpm or exact, got '%s'",
                           a->method);
    if ((a->ckpt || a->resume) && !slq)
        return hesse_error(HESSE_EINVAL, "options --checkpoint/--resume need --method slq");
    if (strcmp(a->probe, "rademacher") != 0 && strcmp(a->probe, "normal") != 0)
        return hesse_error(HESSE_EINVAL, "option --probe: expected rademacher or normal, got '%s'",
                           a->probe);
    static const char *const slq_only[] = {"steps", "no-reorth", "probe", "sigma", NULL};
    static const char *const kpm_only[] = {"moments", NULL};
    if (!exact)
        HESSE_CHECK(cli_refuse_given(opts, nopts, slq ? kpm_only : slq_only,
                                     slq ? "applies to --method kpm" : "applies to --method slq"));
    if (a->mp && !slq)
        return hesse_error(HESSE_EINVAL, "option --mp: needs --method slq (the fit reads the "
                                         "quadrature nodes and weights)");
    if (a->mp && a->deflate <= 0)
        return hesse_error(HESSE_EINVAL, "option --mp: fits the bulk; give --deflate K (the top K "
                                         "outliers projected out first, e.g. the class count)");
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
    hesse_op watched = cli_eig_watch_start(&watch, "deflation", s->op, K);
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
    rc = hesse_op_deflate(s->op, K, s->outliers.vectors, &s->deflated);
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

static void add_law(cJSON *o, const hesse_mp_law *l) {
    cJSON_AddNumberToObject(o, "gamma", l->gamma);
    cJSON_AddNumberToObject(o, "sigma2", l->sigma2);
    cJSON_AddNumberToObject(o, "lambda_minus", l->lambda_minus);
    cJSON_AddNumberToObject(o, "lambda_plus", l->lambda_plus);
    cJSON_AddNumberToObject(o, "zero_mass", l->zero_mass);
    cJSON_AddNumberToObject(o, "ks", l->ks);
    cJSON_AddNumberToObject(o, "w1", l->w1);
    cJSON_AddNumberToObject(o, "w1_relative", l->w1_relative);
    cJSON_AddNumberToObject(o, "tail_mass", l->tail_mass);
}

/* --mp: the Marchenko-Pastur fits of the (deflated) density, and the min-KS law smoothed as
 * the density is, on its grid. */
static int mp_fit(density_run *s) {
    const hesse_density *dn = &s->dn;
    int rc = hesse_mp_fit_density(dn, &s->mp);
    if (rc != HESSE_OK) return rc;
    cJSON *o = cJSON_AddObjectToObject(s->res, "mp");
    cJSON_AddStringToObject(o, "method", "min-ks");
    cJSON_AddBoolToObject(o, "fitted", s->mp.fitted);
    cJSON_AddNumberToObject(o, "m1", s->mp.m1);
    cJSON_AddNumberToObject(o, "m2", s->mp.m2);
    if (!s->mp.fitted) {
        hesse_log(HESSE_LOG_WARN,
                  "--mp: the bulk's moments m1 = %.4g, m2 = %.4g admit no Marchenko-Pastur law "
                  "(need m1 > 0 and m2 > m1^2)",
                  s->mp.m1, s->mp.m2);
        return HESSE_OK;
    }
    add_law(o, &s->mp.ks);
    add_law(cJSON_AddObjectToObject(o, "moments"), &s->mp.moments);
    s->mp_curve = malloc(sizeof(double) * 2 * (size_t)dn->points);
    if (!s->mp_curve) return hesse_error(HESSE_ENOMEM, "out of memory");
    s->mp_log = s->mp_curve + dn->points;
    rc = hesse_mp_curve(&s->mp.ks, dn->sigma, dn->points, dn->grid, s->mp_curve);
    if (rc != HESSE_OK) return rc;
    for (int i = 0; i < dn->points; i++) s->mp_log[i] = log10(s->mp_curve[i] + dn->eps);
    hesse_json_add_doubles(o, "curve", s->mp_curve, dn->points);
    hesse_json_add_doubles(o, "log10_curve", s->mp_log, dn->points);
    cli_note("density: Marchenko-Pastur (min KS) gamma %.4g, sigma2 %.4g, edges [%.4g, %.4g], "
             "KS %.3g, tail mass %.3g beyond the edge (moments: gamma %.4g, edge %.4g, tail "
             "%.3g)",
             s->mp.ks.gamma, s->mp.ks.sigma2, s->mp.ks.lambda_minus, s->mp.ks.lambda_plus,
             s->mp.ks.ks, s->mp.ks.tail_mass, s->mp.moments.gamma, s->mp.moments.lambda_plus,
             s->mp.moments.tail_mass);
    return HESSE_OK;
}

/* --operator gmeans|gclass|gcross|gwithin: the class means over the GGN's engine, and the
 * operator made from them (s->op), named in the document and the checkpoint header. */
static int class_operator(const density_args *a, density_run *s) {
    const int C = hesse_model_num_outputs(s->c.model);
    char what[48];
    snprintf(what, sizeof what, "option --operator %s", class_ops[s->part]);
    int rc = hesse_class_means_supported(s->c.model, what);
    if (rc != HESSE_OK) return rc;
    if (C < 2)
        return hesse_error(HESSE_EINVAL,
                           "option --operator %s: the model has %d output (a regression); the "
                           "class-mean decomposition needs at least 2 classes",
                           class_ops[s->part], C);
    cli_note("density: %d x %d class means (%d backward passes over %s)", C, C, C,
             s->c.data.description);
    rc = hesse_class_means_compute(s->c.engine, &s->c.data.samples, &s->cm);
    if (rc != HESSE_OK) return rc;
    const char *name = class_ops[s->part];
    cJSON_ReplaceItemInObject(s->res, "operator", cJSON_CreateString(name));
    cJSON_ReplaceItemInObject(s->header, "operator", cJSON_CreateString(name));
    cJSON_AddNumberToObject(s->res, "backward_passes", (double)s->cm.passes);
    if (s->part == CLASS_WITHIN) {
        HESSE_CHECK(hesse_op_class_means(&s->cm, HESSE_MEANS_ALL, &s->means));
        HESSE_CHECK(hesse_op_combine(&s->c.op, 1.0, &s->means, -1.0, &s->within));
        s->op = &s->within;
    } else {
        HESSE_CHECK(hesse_op_class_means(&s->cm, (hesse_means_part)s->part, &s->means));
        s->op = &s->means;
    }
cleanup:
    return rc;
}

/* --method exact: the Gram eigenvalues as point masses, smoothed by SLQ's Gaussian. */
static int exact(const density_args *a, density_run *s, cJSON *solver) {
    hesse_slq_params p = hesse_slq_defaults();
    if (a->sigma > 0) p.sigma = a->sigma;
    SET_GRID(p, a);
    int rc = hesse_class_density(&s->cm, (hesse_means_part)s->part, &p, &s->dn);
    if (rc != HESSE_OK) return rc;
    cJSON_AddStringToObject(solver, "source", "Gram eigenvalues of the class means");
    cJSON_AddNumberToObject(solver, "sigma_fraction", p.sigma);
    cJSON_AddNumberToObject(solver, "margin", p.margin);
    return HESSE_OK;
}

static int run(const density_args *a, density_run *s, int argc, char **argv) {
    s->part = class_op(a->co.operator_name);
    cli_curv_opts co = a->co;
    if (s->part >= 0) co.operator_name = "ggn"; /* the class means run the GGN's engine */
    int rc = cli_curv_open(&a->mo, &a->d, &co, &s->c);
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
    if (s->part >= 0) HESSE_CHECK(class_operator(a, s));
    if (a->deflate > 0) HESSE_CHECK(deflate(a, s));
    cli_note("density: %s of the %s, %lld parameters, %s", a->method,
             s->part >= 0 ? class_ops[s->part] : hesse_curv_name(s->c.kind), (long long)s->op->n,
             s->c.data.description);
    cJSON *solver = cJSON_AddObjectToObject(s->res, "solver");
    cJSON_AddStringToObject(solver, "method", a->method);
    if (strcmp(a->method, "exact") == 0)
        HESSE_CHECK(exact(a, s, solver));
    else
        HESSE_CHECK(strcmp(a->method, "slq") == 0 ? slq(a, s, solver) : kpm(a, s, solver));
    cJSON_AddNumberToObject(solver, "seed", (double)a->seed);
    s->products += s->dn.products;
    if (a->mp) HESSE_CHECK(mp_fit(s));
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
        HESSE_CHECK(write_plots(a->svg, dn,
                                s->part >= 0 ? class_ops[s->part] : hesse_curv_name(s->c.kind),
                                s->mp_curve, s->mp_log, cJSON_AddArrayToObject(res, "svg_files")));
    }
    HESSE_CHECK(cli_emit(res, a->out));
    cli_note("density: support [%.6g, %.6g], %lld products, %.2fs", dn->lo, dn->hi,
             (long long)s->products, hesse_now() - s->t0);
cleanup:
    return rc;
}

int cmd_density(int argc, char **argv) {
    density_args a = {{"fashion-mnist", "train", 1000, "first", 0, NULL, NULL, 0, 0},
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
    free(s.mp_curve);
    hesse_op_free(&s.deflated);
    hesse_op_free(&s.within);
    hesse_op_free(&s.means);
    hesse_class_means_free(&s.cm);
    hesse_eigs_free(&s.outliers);
    cli_curv_close(&s.c);
    return rc == HESSE_OK ? 0 : cli_fail("density", rc);
}
