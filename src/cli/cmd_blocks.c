/* hesse blocks: block heterogeneity (Zhang et al., NeurIPS 2024): per parameter block the SLQ
 * density, top eigenvalues and trace of its diagonal Hessian block, the Jensen-Shannon distances
 * between the blocks' densities rescaled by their 10th largest eigenvalue, and their mean JS0. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    const char *out, *group, *svg;
    int threads, quiet, probes, steps, rank, points, trace_samples, dense_below;
    double sigma, width, tol;
    uint64_t seed;
    hesse_block_group g;
} blocks_args;

static const cli_command_doc doc = {
    "blocks", "block heterogeneity: per-block Hessian spectra and their JS distances (JS0)",
    "--model M [--data D] [--samples N] [--group tensor|layer|qkv] [--probes P] [--steps S] "
    "[--svg FILE] [-o out.json]",
    "Zhang, Chen, Ding, Li, Sun, Luo (NeurIPS 2024), as docs/analyses.md defines it. The "
    "parameters are split into blocks (--group tensor: every weight and bias tensor; layer: a "
    "layer's tensors together; qkv: as tensor, with a fused attention projection "
    "*in_proj_weight [3D, D] and *in_proj_bias [3D] split into their Q, K and V row slices). "
    "For each block b: the SLQ density of its diagonal block H_bb, its top --rank eigenvalues "
    "(dense up to --dense-below parameters, thick-restart Lanczos above) with residuals, and "
    "its trace (exact up to --trace-samples parameters, Hutch++ above). Each block's SLQ "
    "quadrature is rescaled by its rank-th largest eigenvalue lambda_k (k = 10 by default), "
    "smoothed by one Gaussian on one common grid, and the Jensen-Shannon distance (natural "
    "log, square root of the divergence, at most sqrt(ln 2) = 0.8326) is taken between every "
    "pair; js0 is the mean over the pairs. A block with fewer than k parameters, or whose "
    "lambda_k is not positive, is reported but left out of the pairs (blocks[].excluded). "
    "--svg FILE writes the JS matrix as a heat map (FILE.svg) and the rescaled densities "
    "(FILE-densities.svg). JSON keys: group, rank, js0, pairs, js (matrix, null where a block "
    "is excluded), grid, blocks[] (name, tensors, parameters, top, lambda_k, trace, included, "
    "slq_grid, slq_density, density), products, seconds."};

static int options(blocks_args *a, cli_opt *opts) {
    const cli_opt t[] = {
        CLI_MODEL_OPTIONS(a->mo),
        CLI_DATA_OPTIONS(a->d),
        CLI_CURV_OPTIONS(a->co),
        {"group", 0, OPT_STRING, &a->group, "G", "tensor (default), layer or qkv", CLI_NO_RANGE, 0},
        {"probes", 0, OPT_INT, &a->probes, "P", "SLQ probes per block (default 10)", 1, 1e6, 0},
        {"steps", 0, OPT_INT, &a->steps, "S", "SLQ Lanczos steps per probe (default 80)", 2, 1e6,
         0},
        {"rank", 0, OPT_INT, &a->rank, "K",
         "rescale each block by its K-th largest eigenvalue (default 10)", 1, 1000, 0},
        {"points", 0, OPT_INT, &a->points, "G", "points of the common grid (default 4000)", 16, 1e7,
         0},
        {"sigma", 0, OPT_DOUBLE, &a->sigma, "F",
         "Gaussian width, a fraction of the common grid (default 0.002)", 1e-7, 0.5, 0},
        {"width", 0, OPT_DOUBLE, &a->width, "W",
         "instead of --sigma: the same Gaussian width W in units of lambda_k for every block "
         "(grid spacing W/5)",
         1e-6, 1e3, 0},
        {"trace-samples", 0, OPT_INT, &a->trace_samples, "P",
         "Hutch++ products per block; the exact trace up to P parameters (default 99)", 4, 1e7, 0},
        {"dense-below", 0, OPT_INT, &a->dense_below, "N",
         "top eigenvalues from the dense block up to N parameters (default 64)", 0, 20000, 0},
        {"tol", 0, OPT_DOUBLE, &a->tol, "T", "Lanczos tolerance (default 1e-8)", 1e-15, 1, 0},
        {"solver-seed", 0, OPT_U64, &a->seed, "S", "seed of every block's probes (default 0)",
         CLI_NO_RANGE, 0},
        {"svg", 0, OPT_STRING, &a->svg, "FILE",
         "heat map to FILE.svg and the rescaled densities to FILE-densities.svg", CLI_NO_RANGE, 0},
        {"block", 0, OPT_INT, &a->co.block, "K", "vectors per pass over the data (default 16)", 1,
         4096, 0},
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    CLI_OPTS_RETURN(opts, t);
}

/* --group, and --layer refused (the command makes its own blocks). */
static int validate(blocks_args *a, const cli_opt *opts, int nopts) {
    static const char *const grid_opts[] = {"sigma", "points", NULL};
    if (a->width > 0) {
        int rc = cli_refuse_given(opts, nopts, grid_opts,
                                  "applies without --width (--width gives the width in units "
                                  "of lambda_k and the grid from it)");
        if (rc != HESSE_OK) return rc;
    }
    if (a->co.layer)
        return hesse_error(HESSE_EINVAL, "option --layer: hesse blocks splits the parameters into "
                                         "blocks itself; use --group tensor, layer or qkv");
    return hesse_block_group_parse(a->group, &a->g);
}

