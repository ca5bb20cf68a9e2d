/* hesse samples: how the Hessian's outliers and bulk move with the number of training samples
 * (Papyan, "The full spectrum of deepnet Hessians at scale", 2018): for a geometric range of
 * class-balanced subsets, the top C + margin eigenvalues, the bulk's right edge (the largest
 * eigenvalue once the top C are deflated) and the SLQ density of the deflated operator. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses "100,200,400" into sizes (at most cap). */
static int parse_sizes(const char *text, int64_t *sizes, int cap, int *count) {
    *count = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 2 || (*end != ',' && *end != '\0') || *count == cap)
            return hesse_error(HESSE_EINVAL,
                               "option --sizes: expected up to %d comma-separated sample counts "
                               ">= 2, got '%s'",
                               cap, text);
        sizes[(*count)++] = v;
        p = *end == ',' ? end + 1 : end;
    }
    return *count ? HESSE_OK : hesse_error(HESSE_EINVAL, "option --sizes is empty");
}

/* Every size selectable (class-balanced) from the data before the first run: a size the split
 * cannot give would otherwise fail only when its turn comes, after the runs before it. */
static int check_sizes(cli_data_opts *d, const int64_t *sizes, int nsizes, int given) {
    int64_t largest = 0;
    for (int r = 0; r < nsizes; r++)
        if (sizes[r] > largest) largest = sizes[r];
    cli_data data;
    const int64_t keep = d->samples;
    d->samples = largest;
    int rc = cli_data_open(d, &data);
    if (rc == HESSE_OK) rc = cli_data_select(d, NULL, &data);
    d->samples = keep;
    cli_data_free(&data);
    if (rc == HESSE_OK) return rc;
    char why[512];
    snprintf(why, sizeof why, "%s", hesse_last_error());
    return hesse_error(rc, "option %s: size %lld: %s", given ? "--sizes" : "--max",
                       (long long)largest, why);
}

/* PREFIX.svg: the bulk density of every run, one line per run; fills N (each run's sample
 * count), edge (its bulk edge) and *ntop (the most outliers of a run). */
static int plot_densities(const char *svg, cJSON *runs, cJSON *files, double *N, double *edge,
                          int *ntop) {
    int nr = cJSON_GetArraySize(runs), rc = HESSE_OK;
    hesse_series *s = calloc((size_t)nr, sizeof *s);
    double **bx = calloc((size_t)nr, sizeof *bx), **by = calloc((size_t)nr, sizeof *by);
    char(*labels)[32] = calloc((size_t)nr, sizeof *labels);
    if (!s || !bx || !by || !labels) rc = hesse_error(HESSE_ENOMEM, "out of memory");
    for (int r = 0; rc == HESSE_OK && r < nr; r++) {
        cJSON *run = cJSON_GetArrayItem(runs, r);
        cJSON *g = cJSON_GetObjectItem(run, "grid"), *l = cJSON_GetObjectItem(run, "log10_density");
        int np = cJSON_GetArraySize(g);
        bx[r] = malloc((size_t)np * sizeof(double));
        by[r] = malloc((size_t)np * sizeof(double));
        if (!bx[r] || !by[r]) {
            rc = hesse_error(HESSE_ENOMEM, "samples: plot: out of memory");
            break;
        }
        for (int i = 0; i < np; i++) {
            bx[r][i] = cJSON_GetArrayItem(g, i)->valuedouble;
            by[r][i] = cJSON_GetArrayItem(l, i)->valuedouble;
        }
        N[r] = cJSON_GetObjectItem(run, "samples")->valuedouble;
        edge[r] = cJSON_GetObjectItem(run, "bulk_edge")->valuedouble;
        snprintf(labels[r], sizeof labels[r], "N = %.0f", N[r]);
        s[r] = (hesse_series){labels[r], bx[r], by[r], np, HESSE_PLOT_LINE, NULL, 0};
        int nt = cJSON_GetArraySize(cJSON_GetObjectItem(run, "outliers"));
        if (nt > *ntop) *ntop = nt;
    }
    char path[CLI_SVG_PATH];
    if (rc == HESSE_OK) rc = cli_svg_name(svg, "", path, sizeof path);
    if (rc == HESSE_OK) {
        hesse_plot p = hesse_plot_defaults();
        p.title = "Bulk density (top C deflated) by sample size";
        p.xlabel = "eigenvalue";
        p.ylabel = "log10(density + eps)";
        rc = hesse_svg_write(&p, s, nr, path);
        if (rc == HESSE_OK) cJSON_AddItemToArray(files, cJSON_CreateString(path));
    }
    for (int r = 0; r < nr; r++) {
        if (bx) free(bx[r]);
        if (by) free(by[r]);
    }
    free(bx);
    free(by);
    free(s);
    free(labels);
    return rc;
}

