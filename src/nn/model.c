/* The model: layers resolved from an architecture string, named tensor views, one contiguous
 * parameter buffer in PyTorch's state_dict order, and the buffers (batch norm's running
 * statistics) beside it. */
#include "nn/layer-impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tensor view named "<module>.<what>" with the given shape. */
void nn_set_tensor(hesse_tensor_info *t, const hesse_layer *L, int layer, const char *what,
                   int ndim, const int64_t *shape, int64_t offset) {
    snprintf(t->name, sizeof t->name, "%s.%s", L->name, what);
    t->layer = layer;
    t->ndim = ndim;
    t->count = 1;
    for (int d = 0; d < ndim; d++) t->count *= t->shape[d] = shape[d];
    t->offset = offset;
}

/* Lays out "<module>.weight" then "<module>.bias" for every layer with parameters (or the
 * tensors its row's tensors hook names: multiheadattention's four), in layer order, and the buffers
 * of the layers that have them (batch norm's "<module>.running_mean",
 * ".running_var", ".num_batches_tracked"), with the shapes their rows give. */
static int build_tensors(hesse_model *m) {
    int count = 0, nbuf = 0;
    for (int i = 0; i < m->num_layers; i++) {
        hesse_layer *L = &m->layers[i];
        const nn_layer_type *type = nn_layer_type_of(L->kind);
        count += type->tensors ? type->tensors(NULL, L, i, 0)
                               : (L->weight_count > 0) + (L->bias_count > 0);
        nbuf += type->nbuffers;
    }
    m->tensors = calloc(count ? (size_t)count : 1, sizeof *m->tensors);
    m->buffer_info = calloc(nbuf ? (size_t)nbuf : 1, sizeof *m->buffer_info);
    if (!m->tensors || !m->buffer_info) return hesse_error(HESSE_ENOMEM, "model: out of memory");
    int64_t offset = 0, boff = 0;
    int t = 0, bt = 0;
    for (int i = 0; i < m->num_layers; i++) {
        hesse_layer *L = &m->layers[i];
        const nn_layer_type *type = nn_layer_type_of(L->kind);
        int64_t shape[4] = {L->out_c, L->in_c, L->kh, L->kw};
        int ndim = 1, bdim = 1;
        if (type->tensor_shape) type->tensor_shape(L, shape, &ndim, &bdim);
        if (type->tensors) {
            t += type->tensors(&m->tensors[t], L, i, offset);
            offset += L->weight_count + L->bias_count;
        } else if (L->weight_count > 0) {
            nn_set_tensor(&m->tensors[t++], L, i, "weight", ndim, shape, offset);
            L->weight_offset = offset;
            offset += L->weight_count;
        }
        if (!type->tensors && L->bias_count > 0) {
            nn_set_tensor(&m->tensors[t++], L, i, "bias", bdim, shape, offset);
            L->bias_offset = offset;
            offset += L->bias_count;
        }
        if (type->nbuffers) {
            L->buffer_offset = boff;
            boff += type->buffers(&m->buffer_info[bt], L, i, boff);
            bt += type->nbuffers;
        }
    }
    m->num_tensors = count;
    m->n = offset;
    m->num_buffers = nbuf;
    m->nbuf = boff;
    return HESSE_OK;
}

/* PyTorch's initial buffers (batch norm: running_mean 0, running_var 1, num_batches_tracked
 * 0). */
static void reset_buffers(hesse_model *m) {
    for (int i = 0; i < m->num_layers; i++) {
        const hesse_layer *L = &m->layers[i];
        const nn_layer_type *t = nn_layer_type_of(L->kind);
        if (t->reset) t->reset(L, m->buffers + L->buffer_offset);
    }
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
    m->buffers = hesse_calloc(m->nbuf ? (size_t)m->nbuf : 1, sizeof(double));
    if (!m->params || !m->buffers) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    reset_buffers(m);
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
    free(m->buffer_info);
    hesse_free(m->params);
    hesse_free(m->buffers);
    free(m);
}

