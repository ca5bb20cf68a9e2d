/* hesse/io.h: files. safetensors (read and write), model files, safetensors datasets,
 * atomic writes, and the JSON result envelope (cJSON documents).
 *
 * Nothing here writes a half file: every writer goes to a temporary name in the target's
 * directory and renames it into place.
 *
 * Room: io/ owns file formats and documents (safetensors, model files, JSON results and their
 * schemas (hesse/schema.h), the report, SVG plots); it computes nothing. Ownership: a buffer
 * returned through a pointer (file contents, printed JSON, SVG, HTML, a model file's
 * preprocessing) is the caller's, released with hesse_free. Threads: readers and writers keep
 * no shared state; the active output set (hesse_outputs_activate) is per thread. */
#ifndef HESSE_IO_H
#define HESSE_IO_H

#include <hesse/export.h>
#include <cjson/cJSON.h>
#include <hesse/core.h>
#include <hesse/data.h>
#include <hesse/nn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Atomic files ---------------------------------------------------------------------- */

/* Writes len bytes to path through a temporary file + fsync + rename. HESSE_EIO with the
 * path and the system's reason on failure; the old file (if any) is then untouched. */
HESSE_API int hesse_write_file_atomic(const char *path, const void *data, size_t len);
/* The same for a file made of nparts pieces (data[i], len[i]) written in order. */
HESSE_API int hesse_write_parts_atomic(const char *path, int nparts, const void *const *data,
                                       const size_t *len);

/* Checks before long work that `path` can be written: a character device or FIFO (written
 * in place), or a file in an existing, writable directory. HESSE_EIO naming the path and the
 * reason otherwise: a directory, a block device, or an existing file without write
 * permission (refused like the shell's `>` refuses it, and for root too). */
HESSE_API int hesse_check_writable(const char *path);

/* How the writers above treat their target (every writer of io/ goes through them):
 * - a symbolic link is followed: its target is replaced, the link stays;
 * - a character device or FIFO is written in place (no temporary file, no rename), and so is
 *   /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N (the open descriptor itself);
 * - a directory, a block device or a write-protected file is refused (HESSE_EIO);
 * - anything else goes to a temporary file beside the target, which is renamed into place. */
/* 1 when the writers write `path` in place (a character device, a FIFO, /dev/std*). */
HESSE_API int hesse_output_inplace(const char *path);

/* ---- The outputs of one run ------------------------------------------------------------
 * A set of outputs that appear together or not at all. Each output is checked when it is
 * added, before any work: writable (hesse_check_writable), and not the same file (device
 * and inode, after symbolic links) as any input added before it or any other output, nor the
 * same path as another output that does not exist yet. While the set is active on a thread,
 * every staged output the io/ writers finish on that thread stays under its temporary name;
 * hesse_outputs_commit renames them all into place, and hesse_outputs_free removes those
 * not committed. Outputs written in place (devices, FIFOs, /dev/std*) and unstaged outputs
 * (a checkpoint, rewritten as a run goes) are written at once.
 * A set belongs to one thread; ownership stays with the caller. */
typedef struct hesse_outputs hesse_outputs;
HESSE_API int hesse_outputs_create(hesse_outputs **out);
/* Removes every staged file not committed and deactivates the set if it is active.
 * NULL-safe. */
HESSE_API void hesse_outputs_free(hesse_outputs *o);
/* An input that no output may replace; `what` names it in messages ("--model"). A directory
 * stands for the files in it; a path that does not exist is ignored (opening it fails
 * later with its own message). */
HESSE_API int hesse_outputs_input(hesse_outputs *o, const char *path, const char *what);
/* An output; `what` names it in messages ("--output"). HESSE_EINVAL naming both when it is
 * the same file as an input (except the input named `may_be`, NULL for none: a checkpoint
 * may be the file it resumed from) or as another output; hesse_check_writable's errors
 * otherwise. staged 0: written at once (a checkpoint). */
HESSE_API int hesse_outputs_add(hesse_outputs *o, const char *path, const char *what, int staged,
                                const char *may_be);
/* Makes o this thread's active set (NULL: none). */
HESSE_API void hesse_outputs_activate(hesse_outputs *o);
/* Renames every finished staged output into place, in the order added. HESSE_EIO naming the
 * file when a rename fails (the temporary files not yet renamed are then removed). */
HESSE_API int hesse_outputs_commit(hesse_outputs *o);

/* ---- safetensors writer (the reader: hesse/data.h) ---- */
/* A writer collects tensors (the data pointers must stay valid until hesse_st_write; data is
 * in the host's little-endian layout, row-major) and metadata (copied; a key added again
 * replaces its value), then writes them atomically: compact header with __metadata__ first
 * (omitted when empty) and the tensors in the order added, padded with spaces to a multiple
 * of 8 bytes, then the data back to back. Names must be unique, non-empty and not
 * "__metadata__" (HESSE_EINVAL). The writer may write again after a failure. */