/* PREFIX-outliers.svg: each outlier against N, one series per rank, plus the bulk edge. */
static int plot_outliers(const char *svg, cJSON *runs, cJSON *files, double *N, double *edge,
                         int ntop) {
    int nr = cJSON_GetArraySize(runs), rc = HESSE_OK;
    hesse_series *o = calloc((size_t)ntop + 1, sizeof *o);
    double *ov = calloc((size_t)(ntop * nr) + 1, sizeof *ov);
    char(*ol)[32] = calloc((size_t)ntop + 1, sizeof *ol);
    if (!o || !ov || !ol) rc = hesse_error(HESSE_ENOMEM, "samples: plot: out of memory");
    for (int k = 0; rc == HESSE_OK && k < ntop; k++) {
        for (int r = 0; r < nr; r++) {
            cJSON *a = cJSON_GetObjectItem(cJSON_GetArrayItem(runs, r), "outliers");
            ov[k * nr + r] =
                k < cJSON_GetArraySize(a) ? cJSON_GetArrayItem(a, k)->valuedouble : NAN;
        }
        snprintf(ol[k], sizeof ol[k], "lambda_%d", k + 1);
        o[k] = (hesse_series){k < 3 ? ol[k] : NULL, N, ov + k * nr, nr, HESSE_PLOT_LINE, NULL, 0};
    }
    if (rc == HESSE_OK) {
        o[ntop] = (hesse_series){"bulk edge", N, edge, nr, HESSE_PLOT_LINE, "#000", 1};
        hesse_plot p = hesse_plot_defaults();
        p.title = "Outliers and bulk edge against the number of samples";
        p.xlabel = "samples N";
        p.ylabel = "eigenvalue";
        p.xlog = 1;
        p.ylog = 1;
        char path[CLI_SVG_PATH];
        rc = cli_svg_name(svg, "-outliers", path, sizeof path);
        if (rc == HESSE_OK) rc = hesse_svg_write(&p, o, ntop + 1, path);
        if (rc == HESSE_OK) cJSON_AddItemToArray(files, cJSON_CreateString(path));
    }
    free(o);
    free(ov);
    free(ol);
    return rc;
}

/* PREFIX.svg (densities) and PREFIX-outliers.svg from --svg PREFIX[.svg], listed in files. */
static int write_svgs(const char *svg, cJSON *runs, cJSON *files) {
    int nr = cJSON_GetArraySize(runs), ntop = 0;
    double *N = malloc((size_t)(nr ? nr : 1) * sizeof *N),
           *edge = malloc((size_t)(nr ? nr : 1) * sizeof *edge);
    int rc = N && edge ? plot_densities(svg, runs, files, N, edge, &ntop)
                       : hesse_error(HESSE_ENOMEM, "out of memory");
    if (rc == HESSE_OK) rc = plot_outliers(svg, runs, files, N, edge, ntop);
    free(N);
    free(edge);
    return rc;
}

