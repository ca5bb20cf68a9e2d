/* hesse kronecker: the decoupling conjecture of Wu et al. ("Dissecting Hessian") per layer:
 * E[M] (x) E[x x^T] against the exact layer Hessian, eigenspace overlaps, rank-one eigenvectors,
 * outliers against C - 1, and the overlap of layer eigenspaces across models. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int layer;
    char name[HESSE_NAME_MAX]; /* its weight tensor */
    int64_t dim;               /* weight count */
    double *vectors;           /* dim x k, the exact top eigenvectors */
} layer_vectors;

/* The option values of hesse kronecker. */
typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    cli_list models;
    const char *out, *M;
    hesse_factor_m which; /* --M */
    int threads, quiet, k;
    double tol;
} kron_args;

/* What a run holds: per model, the layers' exact top eigenvectors; the document. */
typedef struct {
    int nm;               /* models: --model and --models */
    layer_vectors **keep; /* [nm][nkeep[j]] */
    int *nkeep;
    int64_t products;
    cJSON *res, *layers, *mlist;
} kron_run;

/* One layer's work: its Kronecker factors' top eigenpairs and the exact block's. */
typedef struct {
    hesse_kron_layer kl;
    hesse_op blk;
    hesse_eigs r;
    double *kv, *kvec; /* the Kronecker product's top kk eigenvalues and eigenvectors */
    int64_t len;       /* the layer's weight count */
    int kk;            /* eigenpairs: --top, below len */
} layer_work;

static int parse_kronecker(kron_args *a, int argc, char **argv) {
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(a->mo),
        {"models", 0, OPT_LIST, &a->models, "M...",
         "further models (same architecture) for the cross-model overlaps", CLI_NO_RANGE, 0},
        CLI_DATA_OPTIONS(a->d),
        {"top", 0, OPT_INT, &a->k, "K", "eigenvalues per layer (default 20)", 1, 1e6, 0},
        {"M", 0, OPT_STRING, &a->M, "exact|ggn",
         "E[M]: the exact loss Hessian in the layer's output (default), or its Gauss-Newton "
         "part J^T A J (an approximation where a curved layer follows)",
         CLI_NO_RANGE, 0},
        {"tol", 0, OPT_DOUBLE, &a->tol, "T", "Lanczos tolerance (default 1e-8)", 1e-15, 1, 0},
        CLI_CHUNK_OPTION(a->co.chunk),
        CLI_PRECISION_OPTION(a->co),
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    cli_command_doc doc = {
        "kronecker", "layer Hessians against the Kronecker decoupling E[M] (x) E[xx^T]",
        "--model M [--models M2 M3 ...] [--data D] [--samples N] [--top K] [--M exact|ggn] "
        "[-o out.json]",
        "For every linear and conv layer: E[M], M_i = d2 l_i / dz2 the loss Hessian in the "
        "layer's output z through every later nonlinearity (for conv: the sum over output "
        "positions of its Cout x Cout diagonal blocks), and E[xx^T] (the layer's input; for "
        "conv the im2col patches); the top K eigenvalues of their Kronecker product against "
        "the exact layer block's (Lanczos), the overlap of the two top-K eigenspaces, the "
        "rank-one ratio s1^2/sum s^2 of each exact eigenvector reshaped to the weight, and the "
        "outlier count against C - 1. E[M] is exact by default: J^T A J (C backward passes) "
        "where every later layer is piecewise linear, else one R-pass per output value of the "
        "layer (out, or Cout x positions for conv), which costs far more on wide conv layers; "
        "--M ggn keeps the Gauss-Newton part J^T A J everywhere (JSON: M and M_exact per "
        "layer). Also per layer E[x]'s dominance in E[xx^T]: |E[x]|, |E[x]|^2 / ||E[xx^T]||_F, "
        "|E[x]|^2 / lambda_max and |<u_1, E[x]/|E[x]|>| (x_mean_*). With --models, the "
        "overlaps of every layer's top-K eigenspaces across the models (Wu et al. 2020)."};
    return cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
}

/* Batch and layer norm have parameters but no Kronecker structure (no input covariance times
 * output curvature): their blocks are left out, and said so (first model only, into `skipped`
 * of res). */
