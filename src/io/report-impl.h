/* io/ report internals: the section writer that report.c (the page) shares with the per-schema
 * renderers (report_sections.c: the measurement commands; report_analysis.c: the analyses);
 * report_parts.c implements the helpers. Not installed.
 *
 * A renderer writes one section's body. It never fails on content: a key it expected and
 * did not find is recorded as missing (the page lists those under the section heading), a
 * plot with nothing to draw becomes a note. Only running out of memory fails, and that is
 * carried by the buffer (hesse_iobuf_status). */
#ifndef HESSE_REPORT_IMPL_H
#define HESSE_REPORT_IMPL_H

#include "io/io-impl.h"

#include <hesse/schema.h>

#include <stdint.h>

typedef struct {
    hesse_iobuf *b;      /* the section body */
    hesse_iobuf missing; /* JSON paths expected and not found, ", "-separated */
    int nmissing;
    int *plots;                 /* report-wide plot counter (unique SVG element ids) */
    int oom;                    /* an allocation outside b failed */
    int in_row;                 /* a row of side-by-side tables is open */
    const hesse_schema *schema; /* the document's (labels of table rows); NULL: unknown */
} hesse_rep;

/* ---- Text ---------------------------------------------------------------------------------- */

/* HTML-escaped text (& < > " ' escaped; control characters other than tab and newline as
 * U+FFFD), usable in element content and in double-quoted attributes. */
void hesse_rep_text(hesse_iobuf *b, const char *s);
/* A number for reading: integers below 1e15 in full, others as %.6g; non-finite as "null". */
void hesse_rep_fmt(char *buf, size_t cap, double v);

/* ---- JSON access --------------------------------------------------------------------------
 * `path` arguments are JSONPath-like strings of the containing object ("$", "$.fit",
 * "$.layers[2]"); printf-style where the name says so. */

/* obj[key], or NULL (obj may be NULL). Records nothing. */
const cJSON *hesse_rep_opt(const cJSON *obj, const char *key);
/* obj[key]; when absent records "<path>.<key>" as missing (unless obj is NULL: a missing
 * parent was recorded already) and returns NULL. */
const cJSON *hesse_rep_need(hesse_rep *s, const cJSON *obj, const char *key, const char *path);
/* The numbers of a JSON array (null and non-numbers as NaN) in a malloc'd array; returns the
 * count, or -1 when `arr` is not an array (or on allocation failure, which sets s->oom). A
 * count of 0 leaves *out NULL. */
int64_t hesse_rep_doubles(hesse_rep *s, const cJSON *arr, double **out);
/* obj[key] as doubles; a missing key or a non-array is recorded as missing and gives -1. */
int64_t hesse_rep_array(hesse_rep *s, const cJSON *obj, const char *key, const char *path,
                        double **out);
/* obj[key] as a number, or NaN (recording nothing). */
double hesse_rep_number(const cJSON *obj, const char *key);
/* obj[key] as an int, or 0 when absent, not a number or out of int range. */
int hesse_rep_int(const cJSON *obj, const char *key);

/* ---- Tables ---------------------------------------------------------------------------------- */

/* A table cell for a JSON value: numbers formatted by hesse_rep_fmt with the path and the
 * exact value in the title, booleans as yes/no, strings escaped, null as "null", arrays and
 * objects summarised; v NULL: a "missing" cell. */
void hesse_rep_cell(hesse_rep *s, const cJSON *v, const char *pathfmt, ...)
    __attribute__((format(printf, 3, 4)));
/* <tag title="path = exact">value</tag> (tag "td", "dd", ...) as hesse_rep_cell describes. */
void hesse_rep_value(hesse_iobuf *b, const cJSON *v, const char *tag, const char *path);
/* A cell for a value computed here from the document (say how in `how`). */
void hesse_rep_cell_computed(hesse_rep *s, double v, const char *how);
/* <table class="..."><caption>..</caption> and a header row of ncols labels (none when
 * ncols is 0). Consecutive tables sit side by side in one row; headings, notes, plots and
 * hesse_rep_break end the row. */
void hesse_rep_table(hesse_rep *s, const char *cls, const char *caption, int ncols,
                     const char *const *cols);
void hesse_rep_table_end(hesse_rep *s);
/* Ends a row of side-by-side tables (before raw HTML that should start below them). */
void hesse_rep_break(hesse_rep *s);
/* ---- Tables of schema rows ----------------------------------------------------------------
 * A key/value table is data: the schema paths of its rows (src/io/schema.c), each needed (a
 * missing key is listed under the section heading, unless its parent is missing: that was
 * listed already) or optional, labelled with the schema row's label unless the item gives its
 * own. A path the schema does not declare is listed as missing with "(not in the schema)". */