typedef struct hesse_st_writer hesse_st_writer;
HESSE_API int hesse_st_writer_create(hesse_st_writer **out);
HESSE_API void hesse_st_writer_free(hesse_st_writer *w);
HESSE_API int hesse_st_add(hesse_st_writer *w, const char *name, hesse_dtype dtype, int ndim,
                           const int64_t *shape, const void *data);
HESSE_API int hesse_st_add_meta(hesse_st_writer *w, const char *key, const char *value);
HESSE_API int hesse_st_write(hesse_st_writer *w, const char *path);

/* ---- Model files ------------------------------------------------------------------------
 * hesse writes F64 tensors named "{module}.weight"/"{module}.bias" (module "{i}" for an
 * unnamed item), batch norm's buffers ("{module}.running_mean", ".running_var" F64 and
 * ".num_batches_tracked" I64 []) after their module's parameters, and metadata keys
 *   hesse.format = "1", hesse.arch, hesse.input_shape = "c,h,w", hesse.loss,
 *   hesse.preprocess (JSON), hesse.seed, hesse.history (JSON), hesse.data (JSON),
 *   hesse.version.
 * A file without hesse.arch (a PyTorch state_dict) needs the architecture given. */

typedef struct {
    const char *preprocess_json; /* may be NULL */
    const char *history_json;    /* may be NULL */
    const char *data_json;       /* dataset and selection used for training; may be NULL */
    uint64_t seed;
} hesse_model_meta;

/* Writes the model atomically. meta may be NULL (then no preprocess, history, data or seed
 * keys); its JSON strings must parse (HESSE_EINVAL otherwise). HESSE_EIO naming the path
 * when writing fails, and then the old file, if any, is untouched. */
HESSE_API int hesse_model_save(const hesse_model *m, const hesse_model_meta *meta,
                               const char *path);

/* How to read a model file. Zero/NULL fields mean "take it from the file". opt may be NULL
 * in hesse_model_load (all defaults). */
typedef struct {
    const char *arch; /* overrides or supplies the architecture */
    int c, h, w;      /* input shape when the file has none (then required); checked when
                         it has one */
    int loss;         /* a hesse_loss_kind, or -1: the file's, else cross-entropy */
} hesse_load_options;
HESSE_API hesse_load_options hesse_load_defaults(void);

/* Loads a model file. Every tensor of the architecture, parameters and buffers, must be present
 * with its exact shape (F64, F32, F16 or BF16; converted to double; num_batches_tracked may be
 * any numeric type or absent, as evaluation mode does not use it); an extra tensor is an error.
 * A running_var below zero is HESSE_EINPUT. Errors name the
 * file, the tensor, and the expected vs found shape or dtype. Non-finite weights are
 * HESSE_EINPUT naming the tensor and the index. A file with a hesse.format other than "1"
 * is refused. preprocess_json (may be NULL) receives a copy of hesse.preprocess (the caller's:
 * hesse_free), or NULL when the file has none. */
HESSE_API int hesse_model_load(const char *path, const hesse_load_options *opt, hesse_model **out,
                               char **preprocess_json);

/* The preprocessing a model file records (hesse.preprocess): {"scale": s, "mean": [...],
 * "std": [...]}, the means and stds per channel and optional. from_json fills only what the
 * text gives (start from hesse_preprocess_defaults); HESSE_EINPUT when it is not an object or
 * mean and std disagree in length. to_json adds the keys to `into`. */
HESSE_API int hesse_preprocess_from_json(const char *json, hesse_preprocess *p);
HESSE_API void hesse_preprocess_to_json(const hesse_preprocess *p, cJSON *into);

/* ---- JSON results -----------------------------------------------------------------------
 * Every command writes one document: {"schema": "hesse.<command>/1", "hesse_version",
 * "command_line", "created", "blas": {...}, ...its own keys...}. */

/* A new result document with the common envelope filled in. */
HESSE_API cJSON *hesse_result_new(const char *command, int argc, char **argv);
/* Adds an array of n doubles (non-finite values are written as null). */
HESSE_API cJSON *hesse_json_add_doubles(cJSON *obj, const char *key, const double *v, int64_t n);
/* The text hesse_json_write writes: two-space indentation, arrays of scalars on one line,
 * numbers that read back as the exact doubles (shortest of %.15g/%.16g/%.17g; -0 as
 * "-0.0"), non-finite numbers as null, a trailing newline. *text is the caller's (hesse_free). */
HESSE_API int hesse_json_print(const cJSON *doc, char **text);
/* Writes a document atomically, pretty-printed as hesse_json_print does. */
HESSE_API int hesse_json_write(const cJSON *doc, const char *path);

/* ---- SVG plots ---------------------------------------------------------------------------
 * Self-contained SVG line / point / stem plots (no scripts, no external fonts), for the
 * results and the HTML report. */
/* HESSE_PLOT_HLINE: a horizontal reference line at y[0] across the whole plot (x is ignored),
 * its label written on the line at the left end as well as in the legend. */
