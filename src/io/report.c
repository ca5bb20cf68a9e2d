/* The HTML report: one self-contained page (inline CSS and SVG, no scripts, no external
 * assets; a Content-Security-Policy that forbids loading anything) joining result documents.
 * This file holds the page, the table of contents and the frame every section gets (source
 * file, schema, created, command line, context, missing keys, all values); report_parts.c the
 * pieces sections are made of, report_sections.c and report_analysis.c the sections. */
#include "io/report-impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- The page ----------------------------------------------------------------------------------
 */

static const char page_css[] =
    ":root{color-scheme:light}\n"
    "body{margin:0;background:#f4f5f7;color:#1d2433;font:14px/1.45 system-ui,-apple-system,"
    "\"Segoe UI\",Roboto,\"DejaVu Sans\",sans-serif}\n"
    "header,nav,main,footer{max-width:1340px;margin:0 auto;padding:0 20px}\n"
    "h1{font-size:22px;margin:18px 0 2px}h2{font-size:18px;margin:10px 0 2px}"
    "h3{font-size:15px;margin:16px 0 4px}\n"
    "a{color:#1f5fa8;text-decoration:none}a:hover{text-decoration:underline}\n"
    "code,pre,td.n{font-family:ui-monospace,\"DejaVu Sans Mono\",Menlo,Consolas,monospace;"
    "font-size:12.5px}\n"
    "nav.toc,section{background:#fff;border:1px solid #dde1e7;border-radius:6px;"
    "margin:14px auto;padding:8px 18px 12px}\n"
    "nav.toc{max-width:1300px}nav.toc ol{margin:4px 0;padding-left:26px;columns:2 520px}\n"
    "nav.toc li{margin:1px 0}nav.toc .meta{color:#667;font-size:12px}\n"
    "main{padding:0}main section{max-width:1300px;overflow-x:auto}\n"
    ".source{color:#555;font-size:12.5px;margin:2px 0}\n"
    "pre.cmd{background:#f1f3f5;border-radius:4px;padding:5px 8px;margin:6px 0;"
    "white-space:pre-wrap;word-break:break-all}\n"
    ".tables{display:flex;flex-wrap:wrap;gap:0 22px;align-items:flex-start}\n"
    "table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}\n"
    "caption{text-align:left;font-weight:600;padding:2px 0 4px;white-space:nowrap}\n"
    "th,td{border-bottom:1px solid #e6e8ec;padding:2px 9px;text-align:left;vertical-align:top}\n"
    "thead th{background:#f1f3f5;font-weight:600}tbody th{font-weight:500;color:#333}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "dl.ctx{display:flex;flex-wrap:wrap;gap:3px 8px;margin:6px 0 4px;font-size:13px}\n"
    "dl.ctx div{background:#f4f6f9;border-radius:4px;padding:1px 8px;max-width:100%}\n"
    "dl.ctx dt{display:inline;color:#5a6475;margin-right:6px}dl.ctx dd{display:inline;margin:0;"
    "overflow-wrap:anywhere}\n"
    "table.kv td.n{text-align:left}td.k{text-align:right;color:#667}\n"
    "td.computed{color:#4a5568;font-style:italic}td.na{color:#a0a0a0}\n"
    "table.all td{max-width:760px;overflow-wrap:anywhere}\n"
    ".plots{display:flex;flex-wrap:wrap;gap:8px 18px}\n"
    "figure{margin:6px 0;flex:0 1 620px;min-width:300px}\n"
    "figure svg{display:block;width:100%;height:auto;border:1px solid #e6e8ec}\n"
    "figcaption{font-size:12px;color:#555;margin-top:2px}\n"
    "p.missing{background:#fff5e0;border-left:3px solid #e0a030;padding:4px 8px;"
    "font-size:12.5px}\n"
    "p.note{color:#555;font-size:12.5px}p.verdict{font-weight:600}\n"
    "p.verdict.ok{color:#17622b}p.verdict.bad{color:#a3261b}\n"
    "details{margin:8px 0 2px}summary{cursor:pointer;color:#345;font-size:13px}\n"
    "footer{color:#667;font-size:12px;padding-bottom:24px}\n";

static const struct {
    const char *command, *title;
    hesse_rep_fn render;
} renderers[] = {
    {"eval", "Evaluation", hesse_rep_eval},
    {"train", "Training", hesse_rep_train},
    {"dense", "Dense spectrum", hesse_rep_dense},
    {"spectrum", "Extreme eigenvalues", hesse_rep_spectrum},
    {"density", "Spectral density", hesse_rep_density},
    {"trace", "Trace", hesse_rep_trace},
    {"bench", "Benchmark", hesse_rep_bench},
    {"powerlaw", "Power-law fit", hesse_rep_powerlaw},
    {"classes", "Class-mean decomposition", hesse_rep_classes},
    {"samples", "Sample-size dynamics", hesse_rep_samples},
    {"kronecker", "Kronecker decoupling", hesse_rep_kronecker},
    {"blocks", "Block heterogeneity", hesse_rep_blocks},
};
#define NUM_RENDERERS (int)(sizeof renderers / sizeof renderers[0])

