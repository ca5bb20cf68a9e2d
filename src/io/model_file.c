/* Model files: a network's parameters as safetensors with PyTorch's tensor names and
 * shapes, and the architecture, input shape, loss and training record in __metadata__.
 * PyTorch state_dicts saved with safetensors load the same way once the architecture is
 * given. */
#include "io-impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_FORMAT "1"

hesse_load_options hesse_load_defaults(void) {
    hesse_load_options o = {NULL, 0, 0, 0, -1};
    return o;
}

/* A metadata value that must be JSON: checked so that a file never carries text that the
 * loader's users would fail to parse. */
static int add_json_meta(hesse_st_writer *w, const char *key, const char *json, const char *path) {
    if (!json) return HESSE_OK;
    cJSON *doc = cJSON_Parse(json);
    if (!doc) return hesse_error(HESSE_EINVAL, "%s: %s is not valid JSON", path, key);
    cJSON_Delete(doc);
    return hesse_st_add_meta(w, key, json);
}

int hesse_model_save(const hesse_model *m, const hesse_model_meta *meta, const char *path) {
    if (!m || !path) return hesse_error(HESSE_EINVAL, "hesse_model_save: NULL argument");
    hesse_st_writer *w = NULL;
    int64_t *counts = NULL; /* num_batches_tracked as I64 */
    int rc;
    HESSE_CHECK(hesse_st_writer_create(&w));
    int c, h, wd;
    hesse_model_input_shape(m, &c, &h, &wd);
    char buf[64];
    HESSE_CHECK(hesse_st_add_meta(w, "hesse.format", MODEL_FORMAT));
    HESSE_CHECK(hesse_st_add_meta(w, "hesse.arch", hesse_model_arch(m)));
    snprintf(buf, sizeof buf, "%d,%d,%d", c, h, wd);
    HESSE_CHECK(hesse_st_add_meta(w, "hesse.input_shape", buf));
    HESSE_CHECK(hesse_st_add_meta(w, "hesse.loss", hesse_loss_name(hesse_model_loss(m))));
    if (meta) {
        HESSE_CHECK(add_json_meta(w, "hesse.preprocess", meta->preprocess_json, path));
        HESSE_CHECK(add_json_meta(w, "hesse.history", meta->history_json, path));
        HESSE_CHECK(add_json_meta(w, "hesse.data", meta->data_json, path));
        snprintf(buf, sizeof buf, "%" PRIu64, meta->seed);
        HESSE_CHECK(hesse_st_add_meta(w, "hesse.seed", buf));
    }
    HESSE_CHECK(hesse_st_add_meta(w, "hesse.version", hesse_version()));
    /* in state_dict order: each module's parameters, then its buffers */
    const double *params = hesse_model_params_const(m), *bufs = hesse_model_buffers_const(m);
    int nb = hesse_model_num_buffers(m), bi = 0;
    if (nb > 0 && !(counts = malloc((size_t)nb * sizeof *counts))) {
        rc = hesse_error(HESSE_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    for (int i = 0; i <= hesse_model_num_tensors(m); i++) {
        const hesse_tensor_info *t = hesse_model_tensor(m, i); /* NULL after the last */
        /* the buffers of the modules before this tensor's (all that are left, after the last) */
        for (; bi < nb; bi++) {
            const hesse_tensor_info *b = hesse_model_buffer(m, bi);
            if (t && b->layer >= t->layer) break;
            if (b->integer) {
                counts[bi] = (int64_t)bufs[b->offset];
                HESSE_CHECK(
                    hesse_st_add(w, b->name, HESSE_DTYPE_I64, b->ndim, b->shape, &counts[bi]));
            } else {
                HESSE_CHECK(
                    hesse_st_add(w, b->name, HESSE_DTYPE_F64, b->ndim, b->shape, bufs + b->offset));
            }
        }
        if (t)
            HESSE_CHECK(
                hesse_st_add(w, t->name, HESSE_DTYPE_F64, t->ndim, t->shape, params + t->offset));
    }
    HESSE_CHECK(hesse_st_write(w, path));
cleanup:
    free(counts);
    hesse_st_writer_free(w);
    return rc;
}

static void format_shape(char *out, size_t cap, const int64_t *shape, int ndim) {
    size_t n = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (n < cap) snprintf(out + n, cap - n, "]");
}

/* The module a tensor belongs to, for messages: its item's text ("linear(400,120)"), and its
 * path when that is not just its position ("batchnorm2d(128) (module layer2.0.shortcut.1)"). */
static void module_text(const hesse_model *m, int layer, char *out, size_t cap) {
    const hesse_layer *L = hesse_model_layer(m, layer);
    char desc[200], pos[16];
    hesse_layer_describe(L, desc, sizeof desc);
    snprintf(pos, sizeof pos, "%d", L->index);
    if (strcmp(pos, L->name) == 0)
        snprintf(out, cap, "%s", desc);
    else
        snprintf(out, cap, "%s (module %s)", desc, L->name);
}

/* At most the first 160 characters of a string, for messages. */
static void shorten(const char *s, char *out, size_t cap) {
    if (strlen(s) < cap)
        snprintf(out, cap, "%s", s);
    else
        snprintf(out, cap, "%.*s...", (int)cap - 4, s);
}

/* "3 tensors: 'a', 'b', 'c'" or "40 tensors: 'a', ..., 'f' ... and 34 more": what a file holds,
 * for a message about a tensor it lacks. */
static void names_text(const hesse_st_file *f, char *out, size_t cap) {
    enum { FEW = 6 };
    const int n = hesse_st_count(f);
    size_t at =
        (size_t)snprintf(out, cap, n ? "%d tensor%s: " : "no tensors", n, n == 1 ? "" : "s");
    for (int i = 0; i < n && i < FEW && at < cap; i++) {
        char name[64];
        shorten(hesse_st_at(f, i)->name, name, sizeof name);
        at += (size_t)snprintf(out + at, cap - at, "%s'%s'", i ? ", " : "", name);
    }
    if (n > FEW && at < cap) snprintf(out + at, cap - at, " ... and %d more", n - FEW);
}

/* Strictly "c,h,w" with three positive integers. */
static int parse_input_shape(const char *s, int *c, int *h, int *w) {
    long v[3];
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        if (*p < '0' || *p > '9') return 0;
        v[i] = strtol(p, &end, 10);
        if (v[i] < 1 || v[i] > 1000000) return 0;
        p = end;
        if (i < 2 && *p++ != ',') return 0;
    }
    if (*p) return 0;
    *c = (int)v[0];
    *h = (int)v[1];
    *w = (int)v[2];
    return 1;
}

/* Shape, dtype and value checks for one tensor (a parameter, or a buffer), then its values
 * into the model's parameters or buffers. */
static int load_tensor(const hesse_st_file *f, hesse_model *m, const hesse_tensor_info *ti,
                       int buffer) {
    const char *path = hesse_st_path(f);
    char mod[HESSE_MODULE_MAX + 240], want[64], got[HESSE_ST_MAX_DIMS * 22 + 8];
    module_text(m, ti->layer, mod, sizeof mod);
    format_shape(want, sizeof want, ti->shape, ti->ndim);
    double *dst = (buffer ? hesse_model_buffers(m) : hesse_model_params(m)) + ti->offset;
    const hesse_st_tensor *t = hesse_st_find(f, ti->name);
    if (!t && ti->integer) { /* num_batches_tracked: not used in evaluation mode */
        *dst = 0.0;
        return HESSE_OK;
    }
    if (!t) {
        char has[600];
        names_text(f, has, sizeof has);
        return hesse_error(HESSE_EINPUT,
                           "%s: tensor '%s' is missing; %s needs it with shape %s; the file has %s",
                           path, ti->name, mod, want, has);
    }
    if (!ti->integer && t->dtype != HESSE_DTYPE_F64 && t->dtype != HESSE_DTYPE_F32 &&
        t->dtype != HESSE_DTYPE_F16 && t->dtype != HESSE_DTYPE_BF16)
        return hesse_error(HESSE_EINPUT,
                           "%s: tensor '%s' has dtype %s, expected a floating type (F64, F32, "
                           "F16 or BF16)",
                           path, ti->name, hesse_dtype_name(t->dtype));
    int same = t->ndim == ti->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == ti->shape[d];
    if (ti->integer && t->numel == 1) same = 1; /* a count stored as [1] is fine */
    if (!same) {
        format_shape(got, sizeof got, t->shape, t->ndim);
        return hesse_error(HESSE_EINPUT, "%s: tensor '%s' has shape %s, expected %s for %s", path,
                           ti->name, got, want, mod);
    }
    int rc = hesse_st_read_f64(f, t, dst);
    if (rc != HESSE_OK) return rc;
    const int var = buffer && strstr(ti->name, ".running_var") != NULL;
    for (int64_t i = 0; i < ti->count; i++) {
        if (isfinite(dst[i]) && !(var && dst[i] < 0.0) && !(ti->integer && dst[i] < 0.0)) continue;
        /* The row-major multi-index of the flat position, as PyTorch would print it. */
        int64_t idx[4], r = i;
        for (int d = ti->ndim - 1; d >= 0; d--) {
            idx[d] = r % ti->shape[d];
            r /= ti->shape[d];
        }
        format_shape(got, sizeof got, idx, ti->ndim);
        return hesse_error(HESSE_EINPUT, "%s: tensor '%s' holds a %s value (%g) at %s", path,
                           ti->name, isfinite(dst[i]) ? "negative" : "non-finite", dst[i], got);
    }
    return HESSE_OK;
}

int hesse_model_load(const char *path, const hesse_load_options *opt, hesse_model **out,
                     char **preprocess_json) {
    if (!path || !out) return hesse_error(HESSE_EINVAL, "hesse_model_load: NULL argument");
    *out = NULL;
    if (preprocess_json) *preprocess_json = NULL;
    hesse_load_options defaults = hesse_load_defaults();
    if (!opt) opt = &defaults;
    hesse_st_file *f = NULL;
    hesse_model *m = NULL;
    char *pre = NULL;
    int rc;
    HESSE_CHECK(hesse_st_open(path, &f));

    const char *format = hesse_st_meta(f, "hesse.format");
    if (format && strcmp(format, MODEL_FORMAT) != 0) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: hesse.format is '%s'; this hesse reads format " MODEL_FORMAT, path,
                         format);
        goto cleanup;
    }
    const char *arch = opt->arch ? opt->arch : hesse_st_meta(f, "hesse.arch");
    if (!arch) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: no hesse.arch in the file's metadata (a PyTorch state_dict?); "
                         "give the architecture with --arch",
                         path);
        goto cleanup;
    }

    int c = 0, h = 0, w = 0;
    const char *shape = hesse_st_meta(f, "hesse.input_shape");
    if (shape && !parse_input_shape(shape, &c, &h, &w)) {
        rc = hesse_error(HESSE_EINPUT, "%s: hesse.input_shape is '%s', expected \"c,h,w\"", path,
                         shape);
        goto cleanup;
    }
    if (opt->c || opt->h || opt->w) {
        if (opt->c < 1 || opt->h < 1 || opt->w < 1) {
            rc = hesse_error(HESSE_EINVAL, "%s: input shape %d,%d,%d is not positive", path, opt->c,
                             opt->h, opt->w);
            goto cleanup;
        }
        if (shape && (opt->c != c || opt->h != h || opt->w != w)) {
            rc = hesse_error(HESSE_EINPUT,
                             "%s: the model takes input %d,%d,%d (hesse.input_shape), not "
                             "%d,%d,%d",
                             path, c, h, w, opt->c, opt->h, opt->w);
            goto cleanup;
        }
        c = opt->c;
        h = opt->h;
        w = opt->w;
    } else if (!shape) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: no hesse.input_shape in the file's metadata; give the input "
                         "shape (c,h,w)",
                         path);
        goto cleanup;
    }

    hesse_loss_kind loss = HESSE_LOSS_CROSS_ENTROPY;
    const char *loss_name = hesse_st_meta(f, "hesse.loss");
    if (opt->loss >= 0) {
        if (opt->loss != HESSE_LOSS_CROSS_ENTROPY && opt->loss != HESSE_LOSS_MSE) {
            rc = hesse_error(HESSE_EINVAL, "%s: unknown loss kind %d", path, opt->loss);
            goto cleanup;
        }
        loss = (hesse_loss_kind)opt->loss;
    } else if (loss_name && hesse_loss_parse(loss_name, &loss) != HESSE_OK) {
        rc = hesse_error(HESSE_EINPUT, "%s: hesse.loss is '%s', expected cross_entropy or mse",
                         path, loss_name);
        goto cleanup;
    }

    rc = hesse_model_create(arch, c, h, w, loss, &m);
    if (rc != HESSE_OK) {
        char why[512]; /* hesse_error must not read the buffer it writes */
        snprintf(why, sizeof why, "%s", hesse_last_error());
        rc = hesse_error(rc, "%s: %s", path, why);
        goto cleanup;
    }
    for (int i = 0; i < hesse_model_num_tensors(m); i++)
        HESSE_CHECK(load_tensor(f, m, hesse_model_tensor(m, i), 0));
    for (int i = 0; i < hesse_model_num_buffers(m); i++)
        HESSE_CHECK(load_tensor(f, m, hesse_model_buffer(m, i), 1));
    for (int i = 0; i < hesse_st_count(f); i++) {
        const hesse_st_tensor *t = hesse_st_at(f, i);
        if (!hesse_model_find_tensor(m, t->name) && !hesse_model_find_buffer(m, t->name)) {
            char shown[164];
            shorten(hesse_model_arch(m), shown, sizeof shown);
            rc = hesse_error(HESSE_EINPUT,
                             "%s: tensor '%s' is not a parameter of the architecture (\"%s\" has "
                             "no such tensor)",
                             path, t->name, shown);
            goto cleanup;
        }
    }
    const char *p = hesse_st_meta(f, "hesse.preprocess");
    if (preprocess_json && p && !(pre = strdup(p))) {
        rc = hesse_error(HESSE_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    *out = m;
    m = NULL;
    if (preprocess_json) *preprocess_json = pre;
    pre = NULL;
cleanup:
    free(pre);
    hesse_model_free(m);
    hesse_st_close(f);
    return rc;
}

/* ---- Preprocessing as JSON (the model file's hesse.preprocess) ---- */
int hesse_preprocess_from_json(const char *json, hesse_preprocess *p) {
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hesse_error(HESSE_EINPUT, "model file: hesse.preprocess is not a JSON object");
    }
    int rc = HESSE_OK;
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(root, "scale");
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(root, "mean");
    const cJSON *std = cJSON_GetObjectItemCaseSensitive(root, "std");
    if (cJSON_IsNumber(scale)) p->scale = scale->valuedouble;
    if (cJSON_IsArray(mean) && cJSON_IsArray(std)) {
        int n = cJSON_GetArraySize(mean);
        if (n != cJSON_GetArraySize(std) || n > HESSE_MAX_CHANNELS) {
            rc = hesse_error(HESSE_EINPUT, "model file: hesse.preprocess mean/std disagree");
            goto cleanup;
        }
        p->channels = n;
        for (int i = 0; i < n; i++) {
            p->mean[i] = cJSON_GetArrayItem(mean, i)->valuedouble;
            p->std[i] = cJSON_GetArrayItem(std, i)->valuedouble;
        }
    }
cleanup:
    cJSON_Delete(root);
    return rc;
}

void hesse_preprocess_to_json(const hesse_preprocess *p, cJSON *into) {
    cJSON_AddNumberToObject(into, "scale", p->scale);
    if (p->channels > 0) {
        hesse_json_add_doubles(into, "mean", p->mean, p->channels);
        hesse_json_add_doubles(into, "std", p->std, p->channels);
    }
}
