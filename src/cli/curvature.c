/* Set-up shared by the commands that take products: data, model, engine, the curvature
 * operator (optionally restricted to a layer block), and the JSON that describes them. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

int cli_curv_open(const cli_model_opts *mo, const cli_data_opts *d, const cli_curv_opts *co,
                  cli_curv *c) {
    memset(c, 0, sizeof *c);
    int rc;
    char *pre = NULL;
    HESSE_CHECK(hesse_curv_parse(co->operator_name, &c->kind));
    HESSE_CHECK(cli_data_open(d, &c->data));
    HESSE_CHECK(cli_load_model(mo, c->data.dataset, &c->model, &pre));
    HESSE_CHECK(cli_data_select(d, pre, &c->data));
    hesse_engine_params ep = cli_engine_defaults();
    ep.max_block = co->block > 0 ? co->block : 1;
    if (ep.max_block > hesse_model_num_params(c->model)) /* more vectors than dimensions */
        ep.max_block = (int)hesse_model_num_params(c->model);
    ep.chunk = co->chunk;
    if (co->precision && strcmp(co->precision, "f32") == 0) {
        ep.precision = HESSE_PRECISION_F32;
    } else if (co->precision && strcmp(co->precision, "f64") != 0) {
        rc = hesse_error(HESSE_EINVAL, "option --precision: expected f64 or f32, got '%s'",
                         co->precision);
        goto cleanup;
    }
    HESSE_CHECK(hesse_engine_create(c->model, &ep, &c->engine));
    HESSE_CHECK(cli_distribute(&c->data, c->model, c->engine)); /* this rank's shard */
    HESSE_CHECK(hesse_op_curvature(c->engine, &c->data.samples, c->kind, &c->full));
    c->op = c->full;
    c->ntensors = hesse_model_num_tensors(c->model);
    c->tensors = malloc((size_t)c->ntensors * sizeof *c->tensors);
    if (!c->tensors) {
        rc = hesse_error(HESSE_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (co->layer) {
        HESSE_CHECK(hesse_op_layer_block(c->model, &c->full, co->layer, c->tensors, &c->ntensors,
                                         &c->block_op));
        c->op = c->block_op;
        c->layer = co->layer;
    } else {
        for (int i = 0; i < c->ntensors; i++) c->tensors[i] = i;
    }
cleanup:
    free(pre);
    if (rc != HESSE_OK) cli_curv_close(c);
    return rc;
}

void cli_curv_close(cli_curv *c) {
    hesse_op_free(&c->block_op);
    hesse_op_free(&c->full);
    hesse_engine_free(c->engine);
    hesse_model_free(c->model);
    cli_data_free(&c->data);
    free(c->tensors);
    memset(c, 0, sizeof *c);
}

void cli_curv_describe(cJSON *doc, const cli_curv *c, const char *model_path) {
    cli_describe_model(doc, c->model, model_path);
    cli_describe_data(doc, &c->data);
    cJSON_AddStringToObject(doc, "operator", hesse_curv_name(c->kind));
    cJSON_AddStringToObject(
        doc, "precision", hesse_engine_precision(c->engine) == HESSE_PRECISION_F32 ? "f32" : "f64");
    cJSON_AddNumberToObject(doc, "engine_threads", hesse_engine_threads(c->engine));
    cJSON_AddNumberToObject(doc, "engine_chunk", hesse_engine_chunk(c->engine));
    cJSON_AddNumberToObject(doc, "dimension", (double)c->op.n);
    cJSON *t = cJSON_AddArrayToObject(doc, "tensors");
    for (int i = 0; i < c->ntensors; i++)
        cJSON_AddItemToArray(t,
                             cJSON_CreateString(hesse_model_tensor(c->model, c->tensors[i])->name));
    if (c->layer) cJSON_AddStringToObject(doc, "layer", c->layer);
    cli_describe_ranks(doc);
}

int cli_curv_loss(cli_curv *c, cJSON *doc) {
    double loss;
    int64_t correct;
    int rc = hesse_loss_grad(c->engine, &c->data.samples, &loss, NULL, &correct);
    if (rc != HESSE_OK) return rc;
    cJSON_AddNumberToObject(doc, "loss", loss);
    cJSON_AddNumberToObject(doc, "accuracy",
                            (double)correct / (double)hesse_samples_positions(&c->data.samples));
    return HESSE_OK;
}

int cli_write_vectors(const cli_curv *c, const char *path, int k, const double *V,
                      const double *values, const char *which) {
    if (!cli_root) return HESSE_OK; /* rank 0 writes */
    /* Each selected tensor becomes [k, its shape...]: row j is eigenvector j's piece, so
     * {name: t[j]} is a state_dict-shaped vector. */
    hesse_st_writer *w = NULL;
    double **bufs = calloc((size_t)c->ntensors, sizeof *bufs);
    int rc = bufs ? hesse_st_writer_create(&w) : hesse_error(HESSE_ENOMEM, "out of memory");
    int64_t at = 0;
    for (int i = 0; i < c->ntensors && rc == HESSE_OK; i++) {
        const hesse_tensor_info *t = hesse_model_tensor(c->model, c->tensors[i]);
        bufs[i] = hesse_alloc((size_t)k * (size_t)t->count * sizeof(double));
        if (!bufs[i]) {
            rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %d vectors of tensor %s", path, k,
                             t->name);
            break;
        }
        for (int j = 0; j < k; j++)
            memcpy(bufs[i] + (int64_t)j * t->count, V + (int64_t)j * c->op.n + at,
                   (size_t)t->count * sizeof(double));
        at += t->count;
        int64_t shape[HESSE_ST_MAX_DIMS];
        shape[0] = k;
        for (int d = 0; d < t->ndim; d++) shape[d + 1] = t->shape[d];
        rc = hesse_st_add(w, t->name, HESSE_DTYPE_F64, t->ndim + 1, shape, bufs[i]);
    }
    int64_t kshape[1] = {k};
    if (rc == HESSE_OK) rc = hesse_st_add(w, "eigenvalues", HESSE_DTYPE_F64, 1, kshape, values);
    if (rc == HESSE_OK) rc = hesse_st_add_meta(w, "hesse.arch", hesse_model_arch(c->model));
    if (rc == HESSE_OK) rc = hesse_st_add_meta(w, "hesse.operator", hesse_curv_name(c->kind));
    if (rc == HESSE_OK) rc = hesse_st_add_meta(w, "hesse.eigenvectors", which);
    if (rc == HESSE_OK) rc = hesse_st_write(w, path);
    for (int i = 0; bufs && i < c->ntensors; i++) hesse_free(bufs[i]);
    free(bufs);
    hesse_st_writer_free(w);
    return rc;
}