/* "hesse.<command>/<version>": the command (up to 31 characters of [a-z0-9_-]) and version;
 * 0 when the schema has another form. */
static int parse_schema(const char *schema, char *command, size_t cap, long *version) {
    if (strncmp(schema, "hesse.", 6) != 0) return 0;
    const char *p = schema + 6, *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : 0;
    if (!slash || len == 0 || len >= cap) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_' ||
              p[i] == '-'))
            return 0;
    char *end = NULL;
    *version = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end != '\0') return 0;
    memcpy(command, p, len);
    command[len] = '\0';
    return 1;
}

typedef struct {
    const char *schema;
    char command[32]; /* "" when the schema is not hesse.<command>/<version> */
    long version;
    int renderer; /* index in renderers, or -1 */
    char anchor[48];
} doc_info;

static void describe(const cJSON *doc, int index, doc_info *d) {
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "schema");
    d->schema = sc->valuestring;
    d->renderer = -1;
    d->version = 0;
    if (!parse_schema(d->schema, d->command, sizeof d->command, &d->version)) d->command[0] = 0;
    for (int r = 0; r < NUM_RENDERERS && d->command[0]; r++)
        if (strcmp(d->command, renderers[r].command) == 0) d->renderer = r;
    snprintf(d->anchor, sizeof d->anchor, "s%d-%s", index + 1,
             d->command[0] ? d->command : "result");
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static const char *section_title(const doc_info *d) {
    return d->renderer >= 0 ? renderers[d->renderer].title : "Result";
}

/* A shell word: quoted with '...' unless it is made of safe characters only. */
static void shell_word(hesse_iobuf *b, const char *w) {
    int safe = *w != '\0';
    for (const char *p = w; *p && safe; p++)
        safe = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-",
                      *p) != NULL;
    if (safe) {
        hesse_rep_text(b, w);
        return;
    }
    hesse_iobuf_puts(b, "&#39;");
    for (const char *p = w; *p; p++) {
        if (*p == '\'') {
            hesse_iobuf_puts(b, "&#39;\\&#39;&#39;");
        } else {
            char c[2] = {*p, 0};
            hesse_rep_text(b, c);
        }
    }
    hesse_iobuf_puts(b, "&#39;");
}

/* The facts most documents share (what was measured, on what), as a compact list: paths of
 * the rows the commands share, labelled as the schema labels them. */
static const char *const context_paths[] = {
    "model.arch", "n_params",   "data.description", "operator",     "dimension", "layer",
    "tensors",    "model.loss", "model.path",       "model.sha256", "blas.core", "blas.threads"};

static void context_list(hesse_rep *s, const cJSON *doc) {
    if (!hesse_rep_opt(doc, "model") && !hesse_rep_opt(doc, "data") &&
        !hesse_rep_opt(doc, "n_params"))
        return;
    hesse_rep_break(s);
    hesse_iobuf *b = s->b;
    hesse_iobuf_puts(b, "<dl class=\"ctx\">");
    for (size_t i = 0; i < sizeof context_paths / sizeof context_paths[0]; i++) {
        const cJSON *v = hesse_rep_get(s, doc, "$", context_paths[i], 0);
        if (!v) continue;
        const hesse_key *k = hesse_schema_key(NULL, context_paths[i], NULL);
        char full[64];
        snprintf(full, sizeof full, "$.%s", context_paths[i]);
        hesse_iobuf_puts(b, "<div><dt>");
        hesse_rep_text(b, k ? k->label : context_paths[i]);
        hesse_iobuf_puts(b, "</dt>");
        hesse_rep_value(b, v, "dd", full);
        hesse_iobuf_puts(b, "</div>");
    }
    hesse_iobuf_puts(b, "</dl>\n");
}