typedef enum {
    HESSE_PLOT_LINE = 0,
    HESSE_PLOT_POINTS = 1,
    HESSE_PLOT_STEMS = 2,
    HESSE_PLOT_HLINE = 3
} hesse_plot_style;

typedef struct {
    const char *label; /* legend text; NULL: none */
    const double *x, *y;
    int64_t n;
    hesse_plot_style style;
    const char *color; /* CSS colour; NULL: from the palette */
    int dashed;
} hesse_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    int xlog, ylog;    /* log10 axes: non-positive values are left out */
    int width, height; /* pixels; 0: 640 x 400 */
    int xint;          /* x values are integers (steps): ticks at integers only (linear x) */
    int legend_right;  /* the legend right of the frame instead of in its top right corner */
} hesse_plot;
HESSE_API hesse_plot hesse_plot_defaults(void);

/* Renders the plot to a NUL-terminated SVG document (the caller's: hesse_free). Non-finite points
 * are left out. HESSE_EINVAL when no series has a drawable point. */
HESSE_API int hesse_svg_render(const hesse_plot *p, const hesse_series *series, int nseries,
                               char **svg);
/* Renders and writes atomically. */
HESSE_API int hesse_svg_write(const hesse_plot *p, const hesse_series *series, int nseries,
                              const char *path);

/* ---- Tracked training (hesse train --track) --------------------------------------------------
 * Both read the "tracking" object of a train document (docs/results.md) and write nothing. */

/* The series as CSV: a header line, then one line per measurement; a column per scalar key
 * and per array element (top_1..top_k, top_residual_1.., bottom_.., preconditioned_1..), only
 * for keys some measurement has; numbers that read back as the exact doubles, an empty cell
 * where a measurement lacks the value or it is null. *text is the caller's (hesse_free).
 * HESSE_EINVAL when tracking is not an object; HESSE_EINPUT without a "series" array of
 * objects. */
HESSE_API int hesse_track_csv(const cJSON *tracking, char **text);
/* The sharpness against step (linear axes, integer steps): lambda_1 and, lighter, the other
 * tracked top eigenvalues, the line 2/eta ("threshold") labelled with its value, and when the
 * series has "preconditioned" values lambda_1(P^-1 H) with the line (2 + 2 beta1) / ((1 - beta1)
 * eta) ("threshold_preconditioned", 38/eta at beta1 = 0.9); a step size that changes along the
 * run gives the thresholds as curves 2/eta_t. *svg is the caller's (hesse_free); the errors of
 * hesse_track_csv, and HESSE_EINVAL when nothing can be drawn. */
HESSE_API int hesse_track_svg(const cJSON *tracking, char **svg);

/* A heat map of an n x n matrix (row-major values; a non-finite cell is drawn grey and marked
 * "n/a"), white at vmin to dark blue at vmax, the labels down the left and along the top, each
 * cell's value in its <title> (and written in the cell when n <= 16), a colour bar with
 * scale_label. No element ids: the document embeds inline as it is. */
typedef struct {
    const char *title;
    int n;
    const double *values;
    const char *const *labels; /* [n] */
    double vmin, vmax;
    const char *scale_label;
} hesse_heatmap;
/* Renders to a NUL-terminated SVG document (*svg the caller's: hesse_free); HESSE_EINVAL for
 * n < 1, NULL values or labels, or vmax <= vmin. */
HESSE_API int hesse_heatmap_render(const hesse_heatmap *h, char **svg);
/* Renders and writes atomically. */
HESSE_API int hesse_heatmap_write(const hesse_heatmap *h, const char *path);

/* ---- Reports -------------------------------------------------------------------------------
 * One self-contained HTML page joining result documents (docs/report.md): a table of contents,
 * then one section per document in the order given, rendered by its "schema" (tables and
 * inline SVG plots re-drawn from the document's arrays; an unknown schema gets a table of its
 * values). Inline CSS only: no scripts, no external fonts or assets, nothing fetched. Each
 * section names its source, schema, creation time and command line; each number carries its
 * JSON path and exact value in a title attribute. Keys a section expects and does not find
 * are listed in the section, never an error. */

/* Renders count documents; names[i] (the file it came from) labels docs[i]. title NULL or ""
 * gives "hesse report". *html is NUL-terminated and the caller's (hesse_free). HESSE_EINPUT naming
 * the document when one is not a JSON object or has no "schema" string; HESSE_EINVAL when count < 1
 * or an argument is NULL; HESSE_ENOMEM. */
HESSE_API int hesse_report_html(const cJSON *const *docs, const char *const *names, int count,
                                const char *title, char **html);
/* Reads and parses the files, then hesse_report_html with the paths as names. A file that is
 * not JSON is HESSE_EINPUT naming it and the line and column of the syntax error; a missing
 * file HESSE_EINPUT, an unreadable one HESSE_EIO (hesse_read_file). */
HESSE_API int hesse_report_files(const char *const *paths, int count, const char *title,
                                 char **html);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_IO_H */