static void progress(void *ctx, int index, int count, const hesse_param_block *b) {
    (void)ctx;
    cli_note("blocks: %d/%d %s (%lld parameters)", index + 1, count, b->name, (long long)b->count);
}

static hesse_blocks_params params(const blocks_args *a) {
    hesse_blocks_params p = hesse_blocks_defaults();
    if (a->probes) p.probes = a->probes;
    if (a->steps) p.steps = a->steps;
    if (a->rank) p.rank = a->rank;
    if (a->points) p.points = a->points;
    if (a->sigma > 0) p.sigma = a->sigma;
    p.width = a->width;
    if (a->trace_samples) p.trace_samples = a->trace_samples;
    if (a->dense_below >= 0) p.dense_below = a->dense_below;
    if (a->tol > 0) p.tol = a->tol;
    p.seed = a->seed;
    p.monitor = progress;
    return p;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void describe_block(cJSON *arr, const hesse_model *m, const hesse_block_result *r,
                           int points) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(arr, o);
    cJSON_AddStringToObject(o, "name", r->def.name);
    cJSON *t = cJSON_AddArrayToObject(o, "tensors");
    for (int i = 0; i < r->def.ntensors; i++)
        cJSON_AddItemToArray(
            t, cJSON_CreateString(hesse_model_tensor(m, r->def.first_tensor + i)->name));
    static const char *const slices[] = {"q", "k", "v"};
    cJSON_AddStringToObject(o, "slice", r->def.slice < 0 ? "" : slices[r->def.slice]);
    cJSON_AddNumberToObject(o, "parameters", (double)r->def.count);
    cJSON_AddNumberToObject(o, "top", r->top.values[0]);
    cJSON_AddNumberToObject(o, "top_residual", r->top.residuals[0]);
    hesse_json_add_doubles(o, "eigenvalues", r->top.values, r->top.ntop);
    hesse_json_add_doubles(o, "residuals", r->top.residuals, r->top.ntop);
    cJSON_AddNumberToObject(o, "lambda_k", r->lambda_ref);
    cJSON_AddNumberToObject(o, "trace", r->trace.trace);
    cJSON_AddNumberToObject(o, "trace_stderr", r->trace.std_error);
    cJSON_AddStringToObject(o, "trace_method", r->trace_exact ? "exact" : "hutchpp");
    cJSON_AddBoolToObject(o, "included", r->included);
    if (r->excluded) cJSON_AddStringToObject(o, "excluded", r->excluded);
    cJSON_AddNumberToObject(o, "slq_lo", r->density.lo);
    cJSON_AddNumberToObject(o, "slq_hi", r->density.hi);
    hesse_json_add_doubles(o, "slq_grid", r->density.grid, r->density.points);
    hesse_json_add_doubles(o, "slq_density", r->density.density, r->density.points);
    if (r->rescaled) hesse_json_add_doubles(o, "density", r->rescaled, points);
    cJSON *q = cJSON_AddArrayToObject(o, "quadrature"); /* to redo the smoothing offline */
    for (int k = 0; k < r->density.probes; k++) {
        cJSON *one = cJSON_CreateObject();
        const int64_t at = (int64_t)k * r->density.steps;
        hesse_json_add_doubles(one, "nodes", r->density.nodes + at, r->density.nsteps[k]);
        hesse_json_add_doubles(one, "weights", r->density.weights + at, r->density.nsteps[k]);
        cJSON_AddItemToArray(q, one);
    }
    cJSON_AddNumberToObject(o, "products", (double)r->products);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
}