static int render_section(hesse_iobuf *page, const cJSON *doc, const char *name, int index,
                          const doc_info *d, int *plots) {
    hesse_iobuf body = {0};
    hesse_rep s = {&body, {0}, 0, plots, 0, 0, hesse_schema_find(d->command)};
    context_list(&s, doc);
    if (d->renderer >= 0) {
        renderers[d->renderer].render(&s, doc);
    } else {
        hesse_rep_note(&s, "note",
                       "No renderer for schema \"%s\" in hesse %s: its values are listed as "
                       "they are.",
                       d->schema, hesse_version());
        hesse_rep_all_values(&s, doc);
    }
    hesse_rep_break(&s);
    if (d->renderer >= 0) {
        hesse_iobuf_puts(&body, "<details><summary>All values in ");
        hesse_rep_text(&body, base_name(name));
        hesse_iobuf_puts(&body, "</summary>\n");
        hesse_rep_all_values(&s, doc);
        hesse_rep_break(&s);
        hesse_iobuf_puts(&body, "</details>\n");
    }

    hesse_iobuf_printf(page, "<section id=\"%s\">\n<h2>%d. ", d->anchor, index + 1);
    hesse_rep_text(page, section_title(d));
    const cJSON *op = hesse_rep_opt(doc, "operator");
    if (cJSON_IsString(op)) {
        hesse_iobuf_puts(page, " (");
        hesse_rep_text(page, op->valuestring);
        hesse_iobuf_puts(page, ")");
    }
    hesse_iobuf_puts(page, " &mdash; ");
    hesse_rep_text(page, base_name(name));
    hesse_iobuf_puts(page, "</h2>\n<p class=\"source\">source <code>");
    hesse_rep_text(page, name);
    hesse_iobuf_puts(page, "</code> &middot; schema <code>");
    hesse_rep_text(page, d->schema);
    hesse_iobuf_puts(page, "</code>");
    const cJSON *created = hesse_rep_opt(doc, "created"),
                *ver = hesse_rep_opt(doc, "hesse_version");
    hesse_iobuf_puts(page, " &middot; created ");
    if (cJSON_IsString(created)) {
        hesse_iobuf_puts(page, "<time>");
        hesse_rep_text(page, created->valuestring);
        hesse_iobuf_puts(page, "</time>");
    } else {
        hesse_iobuf_puts(page, "(not recorded)");
    }
    if (cJSON_IsString(ver)) {
        hesse_iobuf_puts(page, " &middot; hesse ");
        hesse_rep_text(page, ver->valuestring);
    }
    hesse_iobuf_printf(page,
                       " &middot; <a href=\"#%s\">link</a> &middot; <a href=\"#top\">"
                       "contents</a></p>\n",
                       d->anchor);
    const cJSON *cmd = hesse_rep_opt(doc, "command_line");
    if (cJSON_IsArray(cmd)) {
        hesse_iobuf_puts(page, "<pre class=\"cmd\">hesse");
        const cJSON *w;
        cJSON_ArrayForEach(w, cmd) {
            hesse_iobuf_puts(page, " ");
            shell_word(page, cJSON_IsString(w) ? w->valuestring : "?");
        }
        hesse_iobuf_puts(page, "</pre>\n");
    } else {
        hesse_iobuf_puts(page, "<p class=\"note\">No command line recorded.</p>\n");
    }
    if (d->renderer >= 0 && d->version != 1)
        hesse_iobuf_printf(page,
                           "<p class=\"missing\">Layout version %ld: this report knows version "
                           "1; keys it does not know are listed under \"All values\".</p>\n",
                           d->version);
    if (s.nmissing) {
        hesse_iobuf_puts(page, "<p class=\"missing\">Not in this document: ");
        hesse_rep_text(page, s.missing.data);
        hesse_iobuf_puts(page, "</p>\n");
    }
    hesse_iobuf_append(page, body.data ? body.data : "", body.len);
    hesse_iobuf_puts(page, "</section>\n");
    int rc = s.oom || hesse_iobuf_status(&body) || hesse_iobuf_status(&s.missing) ? HESSE_ENOMEM
                                                                                  : HESSE_OK;
    hesse_iobuf_free(&body);
    hesse_iobuf_free(&s.missing);
    return rc;
}

