/* The JSON result envelope every command writes, and the printer for it.
 *
 * hesse prints JSON itself rather than with cJSON_Print: cJSON 1.7 accepts a 15-digit
 * rendering when it compares equal within an epsilon (0.30000000000000004 prints as 0.3),
 * and results must read back as the exact doubles computed. Numbers here use the shortest
 * of %.15g/%.16g/%.17g that round-trips, and non-finite values become null. */
#include "io-impl.h"

#include <hesse/schema.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

cJSON *hesse_result_new(const char *command, int argc, char **argv) {
    if (!command || !*command) {
        hesse_error(HESSE_EINVAL, "hesse_result_new: no command name");
        return NULL;
    }
    cJSON *doc = cJSON_CreateObject();
    if (!doc) goto fail;
    /* the layout version declared with the command's keys (src/io/schema.c) */
    const hesse_schema *layout = hesse_schema_find(command);
    char schema[128];
    snprintf(schema, sizeof schema, "hesse.%s/%d", command, layout ? layout->version : 1);
    if (!cJSON_AddStringToObject(doc, "schema", schema) ||
        !cJSON_AddStringToObject(doc, "hesse_version", hesse_version()))
        goto fail;
    cJSON *cmd = cJSON_AddArrayToObject(doc, "command_line");
    if (!cmd) goto fail;
    for (int i = 0; i < argc && argv; i++) {
        cJSON *s = cJSON_CreateString(argv[i] ? argv[i] : "");
        if (!s || !cJSON_AddItemToArray(cmd, s)) {
            cJSON_Delete(s);
            goto fail;
        }
    }
    char created[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!cJSON_AddStringToObject(doc, "created", created)) goto fail;

    hesse_blas_info info;
    hesse_blas_get_info(&info);
    cJSON *blas = cJSON_AddObjectToObject(doc, "blas");
    if (!blas || !cJSON_AddStringToObject(blas, "library", info.library) ||
        !cJSON_AddStringToObject(blas, "core", info.core) ||
        !cJSON_AddStringToObject(blas, "core_source", info.core_source) ||
        !cJSON_AddNumberToObject(blas, "threads", info.threads) ||
        !cJSON_AddStringToObject(blas, "cpu_model", info.cpu_model) ||
        !cJSON_AddStringToObject(blas, "cpu_features", info.cpu_features) ||
        !cJSON_AddNumberToObject(blas, "cpus", info.cpus))
        goto fail;
    return doc;
fail:
    cJSON_Delete(doc);
    hesse_error(HESSE_ENOMEM, "out of memory building the %s result", command);
    return NULL;
}

cJSON *hesse_json_add_doubles(cJSON *obj, const char *key, const double *v, int64_t n) {
    if (!obj || !key || (n > 0 && !v) || n < 0) {
        hesse_error(HESSE_EINVAL, "hesse_json_add_doubles: bad argument for '%s'", key ? key : "?");
        return NULL;
    }
    cJSON *arr = cJSON_CreateArray();
    if (!arr) goto fail;
    for (int64_t i = 0; i < n; i++) {
        cJSON *x = isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull();
        /* cJSON >= 1.7.13 keeps the tail in child->prev, so appending is O(1). */
        if (!x || !cJSON_AddItemToArray(arr, x)) {
            cJSON_Delete(x);
            goto fail;
        }
    }
    if (!cJSON_AddItemToObject(obj, key, arr)) goto fail;
    return arr;
fail:
    cJSON_Delete(arr);
    hesse_error(HESSE_ENOMEM, "out of memory adding %lld values for '%s'", (long long)n, key);
    return NULL;
}

static void indent(hesse_iobuf *b, int depth) {
    for (int i = 0; i < depth; i++) hesse_iobuf_puts(b, "  ");
}

static int is_container(const cJSON *x) {
    return cJSON_IsArray(x) || cJSON_IsObject(x);
}

/* Objects, and arrays holding containers, get one member per line; arrays of scalars stay
 * on one line so that long vectors do not run to thousands of lines. */
static void print_value(hesse_iobuf *b, const cJSON *x, int depth) {
    if (cJSON_IsNumber(x)) {
        hesse_iobuf_json_number(b, x->valuedouble);
    } else if (cJSON_IsString(x)) {
        hesse_iobuf_json_string(b, x->valuestring ? x->valuestring : "");
    } else if (cJSON_IsRaw(x)) {
        hesse_iobuf_puts(b, x->valuestring ? x->valuestring : "null");
    } else if (cJSON_IsTrue(x)) {
        hesse_iobuf_puts(b, "true");
    } else if (cJSON_IsFalse(x)) {
        hesse_iobuf_puts(b, "false");
    } else if (is_container(x)) {
        int obj = cJSON_IsObject(x);
        const char *open = obj ? "{" : "[", *close = obj ? "}" : "]";
        int flat = !obj;
        for (const cJSON *c = x->child; c && flat; c = c->next) flat = !is_container(c);
        hesse_iobuf_puts(b, open);
        if (!x->child) {
            hesse_iobuf_puts(b, close);
            return;
        }
        for (const cJSON *c = x->child; c; c = c->next) {
            if (flat) {
                if (c != x->child) hesse_iobuf_puts(b, ", ");
            } else {
                hesse_iobuf_puts(b, c == x->child ? "\n" : ",\n");
                indent(b, depth + 1);
            }
            if (obj) {
                hesse_iobuf_json_string(b, c->string ? c->string : "");
                hesse_iobuf_puts(b, ": ");
            }
            print_value(b, c, depth + 1);
        }
        if (!flat) {
            hesse_iobuf_puts(b, "\n");
            indent(b, depth);
        }
        hesse_iobuf_puts(b, close);
    } else {
        hesse_iobuf_puts(b, "null");
    }
}

int hesse_json_print(const cJSON *doc, char **text) {
    if (!doc || !text) return hesse_error(HESSE_EINVAL, "hesse_json_print: NULL argument");
    *text = NULL;
    hesse_iobuf b = {0};
    print_value(&b, doc, 0);
    hesse_iobuf_puts(&b, "\n");
    int rc = hesse_iobuf_status(&b);
    if (rc != HESSE_OK) {
        hesse_iobuf_free(&b);
        return rc;
    }
    *text = b.data;
    return HESSE_OK;
}

int hesse_json_write(const cJSON *doc, const char *path) {
    if (!doc || !path) return hesse_error(HESSE_EINVAL, "hesse_json_write: NULL argument");
    char *text = NULL;
    int rc = hesse_json_print(doc, &text);
    if (rc == HESSE_OK) rc = hesse_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}