/* The option values of hesse samples, and the sample counts they give. */
typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    const char *out, *svg, *sizes_text;
    int threads, quiet, top, probes, steps;
    int64_t min_n, max_n;
    double factor, tol;
    uint64_t solver_seed;
    int64_t sizes[64];
    int nsizes;
} samples_args;

/* One sample count's run: the operator, its top eigenpairs, the deflated operator and its
 * density. */
typedef struct {
    cli_curv c;
    hesse_eigs e;
    hesse_op defl;
    hesse_density dn;
    int C, k; /* classes; eigenpairs wanted (at least C + 1) */
} size_run;

/* The option table; refuses --min, --max and --factor beside --sizes. */
static int parse_samples(samples_args *a, int argc, char **argv) {
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(a->mo),
        {"data", 0, OPT_STRING, &a->d.data, "D",
         "fashion-mnist (default), an IDX or CIFAR directory, or a .safetensors file", CLI_NO_RANGE,
         0},
        {"split", 0, OPT_STRING, &a->d.split, "S", "train (default) or test", CLI_NO_RANGE, 0},
        {"context", 0, OPT_INT, &a->d.context, "T", "text data: bytes per window (default 64)", 1,
         HESSE_TEXT_CONTEXT_MAX, 0},
        {"seed", 0, OPT_U64, &a->d.seed, "S", "random seed (default 0)", CLI_NO_RANGE, 0},
        {"sizes", 0, OPT_STRING, &a->sizes_text, "N1,N2,..",
         "sample counts (default: --min times --factor^j up to --max)", CLI_NO_RANGE, 0},
        {"min", 0, OPT_INT64, &a->min_n, "N", "smallest sample count (default 100)", 2, 1e12, 0},
        {"max", 0, OPT_INT64, &a->max_n, "N", "largest sample count (default 3200)", 2, 1e12, 0},
        {"factor", 0, OPT_DOUBLE, &a->factor, "F", "geometric factor (default 2)", 1.01, 1e6, 0},
        {"top", 0, OPT_INT, &a->top, "K", "outliers tracked (default C + 5)", 1, 1e6, 0},
        {"tol", 0, OPT_DOUBLE, &a->tol, "T", "Lanczos tolerance (default 1e-8)", 1e-15, 1, 0},
        {"probes", 0, OPT_INT, &a->probes, "P", "SLQ probes (default 10)", 1, 1e6, 0},
        {"steps", 0, OPT_INT, &a->steps, "S", "SLQ Lanczos steps (default 80)", 2, 1e6, 0},
        {"solver-seed", 0, OPT_U64, &a->solver_seed, "S", "seed of the probes (default 0)",
         CLI_NO_RANGE, 0},
        {"svg", 0, OPT_STRING, &a->svg, "FILE", "plots: FILE (densities), FILE-outliers",
         CLI_NO_RANGE, 0},
        CLI_CHUNK_OPTION(a->co.chunk),
        CLI_PRECISION_OPTION(a->co),
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    cli_command_doc doc = {
        "samples", "outliers and bulk of the Hessian against the number of samples (Papyan 2018)",
        "--model M [--data D] [--sizes 100,200,400 | --min N --max N --factor F] [-o out.json]",
        "For each class-balanced subset (nested: the first N/C of each class in file order): "
        "the top K eigenvalues by Lanczos (outliers), the bulk edge (eigenvalue C + 1, the "
        "largest once the top C are deflated) and the SLQ density of the Hessian with its top C "
        "eigenvectors projected out."};
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(&doc, argc, argv, opts, nopts);
    if (rc != HESSE_OK || !a->sizes_text) return rc;
    static const char *const range[] = {"min", "max", "factor", NULL};
    return cli_refuse_given(opts, nopts, range, "conflicts with --sizes (give one or the other)");
}