int hesse_report_html(const cJSON *const *docs, const char *const *names, int count,
                      const char *title, char **html) {
    if (!html) return hesse_error(HESSE_EINVAL, "hesse_report_html: NULL output");
    *html = NULL;
    if (!docs || !names || count < 1)
        return hesse_error(HESSE_EINVAL, "hesse_report_html: no documents to report on");
    for (int i = 0; i < count; i++) {
        const char *name = names[i] ? names[i] : "(unnamed)";
        if (!cJSON_IsObject(docs[i]))
            return hesse_error(HESSE_EINPUT,
                               "%s: not a hesse result document (expected a JSON object)", name);
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(docs[i], "schema");
        if (!cJSON_IsString(sc) || !sc->valuestring[0])
            return hesse_error(HESSE_EINPUT,
                               "%s: not a hesse result document (no \"schema\" string)", name);
    }
    doc_info *info = calloc((size_t)count, sizeof *info);
    if (!info) return hesse_error(HESSE_ENOMEM, "out of memory for a %d-document report", count);
    for (int i = 0; i < count; i++) describe(docs[i], i, &info[i]);
    if (!title || !*title) title = "hesse report";

    hesse_iobuf b = {0};
    hesse_iobuf_puts(&b,
                     "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                     "'none'; style-src 'unsafe-inline'\">\n"
                     "<meta name=\"generator\" content=\"hesse ");
    hesse_rep_text(&b, hesse_version());
    hesse_iobuf_puts(&b, "\">\n<title>");
    hesse_rep_text(&b, title);
    hesse_iobuf_printf(&b,
                       "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header id=\"top\">"
                       "<h1>",
                       page_css);
    hesse_rep_text(&b, title);
    hesse_iobuf_printf(&b,
                       "</h1>\n<p class=\"source\">%d result document%s. Hover over a number for "
                       "its JSON path and exact value; every section names the file it came "
                       "from.</p>\n</header>\n<nav class=\"toc\"><h2>Contents</h2>\n<ol>\n",
                       count, count == 1 ? "" : "s");
    for (int i = 0; i < count; i++) {
        hesse_iobuf_printf(&b, "<li><a href=\"#%s\">", info[i].anchor);
        hesse_rep_text(&b, section_title(&info[i]));
        hesse_iobuf_puts(&b, " &mdash; ");
        hesse_rep_text(&b, base_name(names[i] ? names[i] : "(unnamed)"));
        hesse_iobuf_puts(&b, "</a> <span class=\"meta\">");
        hesse_rep_text(&b, info[i].schema);
        const cJSON *created = hesse_rep_opt(docs[i], "created");
        if (cJSON_IsString(created)) {
            hesse_iobuf_puts(&b, ", ");
            hesse_rep_text(&b, created->valuestring);
        }
        hesse_iobuf_puts(&b, "</span></li>\n");
    }
    hesse_iobuf_puts(&b, "</ol>\n</nav>\n<main>\n");
    int plots = 0, rc = HESSE_OK;
    for (int i = 0; i < count && rc == HESSE_OK; i++)
        rc = render_section(&b, docs[i], names[i] ? names[i] : "(unnamed)", i, &info[i], &plots);
    hesse_iobuf_puts(&b, "</main>\n<footer><p>Made by <code>hesse report</code> ");
    hesse_rep_text(&b, hesse_version());
    hesse_iobuf_printf(&b,
                       " from %d document%s, %d plot%s. No scripts, no external "
                       "resources.</p></footer>\n</body>\n</html>\n",
                       count, count == 1 ? "" : "s", plots, plots == 1 ? "" : "s");
    free(info);
    if (rc == HESSE_OK) rc = hesse_iobuf_status(&b);
    if (rc != HESSE_OK) {
        hesse_iobuf_free(&b);
        return hesse_error(rc, "out of memory rendering the report");
    }
    *html = b.data;
    return HESSE_OK;
}

/* Line and column of a byte offset, for a parse error message. */
static void line_col(const char *text, size_t off, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

int hesse_report_files(const char *const *paths, int count, const char *title, char **html) {
    if (!html) return hesse_error(HESSE_EINVAL, "hesse_report_files: NULL output");
    *html = NULL;
    if (!paths || count < 1)
        return hesse_error(HESSE_EINVAL, "hesse_report_files: no documents to report on");
    cJSON **docs = calloc((size_t)count, sizeof(cJSON *));
    if (!docs) return hesse_error(HESSE_ENOMEM, "out of memory for a %d-document report", count);
    int rc = HESSE_OK;
    for (int i = 0; i < count && rc == HESSE_OK; i++) {
        if (!paths[i]) {
            rc = hesse_error(HESSE_EINVAL, "hesse_report_files: path %d is NULL", i);
            break;
        }
        unsigned char *text = NULL;
        size_t len = 0;
        rc = hesse_read_file_sized(paths[i], hesse_read_size_text, NULL, HESSE_TEXT_STREAM_MAX,
                                   &text, &len);
        if (rc != HESSE_OK) break;
        const char *end = NULL;
        /* The length counts the NUL hesse_read_file adds: cJSON 1.7 then refuses trailing
         * content after the document (it needs the terminator inside the length). */
        docs[i] = cJSON_ParseWithLengthOpts((const char *)text, len + 1, &end, 1);
        if (!docs[i]) {
            int line, col;
            size_t off = end ? (size_t)(end - (const char *)text) : 0;
            line_col((const char *)text, off, &line, &col);
            rc = len == 0 ? hesse_error(HESSE_EINPUT,
                                        "%s: empty file (expected a hesse result "
                                        "document, JSON)",
                                        paths[i])
                          : hesse_error(HESSE_EINPUT,
                                        "%s: not JSON (syntax error at line %d, column %d); "
                                        "expected a hesse result document",
                                        paths[i], line, col);
        }
        free(text);
    }
    if (rc == HESSE_OK)
        rc = hesse_report_html((const cJSON *const *)docs, paths, count, title, html);
    for (int i = 0; i < count; i++) cJSON_Delete(docs[i]);
    free(docs);
    return rc;
}