static void note_skipped(const hesse_model *m, cJSON *res) {
    cJSON *skipped = res ? cJSON_AddArrayToObject(res, "skipped") : NULL;
    for (int l = 0; l < hesse_model_num_layers(m); l++) {
        const hesse_layer *L = hesse_model_layer(m, l);
        if (L->weight_count + L->bias_count == 0 || L->kind == HESSE_LAYER_LINEAR ||
            L->kind == HESSE_LAYER_CONV2D)
            continue;
        if (res) {
            cli_note("kronecker: skipping %s (%s): only linear and conv layers have Kronecker "
                     "factors",
                     L->name, hesse_layer_kind_name(L->kind));
            cJSON_AddItemToArray(skipped, cJSON_CreateString(L->name));
        }
    }
}

/* The top kk eigenpairs of the layer's Kronecker approximation, then of its exact block
 * (Lanczos). */
static int layer_spectra(const kron_args *a, cli_curv *c, const hesse_layer_factors *f,
                         const hesse_layer *L, layer_work *w) {
    int64_t off = L->weight_offset;
    w->len = L->weight_count;
    w->kk = a->k < w->len ? a->k : (int)w->len - 1;
    const int kk = w->kk;
    int rc = hesse_kron_layer_from_factors(f, &w->kl);
    if (rc != HESSE_OK) return rc;
    w->kv = malloc((size_t)kk * sizeof *w->kv);
    w->kvec = hesse_alloc((size_t)(w->len * kk) * sizeof *w->kvec);
    rc = w->kv && w->kvec ? hesse_kron_top(&w->kl, kk, w->kv, w->kvec)
                          : hesse_error(HESSE_ENOMEM,
                                        "kronecker: layer %s: cannot allocate %d eigenvectors of "
                                        "%lld weights",
                                        L->name, kk, (long long)w->len);
    if (rc == HESSE_OK) rc = hesse_op_restrict(&c->full, 1, &off, &w->len, &w->blk);
    if (rc != HESSE_OK) return rc;
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = kk;
    p.tol = a->tol;
    cli_note("kronecker: layer %s (%s, %lld weights): top %d of the exact block", L->name,
             hesse_layer_kind_name(L->kind), (long long)w->len, kk);
    rc = cli_lanczos_stoppable(&w->blk, &p, &w->r);
    return rc;
}

/* E[x]'s dominance in E[xx^T]; the ratios only where E[x] is not zero. */
static void add_mean(cJSON *o, const hesse_mean_dominance *d) {
    cJSON_AddNumberToObject(o, "x_mean_norm", isfinite(d->norm) ? d->norm : 0.0);
    if (!isfinite(d->ratio_fro)) return;
    cJSON_AddNumberToObject(o, "x_mean_ratio_fro", d->ratio_fro);
    cJSON_AddNumberToObject(o, "x_mean_ratio_2", d->ratio_2);
    cJSON_AddNumberToObject(o, "x_mean_overlap", d->overlap);
    cli_note("  E[x]: |E[x]|^2 / ||E[xx^T]||_F %.3f, / lambda_max %.3f, overlap with u_1 %.3f",
             d->ratio_fro, d->ratio_2, d->overlap);
}

/* A layer's entry of `layers`: factor spectra, both top-kk spectra, their overlap, the
 * rank-one ratios and the outliers; its exact eigenvectors move to keep. */