typedef struct {
    const char *path;  /* below the table's object: "solver.tol"; "overlap" in "layers[]" */
    int need;          /* list it when missing */
    const char *label; /* NULL: the schema row's */
} hesse_rep_item;
#define HESSE_REP_NEED(path)                                                                       \
    { path, 1, NULL }
#define HESSE_REP_OPT(path)                                                                        \
    { path, 0, NULL }
#define HESSE_REP_COUNT(items) (int)(sizeof(items) / sizeof((items)[0]))

/* The value at a dotted path below obj (obj at JSON path `path`), recording it as missing
 * when `need` and its parent exists; NULL when absent. */
const cJSON *hesse_rep_get(hesse_rep *s, const cJSON *obj, const char *path, const char *key,
                           int need);
/* The label of a schema path ("cases[].grad_ms"), or the path when it is not declared. */
const char *hesse_rep_label(const hesse_rep *s, const char *spath);
/* <th>label</th> and the cell, one row per item present: the items' values below obj (JSON
 * path `path`, schema path `scope`: "" for the document, "layers[]" for an element). */
void hesse_rep_rows(hesse_rep *s, const cJSON *obj, const char *path, const char *scope,
                    const hesse_rep_item *items, int n);
/* A "kv" table of the document's rows: hesse_rep_table, hesse_rep_rows, hesse_rep_table_end. */
void hesse_rep_kv(hesse_rep *s, const char *caption, const cJSON *doc, const hesse_rep_item *items,
                  int n);

/* Every scalar under v (nested objects flattened to JSON paths from `path`, arrays of
 * numbers summarised by length, min and max), as a two-column table: the generic rendering
 * of an unknown schema, and of parts whose layout is open. */
void hesse_rep_values(hesse_rep *s, const cJSON *v, const char *path);
/* hesse_rep_values of a whole document. */
void hesse_rep_all_values(hesse_rep *s, const cJSON *doc);

/* ---- Plots ----------------------------------------------------------------------------------- */

/* Opens / closes a row of plots (they wrap on narrow screens). */
void hesse_rep_plots_begin(hesse_rep *s);
void hesse_rep_plots_end(hesse_rep *s);
/* A plot description: the title and axis labels (static strings or strings that outlive
 * the hesse_rep_plot call), log axes, and the report's plot size. */
hesse_plot hesse_rep_plot_spec(const char *title, const char *xlabel, const char *ylabel, int xlog,
                               int ylog);
/* Renders a plot with hesse_svg_render as an inline <figure> (the SVG's element ids made
 * unique in the page) with a caption naming where its data came from. A plot with nothing
 * to draw becomes a note. */
void hesse_rep_plot(hesse_rep *s, const hesse_plot *p, const hesse_series *series, int nseries,
                    const char *caption);
/* An SVG document (hesse_svg_render, hesse_heatmap_render) as an inline <figure>, its element
 * ids made unique in the page, with a caption. */
void hesse_rep_figure(hesse_rep *s, const char *svg, const char *caption);
/* A paragraph of escaped text with a class ("note", "verdict ok", "verdict bad"). */
void hesse_rep_note(hesse_rep *s, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A heading inside a section. */
void hesse_rep_h3(hesse_rep *s, const char *text);

/* 1, 2, ..., n as doubles (malloc'd; NULL with s->oom on failure). */
double *hesse_rep_iota(hesse_rep *s, int64_t n, double first);

/* ---- Renderers (one per schema) ---------------------------------------------------------- */
typedef void (*hesse_rep_fn)(hesse_rep *s, const cJSON *doc);

void hesse_rep_eval(hesse_rep *s, const cJSON *doc);
void hesse_rep_train(hesse_rep *s, const cJSON *doc);
/* The "tracking" part of a train document (report_track.c); nothing when it has none. */
void hesse_rep_tracking(hesse_rep *s, const cJSON *doc);
void hesse_rep_dense(hesse_rep *s, const cJSON *doc);
void hesse_rep_spectrum(hesse_rep *s, const cJSON *doc);
void hesse_rep_density(hesse_rep *s, const cJSON *doc);
void hesse_rep_trace(hesse_rep *s, const cJSON *doc);
void hesse_rep_bench(hesse_rep *s, const cJSON *doc);
void hesse_rep_powerlaw(hesse_rep *s, const cJSON *doc);
void hesse_rep_classes(hesse_rep *s, const cJSON *doc);
void hesse_rep_samples(hesse_rep *s, const cJSON *doc);
void hesse_rep_kronecker(hesse_rep *s, const cJSON *doc);
void hesse_rep_blocks(hesse_rep *s, const cJSON *doc);

#endif /* HESSE_REPORT_IMPL_H */
