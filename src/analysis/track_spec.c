/* The tracking spec of `--track` (analysis.h, "Tracking the Hessian during training"):
 * defaults, the parser with its one-line errors, the schedule of measured steps, and a
 * measurement's keys in a series row of the "tracking" JSON. */
#include <hesse/analysis.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

hesse_track_params hesse_track_defaults(void) {
    hesse_track_params p;
    memset(&p, 0, sizeof p);
    p.every = 1;
    p.top = 1;
    p.probes = 99;
    p.tol = 1e-8;
    return p;
}

enum {
    KEY_EVERY,
    KEY_TOP,
    KEY_BOTTOM,
    KEY_TRACE,
    KEY_PROBES,
    KEY_POWERLAW,
    KEY_SAMPLES,
    KEY_PRECONDITIONED,
    KEY_COLD,
    KEY_VERIFY,
    KEY_TOL,
    KEY_SEED,
    KEY_COUNT
};

/* One key of the grammar: a flag (no value) or an integer in [lo, hi] (tol: a real). */
typedef struct {
    const char *name;
    int flag;
    double lo, hi;
} track_key;

static const track_key KEYS[KEY_COUNT] = {
    [KEY_EVERY] = {"every", 0, 1, 1e9},       [KEY_TOP] = {"top", 0, 1, 100000},
    [KEY_BOTTOM] = {"bottom", 0, 0, 100000},  [KEY_TRACE] = {"trace", 1, 0, 0},
    [KEY_PROBES] = {"probes", 0, 4, 1000000}, [KEY_POWERLAW] = {"powerlaw", 0, 3, 100000},
    [KEY_SAMPLES] = {"samples", 0, 1, 1e15},  [KEY_PRECONDITIONED] = {"preconditioned", 1, 0, 0},
    [KEY_COLD] = {"cold", 1, 0, 0},           [KEY_VERIFY] = {"verify", 1, 0, 0},
    [KEY_TOL] = {"tol", 0, 1e-15, 0.5},       [KEY_SEED] = {"seed", 0, 0, 9007199254740992.0},
};

#define TRACK_KEY_LIST                                                                             \
    "every, top, bottom, trace, probes, powerlaw, samples, preconditioned, cold, verify, tol, "    \
    "seed"

static int key_index(const char *name, size_t len) {
    for (int k = 0; k < KEY_COUNT; k++)
        if (strlen(KEYS[k].name) == len && strncmp(KEYS[k].name, name, len) == 0) return k;
    return -1;
}

/* The value of item "key=value" (value as text) as a number in the key's range. */
static int parse_value(int key, const char *item, const char *text, double *v) {
    const track_key *k = &KEYS[key];
    char *end = NULL;
    errno = 0;
    double x = key == KEY_TOL ? strtod(text, &end) : (double)strtoll(text, &end, 10);
    if (!*text || *end || errno == ERANGE || !isfinite(x))
        return hesse_error(HESSE_EINVAL, "option --track: %s: expected %s, got '%s'", item,
                           key == KEY_TOL ? "a number" : "an integer", text);
    if (x < k->lo || x > k->hi)
        return hesse_error(HESSE_EINVAL, "option --track: %s: %s is outside [%g, %g]", item, text,
                           k->lo, k->hi);
    *v = x;
    return HESSE_OK;
}

static void set_key(hesse_track_params *p, int key, double v) {
    switch (key) {
    case KEY_EVERY:
        p->every = (int)v;
        break;
    case KEY_TOP:
        p->top = (int)v;
        break;
    case KEY_BOTTOM:
        p->bottom = (int)v;
        break;
    case KEY_TRACE:
        p->trace = 1;
        break;
    case KEY_PROBES:
        p->probes = (int)v;
        break;
    case KEY_POWERLAW:
        p->powerlaw = (int)v;
        break;
    case KEY_SAMPLES:
        p->samples = (int64_t)v;
        break;
    case KEY_PRECONDITIONED:
        p->preconditioned = 1;
        break;
    case KEY_COLD:
        p->cold = 1;
        break;
    case KEY_VERIFY:
        p->verify = 1;
        break;
    case KEY_TOL:
        p->tol = v;
        break;
    default:
        p->seed = (uint64_t)v;
        break;
    }
}

/* One item (len bytes at item, NUL-terminated copy in buf): key or key=value. */
static int parse_item(const char *buf, int *seen, hesse_track_params *p) {
    const char *eq = strchr(buf, '=');
    size_t klen = eq ? (size_t)(eq - buf) : strlen(buf);
    int key = key_index(buf, klen);
    if (key < 0)
        return hesse_error(HESSE_EINVAL, "option --track: unknown item '%s' (expected one of %s)",
                           buf, TRACK_KEY_LIST);
    if (seen[key])
        return hesse_error(HESSE_EINVAL, "option --track: '%s' is given twice", KEYS[key].name);
    seen[key] = 1;
    if (KEYS[key].flag && eq)
        return hesse_error(HESSE_EINVAL, "option --track: %s: '%s' takes no value", buf,
                           KEYS[key].name);
    if (!KEYS[key].flag && !eq)
        return hesse_error(HESSE_EINVAL, "option --track: '%s' needs a value (%s=...)", buf, buf);
    double v = 0;
    if (eq) {
        int rc = parse_value(key, buf, eq + 1, &v);
        if (rc != HESSE_OK) return rc;
    }
    set_key(p, key, v);
    return HESSE_OK;
}

