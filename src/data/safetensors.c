/* safetensors reader. The whole file is read into memory and its header validated before
 * any tensor is handed out, so that a caller never sees a tensor whose bytes are not all
 * inside the file. Every check names the file and the tensor: these files come from users
 * and from other programs, and a hostile one must give a message, never a crash.
 *
 * Format (https://github.com/huggingface/safetensors, "Format"): 8-byte little-endian
 * header size N; N bytes of a JSON object mapping names to {dtype, shape, data_offsets}
 * plus an optional "__metadata__" object of strings; then the data block, which offsets
 * are relative to. */
#include "data-impl.h"

#include <cjson/cJSON.h>

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A header larger than this is refused before parsing: real headers are kilobytes, and a
 * hostile length must not make us parse (or allocate for) gigabytes of JSON. */
#define ST_MAX_HEADER 104857600u /* 100 MiB */
/* JSON numbers are doubles: integers above 2^53 cannot be told apart, so are refused. */
#define ST_MAX_INT 9007199254740992.0

struct hesse_st_file {
    char *label;        /* the path or buffer label, for messages */
    unsigned char *buf; /* the whole file */
    size_t len;
    const unsigned char *data; /* the data block: buf + 8 + N */
    uint64_t data_len;
    cJSON *header; /* owns the names and metadata strings below */
    int count;
    hesse_st_tensor *tensors; /* in header order */
    int *by_name;             /* tensor indices sorted by name, for lookup */
    int meta_count;
    const char **meta_keys, **meta_values;
};

static const struct {
    const char *name;
    hesse_dtype dtype;
    size_t size;
} dtypes[] = {
    {"F64", HESSE_DTYPE_F64, 8},   {"F32", HESSE_DTYPE_F32, 4}, {"F16", HESSE_DTYPE_F16, 2},
    {"BF16", HESSE_DTYPE_BF16, 2}, {"I64", HESSE_DTYPE_I64, 8}, {"I32", HESSE_DTYPE_I32, 4},
    {"I16", HESSE_DTYPE_I16, 2},   {"I8", HESSE_DTYPE_I8, 1},   {"U8", HESSE_DTYPE_U8, 1},
    {"BOOL", HESSE_DTYPE_BOOL, 1}, {"U16", HESSE_DTYPE_U16, 2}, {"U32", HESSE_DTYPE_U32, 4},
    {"U64", HESSE_DTYPE_U64, 8},
};
#define NUM_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

const char *hesse_dtype_name(hesse_dtype dtype) {
    for (int i = 0; i < NUM_DTYPES; i++)
        if (dtypes[i].dtype == dtype) return dtypes[i].name;
    return "?";
}

size_t hesse_dtype_size(hesse_dtype dtype) {
    for (int i = 0; i < NUM_DTYPES; i++)
        if (dtypes[i].dtype == dtype) return dtypes[i].size;
    return 0;
}

static int dtype_parse(const char *name, hesse_dtype *out) {
    for (int i = 0; i < NUM_DTYPES; i++)
        if (strcmp(dtypes[i].name, name) == 0) {
            *out = dtypes[i].dtype;
            return 1;
        }
    return 0;
}

/* binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits. Every value is a small integer
 * times a power of two, so ldexp gives it exactly. */
double hesse_f16_to_double(uint16_t bits) {
    int sign = bits >> 15, exp = (bits >> 10) & 31, frac = bits & 1023;
    double v;
    if (exp == 0)
        v = ldexp(frac, -24); /* zero or subnormal: frac * 2^-14 * 2^-10 */
    else if (exp == 31)
        v = frac ? NAN : INFINITY;
    else
        v = ldexp(1024 + frac, exp - 25); /* (1 + frac/2^10) * 2^(exp-15) */
    return sign ? -v : v;
}

