/* The building blocks of report sections: escaped text, readable numbers, JSON lookups that
 * record what is missing, table cells that carry their JSON path and exact value, the generic
 * table of all values, and inline plots with page-unique element ids. */
#include "io/report-impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- Text -------------------------------------------------------------------------------- */

void hesse_rep_text(hesse_iobuf *b, const char *s) {
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        const char *esc = NULL;
        switch (c) {
        case '&':
            esc = "&amp;";
            break;
        case '<':
            esc = "&lt;";
            break;
        case '>':
            esc = "&gt;";
            break;
        case '"':
            esc = "&quot;";
            break;
        case '\'':
            esc = "&#39;";
            break;
        default:
            if (c != '\0' && (c >= 0x20 || c == '\t' || c == '\n') && c != 0x7f) continue;
            if (c != '\0') esc = "\xef\xbf\xbd"; /* U+FFFD for other control characters */
        }
        hesse_iobuf_append(b, run, (size_t)(p - run));
        if (c == '\0') return;
        hesse_iobuf_puts(b, esc);
        run = p + 1;
    }
}

void hesse_rep_fmt(char *buf, size_t cap, double v) {
    if (!isfinite(v))
        snprintf(buf, cap, "null");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%.6g", v);
}

/* printf, escaped. */
static void text_vprintf(hesse_iobuf *b, const char *fmt, va_list ap) {
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) return;
    char *text = malloc((size_t)n + 1);
    if (!text) {
        b->failed = 1;
        return;
    }
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    hesse_rep_text(b, text);
    free(text);
}

/* ---- JSON access --------------------------------------------------------------------------- */

const cJSON *hesse_rep_opt(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static void add_missing(hesse_rep *s, const char *path, const char *key, const char *why) {
    if (s->nmissing++) hesse_iobuf_puts(&s->missing, ", ");
    hesse_iobuf_printf(&s->missing, "%s.%s%s", path, key, why);
}

const cJSON *hesse_rep_need(hesse_rep *s, const cJSON *obj, const char *key, const char *path) {
    const cJSON *v = hesse_rep_opt(obj, key);
    if (!v && obj) add_missing(s, path, key, ""); /* a missing parent is listed already */
    return v;
}

int64_t hesse_rep_doubles(hesse_rep *s, const cJSON *arr, double **out) {
    *out = NULL;
    if (!cJSON_IsArray(arr)) return -1;
    int64_t n = cJSON_GetArraySize(arr);
    if (n == 0) return 0;
    double *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        s->oom = 1;
        return -1;
    }
    int64_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) v[i++] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
    *out = v;
    return n;
}

int64_t hesse_rep_array(hesse_rep *s, const cJSON *obj, const char *key, const char *path,
                        double **out) {
    *out = NULL;
    const cJSON *a = hesse_rep_need(s, obj, key, path);
    if (!a) return -1;
    if (!cJSON_IsArray(a)) {
        add_missing(s, path, key, " (not an array)");
        return -1;
    }
    return hesse_rep_doubles(s, a, out);
}