/* The sample counts: --sizes, or --min times --factor^j up to --max (at most 64). */
static int choose_sizes(samples_args *a) {
    if (a->sizes_text) return parse_sizes(a->sizes_text, a->sizes, 64, &a->nsizes);
    if (a->min_n > a->max_n)
        return hesse_error(HESSE_EINVAL, "options --min %lld > --max %lld", (long long)a->min_n,
                           (long long)a->max_n);
    double v = (double)a->min_n;
    for (; v <= (double)a->max_n * (1 + 1e-9) && a->nsizes < 64; v *= a->factor)
        a->sizes[a->nsizes++] = (int64_t)llround(v);
    if (v <= (double)a->max_n * (1 + 1e-9))
        return hesse_error(HESSE_EINVAL,
                           "options --min %lld --max %lld --factor %g: more than 64 sizes; "
                           "raise --factor",
                           (long long)a->min_n, (long long)a->max_n, a->factor);
    return HESSE_OK;
}

/* The sizes, the outputs staged, and every size checked selectable before the first run. */
static int validate(samples_args *a) {
    int rc = choose_sizes(a);
    if (rc == HESSE_OK) rc = cli_check_output(a->out, "option --output");
    if (rc == HESSE_OK) rc = cli_check_svg(a->svg, (const char *const[]){"", "-outliers", NULL});
    if (rc != HESSE_OK) return rc;
    a->d.select = "balanced";
    return check_sizes(&a->d, a->sizes, a->nsizes, a->sizes_text != NULL);
}

static void describe_solver(const samples_args *a, cJSON *res) {
    cJSON *solver = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddNumberToObject(solver, "tol", a->tol);
    cJSON_AddNumberToObject(solver, "seed", (double)hesse_lanczos_defaults().seed);
    cJSON_AddNumberToObject(solver, "probes", a->probes);
    cJSON_AddNumberToObject(solver, "steps", a->steps);
    cJSON_AddNumberToObject(solver, "probe_seed", (double)a->solver_seed);
}

/* The top k eigenpairs (Lanczos) on the run's samples; the first run describes the operator. */
static int size_top(const samples_args *a, size_run *s, int first, cJSON *res) {
    int rc = cli_curv_open(&a->mo, &a->d, &a->co, &s->c);
    if (rc == HESSE_OK) rc = hesse_class_means_supported(s->c.model, "samples");
    if (rc != HESSE_OK) return rc;
    const int C = s->C = hesse_model_num_outputs(s->c.model); /* the outliers: one a class */
    int k = a->top > 0 ? a->top : C + 5;
    if (k < C + 1) k = C + 1;
    if (k >= s->c.op.n) k = (int)s->c.op.n - 1;
    s->k = k;
    if (first) {
        cli_curv_describe(res, &s->c, a->mo.model);
        cJSON_AddNumberToObject(res, "classes", C);
    }
    const long long N = (long long)hesse_samples_total(&s->c.data.samples);
    cli_note("samples: N = %lld: top %d eigenvalues, then the bulk density", N, k);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = k;
    p.tol = a->tol;
    rc = cli_lanczos_stoppable(&s->c.op, &p, &s->e);
    if (rc == HESSE_OK && s->e.nconverged < k)
        hesse_log(HESSE_LOG_WARN,
                  "samples: N = %lld: only %d of the top %d eigenpairs reached the "
                  "tolerance; the deflated bulk may keep part of the outliers",
                  N, s->e.nconverged, k);
    return rc;
}

/* The SLQ density of the operator with its top C eigenvectors projected out. */
static int size_bulk(const samples_args *a, size_run *s) {
    int rc = hesse_op_deflate(&s->c.op, s->C, s->e.vectors, &s->defl);
    if (rc != HESSE_OK) return rc;
    hesse_slq_params p = hesse_slq_defaults();
    p.probes = a->probes;
    p.steps = a->steps;
    p.block = a->co.block;
    p.seed = a->solver_seed;
    p.stop = &cli_stop;
    cli_stoppable(1);
    rc = hesse_slq_density(&s->defl, &p, &s->dn);
    cli_stoppable(0);
    return rc;
}

