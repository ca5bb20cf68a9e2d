/* The model: layers resolved from an architecture string, named tensor views, and one
 * contiguous parameter buffer in PyTorch's state_dict order. */
#include "nn/nn-impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lays out "{i}.weight" then "{i}.bias" for every layer with parameters, in layer order. */
static int build_tensors(hesse_model *m) {
    int count = 0;
    for (int i = 0; i < m->num_layers; i++) {
        hesse_layer_kind k = m->layers[i].kind;
        if (k == HESSE_LAYER_LINEAR || k == HESSE_LAYER_CONV2D) count += 1 + m->layers[i].has_bias;
    }
    m->tensors = calloc(count ? (size_t)count : 1, sizeof *m->tensors);
    if (!m->tensors) return hesse_error(HESSE_ENOMEM, "model: out of memory");
    int64_t offset = 0;
    int t = 0;
    for (int i = 0; i < m->num_layers; i++) {
        hesse_layer *L = &m->layers[i];
        if (L->kind != HESSE_LAYER_LINEAR && L->kind != HESSE_LAYER_CONV2D) continue;
        hesse_tensor_info *w = &m->tensors[t++];
        snprintf(w->name, sizeof w->name, "%d.weight", L->index);
        w->layer = i;
        if (L->kind == HESSE_LAYER_LINEAR) {
            w->ndim = 2;
            w->shape[0] = L->out_c;
            w->shape[1] = L->in_c;
        } else {
            w->ndim = 4;
            w->shape[0] = L->out_c;
            w->shape[1] = L->in_c;
            w->shape[2] = L->kh;
            w->shape[3] = L->kw;
        }
        w->count = 1;
        for (int d = 0; d < w->ndim; d++) w->count *= w->shape[d];
        w->offset = offset;
        L->weight_offset = offset;
        L->weight_count = w->count;
        offset += w->count;
        if (L->has_bias) {
            hesse_tensor_info *b = &m->tensors[t++];
            snprintf(b->name, sizeof b->name, "%d.bias", L->index);
            b->layer = i;
            b->ndim = 1;
            b->shape[0] = L->out_c;
            b->count = L->out_c;
            b->offset = offset;
            L->bias_offset = offset;
            L->bias_count = b->count;
            offset += b->count;
        }
    }
    m->num_tensors = count;
    m->n = offset;
    return HESSE_OK;
}

int hesse_model_create(const char *arch, int c, int h, int w, hesse_loss_kind loss,
                       hesse_model **out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_model_create: out is NULL");
    *out = NULL;
    if (loss != HESSE_LOSS_CROSS_ENTROPY && loss != HESSE_LOSS_MSE)
        return hesse_error(HESSE_EINVAL, "model: unknown loss %d", (int)loss);
    hesse_model *m = calloc(1, sizeof *m);
    if (!m) return hesse_error(HESSE_ENOMEM, "model: out of memory");
    int rc;
    m->c = c;
    m->h = h;
    m->w = w;
    m->loss = loss;
    HESSE_CHECK(nn_parse_arch(arch, c, h, w, &m->layers, &m->num_layers, &m->arch));
    HESSE_CHECK(build_tensors(m));
    if (m->n == 0) {
        rc = hesse_error(HESSE_EINPUT, "architecture \"%s\" has no parameters", arch);
        goto cleanup;
    }
    m->params = hesse_calloc((size_t)m->n, sizeof(double));
    if (!m->params) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    *out = m;
    return HESSE_OK;
cleanup:
    hesse_model_free(m);
    return rc;
}

void hesse_model_free(hesse_model *m) {
    if (!m) return;
    free(m->arch);
    free(m->layers);
    free(m->tensors);
    hesse_free(m->params);
    free(m);
}

int hesse_model_clone(const hesse_model *m, hesse_model **out) {
    int rc = hesse_model_create(m->arch, m->c, m->h, m->w, m->loss, out);
    if (rc == HESSE_OK) memcpy((*out)->params, m->params, (size_t)m->n * sizeof(double));
    return rc;
}

void hesse_model_init(hesse_model *m, uint64_t seed) {
    hesse_rng rng;
    hesse_rng_seed(&rng, seed);
    for (int i = 0; i < m->num_layers; i++) {
        const hesse_layer *L = &m->layers[i];
        if (L->kind != HESSE_LAYER_LINEAR && L->kind != HESSE_LAYER_CONV2D) continue;
        /* kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in)
         * = 1 / sqrt(fan_in); PyTorch draws the bias from the same interval. */
        double fan_in = (double)L->weight_count / L->out_c;
        double bound = 1.0 / sqrt(fan_in);
        double *p = m->params + L->weight_offset;
        for (int64_t j = 0; j < L->weight_count; j++)
            p[j] = bound * (2.0 * hesse_rng_uniform(&rng) - 1.0);
        p = m->params + L->bias_offset;
        for (int64_t j = 0; j < L->bias_count; j++)
            p[j] = bound * (2.0 * hesse_rng_uniform(&rng) - 1.0);
    }
}

int64_t hesse_model_num_params(const hesse_model *m) {
    return m->n;
}

double *hesse_model_params(hesse_model *m) {
    return m->params;
}

const double *hesse_model_params_const(const hesse_model *m) {
    return m->params;
}

int hesse_model_num_layers(const hesse_model *m) {
    return m->num_layers;
}

const hesse_layer *hesse_model_layer(const hesse_model *m, int i) {
    return i >= 0 && i < m->num_layers ? &m->layers[i] : NULL;
}

int hesse_model_num_tensors(const hesse_model *m) {
    return m->num_tensors;
}

const hesse_tensor_info *hesse_model_tensor(const hesse_model *m, int i) {
    return i >= 0 && i < m->num_tensors ? &m->tensors[i] : NULL;
}

const hesse_tensor_info *hesse_model_find_tensor(const hesse_model *m, const char *name) {
    for (int i = 0; i < m->num_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

const char *hesse_model_arch(const hesse_model *m) {
    return m->arch;
}

hesse_loss_kind hesse_model_loss(const hesse_model *m) {
    return m->loss;
}

void hesse_model_input_shape(const hesse_model *m, int *c, int *h, int *w) {
    if (c) *c = m->c;
    if (h) *h = m->h;
    if (w) *w = m->w;
}

int hesse_model_num_outputs(const hesse_model *m) {
    return m->layers[m->num_layers - 1].out_c;
}

void hesse_model_hash(const hesse_model *m, char hex[65]) {
    hesse_sha256 s;
    hesse_sha256_init(&s);
    hesse_sha256_update(&s, m->arch, strlen(m->arch) + 1);
    hesse_sha256_update(&s, m->params, (size_t)m->n * sizeof(double));
    hesse_sha256_hex(&s, hex);
}

const char *hesse_loss_name(hesse_loss_kind loss) {
    return loss == HESSE_LOSS_MSE ? "mse" : "cross_entropy";
}

int hesse_loss_parse(const char *name, hesse_loss_kind *loss) {
    if (strcmp(name, "cross_entropy") == 0 || strcmp(name, "ce") == 0 ||
        strcmp(name, "cross-entropy") == 0) {
        *loss = HESSE_LOSS_CROSS_ENTROPY;
        return HESSE_OK;
    }
    if (strcmp(name, "mse") == 0) {
        *loss = HESSE_LOSS_MSE;
        return HESSE_OK;
    }
    return hesse_error(HESSE_EINPUT, "unknown loss '%s' (expected cross_entropy or mse)", name);
}