/* bfloat16 is the upper half of a binary32. */
double hesse_bf16_to_double(uint16_t bits) {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* "[6, 1, 5, 5]" */
static void format_shape(char *out, size_t cap, const int64_t *shape, int ndim) {
    size_t n = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (n < cap) snprintf(out + n, cap - n, "]");
}

/* A JSON number that is a whole number in [0, 2^53]. */
static int json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return 0;
    double d = item->valuedouble;
    if (!(d >= 0 && d <= ST_MAX_INT) || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* Describes a JSON item briefly for messages: its number, or its type. */
static void describe_item(char *out, size_t cap, const cJSON *item) {
    if (cJSON_IsNumber(item))
        snprintf(out, cap, "%.17g", item->valuedouble);
    else if (cJSON_IsString(item))
        snprintf(out, cap, "a string");
    else if (cJSON_IsArray(item))
        snprintf(out, cap, "an array");
    else if (cJSON_IsObject(item))
        snprintf(out, cap, "an object");
    else
        snprintf(out, cap, "%s", cJSON_IsNull(item) ? "null" : "a boolean");
}

/* Fills t from one header entry and checks it against the data block. */
static int parse_tensor(hesse_st_file *f, const cJSON *entry, hesse_st_tensor *t) {
    const char *L = f->label, *name = entry->string;
    t->name = name;
    if (!cJSON_IsObject(entry))
        return hesse_error(HESSE_EINPUT, "%s: tensor '%s': entry is not a JSON object", L, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!dtype || !shape || !offs)
        return hesse_error(HESSE_EINPUT, "%s: tensor '%s': entry has no '%s'", L, name,
                           !dtype   ? "dtype"
                           : !shape ? "shape"
                                    : "data_offsets");
    if (!cJSON_IsString(dtype))
        return hesse_error(HESSE_EINPUT, "%s: tensor '%s': dtype is not a string", L, name);
    if (!dtype_parse(dtype->valuestring, &t->dtype))
        return hesse_error(HESSE_EINPUT,
                           "%s: tensor '%s': unknown dtype '%s' (expected one of F64, F32, F16, "
                           "BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL)",
                           L, name, dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return hesse_error(HESSE_EINPUT, "%s: tensor '%s': shape is not an array", L, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > HESSE_ST_MAX_DIMS)
        return hesse_error(HESSE_EINPUT,
                           "%s: tensor '%s': shape has %d dimensions, at most %d "
                           "are supported",
                           L, name, ndim, HESSE_ST_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    int k = 0;
    for (const cJSON *d = shape->child; d; d = d->next, k++) {
        uint64_t v;
        if (!json_uint(d, &v)) {
            char what[64];
            describe_item(what, sizeof what, d);
            return hesse_error(HESSE_EINPUT,
                               "%s: tensor '%s': shape dimension %d is %s, expected a "
                               "non-negative integer",
                               L, name, k, what);
        }
        t->shape[k] = (int64_t)v;
        if (__builtin_mul_overflow(numel, v, &numel) || numel > (uint64_t)INT64_MAX)
            return hesse_error(HESSE_EINPUT,
                               "%s: tensor '%s': shape has more elements than fit in 64 bits", L,
                               name);
    }
    t->numel = (int64_t)numel;
    char shp[HESSE_ST_MAX_DIMS * 22 + 8];
    format_shape(shp, sizeof shp, t->shape, t->ndim);

    uint64_t begin, end;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &begin) ||
        !json_uint(offs->child->next, &end))
        return hesse_error(HESSE_EINPUT,
                           "%s: tensor '%s': data_offsets must be two non-negative integers "
                           "[begin, end]",
                           L, name);
    if (begin > end)
        return hesse_error(HESSE_EINPUT,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                           ") begin after end",
                           L, name, begin, end);
    if (end > f->data_len)
        return hesse_error(HESSE_EINPUT,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                           ") reach beyond the data block of %" PRIu64 " bytes",
                           L, name, begin, end, f->data_len);
    size_t size = hesse_dtype_size(t->dtype);
    uint64_t bytes = end - begin, need;
    if (__builtin_mul_overflow(numel, (uint64_t)size, &need))
        return hesse_error(HESSE_EINPUT, "%s: tensor '%s': shape %s of %s is too large", L, name,
                           shp, dtype->valuestring);
    if (bytes != need) {
        if (bytes % size == 0)
            return hesse_error(HESSE_EINPUT,
                               "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                               ") hold %" PRIu64 " value%s, shape %s needs %" PRIu64,
                               L, name, begin, end, bytes / size, bytes / size == 1 ? "" : "s", shp,
                               numel);
        return hesse_error(
            HESSE_EINPUT,
            "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 ") hold %" PRIu64
            " bytes, not a whole number of %zu-byte %s values; shape %s needs %" PRIu64,
            L, name, begin, end, bytes, size, dtype->valuestring, shp, numel);
    }
    t->begin = begin;
    t->end = end;
    return HESSE_OK;
}