double hesse_rep_number(const cJSON *obj, const char *key) {
    const cJSON *v = hesse_rep_opt(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int hesse_rep_int(const cJSON *obj, const char *key) {
    double v = hesse_rep_number(obj, key);
    return isfinite(v) && fabs(v) < 2147483647.0 ? (int)v : 0;
}

double *hesse_rep_iota(hesse_rep *s, int64_t n, double first) {
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) {
        s->oom = 1;
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) v[i] = first + (double)i;
    return v;
}

/* ---- Tables ------------------------------------------------------------------------------- */

/* The exact JSON text of a number (what the document holds). */
static void exact_number(hesse_iobuf *b, double v) {
    hesse_iobuf_json_number(b, v);
}

/* "N values: min A, max B" for an array of numbers. */
static void summarise_array(hesse_iobuf *b, const cJSON *a) {
    int n = cJSON_GetArraySize(a), nnum = 0, nstr = 0, nnull = 0;
    double lo = INFINITY, hi = -INFINITY;
    const cJSON *x;
    cJSON_ArrayForEach(x, a) {
        if (cJSON_IsNumber(x)) {
            nnum++;
            lo = fmin(lo, x->valuedouble);
            hi = fmax(hi, x->valuedouble);
        } else if (cJSON_IsString(x)) {
            nstr++;
        } else if (cJSON_IsNull(x)) {
            nnull++;
        }
    }
    char l[32], h[32];
    if (n == 0) {
        hesse_iobuf_puts(b, "empty array");
    } else if (nstr == n && n <= 16) {
        int i = 0;
        cJSON_ArrayForEach(x, a) {
            if (i++) hesse_iobuf_puts(b, ", ");
            hesse_rep_text(b, x->valuestring);
        }
    } else if (nnum + nnull == n && n <= 8) {
        int i = 0;
        cJSON_ArrayForEach(x, a) {
            hesse_rep_fmt(l, sizeof l, cJSON_IsNumber(x) ? x->valuedouble : NAN);
            hesse_iobuf_printf(b, "%s%s", i++ ? ", " : "", l);
        }
    } else if (nnum > 0 && nnum + nnull == n) {
        hesse_rep_fmt(l, sizeof l, lo);
        hesse_rep_fmt(h, sizeof h, hi);
        hesse_iobuf_printf(b, "%d values: min %s, max %s", n, l, h);
        if (nnull) hesse_iobuf_printf(b, " (%d null)", nnull);
    } else {
        hesse_iobuf_printf(b, "array of %d", n);
    }
}

void hesse_rep_value(hesse_iobuf *b, const cJSON *v, const char *tag, const char *path) {
    if (!v) {
        hesse_iobuf_printf(b, "<%s class=\"na\">missing</%s>", tag, tag);
        return;
    }
    int number = cJSON_IsNumber(v) || cJSON_IsNull(v);
    hesse_iobuf_printf(b, "<%s%s title=\"", tag, number ? " class=\"n\"" : "");
    hesse_rep_text(b, path);
    if (cJSON_IsNumber(v)) {
        char f[32];
        hesse_rep_fmt(f, sizeof f, v->valuedouble);
        hesse_iobuf_puts(b, " = ");
        exact_number(b, v->valuedouble);
        hesse_iobuf_printf(b, "\">%s", f);
    } else if (cJSON_IsNull(v)) {
        hesse_iobuf_puts(b, " = null (not finite)\">null");
    } else if (cJSON_IsBool(v)) {
        hesse_iobuf_printf(b, "\">%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsString(v)) {
        hesse_iobuf_puts(b, "\">");
        hesse_rep_text(b, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        hesse_iobuf_puts(b, "\">");
        summarise_array(b, v);
    } else {
        hesse_iobuf_printf(b, "\">object of %d keys", cJSON_GetArraySize(v));
    }
    hesse_iobuf_printf(b, "</%s>", tag);
}

void hesse_rep_cell(hesse_rep *s, const cJSON *v, const char *pathfmt, ...) {
    char path[512];
    va_list ap;
    va_start(ap, pathfmt);
    vsnprintf(path, sizeof path, pathfmt, ap);
    va_end(ap);
    hesse_rep_value(s->b, v, "td", path);
}

void hesse_rep_cell_computed(hesse_rep *s, double v, const char *how) {
    if (!isfinite(v)) {
        hesse_iobuf_puts(s->b, "<td class=\"na\" title=\"");
        hesse_rep_text(s->b, how);
        hesse_iobuf_puts(s->b, ": not available\">n/a</td>");
        return;
    }
    char f[32];
    hesse_rep_fmt(f, sizeof f, v);
    hesse_iobuf_puts(s->b, "<td class=\"n computed\" title=\"computed here: ");
    hesse_rep_text(s->b, how);
    hesse_iobuf_puts(s->b, " = ");
    exact_number(s->b, v);
    hesse_iobuf_printf(s->b, "\">%s</td>", f);
}

void hesse_rep_break(hesse_rep *s) {
    if (!s->in_row) return;
    hesse_iobuf_puts(s->b, "</div>\n");
    s->in_row = 0;
}

void hesse_rep_table(hesse_rep *s, const char *cls, const char *caption, int ncols,
                     const char *const *cols) {
    if (!s->in_row) {
        hesse_iobuf_puts(s->b, "<div class=\"tables\">\n");
        s->in_row = 1;
    }
    hesse_iobuf_printf(s->b, "<table class=\"%s\">", cls ? cls : "");
    if (caption) {
        hesse_iobuf_puts(s->b, "<caption>");
        hesse_rep_text(s->b, caption);
        hesse_iobuf_puts(s->b, "</caption>");
    }
    if (ncols > 0) {
        hesse_iobuf_puts(s->b, "<thead><tr>");
        for (int i = 0; i < ncols; i++) {
            hesse_iobuf_puts(s->b, "<th>");
            hesse_rep_text(s->b, cols[i]);
            hesse_iobuf_puts(s->b, "</th>");
        }
        hesse_iobuf_puts(s->b, "</tr></thead>");
    }
    hesse_iobuf_puts(s->b, "<tbody>\n");
}

void hesse_rep_table_end(hesse_rep *s) {
    hesse_iobuf_puts(s->b, "</tbody></table>\n");
}

const cJSON *hesse_rep_get(hesse_rep *s, const cJSON *obj, const char *path, const char *key,
                           int need) {
    const char *dot = strrchr(key, '.');
    for (const char *seg = key; obj && dot && seg < dot;) { /* the parents, silently */
        const char *end = strchr(seg, '.');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - seg), seg);
        obj = hesse_rep_opt(obj, name);
        seg = end + 1;
    }
    const cJSON *v = hesse_rep_opt(obj, dot ? dot + 1 : key);
    if (!v && need && obj) add_missing(s, path, key, ""); /* a missing parent is listed already */
    return v;
}

const char *hesse_rep_label(const hesse_rep *s, const char *spath) {
    const hesse_key *k = hesse_schema_key(s->schema, spath, NULL);
    return k ? k->label : spath;
}

void hesse_rep_rows(hesse_rep *s, const cJSON *obj, const char *path, const char *scope,
                    const hesse_rep_item *items, int n) {
    for (int i = 0; i < n; i++) {
        char spath[128];
        snprintf(spath, sizeof spath, "%s%s%s", scope, *scope ? "." : "", items[i].path);
        const hesse_key *k = hesse_schema_key(s->schema, spath, NULL);
        if (!k) add_missing(s, path, items[i].path, " (not in the schema)");
        const cJSON *v = hesse_rep_get(s, obj, path, items[i].path, items[i].need);
        if (!v) continue;
        hesse_iobuf_puts(s->b, "<tr><th>");
        hesse_rep_text(s->b, items[i].label ? items[i].label : k ? k->label : items[i].path);
        hesse_iobuf_puts(s->b, "</th>");
        hesse_rep_cell(s, v, "%s.%s", path, items[i].path);
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
}

void hesse_rep_kv(hesse_rep *s, const char *caption, const cJSON *doc, const hesse_rep_item *items,
                  int n) {
    hesse_rep_table(s, "kv", caption, 0, NULL);
    hesse_rep_rows(s, doc, "$", "", items, n);
    hesse_rep_table_end(s);
}

/* ---- All values (the generic rendering) ------------------------------------------------------ */

#define ALL_VALUES_MAX_ROWS 400

static int plain_key(const char *k) {
    if (!*k) return 0;
    for (const char *p = k; *p; p++)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9' && p != k)))
            return 0;
    return 1;
}

static int has_containers(const cJSON *a) {
    const cJSON *x;
    cJSON_ArrayForEach(x, a) if (cJSON_IsObject(x) || cJSON_IsArray(x)) return 1;
    return 0;
}

static void walk(hesse_rep *s, const cJSON *v, hesse_iobuf *path, int depth, int *rows) {
    size_t mark = path->len;
    if (*rows >= ALL_VALUES_MAX_ROWS) return;
    int recurse = depth < 8 && (cJSON_IsObject(v) || (cJSON_IsArray(v) && has_containers(v) &&
                                                      cJSON_GetArraySize(v) <= 64));
    if (!recurse || (cJSON_IsObject(v) && !v->child && depth > 0)) {
        (*rows)++;
        hesse_iobuf_puts(s->b, "<tr><th><code>");
        hesse_rep_text(s->b, path->data);
        hesse_iobuf_puts(s->b, "</code></th>");
        hesse_rep_cell(s, v, "%s", path->data);
        hesse_iobuf_puts(s->b, "</tr>\n");
        return;
    }
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
        if (cJSON_IsArray(v))
            hesse_iobuf_printf(path, "[%d]", i);
        else if (plain_key(x->string))
            hesse_iobuf_printf(path, ".%s", x->string);
        else {
            hesse_iobuf_puts(path, "[");
            hesse_iobuf_json_string(path, x->string);
            hesse_iobuf_puts(path, "]");
        }
        walk(s, x, path, depth + 1, rows);
        path->len = mark;
        if (path->data) path->data[mark] = '\0';
        i++;
    }
}

void hesse_rep_all_values(hesse_rep *s, const cJSON *doc) {
    hesse_rep_values(s, doc, "$");
}

void hesse_rep_values(hesse_rep *s, const cJSON *v, const char *base) {
    hesse_iobuf path = {0};
    hesse_iobuf_puts(&path, base);
    int rows = 0;
    static const char *const cols[] = {"JSON path", "value"};
    hesse_rep_table(s, "kv all", NULL, 2, cols);
    if (hesse_iobuf_status(&path) == HESSE_OK)
        walk(s, v, &path, 0, &rows);
    else
        s->oom = 1;
    hesse_rep_table_end(s);
    if (rows >= ALL_VALUES_MAX_ROWS)
        hesse_rep_note(s, "note", "Only the first %d values are listed.", ALL_VALUES_MAX_ROWS);
    hesse_iobuf_free(&path);
}

/* ---- Plots ------------------------------------------------------------------------------------
 */

hesse_plot hesse_rep_plot_spec(const char *title, const char *xlabel, const char *ylabel, int xlog,
                               int ylog) {
    hesse_plot p = hesse_plot_defaults();
    p.title = title;
    p.xlabel = xlabel;
    p.ylabel = ylabel;
    p.xlog = xlog;
    p.ylog = ylog;
    p.width = 620;
    p.height = 370;
    return p;
}

void hesse_rep_plots_begin(hesse_rep *s) {
    hesse_rep_break(s);
    hesse_iobuf_puts(s->b, "<div class=\"plots\">\n");
}

void hesse_rep_plots_end(hesse_rep *s) {
    hesse_iobuf_puts(s->b, "</div>\n");
}

/* Copies the SVG, renaming its element id (the clip path) so that several plots can share
 * one page: ids must be unique in an HTML document, and url(#id) resolves to the first. */
static void append_svg(hesse_iobuf *b, const char *svg, int id) {
    static const char *const pats[] = {"id=\"plotarea\"", "url(#plotarea)"};
    const char *p = svg;
    for (;;) {
        const char *hit = NULL;
        int which = 0;
        for (int k = 0; k < 2; k++) {
            const char *h = strstr(p, pats[k]);
            if (h && (!hit || h < hit)) {
                hit = h;
                which = k;
            }
        }
        if (!hit) break;
        hesse_iobuf_append(b, p, (size_t)(hit - p));
        if (which == 0)
            hesse_iobuf_printf(b, "id=\"plotarea-%d\"", id);
        else
            hesse_iobuf_printf(b, "url(#plotarea-%d)", id);
        p = hit + strlen(pats[which]);
    }
    hesse_iobuf_puts(b, p);
}

void hesse_rep_plot(hesse_rep *s, const hesse_plot *p, const hesse_series *series, int nseries,
                    const char *caption) {
    char *svg = NULL;
    int rc = nseries > 0 ? hesse_svg_render(p, series, nseries, &svg) : HESSE_EINVAL;
    if (rc == HESSE_ENOMEM) {
        s->oom = 1;
        return;
    }
    if (rc != HESSE_OK) {
        hesse_clear_error();
        hesse_rep_note(s, "note", "Plot \"%s\": no drawable values%s.",
                       p && p->title ? p->title : "",
                       p && (p->xlog || p->ylog) ? " (log axes drop non-positive values)" : "");
        return;
    }
    hesse_rep_figure(s, svg, caption);
    free(svg);
}

void hesse_rep_figure(hesse_rep *s, const char *svg, const char *caption) {
    int id = ++*s->plots;
    hesse_iobuf_printf(s->b, "<figure id=\"plot-%d\">\n", id);
    append_svg(s->b, svg, id);
    if (caption) {
        hesse_iobuf_puts(s->b, "<figcaption>");
        hesse_rep_text(s->b, caption);
        hesse_iobuf_puts(s->b, "</figcaption>");
    }
    hesse_iobuf_puts(s->b, "</figure>\n");
}

void hesse_rep_note(hesse_rep *s, const char *cls, const char *fmt, ...) {
    hesse_rep_break(s);
    hesse_iobuf_printf(s->b, "<p class=\"%s\">", cls);
    va_list ap;
    va_start(ap, fmt);
    text_vprintf(s->b, fmt, ap);
    va_end(ap);
    hesse_iobuf_puts(s->b, "</p>\n");
}

void hesse_rep_h3(hesse_rep *s, const char *text) {
    hesse_rep_break(s);
    hesse_iobuf_puts(s->b, "<h3>");
    hesse_rep_text(s->b, text);
    hesse_iobuf_puts(s->b, "</h3>\n");
}