int hesse_model_clone(const hesse_model *m, hesse_model **out) {
    int rc = hesse_model_create(m->arch, m->c, m->h, m->w, m->loss, out);
    if (rc == HESSE_OK) {
        memcpy((*out)->params, m->params, (size_t)m->n * sizeof(double));
        memcpy((*out)->buffers, m->buffers, (size_t)m->nbuf * sizeof(double));
    }
    return rc;
}

/* kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in)
 * = 1 / sqrt(fan_in); PyTorch draws the bias from the same interval. */
void nn_init_kaiming(const hesse_layer *L, double *params, hesse_rng *rng) {
    double fan_in = (double)L->weight_count / L->out_c;
    double bound = 1.0 / sqrt(fan_in);
    double *p = params + L->weight_offset;
    for (int64_t j = 0; j < L->weight_count; j++)
        p[j] = bound * (2.0 * hesse_rng_uniform(rng) - 1.0);
    p = params + L->bias_offset;
    for (int64_t j = 0; j < L->bias_count; j++) p[j] = bound * (2.0 * hesse_rng_uniform(rng) - 1.0);
}

void hesse_model_init(hesse_model *m, uint64_t seed) {
    hesse_rng rng;
    hesse_rng_seed(&rng, seed);
    reset_buffers(m);
    for (int i = 0; i < m->num_layers; i++) {
        const hesse_layer *L = &m->layers[i];
        const nn_layer_type *t = nn_layer_type_of(L->kind);
        if (t->init) t->init(L, m->params, &rng);
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

int hesse_model_num_buffers(const hesse_model *m) {
    return m->num_buffers;
}

const hesse_tensor_info *hesse_model_buffer(const hesse_model *m, int i) {
    return i >= 0 && i < m->num_buffers ? &m->buffer_info[i] : NULL;
}

const hesse_tensor_info *hesse_model_find_buffer(const hesse_model *m, const char *name) {
    for (int i = 0; i < m->num_buffers; i++)
        if (strcmp(m->buffer_info[i].name, name) == 0) return &m->buffer_info[i];
    return NULL;
}

int64_t hesse_model_buffer_count(const hesse_model *m) {
    return m->nbuf;
}

double *hesse_model_buffers(hesse_model *m) {
    return m->buffers;
}

const double *hesse_model_buffers_const(const hesse_model *m) {
    return m->buffers;
}

int hesse_model_has_eval_only(const hesse_model *m, const char **what) {
    for (int i = 0; i < m->num_layers; i++) {
        hesse_layer_kind k = m->layers[i].kind;
        if (nn_layer_type_of(k)->flags & NN_EVAL_ONLY) {
            if (what) *what = hesse_layer_kind_name(k);
            return 1;
        }
    }
    return 0;
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
    const hesse_layer *L = &m->layers[m->num_layers - 1];
    return L->out_c * L->out_h * L->out_w; /* below NN_MAX_VALUES (arch.c) */
}

int hesse_model_positions(const hesse_model *m) {
    const hesse_layer *L = &m->layers[m->num_layers - 1];
    return L->out_h == 1 && L->out_w == 1 ? 1 : L->out_c * L->out_h;
}

int hesse_model_classes(const hesse_model *m) {
    const hesse_layer *L = &m->layers[m->num_layers - 1];
    return L->out_h == 1 && L->out_w == 1 ? L->out_c : L->out_w;
}

void hesse_model_hash(const hesse_model *m, char hex[65]) {
    hesse_sha256 s;
    hesse_sha256_init(&s);
    hesse_sha256_update(&s, m->arch, strlen(m->arch) + 1);
    hesse_sha256_update(&s, m->params, (size_t)m->n * sizeof(double));
    if (m->nbuf) hesse_sha256_update(&s, m->buffers, (size_t)m->nbuf * sizeof(double));
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