static void emit_layer(const char *model, const hesse_layer *L, const hesse_layer_factors *f, int C,
                       layer_work *w, cJSON *layers, layer_vectors *keep) {
    const hesse_kron_layer *kl = &w->kl;
    const int kk = w->kk;
    cJSON *o = cJSON_CreateObject();
    char name[HESSE_NAME_MAX];
    snprintf(name, sizeof name, "%s.weight", L->name);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "kind", hesse_layer_kind_name(L->kind));
    double shape[2] = {(double)kl->out, (double)kl->in};
    hesse_json_add_doubles(o, "shape", shape, 2);
    cJSON_AddNumberToObject(o, "positions", (double)f->positions);
    hesse_json_add_doubles(o, "M_eigenvalues", kl->M_values, kl->out);
    cJSON_AddBoolToObject(o, "M_exact", kl->M_exact);
    cJSON_AddStringToObject(o, "M", hesse_factor_m_name(kl->M_kind));
    hesse_json_add_doubles(o, "xx_eigenvalues", kl->xx_values, kl->in);
    hesse_json_add_doubles(o, "kron_top", w->kv, kk);
    hesse_json_add_doubles(o, "exact_top", w->r.values, kk);
    hesse_json_add_doubles(o, "exact_residuals", w->r.residuals, kk);
    double ov = hesse_subspace_overlap(w->len, kk, w->kvec, kk, w->r.vectors);
    cJSON_AddNumberToObject(o, "overlap", ov);
    double *ro = malloc((size_t)kk * sizeof *ro);
    for (int j = 0; ro && j < kk; j++)
        ro[j] = hesse_rank_one_ratio(w->r.vectors + (int64_t)j * w->len, kl->out, kl->in);
    if (ro) hesse_json_add_doubles(o, "rank_one", ro, kk);
    double gap, mgap;
    int outl = hesse_outlier_count(w->r.values, kk, &gap);
    int moutl = hesse_outlier_count(kl->M_values, (int)kl->out, &mgap);
    cJSON_AddNumberToObject(o, "outliers", outl);
    cJSON_AddNumberToObject(o, "outlier_gap_ratio", gap);
    cJSON_AddNumberToObject(o, "M_outliers", moutl);
    cJSON_AddNumberToObject(o, "classes_minus_one", C - 1);
    cJSON_AddNumberToObject(o, "products", (double)w->r.products);
    add_mean(o, &kl->mean);
    cJSON_AddItemToArray(layers, o);
    cli_note("  overlap(top %d) %.3f, rank-one %.3f (top vector), outliers %d (C-1 = %d), "
             "M outliers %d",
             kk, ov, ro ? ro[0] : NAN, outl, C - 1, moutl);
    free(ro);
    keep->layer = f->layer;
    snprintf(keep->name, sizeof keep->name, "%s", name);
    keep->dim = w->len;
    keep->vectors = w->r.vectors;
    w->r.vectors = NULL;
}

static void layer_work_free(layer_work *w) {
    hesse_eigs_free(&w->r);
    hesse_op_free(&w->blk);
    hesse_kron_layer_free(&w->kl);
    free(w->kv);
    hesse_free(w->kvec);
}

/* Model j (0: --model, then --models): every linear / conv layer's factors and exact block
 * spectrum into r->layers; keeps the exact top eigenvectors for the cross-model overlaps. The
 * first model also describes the operator, the data and the loss. */
static int analyse_model(const kron_args *a, kron_run *r, int j) {
    cli_model_opts mo = a->mo;
    if (j > 0) mo.model = a->models.items[j - 1];
    cJSON_AddItemToArray(r->mlist, cJSON_CreateString(mo.model ? mo.model : ""));
    cli_curv_opts co = a->co;
    cli_curv c = {0};
    hesse_layer_factors *f = NULL;
    int nf = 0, rc;
    co.layer = NULL;
    HESSE_CHECK(cli_curv_open(&mo, &a->d, &co, &c));
    if (j == 0) {
        cli_curv_describe(r->res, &c, mo.model);
        HESSE_CHECK(cli_curv_loss(&c, r->res));
        cJSON_AddNumberToObject(r->res, "classes", hesse_model_classes(c.model));
    }
    cli_note("kronecker: %s: factors of every layer on %s", mo.model, c.data.description);
    note_skipped(c.model, j == 0 ? r->res : NULL);
    int64_t rp = hesse_layer_factors_rpasses(c.engine, a->which);
    if (rp > 0)
        cli_note("kronecker: exact E[M] behind curved layers: %lld R-passes per sample (--M ggn: "
                 "the Gauss-Newton part, %d backward passes)",
                 (long long)rp, hesse_model_num_outputs(c.model));
    HESSE_CHECK(hesse_layer_factors_compute(c.engine, &c.data.samples, a->which, &f, &nf));
    r->keep[j] = calloc((size_t)nf, sizeof *r->keep[j]);
    if (!r->keep[j]) {
        rc = hesse_error(HESSE_ENOMEM, "out of memory");
        goto cleanup;
    }
    r->nkeep[j] = nf;
    for (int i = 0; i < nf && rc == HESSE_OK; i++) {
        const hesse_layer *L = hesse_model_layer(c.model, f[i].layer);
        layer_work w = {0};
        rc = layer_spectra(a, &c, &f[i], L, &w);
        if (rc == HESSE_OK) {
            r->products += w.r.products;
            emit_layer(mo.model, L, &f[i], hesse_model_classes(c.model), &w, r->layers,
                       &r->keep[j][i]);
        }
        layer_work_free(&w);
    }
cleanup:
    hesse_layer_factors_free(f, nf);
    cli_curv_close(&c);
    return rc;
}