/* qsort has no context argument, so the sort keys travel with the indices. */
typedef struct {
    const char *name;
    int index;
} name_key;
typedef struct {
    uint64_t begin, end;
    int index;
} range_key;

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const name_key *)a)->name, ((const name_key *)b)->name);
}
static int cmp_range(const void *a, const void *b) {
    const range_key *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Sorts n names (keys[i].name set, index filled here) and returns the first that appears
 * twice, or NULL. */
static const char *sort_names(name_key *keys, int n) {
    for (int i = 0; i < n; i++) keys[i].index = i;
    qsort(keys, (size_t)n, sizeof *keys, cmp_name);
    for (int i = 1; i < n; i++)
        if (strcmp(keys[i - 1].name, keys[i].name) == 0) return keys[i].name;
    return NULL;
}

/* Duplicate names and overlapping byte ranges, both found by sorting (a hostile header may
 * hold millions of entries, so nothing here is quadratic). */
static int check_names_and_ranges(hesse_st_file *f) {
    int n = f->count, rc = HESSE_OK;
    name_key *names = malloc(((size_t)n + 1) * sizeof *names);
    range_key *ranges = malloc(((size_t)n + 1) * sizeof *ranges);
    f->by_name = malloc(((size_t)n + 1) * sizeof *f->by_name);
    if (!names || !ranges || !f->by_name) {
        rc = hesse_error(HESSE_ENOMEM, "%s: out of memory indexing %d tensors", f->label, n);
        goto cleanup;
    }
    for (int i = 0; i < n; i++) {
        names[i].name = f->tensors[i].name;
        ranges[i] = (range_key){f->tensors[i].begin, f->tensors[i].end, i};
    }
    const char *dup = sort_names(names, n);
    if (dup) {
        rc =
            hesse_error(HESSE_EINPUT, "%s: tensor '%s' appears twice in the header", f->label, dup);
        goto cleanup;
    }
    for (int i = 0; i < n; i++) f->by_name[i] = names[i].index;
    /* Empty tensors occupy no bytes and may sit anywhere; among the others, each must end
     * before the next begins. */
    qsort(ranges, (size_t)n, sizeof *ranges, cmp_range);
    const hesse_st_tensor *prev = NULL;
    for (int i = 0; i < n; i++) {
        const hesse_st_tensor *t = &f->tensors[ranges[i].index];
        if (t->begin == t->end) continue;
        if (prev && prev->end > t->begin) {
            rc = hesse_error(HESSE_EINPUT,
                             "%s: tensors '%s' [%" PRIu64 ", %" PRIu64 ") and '%s' [%" PRIu64
                             ", %" PRIu64 ") overlap in the data block",
                             f->label, prev->name, prev->begin, prev->end, t->name, t->begin,
                             t->end);
            goto cleanup;
        }
        prev = t;
    }
cleanup:
    free(names);
    free(ranges);
    return rc;
}

static int parse_metadata(hesse_st_file *f, const cJSON *meta) {
    if (!cJSON_IsObject(meta))
        return hesse_error(HESSE_EINPUT, "%s: __metadata__ is not a JSON object", f->label);
    int n = cJSON_GetArraySize(meta);
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values)
        return hesse_error(HESSE_ENOMEM, "%s: out of memory reading metadata", f->label);
    for (const cJSON *kv = meta->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return hesse_error(HESSE_EINPUT, "%s: __metadata__ value '%s' is not a string",
                               f->label, kv->string);
        f->meta_keys[f->meta_count] = kv->string;
        f->meta_values[f->meta_count] = kv->valuestring;
        f->meta_count++;
    }
    name_key *keys = malloc(((size_t)n + 1) * sizeof *keys);
    if (!keys) return hesse_error(HESSE_ENOMEM, "%s: out of memory reading metadata", f->label);
    for (int i = 0; i < n; i++) keys[i].name = f->meta_keys[i];
    const char *dup = sort_names(keys, n);
    int rc =
        dup ? hesse_error(HESSE_EINPUT, "%s: __metadata__ key '%s' appears twice", f->label, dup)
            : HESSE_OK;
    free(keys);
    return rc;
}