/* The run's entry of runs (and its count in sizes), and its line on stderr. */
static void emit_size(size_run *s, double run_start, cJSON *sz, cJSON *runs, int64_t *products) {
    const hesse_eigs *e = &s->e;
    const hesse_density *dn = &s->dn;
    const int C = s->C;
    const double N = (double)hesse_samples_total(&s->c.data.samples);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "samples", N);
    hesse_json_add_doubles(o, "outliers", e->values, e->ntop);
    hesse_json_add_doubles(o, "residuals", e->residuals, e->ntop);
    cJSON_AddNumberToObject(o, "bulk_edge", e->values[C]);
    double loss;
    if (hesse_loss_grad(s->c.engine, &s->c.data.samples, &loss, NULL, NULL) == HESSE_OK)
        cJSON_AddNumberToObject(o, "loss", loss);
    hesse_json_add_doubles(o, "grid", dn->grid, dn->points);
    hesse_json_add_doubles(o, "density", dn->density, dn->points);
    hesse_json_add_doubles(o, "log10_density", dn->log10_density, dn->points);
    cJSON_AddNumberToObject(o, "products", (double)(e->products + dn->products));
    cJSON_AddNumberToObject(o, "seconds", hesse_now() - run_start);
    cJSON_AddItemToArray(runs, o);
    cJSON_AddItemToArray(sz, cJSON_CreateNumber(N));
    *products += e->products + dn->products;
    cli_note("  lambda_1 %.6g, lambda_C %.6g, bulk edge %.6g", e->values[0], e->values[C - 1],
             e->values[C]);
}

/* One run per sample count, into sizes and runs of res. */
static int run_sizes(samples_args *a, cJSON *res, int64_t *products) {
    cJSON *sz = cJSON_AddArrayToObject(res, "sizes");
    cJSON *runs = cJSON_AddArrayToObject(res, "runs");
    int rc = HESSE_OK;
    for (int r = 0; r < a->nsizes && rc == HESSE_OK; r++) {
        size_run s = {0};
        const double run_start = hesse_now();
        a->d.samples = a->sizes[r];
        rc = size_top(a, &s, r == 0, res);
        if (rc == HESSE_OK) rc = size_bulk(a, &s);
        if (rc == HESSE_OK) emit_size(&s, run_start, sz, runs, products);
        hesse_density_free(&s.dn);
        hesse_op_free(&s.defl);
        hesse_eigs_free(&s.e);
        cli_curv_close(&s.c);
    }
    return rc;
}

int cmd_samples(int argc, char **argv) {
    samples_args a = {.d = {"fashion-mnist", "train", 0, "balanced", 0, NULL, NULL, 0, 0},
                      .co = {"hessian", NULL, 10, 0, "f64"},
                      .probes = 10,
                      .steps = 80,
                      .min_n = 100,
                      .max_n = 3200,
                      .factor = 2.0,
                      .tol = 1e-8};
    int rc = parse_samples(&a, argc, argv);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("samples", rc);
    cli_apply_common(a.threads, a.quiet);
    cli_signals_install();

    cJSON *res = NULL;
    int64_t products = 0;
    double t0 = hesse_now();
    HESSE_CHECK(validate(&a));
    res = hesse_result_new("samples", argc, argv);
    describe_solver(&a, res);
    HESSE_CHECK(run_sizes(&a, res, &products));
    cJSON_AddNumberToObject(res, "products", (double)products);
    cJSON_AddNumberToObject(res, "seconds", hesse_now() - t0);
    if (a.svg && cli_root) { /* rank 0 writes */
        cJSON_AddStringToObject(res, "svg", a.svg);
        HESSE_CHECK(write_svgs(a.svg, cJSON_GetObjectItem(res, "runs"),
                               cJSON_AddArrayToObject(res, "svg_files")));
    }
    HESSE_CHECK(cli_emit(res, a.out));
cleanup:
    cJSON_Delete(res);
    return rc == HESSE_OK ? 0 : cli_fail("samples", rc);
}
