/* Set-up shared by the commands: data, models, result documents, errors, progress. */
#include "cli/cli.h"

#include <hesse/dist.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_quiet;

void cli_apply_common(int threads, int quiet) {
    if (threads <= 0) threads = cli_default_threads();
    if (threads > 0) hesse_blas_set_threads(threads);
    cli_progress_install(quiet || !cli_root); /* rank 0 alone reports */
}

int cli_parse_split(const char *split, hesse_split *out) {
    if (!split || strcmp(split, "train") == 0)
        *out = HESSE_SPLIT_TRAIN;
    else if (strcmp(split, "test") == 0)
        *out = HESSE_SPLIT_TEST;
    else
        return hesse_error(HESSE_EINVAL, "option --split: expected train or test, got '%s'", split);
    return HESSE_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int cli_data_open(const cli_data_opts *o, cli_data *d) {
    memset(d, 0, sizeof *d);
    hesse_split split = HESSE_SPLIT_TRAIN;
    int rc = cli_parse_split(o->split, &split);
    if (rc != HESSE_OK) return rc;
    if (o->split && strcmp(o->split, "train") != 0 &&
        ends_with(o->data ? o->data : "", ".safetensors"))
        return hesse_error(HESSE_EINVAL,
                           "option --split: %s is a .safetensors dataset, which holds one split; "
                           "give the file of the split you want instead",
                           o->data);
    if (hesse_text_is_spec(o->data)) {
        char path[4096];
        if ((rc = hesse_text_find(o->data, path, sizeof path)) != HESSE_OK) return rc;
        return hesse_dataset_text(path, o->context > 0 ? o->context : HESSE_TEXT_CONTEXT_DEFAULT,
                                  split, &d->dataset);
    }
    if (o->context != 0)
        return hesse_error(HESSE_EINVAL,
                           "option --context: applies to text data (--data text:FILE), not to "
                           "'%s'",
                           o->data ? o->data : "fashion-mnist");
    return hesse_dataset_open(o->data, split, &d->dataset);
}

int cli_data_select(const cli_data_opts *o, const char *preprocess_json, cli_data *d) {
    int rc;
    d->selection = hesse_selection_defaults();
    d->selection.n = o->samples;
    d->selection.seed = o->seed;
    const char *mode = o->select ? o->select : "first";
    if (strcmp(mode, "first") == 0)
        d->selection.mode = HESSE_SELECT_FIRST;
    else if (strcmp(mode, "balanced") == 0)
        d->selection.mode = HESSE_SELECT_BALANCED;
    else if (strcmp(mode, "random") == 0)
        d->selection.mode = HESSE_SELECT_RANDOM;
    else
        return hesse_error(HESSE_EINVAL,
                           "option --select: expected first, balanced or random, got '%s'", mode);
    if (d->selection.mode == HESSE_SELECT_BALANCED && o->samples > 0 &&
        hesse_dataset_targets(d->dataset) > 1) {
        cli_note("balanced selection: %s holds sequences, which have no class; taking the first "
                 "%lld",
                 hesse_dataset_name(d->dataset), (long long)o->samples);
        d->selection.mode = HESSE_SELECT_FIRST;
    }
    d->preprocess = hesse_preprocess_defaults();
    if (o->mean || o->std) {
        if (!o->mean || !o->std)
            return hesse_error(HESSE_EINVAL, "options --mean and --std go together");
        if ((rc = hesse_preprocess_parse(o->mean, o->std, "--mean/--std", &d->preprocess)))
            return rc;
    } else if (preprocess_json) {
        if ((rc = hesse_preprocess_from_json(preprocess_json, &d->preprocess))) return rc;
    }
    if (o->label_noise != 0.0 && !(o->label_noise >= 0.0 && o->label_noise < 1.0))
        return hesse_error(HESSE_EINVAL,
                           "option --label-noise: expected a fraction P with 0 <= P < 1, got %g",
                           o->label_noise);
    if (o->label_noise > 0.0 && o->split && strcmp(o->split, "train") != 0)
        return hesse_error(HESSE_EINVAL,
                           "option --label-noise: corrupts training labels, but --split is %s",
                           o->split);
    if ((rc = hesse_dataset_select(d->dataset, &d->selection, &d->preprocess, &d->samples)))
        return rc;
    if (o->label_noise > 0.0) {
        d->label_noise = o->label_noise;
        rc = hesse_samples_label_noise(&d->samples, o->label_noise, o->seed, &d->label_changed);
        if (rc != HESSE_OK) return rc;
    }
    if (d->preprocess.scale == 0.0)
        d->preprocess.scale =
            hesse_dataset_is_bytes(d->dataset) && !hesse_dataset_is_tokens(d->dataset) ? 1.0 / 255.0
                                                                                       : 1.0;
    char sel[96];
    hesse_selection_describe(&d->selection, sel, sizeof sel);
    if (d->label_noise > 0.0)
        snprintf(d->description, sizeof d->description, "%s, %s, %lld labels replaced (noise %g)",
                 hesse_dataset_name(d->dataset), sel, (long long)d->label_changed, d->label_noise);
    else
        snprintf(d->description, sizeof d->description, "%s, %s", hesse_dataset_name(d->dataset),
                 sel);
    return HESSE_OK;
}

const char *cli_data_hash(cli_data *d) {
    if (!d->sha256[0]) hesse_samples_hash(&d->samples, d->sha256);
    return d->sha256;
}

void cli_data_free(cli_data *d) {
    hesse_samples_free(&d->samples);
    hesse_dataset_free(d->dataset);
    memset(d, 0, sizeof *d);
}

int cli_load_model(const cli_model_opts *o, const hesse_dataset *ds, hesse_model **out,
                   char **preprocess_json) {
    *out = NULL;
    if (!o->model)
        return hesse_error(HESSE_EINVAL, "option --model is required (a .safetensors file)");
    hesse_load_options lo = hesse_load_defaults();
    lo.arch = o->arch;
    if (ds) hesse_dataset_shape(ds, &lo.c, &lo.h, &lo.w);
    if (o->loss) {
        hesse_loss_kind k;
        int rc = hesse_loss_parse(o->loss, &k);
        if (rc != HESSE_OK)
            return hesse_error(HESSE_EINVAL,
                               "option --loss: expected cross_entropy or mse, got '%s'", o->loss);
        lo.loss = (int)k;
    }
    return hesse_model_load(o->model, &lo, out, preprocess_json);
}

void cli_describe_model(cJSON *doc, const hesse_model *m, const char *path) {
    cJSON *mo = cJSON_AddObjectToObject(doc, "model");
    if (path) cJSON_AddStringToObject(mo, "path", path);
    cJSON_AddStringToObject(mo, "arch", hesse_model_arch(m));
    cJSON_AddStringToObject(mo, "loss", hesse_loss_name(hesse_model_loss(m)));
    char hex[65];
    hesse_model_hash(m, hex);
    cJSON_AddStringToObject(mo, "sha256", hex);
    int c, h, w;
    hesse_model_input_shape(m, &c, &h, &w);
    int shape[3] = {c, h, w};
    cJSON_AddItemToObject(mo, "input_shape", cJSON_CreateIntArray(shape, 3));
    cJSON_AddNumberToObject(doc, "n_params", (double)hesse_model_num_params(m));
}

void cli_describe_data(cJSON *doc, const cli_data *d) {
    cJSON *da = cJSON_AddObjectToObject(doc, "data");
    cJSON_AddStringToObject(da, "dataset", hesse_dataset_name(d->dataset));
    const char *modes[] = {"first", "balanced", "random"};
    cJSON_AddStringToObject(da, "select", modes[d->selection.mode]);
    cJSON_AddNumberToObject(da, "samples", (double)hesse_samples_total(&d->samples));
    cJSON_AddNumberToObject(da, "seed", (double)d->selection.seed);
    cJSON_AddStringToObject(da, "description", d->description);
    hesse_preprocess_to_json(&d->preprocess, cJSON_AddObjectToObject(da, "preprocess"));
    if (d->label_noise > 0.0) cli_describe_label_noise(da, d);
    if (hesse_samples_targets(&d->samples) > 1) /* accuracy is then per position */
        cJSON_AddNumberToObject(da, "targets", hesse_samples_targets(&d->samples));
}

void cli_describe_label_noise(cJSON *obj, const cli_data *d) {
    cJSON *ln = cJSON_AddObjectToObject(obj, "label_noise");
    cJSON_AddNumberToObject(ln, "fraction", d->label_noise);
    cJSON_AddNumberToObject(ln, "changed", (double)d->label_changed);
    cJSON_AddNumberToObject(ln, "seed", (double)d->selection.seed);
    cJSON_AddStringToObject(ln, "rule", "uniform over the other classes, stream 2 of the seed");
}

int cli_svg_name(const char *svg, const char *suffix, char *out, size_t cap) {
    if (hesse_output_inplace(svg)) { /* a device, FIFO or /dev/std*: every plot goes there */
        if (strlen(svg) >= cap) return hesse_error(HESSE_EINVAL, "option --svg: path too long");
        memcpy(out, svg, strlen(svg) + 1);
        return HESSE_OK;
    }
    size_t len = strlen(svg);
    int stem = (int)(len > 4 && strcmp(svg + len - 4, ".svg") == 0 ? len - 4 : len);
    int w = snprintf(out, cap, "%.*s%s.svg", stem, svg, suffix);
    if (w < 0 || (size_t)w >= cap)
        return hesse_error(HESSE_EINVAL,
                           "option --svg: the plot path '%.40s...%s.svg' would be longer than %zu "
                           "characters",
                           svg, suffix, cap - 1);
    return HESSE_OK;
}

/* ---- Outputs ------------------------------------------------------------------------------
 * Every output of a command is checked when the command validates its options, staged while it
 * runs, and renamed into place by cli_finish only when the whole run succeeded; the JSON for
 * standard output waits there too. */

const char *cli_command = "";
static hesse_outputs *outputs;
static char *pending; /* the result text for standard output */
static size_t pending_len;

static int outputs_get(hesse_outputs **o) {
    if (!outputs) {
        int rc = hesse_outputs_create(&outputs);
        if (rc != HESSE_OK) return rc;
        hesse_outputs_activate(outputs);
    }
    *o = outputs;
    return HESSE_OK;
}

int cli_input(const char *path, const char *what) {
    hesse_outputs *o;
    int rc = outputs_get(&o);
    return rc == HESSE_OK ? hesse_outputs_input(o, path, what) : rc;
}

static int add_output(const char *path, const char *what, int staged, const char *may_be) {
    if (!path || strcmp(path, "-") == 0 || !cli_root) return HESSE_OK; /* rank 0 writes */
    hesse_outputs *o;
    int rc = outputs_get(&o);
    return rc == HESSE_OK ? hesse_outputs_add(o, path, what, staged, may_be) : rc;
}

int cli_check_output(const char *path, const char *what) {
    return add_output(path, what, 1, NULL);
}

const char *cli_other_use(const char *path) {
    static const char *const checkpoint[] = {"option --resume", "option --checkpoint", NULL};
    return outputs ? hesse_outputs_user(outputs, path, checkpoint) : NULL;
}

int cli_check_checkpoint(const char *path) {
    return add_output(path, "option --checkpoint", 0, "option --resume");
}

int cli_check_svg(const char *svg, const char *const *suffixes) {
    int rc = HESSE_OK;
    for (; svg && *suffixes && rc == HESSE_OK; suffixes++) {
        char name[CLI_SVG_PATH];
        rc = cli_svg_name(svg, *suffixes, name, sizeof name);
        if (rc == HESSE_OK) rc = cli_check_output(name, "option --svg");
    }
    return rc;
}

int cli_stdout(const char *text, size_t len) {
    if (!cli_root) return HESSE_OK;
    char *p = realloc(pending, pending_len + len + 1);
    if (!p) return hesse_error(HESSE_ENOMEM, "out of memory keeping the result for stdout");
    memcpy(p + pending_len, text, len);
    pending = p;
    pending_len += len;
    return HESSE_OK;
}

/* A document that breaks its schema is a defect of hesse, not of the run: a warning, so that
 * hours of work are not lost to it, and an error under HESSE_STRICT_SCHEMA=1 (every test). */
static int check_schema(const cJSON *doc) {
    char why[512];
    if (hesse_schema_check(doc, why, sizeof why) == HESSE_OK) return HESSE_OK;
    const char *strict = getenv("HESSE_STRICT_SCHEMA");
    if (strict && strcmp(strict, "1") == 0)
        return hesse_error(HESSE_EINPUT, "the result breaks its schema: %s", why);
    hesse_log(HESSE_LOG_WARN, "the result breaks its schema (please report): %s", why);
    return HESSE_OK;
}

int cli_emit(const cJSON *doc, const char *path) {
    if (!cli_root) return HESSE_OK; /* rank 0 writes */
    int rc = check_schema(doc);
    if (rc != HESSE_OK) return rc;
    if (path && strcmp(path, "-") != 0) return hesse_json_write(doc, path);
    char *text = NULL;
    rc = hesse_json_print(doc, &text);
    if (rc == HESSE_OK) rc = cli_stdout(text, strlen(text));
    free(text);
    return rc;
}

/* Standard output written and flushed, then the staged files renamed into place (main closes
 * standard output at the very end). */
static int deliver(void) {
    int rc = HESSE_OK;
    errno = 0;
    if (pending_len && fwrite(pending, 1, pending_len, stdout) != pending_len)
        rc = hesse_error(HESSE_EIO, "standard output: writing: %s", strerror(errno ? errno : EIO));
    errno = 0;
    if (rc == HESSE_OK && (fflush(stdout) != 0 || ferror(stdout)))
        rc = hesse_error(HESSE_EIO, "standard output: writing: %s", strerror(errno ? errno : EIO));
    if (rc == HESSE_OK && outputs) rc = hesse_outputs_commit(outputs);
    return rc;
}

int cli_finish(int code) {
    if (code == 0 && cli_root) {
        int rc = deliver();
        if (rc != HESSE_OK) code = cli_fail(cli_command, rc);
    }
    cli_checkpoint_finish(code == 0 && cli_root); /* after the outputs are in place */
    hesse_outputs_free(outputs);                  /* removes whatever was not delivered */
    outputs = NULL;
    free(pending);
    pending = NULL;
    pending_len = 0;
    return code;
}

int cli_fail(const char *command, int status) {
    const char *detail = hesse_last_error();
    char line[1200], where[48] = "";
    if (cli_distributed())
        snprintf(where, sizeof where, "rank %d of %d: ", hesse_dist_rank(), hesse_dist_size());
    snprintf(line, sizeof line, "hesse%s%s: %s%s%s%s\n", command[0] ? " " : "", command,
             cli_root ? "" : where, hesse_strerror(status), detail[0] ? ": " : "", detail);
    cli_fail_message(line);
    return hesse_exit_code(status);
}

void cli_note(const char *fmt, ...) {
    if (cli_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- Progress ------------------------------------------------------------------------------ */

static int progress_tty;
static double progress_last;
static size_t progress_width;

static void format_seconds(double s, char *buf, size_t cap) {
    if (s < 0 || s > 1e7)
        snprintf(buf, cap, "?");
    else if (s < 60)
        snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static double progress_interval = 60.0; /* seconds between lines when stderr is not a tty */

static void progress_draw(void *ctx, const hesse_progress *p) {
    (void)ctx;
    double now = hesse_now();
    if (!progress_tty) {
        /* a log: a plain line a minute on long work, nothing on short work */
        if (p->finished || now - progress_last < progress_interval) return;
    } else if (!p->finished && now - progress_last < 0.2) {
        return; /* at most 5 redraws a second */
    }
    progress_last = now;
    char line[256], el[16], eta[32] = "";
    format_seconds(p->elapsed, el, sizeof el);
    if (p->total > 0 && p->done > 0 && !p->finished) {
        char t[16];
        format_seconds(p->elapsed * (p->total - p->done) / p->done, t, sizeof t);
        snprintf(eta, sizeof eta, " eta %s", t);
    }
    int n;
    if (p->total > 0)
        n = snprintf(line, sizeof line, "%s %3.0f%% [%s%s] %s", p->task, 100.0 * p->done / p->total,
                     el, eta, p->detail ? p->detail : "");
    else
        n = snprintf(line, sizeof line, "%s [%s] %s", p->task, el, p->detail ? p->detail : "");
    size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (!progress_tty) {
        fprintf(stderr, "%s\n", line);
        fflush(stderr);
        return;
    }
    fprintf(stderr, "\r%s", line);
    for (size_t i = len; i < progress_width; i++) fputc(' ', stderr); /* erase the longer line */
    progress_width = len;
    if (p->finished) {
        fputc('\n', stderr);
        progress_width = 0;
    }
    fflush(stderr);
}

void cli_progress_install(int quiet) {
    cli_quiet = quiet;
    progress_tty = isatty(STDERR_FILENO);
    progress_last = hesse_now(); /* a log's first line comes an interval in */
    const char *every = getenv("HESSE_PROGRESS_INTERVAL");
    if (every && *every) {
        char *end;
        double v = strtod(every, &end);
        if (*end == '\0' && v >= 0) progress_interval = v;
    }
    hesse_set_progress(quiet ? NULL : progress_draw, NULL);
}

/* ---- Eigensolver progress ------------------------------------------------------------------ */

static void eig_watch_report(const cli_eig_watch *w) {
    char detail[200];
    snprintf(detail, sizeof detail, "%lld products, %d/%d converged%s", (long long)w->products,
             w->nconverged, w->nwanted, w->estimates);
    hesse_progress pr = {w->task, w->nconverged, w->nwanted, hesse_now() - w->t0, detail, 0};
    hesse_report_progress(&pr);
}

static int eig_watch_apply(void *ctx, int k, const double *X, double *Y) {
    cli_eig_watch *w = ctx;
    int rc = w->inner->apply(w->inner->ctx, k, X, Y);
    w->products += k;
    eig_watch_report(w);
    return rc;
}

hesse_op cli_eig_watch_start(cli_eig_watch *w, const char *task, const hesse_op *inner,
                             int nwanted) {
    memset(w, 0, sizeof *w);
    w->task = task;
    w->t0 = hesse_now();
    w->inner = inner;
    w->nwanted = nwanted;
    hesse_op op = {inner->n, eig_watch_apply, w, inner->max_block, NULL, inner->checks_finite};
    return op;
}

void cli_eig_monitor(void *ctx, const hesse_eig_progress *p) {
    cli_eig_watch *w = ctx;
    w->products = p->products; /* totals over resumed runs */
    w->nconverged = p->nconverged;
    w->nwanted = p->nwanted;
    int at = snprintf(w->estimates, sizeof w->estimates, "%s", p->nvalues > 0 ? " |" : "");
    for (int i = 0; i < p->nvalues && i < 4 && at < (int)sizeof w->estimates - 16; i++)
        at += snprintf(w->estimates + at, sizeof w->estimates - (size_t)at, " %.5g", p->values[i]);
    eig_watch_report(w);
}