/* With --models: the overlap of every layer's top-K eigenspaces for each pair of models. */
static int cross_overlaps(const kron_args *a, kron_run *r) {
    cJSON *cross = cJSON_AddArrayToObject(r->res, "cross_model_overlap");
    layer_vectors **keep = r->keep;
    for (int i = 0; i < r->nkeep[0]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", keep[0][i].name);
        cJSON *pairs = cJSON_AddArrayToObject(o, "pairs");
        for (int x = 0; x < r->nm; x++)
            for (int y = x + 1; y < r->nm; y++) {
                if (i >= r->nkeep[x] || i >= r->nkeep[y] || keep[x][i].dim != keep[y][i].dim) {
                    cJSON_Delete(o);
                    return hesse_error(HESSE_EINPUT, "the models differ in %s's shape",
                                       keep[0][i].name);
                }
                int kk = a->k < keep[x][i].dim ? a->k : (int)keep[x][i].dim - 1;
                double ov = hesse_subspace_overlap(keep[x][i].dim, kk, keep[x][i].vectors, kk,
                                                   keep[y][i].vectors);
                cJSON *pr = cJSON_CreateObject();
                cJSON_AddNumberToObject(pr, "a", x);
                cJSON_AddNumberToObject(pr, "b", y);
                cJSON_AddNumberToObject(pr, "overlap", ov);
                cJSON_AddItemToArray(pairs, pr);
                cli_note("kronecker: %s, models %d and %d: top-%d overlap %.3f", keep[0][i].name, x,
                         y, kk, ov);
            }
        cJSON_AddItemToArray(cross, o);
    }
    return HESSE_OK;
}

int cmd_kronecker(int argc, char **argv) {
    kron_args a = {.d = {"fashion-mnist", "train", 1000, "first", 0, NULL, NULL, 0, 0},
                   .co = {"hessian", NULL, 8, 0, "f64"},
                   .k = 20,
                   .tol = 1e-8};
    int rc = parse_kronecker(&a, argc, argv);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("kronecker", rc);
    cli_apply_common(a.threads, a.quiet);
    cli_signals_install();
    if (a.M && (rc = hesse_factor_m_parse(a.M, &a.which)) != HESSE_OK)
        return cli_fail("kronecker", rc);

    kron_run r = {.nm = 1 + a.models.count};
    r.keep = calloc((size_t)r.nm, sizeof *r.keep);
    r.nkeep = calloc((size_t)r.nm, sizeof *r.nkeep);
    double t0 = hesse_now();
    if (!r.keep || !r.nkeep) {
        rc = hesse_error(HESSE_ENOMEM, "out of memory");
        goto cleanup;
    }
    HESSE_CHECK(cli_check_output(a.out, "option --output"));
    r.res = hesse_result_new("kronecker", argc, argv);
    cJSON *solver = cJSON_AddObjectToObject(r.res, "solver");
    cJSON_AddNumberToObject(solver, "tol", a.tol);
    cJSON_AddNumberToObject(solver, "seed", (double)hesse_lanczos_defaults().seed);
    cJSON_AddNumberToObject(r.res, "k", a.k);
    cJSON_AddStringToObject(r.res, "M", hesse_factor_m_name(a.which));
    r.layers = cJSON_AddArrayToObject(r.res, "layers");
    r.mlist = cJSON_AddArrayToObject(r.res, "models");
    for (int j = 0; j < r.nm; j++) HESSE_CHECK(analyse_model(&a, &r, j));
    if (r.nm > 1) HESSE_CHECK(cross_overlaps(&a, &r));
    cJSON_AddNumberToObject(r.res, "products", (double)r.products);
    cJSON_AddNumberToObject(r.res, "seconds", hesse_now() - t0);
    HESSE_CHECK(cli_emit(r.res, a.out));
cleanup:
    for (int j = 0; r.keep && j < r.nm; j++) {
        for (int i = 0; i < r.nkeep[j]; i++) hesse_free(r.keep[j][i].vectors);
        free(r.keep[j]);
    }
    free(r.keep);
    free(r.nkeep);
    cli_list_free(&a.models);
    cJSON_Delete(r.res);
    return rc == HESSE_OK ? 0 : cli_fail("kronecker", rc);
}
