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

/* PREFIX.svg (densities) and PREFIX-outliers.svg from --svg PREFIX[.svg], listed in files. */
static int write_svgs(const char *svg, cJSON *runs, cJSON *files) {
    int nr = cJSON_GetArraySize(runs), rc = HESSE_OK;
    hesse_series *s = calloc((size_t)nr, sizeof *s);
    double **bx = calloc((size_t)nr, sizeof *bx), **by = calloc((size_t)nr, sizeof *by);
    char(*labels)[32] = calloc((size_t)nr, sizeof *labels);
    double *N = malloc((size_t)(nr ? nr : 1) * sizeof *N),
           *edge = malloc((size_t)(nr ? nr : 1) * sizeof *edge);
    if (!s || !bx || !by || !labels || !N || !edge) rc = hesse_error(HESSE_ENOMEM, "out of memory");
    int ntop = 0;
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
        if (nt > ntop) ntop = nt;
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
    if (rc == HESSE_OK) {
        /* outliers vs N: one series per rank, plus the bulk edge */
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
            o[k] =
                (hesse_series){k < 3 ? ol[k] : NULL, N, ov + k * nr, nr, HESSE_PLOT_LINE, NULL, 0};
        }
        if (rc == HESSE_OK) {
            o[ntop] = (hesse_series){"bulk edge", N, edge, nr, HESSE_PLOT_LINE, "#000", 1};
            hesse_plot p = hesse_plot_defaults();
            p.title = "Outliers and bulk edge against the number of samples";
            p.xlabel = "samples N";
            p.ylabel = "eigenvalue";
            p.xlog = 1;
            p.ylog = 1;
            rc = cli_svg_name(svg, "-outliers", path, sizeof path);
            if (rc == HESSE_OK) rc = hesse_svg_write(&p, o, ntop + 1, path);
            if (rc == HESSE_OK) cJSON_AddItemToArray(files, cJSON_CreateString(path));
        }
        free(o);
        free(ov);
        free(ol);
    }
    for (int r = 0; r < nr; r++) {
        if (bx) free(bx[r]);
        if (by) free(by[r]);
    }
    free(bx);
    free(by);
    free(s);
    free(labels);
    free(N);
    free(edge);
    return rc;
}

