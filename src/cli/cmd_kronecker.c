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

/* One model: every linear / conv layer's factors and exact block spectrum into `layers`
 * (a JSON array); keeps the exact top eigenvectors for the cross-model overlaps. */
static int analyse_model(const cli_model_opts *mo, const cli_data_opts *d, cli_curv_opts co, int k,
                         double tol, cJSON *layers, cJSON *res, layer_vectors **keep, int *nkeep,
                         int64_t *products, int first) {
    cli_curv c = {0};
    hesse_layer_factors *f = NULL;
    int nf = 0, rc;
    *keep = NULL;
    *nkeep = 0;
    co.layer = NULL;
    HESSE_CHECK(cli_curv_open(mo, d, &co, &c));
    if (first) {
        cli_curv_describe(res, &c, mo->model);
        HESSE_CHECK(cli_curv_loss(&c, res));
        cJSON_AddNumberToObject(res, "classes", hesse_model_num_outputs(c.model));
    }
    cli_note("kronecker: %s: factors of every layer on %s", mo->model, c.data.description);
    /* Batch and layer norm have parameters but no Kronecker structure (no input covariance
     * times output curvature): their blocks are left out, and said so. */
    cJSON *skipped = first ? cJSON_AddArrayToObject(res, "skipped") : NULL;
    for (int l = 0; l < hesse_model_num_layers(c.model); l++) {
        const hesse_layer *L = hesse_model_layer(c.model, l);
        if (L->weight_count + L->bias_count == 0 || L->kind == HESSE_LAYER_LINEAR ||
            L->kind == HESSE_LAYER_CONV2D)
            continue;
        if (first) {
            cli_note("kronecker: skipping %s (%s): only linear and conv layers have Kronecker "
                     "factors",
                     L->name, hesse_layer_kind_name(L->kind));
            cJSON_AddItemToArray(skipped, cJSON_CreateString(L->name));
        }
    }
    HESSE_CHECK(hesse_layer_factors_compute(c.engine, &c.data.samples, &f, &nf));
    *keep = calloc((size_t)nf, sizeof **keep);
    if (!*keep) {
        rc = hesse_error(HESSE_ENOMEM, "out of memory");
        goto cleanup;
    }
    *nkeep = nf;
    const int C = hesse_model_num_outputs(c.model);
    for (int i = 0; i < nf; i++) {
        const hesse_layer *L = hesse_model_layer(c.model, f[i].layer);
        hesse_kron_layer kl = {0};
        hesse_op blk = {0};
        hesse_eigs r = {0};
        double *kv = NULL, *kvec = NULL;
        int64_t off = L->weight_offset, len = L->weight_count;
        int kk = k < len ? k : (int)len - 1;
        HESSE_CHECK(hesse_kron_layer_from_factors(&f[i], &kl));
        kv = malloc((size_t)kk * sizeof *kv);
        kvec = hesse_alloc((size_t)(len * kk) * sizeof *kvec);
        rc = kv && kvec ? hesse_kron_top(&kl, kk, kv, kvec)
                        : hesse_error(HESSE_ENOMEM,
                                      "kronecker: layer %s: cannot allocate %d eigenvectors of "
                                      "%lld weights",
                                      L->name, kk, (long long)len);
        if (rc == HESSE_OK) rc = hesse_op_restrict(&c.full, 1, &off, &len, &blk);
        if (rc == HESSE_OK) {
            hesse_lanczos_params p = hesse_lanczos_defaults();
            p.top = kk;
            p.tol = tol;
            p.stop = &cli_stop;
            cli_note("kronecker: layer %s (%s, %lld weights): top %d of the exact block", L->name,
                     hesse_layer_kind_name(L->kind), (long long)len, kk);
            cli_stoppable(1);
            rc = hesse_lanczos_eigs(&blk, &p, &r);
            cli_stoppable(0);
        }
        if (rc == HESSE_OK) {
            *products += r.products;
            cJSON *o = cJSON_CreateObject();
            char name[HESSE_NAME_MAX];
            snprintf(name, sizeof name, "%s.weight", L->name);
            cJSON_AddStringToObject(o, "name", name);
            cJSON_AddStringToObject(o, "model", mo->model);
            cJSON_AddStringToObject(o, "kind", hesse_layer_kind_name(L->kind));
            double shape[2] = {(double)kl.out, (double)kl.in};
            hesse_json_add_doubles(o, "shape", shape, 2);
            cJSON_AddNumberToObject(o, "positions", (double)f[i].positions);
            hesse_json_add_doubles(o, "M_eigenvalues", kl.M_values, kl.out);
            cJSON_AddBoolToObject(o, "M_exact", kl.M_exact);
            hesse_json_add_doubles(o, "xx_eigenvalues", kl.xx_values, kl.in);
            hesse_json_add_doubles(o, "kron_top", kv, kk);
            hesse_json_add_doubles(o, "exact_top", r.values, kk);
            hesse_json_add_doubles(o, "exact_residuals", r.residuals, kk);
            double ov = hesse_subspace_overlap(len, kk, kvec, kk, r.vectors);
            cJSON_AddNumberToObject(o, "overlap", ov);
            double *ro = malloc((size_t)kk * sizeof *ro);
            for (int j = 0; ro && j < kk; j++)
                ro[j] = hesse_rank_one_ratio(r.vectors + (int64_t)j * len, kl.out, kl.in);
            if (ro) hesse_json_add_doubles(o, "rank_one", ro, kk);
            double gap, mgap;
            int outl = hesse_outlier_count(r.values, kk, &gap);
            int moutl = hesse_outlier_count(kl.M_values, (int)kl.out, &mgap);
            cJSON_AddNumberToObject(o, "outliers", outl);
            cJSON_AddNumberToObject(o, "outlier_gap_ratio", gap);
            cJSON_AddNumberToObject(o, "M_outliers", moutl);
            cJSON_AddNumberToObject(o, "classes_minus_one", C - 1);
            cJSON_AddNumberToObject(o, "products", (double)r.products);
            cJSON_AddItemToArray(layers, o);
            cli_note("  overlap(top %d) %.3f, rank-one %.3f (top vector), outliers %d (C-1 = %d), "
                     "M outliers %d",
                     kk, ov, ro ? ro[0] : NAN, outl, C - 1, moutl);
            free(ro);
            (*keep)[i].layer = f[i].layer;
            snprintf((*keep)[i].name, sizeof(*keep)[i].name, "%s", name);
            (*keep)[i].dim = len;
            (*keep)[i].vectors = r.vectors;
            r.vectors = NULL;
        }
        hesse_eigs_free(&r);
        hesse_op_free(&blk);
        hesse_kron_layer_free(&kl);
        free(kv);
        hesse_free(kvec);
        if (rc != HESSE_OK) goto cleanup;
    }
cleanup:
    hesse_layer_factors_free(f, nf);
    cli_curv_close(&c);
    return rc;
}