int hesse_track_parse(const char *spec, hesse_track_params *out) {
    if (!spec || !out) return hesse_error(HESSE_EINVAL, "option --track: no spec given");
    hesse_track_params p = hesse_track_defaults();
    int seen[KEY_COUNT] = {0};
    char buf[128];
    const char *at = spec;
    for (;;) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t)(comma - at) : strlen(at);
        if (len == 0) return hesse_error(HESSE_EINVAL, "option --track: empty item in '%s'", spec);
        if (len >= sizeof buf)
            return hesse_error(HESSE_EINVAL, "option --track: item '%.40s...' is too long", at);
        memcpy(buf, at, len);
        buf[len] = '\0';
        int rc = parse_item(buf, seen, &p);
        if (rc != HESSE_OK) return rc;
        if (!comma) break;
        at = comma + 1;
    }
    if (!seen[KEY_EVERY])
        return hesse_error(
            HESSE_EINVAL, "option --track: every=K is missing in '%s' (e.g. every=20,top=1)", spec);
    if (seen[KEY_PROBES] && !p.trace)
        return hesse_error(HESSE_EINVAL, "option --track: probes=%d applies to trace", p.probes);
    *out = p;
    return HESSE_OK;
}

int hesse_track_due(const hesse_track_params *p, int64_t step, int64_t last) {
    if (!p || p->every < 1 || step < 0) return 0;
    return step % p->every == 0 || step == last;
}

void hesse_track_params_json(const hesse_track_params *p, cJSON *o) {
    if (!p || !o) return;
    cJSON_AddNumberToObject(o, "every", p->every);
    cJSON_AddNumberToObject(o, "top", p->top);
    cJSON_AddNumberToObject(o, "bottom", p->bottom);
    cJSON_AddNumberToObject(o, "samples", (double)p->samples);
    cJSON_AddNumberToObject(o, "tol", p->tol);
    cJSON_AddBoolToObject(o, "trace", p->trace);
    cJSON_AddNumberToObject(o, "powerlaw", p->powerlaw);
    cJSON_AddBoolToObject(o, "preconditioned", p->preconditioned);
    cJSON_AddBoolToObject(o, "cold", p->cold);
}

/* ---- A series row ------------------------------------------------------------------------ */

static void add_doubles(cJSON *row, const char *key, const double *v, int count) {
    cJSON *a = cJSON_AddArrayToObject(row, key);
    for (int i = 0; a && i < count; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
}

/* A number, or null when it is not finite (JSON has no NaN). */
static void add_number(cJSON *row, const char *key, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(row, key, v);
    else
        cJSON_AddNullToObject(row, key);
}

static void add_powerlaw(const hesse_track_point *p, cJSON *row) {
    double nan = NAN;
    add_number(row, "powerlaw_s", p->powerlaw_ok ? p->powerlaw.s_mle : nan);
    add_number(row, "powerlaw_d_ks", p->powerlaw_ok ? p->powerlaw.d_ks : nan);
    add_number(row, "powerlaw_d_c", p->powerlaw_ok ? p->powerlaw.d_c : nan);
    cJSON_AddNumberToObject(row, "powerlaw_K", p->powerlaw_K);
}

void hesse_track_point_json(const hesse_track_point *p, cJSON *row) {
    if (!p || !row) return;
    add_doubles(row, "top", p->top, p->ntop);
    add_doubles(row, "top_residuals", p->top_residuals, p->ntop);
    if (p->nbottom > 0) {
        add_doubles(row, "bottom", p->bottom, p->nbottom);
        add_doubles(row, "bottom_residuals", p->bottom_residuals, p->nbottom);
    }
    cJSON_AddNumberToObject(row, "products", (double)p->products);
    cJSON_AddNumberToObject(row, "seconds", p->seconds);
    if (p->has_cold) {
        cJSON_AddNumberToObject(row, "products_cold", (double)p->products_cold);
        cJSON_AddNumberToObject(row, "seconds_cold", p->seconds_cold);
    }
    if (p->has_trace) {
        add_number(row, "trace", p->trace);
        add_number(row, "trace_se", p->trace_se);
        cJSON_AddNumberToObject(row, "trace_products", (double)p->trace_products);
    }
    if (p->has_powerlaw) add_powerlaw(p, row);
    if (p->npreconditioned > 0) {
        add_doubles(row, "preconditioned", p->preconditioned, p->npreconditioned);
        add_doubles(row, "preconditioned_residuals", p->preconditioned_residuals,
                    p->npreconditioned);
        cJSON_AddNumberToObject(row, "preconditioned_products", (double)p->preconditioned_products);
    }
}