int cmd_samples(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 0, "balanced", 0, NULL, NULL};
    cli_model_opts mo = {NULL, NULL, NULL};
    cli_curv_opts co = {"hessian", NULL, 10, 0, "f64"};
    const char *out = NULL, *svg = NULL, *sizes_text = NULL;
    int threads = 0, quiet = 0, top = 0, probes = 10, steps = 80;
    int64_t min_n = 100, max_n = 3200;
    double factor = 2.0, tol = 1e-8;
    uint64_t solver_seed = 0;
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(mo),
        {"data", 0, OPT_STRING, &d.data, "D",
         "fashion-mnist (default), an IDX or CIFAR directory, or a .safetensors file", CLI_NO_RANGE,
         0},
        {"split", 0, OPT_STRING, &d.split, "S", "train (default) or test", CLI_NO_RANGE, 0},
        {"seed", 0, OPT_U64, &d.seed, "S", "random seed (default 0)", CLI_NO_RANGE, 0},
        {"sizes", 0, OPT_STRING, &sizes_text, "N1,N2,..",
         "sample counts (default: --min times --factor^j up to --max)", CLI_NO_RANGE, 0},
        {"min", 0, OPT_INT64, &min_n, "N", "smallest sample count (default 100)", 2, 1e12, 0},
        {"max", 0, OPT_INT64, &max_n, "N", "largest sample count (default 3200)", 2, 1e12, 0},
        {"factor", 0, OPT_DOUBLE, &factor, "F", "geometric factor (default 2)", 1.01, 1e6, 0},
        {"top", 0, OPT_INT, &top, "K", "outliers tracked (default C + 5)", 1, 1e6, 0},
        {"tol", 0, OPT_DOUBLE, &tol, "T", "Lanczos tolerance (default 1e-8)", 1e-15, 1, 0},
        {"probes", 0, OPT_INT, &probes, "P", "SLQ probes (default 10)", 1, 1e6, 0},
        {"steps", 0, OPT_INT, &steps, "S", "SLQ Lanczos steps (default 80)", 2, 1e6, 0},
        {"solver-seed", 0, OPT_U64, &solver_seed, "S", "seed of the probes (default 0)",
         CLI_NO_RANGE, 0},
        {"svg", 0, OPT_STRING, &svg, "FILE", "plots: FILE (densities), FILE-outliers", CLI_NO_RANGE,
         0},
        {"chunk", 0, OPT_INT, &co.chunk, "B", "samples per pass (default: from memory)", 1, 1 << 20,
         0},
        CLI_PRECISION_OPTION(co),
        CLI_COMMON_OPTIONS(out, threads, quiet),
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
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("samples", rc);
    cli_apply_common(threads, quiet);
    cli_signals_install();

    int64_t sizes[64];
    int nsizes = 0;
    cJSON *res = NULL;
    int64_t products = 0;
    double t0 = hesse_now();
    if (sizes_text) {
        static const char *const range[] = {"min", "max", "factor", NULL};
        HESSE_CHECK(
            cli_refuse_given(opts, nopts, range, "conflicts with --sizes (give one or the other)"));
        HESSE_CHECK(parse_sizes(sizes_text, sizes, 64, &nsizes));
    } else {
        if (min_n > max_n) {
            rc = hesse_error(HESSE_EINVAL, "options --min %lld > --max %lld", (long long)min_n,
                             (long long)max_n);
            goto cleanup;
        }
        double v = (double)min_n;
        for (; v <= (double)max_n * (1 + 1e-9) && nsizes < 64; v *= factor)
            sizes[nsizes++] = (int64_t)llround(v);
        if (v <= (double)max_n * (1 + 1e-9)) {
            rc = hesse_error(HESSE_EINVAL,
                             "options --min %lld --max %lld --factor %g: more than 64 sizes; "
                             "raise --factor",
                             (long long)min_n, (long long)max_n, factor);
            goto cleanup;
        }
    }
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(cli_check_svg(svg, (const char *const[]){"", "-outliers", NULL}));
    d.select = "balanced";
    HESSE_CHECK(check_sizes(&d, sizes, nsizes, sizes_text != NULL));
    res = hesse_result_new("samples", argc, argv);
    cJSON *solver = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddNumberToObject(solver, "tol", tol);
    cJSON_AddNumberToObject(solver, "seed", (double)hesse_lanczos_defaults().seed);
    cJSON_AddNumberToObject(solver, "probes", probes);
    cJSON_AddNumberToObject(solver, "steps", steps);
    cJSON_AddNumberToObject(solver, "probe_seed", (double)solver_seed);
    cJSON *sz = cJSON_AddArrayToObject(res, "sizes");
    cJSON *runs = cJSON_AddArrayToObject(res, "runs");
    for (int r = 0; r < nsizes; r++) {
        cli_curv c = {0};
        hesse_eigs e = {0};
        hesse_op defl = {0};
        hesse_density dn = {0};
        const double run_start = hesse_now();
        d.samples = sizes[r];
        rc = cli_curv_open(&mo, &d, &co, &c);
        int C = rc == HESSE_OK ? hesse_model_num_outputs(c.model) : 0;
        int k = top > 0 ? top : C + 5;
        if (rc == HESSE_OK && k < C + 1) k = C + 1;
        if (rc == HESSE_OK && k >= c.op.n) k = (int)c.op.n - 1;
        if (rc == HESSE_OK && r == 0) {
            cli_curv_describe(res, &c, mo.model);
            cJSON_AddNumberToObject(res, "classes", C);
        }
        if (rc == HESSE_OK) {
            cli_note("samples: N = %lld: top %d eigenvalues, then the bulk density",
                     (long long)hesse_samples_total(&c.data.samples), k);
            hesse_lanczos_params p = hesse_lanczos_defaults();
            p.top = k;
            p.tol = tol;
            p.stop = &cli_stop;
            cli_stoppable(1);
            rc = hesse_lanczos_eigs(&c.op, &p, &e);
            cli_stoppable(0);
            if (rc == HESSE_OK && e.nconverged < k)
                hesse_log(HESSE_LOG_WARN,
                          "samples: N = %lld: only %d of the top %d eigenpairs reached the "
                          "tolerance; the deflated bulk may keep part of the outliers",
                          (long long)hesse_samples_total(&c.data.samples), e.nconverged, k);
        }
        if (rc == HESSE_OK) rc = hesse_op_deflate(&c.op, C, e.vectors, &defl);
        if (rc == HESSE_OK) {
            hesse_slq_params p = hesse_slq_defaults();
            p.probes = probes;
            p.steps = steps;
            p.block = co.block;
            p.seed = solver_seed;
            p.stop = &cli_stop;
            cli_stoppable(1);
            rc = hesse_slq_density(&defl, &p, &dn);
            cli_stoppable(0);
        }
        if (rc == HESSE_OK) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "samples", (double)hesse_samples_total(&c.data.samples));
            hesse_json_add_doubles(o, "outliers", e.values, e.ntop);
            hesse_json_add_doubles(o, "residuals", e.residuals, e.ntop);
            cJSON_AddNumberToObject(o, "bulk_edge", e.values[C]);
            double loss;
            if (hesse_loss_grad(c.engine, &c.data.samples, &loss, NULL, NULL) == HESSE_OK)
                cJSON_AddNumberToObject(o, "loss", loss);
            hesse_json_add_doubles(o, "grid", dn.grid, dn.points);
            hesse_json_add_doubles(o, "density", dn.density, dn.points);
            hesse_json_add_doubles(o, "log10_density", dn.log10_density, dn.points);
            cJSON_AddNumberToObject(o, "products", (double)(e.products + dn.products));
            cJSON_AddNumberToObject(o, "seconds", hesse_now() - run_start);
            cJSON_AddItemToArray(runs, o);
            cJSON_AddItemToArray(sz,
                                 cJSON_CreateNumber((double)hesse_samples_total(&c.data.samples)));
            products += e.products + dn.products;
            cli_note("  lambda_1 %.6g, lambda_C %.6g, bulk edge %.6g", e.values[0], e.values[C - 1],
                     e.values[C]);
        }
        hesse_density_free(&dn);
        hesse_op_free(&defl);
        hesse_eigs_free(&e);
        cli_curv_close(&c);
        if (rc != HESSE_OK) goto cleanup;
    }
    cJSON_AddNumberToObject(res, "products", (double)products);
    cJSON_AddNumberToObject(res, "seconds", hesse_now() - t0);
    if (svg && cli_root) { /* rank 0 writes */
        cJSON_AddStringToObject(res, "svg", svg);
        HESSE_CHECK(write_svgs(svg, runs, cJSON_AddArrayToObject(res, "svg_files")));
    }
    HESSE_CHECK(cli_emit(res, out));
cleanup:
    cJSON_Delete(res);
    return rc == HESSE_OK ? 0 : cli_fail("samples", rc);
}