static void describe(const blocks_args *a, const hesse_blocks_params *p, const cli_curv *c,
                     const hesse_blocks *b, cJSON *res) {
    cJSON_AddStringToObject(res, "group", a->group);
    cJSON *s = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddNumberToObject(s, "probes", p->probes);
    cJSON_AddNumberToObject(s, "steps", p->steps);
    cJSON_AddNumberToObject(s, "seed", (double)p->seed);
    cJSON_AddNumberToObject(s, "tol", p->tol);
    cJSON_AddNumberToObject(s, "dense_below", p->dense_below);
    cJSON_AddNumberToObject(s, "trace_samples", p->trace_samples);
    cJSON_AddNumberToObject(res, "rank", b->rank);
    cJSON_AddNumberToObject(res, "points", b->points);
    cJSON_AddNumberToObject(res, "sigma", b->grid ? b->sigma : NAN);
    if (p->width > 0) cJSON_AddNumberToObject(res, "width", p->width);
    cJSON_AddNumberToObject(res, "lo", b->grid ? b->lo : NAN);
    cJSON_AddNumberToObject(res, "hi", b->grid ? b->hi : NAN);
    cJSON_AddStringToObject(res, "js_log", "natural");
    cJSON_AddNumberToObject(res, "js_max", sqrt(log(2.0)));
    cJSON_AddNumberToObject(res, "js0", b->js0);
    cJSON_AddNumberToObject(res, "pairs", b->pairs);
    cJSON *js = cJSON_AddArrayToObject(res, "js");
    for (int i = 0; i < b->count; i++) {
        cJSON *row = cJSON_CreateArray();
        cJSON_AddItemToArray(js, row);
        for (int j = 0; j < b->count; j++) /* NAN (an excluded block) is written as null */
            cJSON_AddItemToArray(row, cJSON_CreateNumber(b->js[(int64_t)i * b->count + j]));
    }
    hesse_json_add_doubles(res, "grid", b->grid, b->grid ? b->points : 0);
    cJSON *arr = cJSON_AddArrayToObject(res, "blocks");
    for (int i = 0; i < b->count; i++) describe_block(arr, c->model, &b->blocks[i], b->points);
    cJSON_AddNumberToObject(res, "products", (double)b->products);
    cJSON_AddNumberToObject(res, "seconds", b->seconds);
}

/* ---- Plots ----------------------------------------------------------------------------------- */