/* Validates f->buf[0..len) and fills the tensor and metadata tables. */
static int parse(hesse_st_file *f) {
    const char *L = f->label;
    if (f->len < 8)
        return hesse_error(HESSE_EINPUT,
                           "%s: %zu bytes, too short for a safetensors file (8-byte header "
                           "length, then a JSON header)",
                           L, f->len);
    uint64_t n = hesse_le64(f->buf);
    if (n > ST_MAX_HEADER)
        return hesse_error(HESSE_EINPUT,
                           "%s: header length %" PRIu64 " is over the %u-byte limit; not a "
                           "safetensors file?",
                           L, n, ST_MAX_HEADER);
    if (n > f->len - 8)
        return hesse_error(HESSE_EINPUT,
                           "%s: header length %" PRIu64 " exceeds the %zu bytes after it; file "
                           "truncated or not safetensors",
                           L, n, f->len - 8);
    const char *text = (const char *)f->buf + 8;
    if (n < 2 || text[0] != '{')
        return hesse_error(HESSE_EINPUT,
                           "%s: header does not start with '{'; not a safetensors "
                           "file?",
                           L);
    const char *end = NULL;
    f->header = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
    if (!f->header) {
        long at = end ? (long)(end - text) : -1;
        return hesse_error(HESSE_EINPUT, "%s: header is not valid JSON (error near byte %ld)", L,
                           at);
    }
    /* Anything after the object must be padding (the reference writer pads with spaces). */
    for (const char *p = end; p < text + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return hesse_error(HESSE_EINPUT, "%s: header has data after its JSON object (byte %ld)",
                               L, (long)(p - text));
    if (!cJSON_IsObject(f->header))
        return hesse_error(HESSE_EINPUT, "%s: header is not a JSON object", L);
    f->data = f->buf + 8 + n;
    f->data_len = f->len - 8 - n;

    int entries = cJSON_GetArraySize(f->header);
    f->tensors = calloc((size_t)entries + 1, sizeof *f->tensors);
    if (!f->tensors)
        return hesse_error(HESSE_ENOMEM, "%s: out of memory for %d tensors", L, entries);
    int seen_meta = 0;
    for (const cJSON *e = f->header->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (seen_meta++) return hesse_error(HESSE_EINPUT, "%s: __metadata__ appears twice", L);
            int rc = parse_metadata(f, e);
            if (rc != HESSE_OK) return rc;
            continue;
        }
        int rc = parse_tensor(f, e, &f->tensors[f->count]);
        if (rc != HESSE_OK) return rc;
        f->count++;
    }
    return check_names_and_ranges(f);
}

/* Takes ownership of buf (malloc'd, len bytes). */
static int st_open_owned(unsigned char *buf, size_t len, const char *label, hesse_st_file **out) {
    hesse_st_file *f = calloc(1, sizeof *f);
    char *lab = strdup(label ? label : "<memory>");
    if (!f || !lab) {
        free(f);
        free(lab);
        free(buf);
        return hesse_error(HESSE_ENOMEM, "%s: out of memory", label ? label : "<memory>");
    }
    f->label = lab;
    f->buf = buf;
    f->len = len;
    int rc = parse(f);
    if (rc != HESSE_OK) {
        hesse_st_close(f);
        return rc;
    }
    *out = f;
    return HESSE_OK;
}

/* How far a safetensors stream reaches: its header, then the largest data offset the header
 * names. A header the parser will refuse ends the stream where it ends. */
static void st_stream_size(void *ctx, const unsigned char *data, size_t have, size_t from,
                           size_t *total) {
    (void)ctx;
    (void)from;
    if (have < 8) return;
    uint64_t hl = hesse_le64(data);
    if (hl > ST_MAX_HEADER) {
        *total = 8;
        return;
    }
    if (have < 8 + hl) return;
    uint64_t end = 0;
    cJSON *h = cJSON_ParseWithLength((const char *)data + 8, (size_t)hl);
    const cJSON *t;
    cJSON_ArrayForEach(t, h) {
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        const cJSON *e = cJSON_GetArrayItem(off, 1);
        if (cJSON_IsNumber(e) && e->valuedouble > (double)end && e->valuedouble < 1.8e19)
            end = (uint64_t)e->valuedouble;
    }
    cJSON_Delete(h);
    *total = (size_t)(8 + hl + end);
}

int hesse_st_open(const char *path, hesse_st_file **out) {
    if (!path || !out) return hesse_error(HESSE_EINVAL, "hesse_st_open: NULL argument");
    *out = NULL;
    unsigned char *buf;
    size_t len;
    int rc = hesse_read_file_sized(path, st_stream_size, NULL, 8 + ST_MAX_HEADER, &buf, &len);
    if (rc != HESSE_OK) return rc;
    return st_open_owned(buf, len, path, out);
}