int cmd_kronecker(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 1000, "first", 0, NULL, NULL};
    cli_model_opts mo = {NULL, NULL, NULL};
    cli_curv_opts co = {"hessian", NULL, 8, 0, "f64"};
    cli_list models = {0, NULL};
    const char *out = NULL;
    int threads = 0, quiet = 0, k = 20;
    double tol = 1e-8;
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(mo),
        {"models", 0, OPT_LIST, &models, "M...",
         "further models (same architecture) for the cross-model overlaps", CLI_NO_RANGE, 0},
        CLI_DATA_OPTIONS(d),
        {"top", 0, OPT_INT, &k, "K", "eigenvalues per layer (default 20)", 1, 1e6, 0},
        {"tol", 0, OPT_DOUBLE, &tol, "T", "Lanczos tolerance (default 1e-8)", 1e-15, 1, 0},
        {"chunk", 0, OPT_INT, &co.chunk, "B", "samples per pass (default: from memory)", 1, 1 << 20,
         0},
        CLI_PRECISION_OPTION(co),
        CLI_COMMON_OPTIONS(out, threads, quiet),
    };
    cli_command_doc doc = {
        "kronecker", "layer Hessians against the Kronecker decoupling E[M] (x) E[xx^T]",
        "--model M [--models M2 M3 ...] [--data D] [--samples N] [--top K] [-o out.json]",
        "For every linear and conv layer: E[M] (the loss Hessian in the layer's output; exact "
        "when the rest of the network is piecewise linear, otherwise its Gauss-Newton part) and "
        "E[xx^T] (the layer's input; for conv the im2col patches), the top K eigenvalues of "
        "their Kronecker product against the exact layer block's (Lanczos), the overlap of the "
        "two top-K eigenspaces, the rank-one ratio s1^2/sum s^2 of each exact eigenvector "
        "reshaped to the weight, and the outlier count against C - 1. With --models, the "
        "overlaps of every layer's top-K eigenspaces across the models (Wu et al. 2020)."};
    int rc = cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("kronecker", rc);
    cli_apply_common(threads, quiet);
    cli_signals_install();

    cJSON *res = NULL;
    int nm = 1 + models.count;
    layer_vectors **keep = calloc((size_t)nm, sizeof *keep);
    int *nkeep = calloc((size_t)nm, sizeof *nkeep);
    int64_t products = 0;
    double t0 = hesse_now();
    if (!keep || !nkeep) {
        rc = hesse_error(HESSE_ENOMEM, "out of memory");
        goto cleanup;
    }
    HESSE_CHECK(cli_check_output(out, "option --output"));
    res = hesse_result_new("kronecker", argc, argv);
    cJSON *solver = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddNumberToObject(solver, "tol", tol);
    cJSON_AddNumberToObject(solver, "seed", (double)hesse_lanczos_defaults().seed);
    cJSON_AddNumberToObject(res, "k", k);
    cJSON *layers = cJSON_AddArrayToObject(res, "layers");
    cJSON *mlist = cJSON_AddArrayToObject(res, "models");
    for (int j = 0; j < nm; j++) {
        cli_model_opts mj = mo;
        if (j > 0) mj.model = models.items[j - 1];
        cJSON_AddItemToArray(mlist, cJSON_CreateString(mj.model ? mj.model : ""));
        HESSE_CHECK(analyse_model(&mj, &d, co, k, tol, layers, res, &keep[j], &nkeep[j], &products,
                                  j == 0));
    }
    if (nm > 1) {
        cJSON *cross = cJSON_AddArrayToObject(res, "cross_model_overlap");
        for (int i = 0; i < nkeep[0]; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", keep[0][i].name);
            cJSON *pairs = cJSON_AddArrayToObject(o, "pairs");
            for (int a = 0; a < nm; a++)
                for (int b = a + 1; b < nm; b++) {
                    if (i >= nkeep[a] || i >= nkeep[b] || keep[a][i].dim != keep[b][i].dim) {
                        rc = hesse_error(HESSE_EINPUT, "the models differ in %s's shape",
                                         keep[0][i].name);
                        cJSON_Delete(o);
                        goto cleanup;
                    }
                    int kk = k < keep[a][i].dim ? k : (int)keep[a][i].dim - 1;
                    double ov = hesse_subspace_overlap(keep[a][i].dim, kk, keep[a][i].vectors, kk,
                                                       keep[b][i].vectors);
                    cJSON *pr = cJSON_CreateObject();
                    cJSON_AddNumberToObject(pr, "a", a);
                    cJSON_AddNumberToObject(pr, "b", b);
                    cJSON_AddNumberToObject(pr, "overlap", ov);
                    cJSON_AddItemToArray(pairs, pr);
                    cli_note("kronecker: %s, models %d and %d: top-%d overlap %.3f",
                             keep[0][i].name, a, b, kk, ov);
                }
            cJSON_AddItemToArray(cross, o);
        }
    }
    cJSON_AddNumberToObject(res, "products", (double)products);
    cJSON_AddNumberToObject(res, "seconds", hesse_now() - t0);
    HESSE_CHECK(cli_emit(res, out));
cleanup:
    for (int j = 0; keep && j < nm; j++) {
        for (int i = 0; i < nkeep[j]; i++) hesse_free(keep[j][i].vectors);
        free(keep[j]);
    }
    free(keep);
    free(nkeep);
    cli_list_free(&models);
    cJSON_Delete(res);
    return rc == HESSE_OK ? 0 : cli_fail("kronecker", rc);
}