static int write_plots(const char *svg, const hesse_blocks *b, cJSON *files) {
    char path[CLI_SVG_PATH], title[96];
    const char **labels = malloc((size_t)b->count * sizeof *labels);
    hesse_series *s = calloc((size_t)b->count, sizeof *s);
    int rc = labels && s ? HESSE_OK : hesse_error(HESSE_ENOMEM, "out of memory");
    int ns = 0;
    for (int i = 0; rc == HESSE_OK && i < b->count; i++) {
        labels[i] = b->blocks[i].def.name;
        if (b->blocks[i].rescaled)
            s[ns++] = (hesse_series){
                labels[i], b->grid, b->blocks[i].rescaled, b->points, HESSE_PLOT_LINE, NULL, 0};
    }
    snprintf(title, sizeof title, "Jensen-Shannon distances between blocks (JS0 = %.4g)", b->js0);
    hesse_heatmap h = {title, b->count, b->js, labels, 0, sqrt(log(2.0)), "JS distance (nats^1/2)"};
    if (rc == HESSE_OK) rc = cli_svg_name(svg, "", path, sizeof path);
    if (rc == HESSE_OK) rc = hesse_heatmap_write(&h, path);
    if (rc == HESSE_OK) cJSON_AddItemToArray(files, cJSON_CreateString(path));
    hesse_plot p = hesse_plot_defaults();
    p.title = "Block spectral densities rescaled by lambda_k";
    p.xlabel = "eigenvalue / lambda_k";
    p.ylabel = "density";
    p.ylog = 1;
    if (rc == HESSE_OK && ns > 0) {
        rc = cli_svg_name(svg, "-densities", path, sizeof path);
        if (rc == HESSE_OK) rc = hesse_svg_write(&p, s, ns, path);
        if (rc == HESSE_OK) cJSON_AddItemToArray(files, cJSON_CreateString(path));
    }
    free(labels);
    free(s);
    return rc;
}

int cmd_blocks(int argc, char **argv) {
    blocks_args a = {.d = {"fashion-mnist", "train", 1000, "first", 0, NULL, NULL, 0, 0},
                     .co = {"hessian", NULL, 0, 0, "f64"},
                     .group = "tensor",
                     .dense_below = -1};
    cli_opt opts[CLI_MAX_OPTS];
    int nopts = options(&a, opts);
    int rc = cli_start(&doc, argc, argv, opts, nopts, &a.threads, &a.quiet);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("blocks", rc);
    if (a.co.block == 0) a.co.block = 16;

    cli_curv c = {0};
    cJSON *res = NULL;
    hesse_blocks b = {0};
    hesse_param_block *defs = NULL;
    int count = 0;
    HESSE_CHECK(validate(&a, opts, nopts));
    HESSE_CHECK(cli_check_output(a.out, "option --output"));
    HESSE_CHECK(cli_check_svg(a.svg, (const char *const[]){"", "-densities", NULL}));
    HESSE_CHECK(cli_curv_open(&a.mo, &a.d, &a.co, &c));
    HESSE_CHECK(hesse_param_blocks(c.model, a.g, &defs, &count));
    if (count < 2) {
        rc = hesse_error(HESSE_EINVAL,
                         "option --group %s: the model has %d parameter block; JS0 compares "
                         "at least 2",
                         a.group, count);
        goto cleanup;
    }
    res = hesse_result_new("blocks", argc, argv);
    cli_curv_describe(res, &c, a.mo.model);
    HESSE_CHECK(cli_curv_loss(&c, res));
    hesse_blocks_params p = params(&a);
    cli_note("blocks: %d blocks (--group %s) of the %s, %s", count, a.group,
             hesse_curv_name(c.kind), c.data.description);
    HESSE_CHECK(hesse_blocks_compute(&c.full, defs, count, &p, &b));
    describe(&a, &p, &c, &b, res);
    if (a.svg && cli_root) {
        cJSON_AddStringToObject(res, "svg", a.svg);
        HESSE_CHECK(write_plots(a.svg, &b, cJSON_AddArrayToObject(res, "svg_files")));
    }
    HESSE_CHECK(cli_emit(res, a.out));
    cli_note("blocks: JS0 = %.6g over %d pairs (%lld products, %.2fs)", b.js0, b.pairs,
             (long long)b.products, b.seconds);
cleanup:
    hesse_blocks_free(&b);
    hesse_free(defs);
    cJSON_Delete(res);
    cli_curv_close(&c);
    return rc == HESSE_OK ? 0 : cli_fail("blocks", rc);
}