int hesse_st_open_memory(const void *data, size_t len, const char *label, hesse_st_file **out) {
    if ((!data && len) || !out)
        return hesse_error(HESSE_EINVAL, "hesse_st_open_memory: NULL argument");
    *out = NULL;
    unsigned char *buf = malloc(len + 1);
    if (!buf) return hesse_error(HESSE_ENOMEM, "%s: cannot copy %zu bytes", label, len);
    if (len) memcpy(buf, data, len);
    buf[len] = '\0';
    return st_open_owned(buf, len, label, out);
}

void hesse_st_close(hesse_st_file *f) {
    if (!f) return;
    cJSON_Delete(f->header);
    free(f->tensors);
    free(f->by_name);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->buf);
    free(f->label);
    free(f);
}

const char *hesse_st_path(const hesse_st_file *f) {
    return f->label;
}

int hesse_st_count(const hesse_st_file *f) {
    return f->count;
}

const hesse_st_tensor *hesse_st_at(const hesse_st_file *f, int i) {
    return i >= 0 && i < f->count ? &f->tensors[i] : NULL;
}

const hesse_st_tensor *hesse_st_find(const hesse_st_file *f, const char *name) {
    int lo = 0, hi = f->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const hesse_st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(t->name, name);
        if (c == 0) return t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const void *hesse_st_data(const hesse_st_file *f, const hesse_st_tensor *t) {
    return f->data + t->begin;
}

int hesse_st_read_f64(const hesse_st_file *f, const hesse_st_tensor *t, double *dst) {
    if (!f || !t || (!dst && t->numel))
        return hesse_error(HESSE_EINVAL, "hesse_st_read_f64: NULL argument");
    const unsigned char *p = f->data + t->begin;
    int64_t n = t->numel;
    switch (t->dtype) {
    case HESSE_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) {
            uint64_t u = hesse_le64(p + 8 * i);
            memcpy(&dst[i], &u, 8);
        }
        break;
    case HESSE_DTYPE_F32:
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = hesse_le32(p + 4 * i);
            float v;
            memcpy(&v, &u, 4);
            dst[i] = v;
        }
        break;
    case HESSE_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = hesse_f16_to_double(hesse_le16(p + 2 * i));
        break;
    case HESSE_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = hesse_bf16_to_double(hesse_le16(p + 2 * i));
        break;
    case HESSE_DTYPE_I64:
        for (int64_t i = 0; i < n; i++) dst[i] = (double)(int64_t)hesse_le64(p + 8 * i);
        break;
    case HESSE_DTYPE_I32:
        for (int64_t i = 0; i < n; i++) dst[i] = (int32_t)hesse_le32(p + 4 * i);
        break;
    case HESSE_DTYPE_I16:
        for (int64_t i = 0; i < n; i++) dst[i] = (int16_t)hesse_le16(p + 2 * i);
        break;
    case HESSE_DTYPE_I8:
        for (int64_t i = 0; i < n; i++) dst[i] = (int8_t)p[i];
        break;
    case HESSE_DTYPE_U8:
        for (int64_t i = 0; i < n; i++) dst[i] = p[i];
        break;
    case HESSE_DTYPE_BOOL:
        for (int64_t i = 0; i < n; i++) dst[i] = p[i] != 0;
        break;
    case HESSE_DTYPE_U16:
        for (int64_t i = 0; i < n; i++) dst[i] = hesse_le16(p + 2 * i);
        break;
    case HESSE_DTYPE_U32:
        for (int64_t i = 0; i < n; i++) dst[i] = hesse_le32(p + 4 * i);
        break;
    case HESSE_DTYPE_U64:
        for (int64_t i = 0; i < n; i++) dst[i] = (double)hesse_le64(p + 8 * i);
        break;
    default:
        return hesse_error(HESSE_EINVAL, "%s: tensor '%s': unknown dtype", f->label, t->name);
    }
    return HESSE_OK;
}

const char *hesse_st_meta(const hesse_st_file *f, const char *key) {
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

int hesse_st_meta_count(const hesse_st_file *f) {
    return f->meta_count;
}

const char *hesse_st_meta_key(const hesse_st_file *f, int i) {
    return i >= 0 && i < f->meta_count ? f->meta_keys[i] : NULL;
}
