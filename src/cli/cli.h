/* The command line: option tables, shared set-up (data, model, output), and the commands. */
#ifndef HESSE_CLI_H
#define HESSE_CLI_H

#include <hesse/hesse.h>

#include <signal.h>
#include <string.h>

/* ---- Options ------------------------------------------------------------------------------
 * Each command declares a table; cli_parse fills the destinations, checks types and ranges,
 * and prints the command's help for --help. Values may follow as "--name value" or
 * "--name=value". */
typedef enum {
    OPT_STRING,
    OPT_INT,
    OPT_INT64,
    OPT_U64,
    OPT_DOUBLE,
    OPT_FLAG,
    OPT_LIST
} cli_opt_type;

/* OPT_LIST: the values after the option up to the next argument starting with '-'
 * ("--models a b c"); items point into argv; given again, the option appends. */
typedef struct {
    int count;
    const char **items;
} cli_list;
void cli_list_free(cli_list *l);

typedef struct {
    const char *name; /* long name without "--" */
    char short_name;  /* e.g. 'o', or 0 */
    cli_opt_type type;
    void *dest; /* const char **, int *, int64_t *, uint64_t *, double *, int *, cli_list * */
    const char *metavar; /* "N", "FILE"; NULL for flags */
    const char *help;
    double min, max; /* inclusive range for numbers; ignored when min > max */
    int seen;        /* set by cli_parse */
} cli_opt;

typedef struct {
    const char *name;    /* "eval" */
    const char *summary; /* one line */
    const char *usage;   /* "--model M --data D [options]" */
    const char *details; /* paragraphs after the options; may be NULL */
} cli_command_doc;

#define CLI_NO_RANGE 1.0, 0.0

/* Returns HESSE_OK, HESSE_EINVAL with a message naming the option, or 1 after printing help
 * (the caller then exits 0). */
int cli_parse(const cli_command_doc *doc, int argc, char **argv, cli_opt *opts, int nopts);
/* cli_parse for commands that also take operands (hesse report FILE...): arguments that do not
 * start with '-', a lone "-", and everything after "--" are stored in order in positional
 * (room for argc entries) and counted in *npositional. */
int cli_parse_positional(const cli_command_doc *doc, int argc, char **argv, cli_opt *opts,
                         int nopts, char **positional, int *npositional);
void cli_print_help(const cli_command_doc *doc, const cli_opt *opts, int nopts);
const cli_opt *cli_find(const cli_opt *opts, int nopts, const char *name);
/* HESSE_EINVAL "option --X <why>" for the first of names (NULL-terminated) given on the
 * command line, so an option the chosen mode would ignore is refused rather than dropped;
 * HESSE_OK when none was. */
int cli_refuse_given(const cli_opt *opts, int nopts, const char *const *names, const char *why);

/* ---- Shared set-up -------------------------------------------------------------------------- */

/* Options every data-consuming command accepts. */
typedef struct {
    const char *data;   /* "fashion-mnist", DIR, FILE.safetensors */
    const char *split;  /* "train" | "test" */
    int64_t samples;    /* <= 0: all */
    const char *select; /* "first" | "balanced" | "random" */
    uint64_t seed;
    const char *mean, *std; /* per-channel normalisation, or NULL */
    double label_noise;     /* fraction of training labels replaced (hesse_samples_label_noise,
                               seeded by `seed`); 0: none */
    int context;            /* text data: bytes per window (0: not given, 64) */
} cli_data_opts;

/* Options every model-consuming command accepts. */
typedef struct {
    const char *model; /* file */
    const char *arch;  /* overrides / supplies the architecture */
    const char *loss;  /* "cross_entropy" | "mse" | NULL */
} cli_model_opts;

/* Table rows for the shared options (use inside a cli_opt array initialiser). */
#define CLI_DATA_OPTIONS(d)                                                                        \
    {"data",                                                                                       \
     0,                                                                                            \
     OPT_STRING,                                                                                   \
     &(d).data,                                                                                    \
     "D",                                                                                          \
     "fashion-mnist (default), an IDX or CIFAR directory, a .safetensors file, "                   \
     "gaussmix:classes=C,dim=D,separation=S[,seed=N,samples=M,test=T,noise=SIGMA], or "            \
     "text:FILE (bytes; text:fortunes for Debian's fortunes)",                                     \
     CLI_NO_RANGE,                                                                                 \
     0},                                                                                           \
        {"context", 0,                                                                             \
         OPT_INT,   &(d).context,                                                                  \
         "T",       "text data: bytes per window, each with its T next bytes (default 64)",        \
         1,         HESSE_TEXT_CONTEXT_MAX,                                                        \
         0},                                                                                       \
        {"split", 0, OPT_STRING, &(d).split, "S", "train (default) or test", CLI_NO_RANGE, 0},     \
        {"samples", 0, OPT_INT64, &(d).samples, "N", "how many samples (0: all)", 0, 1e15, 0},     \
        {"select",     0,      OPT_STRING,                                                         \
         &(d).select,  "MODE", "first (default, file order), balanced (per class) or random",      \
         CLI_NO_RANGE, 0},                                                                         \
        {"seed", 0, OPT_U64, &(d).seed, "S", "random seed (default 0)", CLI_NO_RANGE, 0},          \
        {"label-noise",                                                                            \
         0,                                                                                        \
         OPT_DOUBLE,                                                                               \
         &(d).label_noise,                                                                         \
         "P",                                                                                      \
         "replace round(P n) training labels by another class, seeded by --seed (0 <= P < 1)",     \
         CLI_NO_RANGE,                                                                             \
         0},                                                                                       \
        {"mean",       0,      OPT_STRING,                                                         \
         &(d).mean,    "M,..", "per-channel mean to subtract after scaling",                       \
         CLI_NO_RANGE, 0},                                                                         \
    {                                                                                              \
        "std", 0, OPT_STRING, &(d).std, "S,..", "per-channel std to divide by", CLI_NO_RANGE, 0    \
    }

#define CLI_MODEL_OPTIONS(mo)                                                                        \
    {"model",      'm',                                                                              \
     OPT_STRING,   &(mo).model,                                                                      \
     "FILE",       "model (.safetensors from hesse train, or a PyTorch state_dict with --arch)",     \
     CLI_NO_RANGE, 0},                                                                               \
        {"arch",       0, OPT_STRING, &(mo).arch, "A", "architecture string (PyTorch module names)", \
         CLI_NO_RANGE, 0},                                                                           \
    {                                                                                                \
        "loss", 0, OPT_STRING, &(mo).loss, "L", "cross_entropy (default) or mse", CLI_NO_RANGE, 0    \
    }

#define CLI_COMMON_OPTIONS(out, threads, quiet)                                                    \
    {"output",     'o',    OPT_STRING,                                                             \
     &(out),       "FILE", "write the JSON result to FILE (default stdout)",                       \
     CLI_NO_RANGE, 0},                                                                             \
        {"threads", 0, OPT_INT, &(threads), "T", "BLAS threads (default: all cores)", 1, 1024, 0}, \
    {                                                                                              \
        "quiet", 'q', OPT_FLAG, &(quiet), NULL, "no progress or notes on stderr", CLI_NO_RANGE, 0  \
    }

/* Applies --threads and --quiet. */
void cli_apply_common(int threads, int quiet);

typedef struct {
    hesse_dataset *dataset;
    hesse_samples samples;
    hesse_selection selection;
    hesse_preprocess preprocess;
    char description[160]; /* "fashion-mnist/train, first 1000" */
    char sha256[65];       /* the selected samples' content (cli_data_hash); "" until asked */
    double label_noise;    /* the fraction of labels replaced (0: none) */
    int64_t label_changed; /* how many labels were replaced */
} cli_data;

/* The SHA-256 of the selected samples as the network sees them (hesse_samples_hash), computed
 * on first use: over all of them, so first before a distributed run takes its shard. */
const char *cli_data_hash(cli_data *d);

/* Opens the dataset split of o->data (step 1 of 2); text:FILE with o->context (--context given
 * with other data is refused). */
int cli_data_open(const cli_data_opts *o, cli_data *d);
/* Selects and preprocesses the samples (step 2). preprocess_json (from a model file; may be
 * NULL) supplies the preprocessing unless --mean/--std are given. */
int cli_data_select(const cli_data_opts *o, const char *preprocess_json, cli_data *d);
void cli_data_free(cli_data *d);
int cli_parse_split(const char *split, hesse_split *out);

/* Loads the model file; the input shape comes from the dataset when the file has none (a
 * PyTorch state_dict). The file's preprocessing (if any) goes to *preprocess_json (malloc'd,
 * may be NULL). */
int cli_load_model(const cli_model_opts *o, const hesse_dataset *ds, hesse_model **out,
                   char **preprocess_json);

/* Fills the "model" and "data" parts of a result document. */
void cli_describe_model(cJSON *doc, const hesse_model *m, const char *path);
void cli_describe_data(cJSON *doc, const cli_data *d);
/* "label_noise": {fraction, changed, seed, rule} into obj (a result's "data", a model file's
 * data record). */
void cli_describe_label_noise(cJSON *obj, const cli_data *d);

/* Writes the result to `path`, or keeps it for standard output when path is NULL or "-". */
int cli_emit(const cJSON *doc, const char *path);
/* Text for standard output, written by cli_finish once the command succeeded. */
int cli_stdout(const char *text, size_t len);
/* An input file (or data directory) no output may replace; `what` names it ("option --model").
 * cli_parse adds the values of --model, --data, --init, --resume and --eigenvalues. */
int cli_input(const char *path, const char *what);
/* Checks an output before long work (hesse_outputs_add: writable, not an input, not another
 * output) and stages it: it appears only when the whole command succeeded. `what` names it
 * ("option --output"). NULL/"-" always pass. */
int cli_check_output(const char *path, const char *what);
/* The same for --checkpoint, written as the run goes (not staged); it may be the --resume file. */
int cli_check_checkpoint(const char *path);
/* cli_check_output for each plot file PREFIX<suffix>.svg of --svg PREFIX (suffixes
 * NULL-terminated; "" for PREFIX.svg itself). NULL svg passes. */
int cli_check_svg(const char *svg, const char *const *suffixes);
/* The end of a command (cli_dist_end): on success (code 0, rank 0) standard output is written
 * and flushed and the staged outputs are renamed into place, and a failure there
 * becomes exit code 4 with its message; on failure every staged output is removed. Returns
 * the exit code. */
int cli_finish(int code);
/* The command running, for messages ("spectrum"). */
extern const char *cli_command;
/* The plot file PREFIX<suffix>.svg of --svg PREFIX[.svg] into out[cap] (CLI_SVG_PATH); an
 * error naming --svg when it does not fit. */
enum { CLI_SVG_PATH = 4096 };
int cli_svg_name(const char *svg, const char *suffix, char *out, size_t cap);

/* Reports an error for a command on stderr in one line and returns the exit code. */
int cli_fail(const char *command, int status);

/* Progress on stderr unless --quiet: a line redrawn in place on a terminal, otherwise (a log)
 * a plain line every HESSE_PROGRESS_INTERVAL seconds (default 60) during long work. */
void cli_progress_install(int quiet);

/* Progress of an eigensolver run: products as the operator takes them, and the current
 * estimates at each Rayleigh-Ritz step. cli_eig_watch_start returns the operator to hand
 * the solver (it counts and reports, then calls `inner`); cli_eig_monitor is the solver's
 * monitor, with the watch as its context. */
typedef struct {
    const char *task;
    double t0;
    const hesse_op *inner;
    int64_t products;
    int nconverged, nwanted;
    char estimates[96];
} cli_eig_watch;
hesse_op cli_eig_watch_start(cli_eig_watch *w, const char *task, const hesse_op *inner,
                             int nwanted);
void cli_eig_monitor(void *ctx, const hesse_eig_progress *p);
/* A line on stderr unless --quiet. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int cli_quiet;

/* ---- Curvature operators for the commands that take products --------------------------- */
typedef struct {
    const char *operator_name; /* hessian | ggn | residual | efisher */
    const char *layer;         /* NULL: all parameters */
    int block;                 /* vectors per pass (engine max_block) */
    int chunk;                 /* samples per pass (0: from memory) */
    const char *precision;     /* "f64" (default) or "f32": the precision of the products */
} cli_curv_opts;

typedef struct {
    cli_data data;
    hesse_model *model;
    hesse_engine *engine;
    hesse_curv_kind kind;
    hesse_op full;     /* the curvature over all parameters */
    hesse_op block_op; /* its restriction to --layer (n = 0 when none) */
    hesse_op op;       /* the one to use: full or block_op (borrowed copy) */
    int *tensors;      /* the tensors op covers, in parameter order */
    int ntensors;
    const char *layer;
} cli_curv;

#define CLI_CURV_OPTIONS(co)                                                                        \
    {"operator",   0,                                                                               \
     OPT_STRING,   &(co).operator_name,                                                             \
     "OP",         "hessian (default), ggn, residual (H - G) or efisher (empirical Fisher)",        \
     CLI_NO_RANGE, 0},                                                                              \
        {"layer",      0,                                                                           \
         OPT_STRING,   &(co).layer,                                                                 \
         "L",          "restrict to a layer block: an index (3) or tensor names (3.weight,3.bias)", \
         CLI_NO_RANGE, 0},                                                                          \
        CLI_CHUNK_OPTION((co).chunk), CLI_PRECISION_OPTION(co)

/* --chunk: samples per pass. */
#define CLI_CHUNK_OPTION(dest)                                                                     \
    { "chunk", 0, OPT_INT, &(dest), "B", "samples per pass (default: from memory)", 1, 1 << 20, 0 }

/* --precision: f32 products (the solvers stay in double). */
#define CLI_PRECISION_OPTION(co)                                                                   \
    {                                                                                              \
        "precision", 0, OPT_STRING, &(co).precision, "P",                                          \
            "f64 (default) or f32: products in single precision, solvers still in double",         \
            CLI_NO_RANGE, 0                                                                        \
    }

int cli_curv_open(const cli_model_opts *mo, const cli_data_opts *d, const cli_curv_opts *co,
                  cli_curv *c);
void cli_curv_close(cli_curv *c);
/* model, data, operator, dimension, tensors, layer */
void cli_curv_describe(cJSON *doc, const cli_curv *c, const char *model_path);
/* Adds "loss" and "accuracy" over the samples. */
int cli_curv_loss(cli_curv *c, cJSON *doc);
/* Writes k vectors of the operator's space (n x k, column-major) as safetensors: every
 * tensor the operator covers as [k, shape...], plus "eigenvalues" [k]. */
int cli_write_vectors(const cli_curv *c, const char *path, int k, const double *V,
                      const double *values, const char *which);

/* ---- Interruption and checkpoints -------------------------------------------------------- */
/* Set by SIGINT / SIGTERM once cli_signals_install ran, while a solver that polls it runs
 * (between cli_stoppable(1) and cli_stoppable(0)); a signal at any other time, or a second
 * one, ends the process the usual way rather than being held until a solver looks. */
extern volatile sig_atomic_t cli_stop;
void cli_signals_install(void);
void cli_stoppable(int on);

/* A checkpoint file: "HESSECK1", a little-endian u64 length, a JSON header describing the
 * run (so that a resume on other inputs is refused), then the solver's blob. */
int cli_checkpoint_write(const char *path, const cJSON *header, const void *const *parts,
                         const size_t *sizes, int nparts);
/* Reads a checkpoint; *header (cJSON, caller deletes) and *blob (malloc'd, the solver's
 * part; *data owns the whole file, free() it) */
int cli_checkpoint_read(const char *path, cJSON **header, unsigned char **data,
                        const unsigned char **blob, size_t *blob_size);
/* Fails (HESSE_EINPUT, naming the key and both values) when any key of `now` differs in
 * `saved`. */
int cli_checkpoint_match(const cJSON *saved, const cJSON *now, const char *path);

/* Reads `path` and checks it belongs to the run described by `header` (read + match); *data
 * owns the file (free() it), *blob points into it. */
int cli_checkpoint_resume(const char *path, const cJSON *header, unsigned char **data,
                          const unsigned char **blob, size_t *blob_size);

/* A solver's resume from `path` failed with rc: a refusal of the checkpoint's content
 * (HESSE_EINPUT, HESSE_EINVAL) is given the file's name. Returns rc. */
int cli_resume_failed(const char *path, int rc);

/* A solver checkpoint callback (hesse_checkpoint_fn) writing to `path` with `header`. */
typedef struct {
    const char *path;
    const cJSON *header;
    int written;
} cli_checkpoint_ctx;
int cli_checkpoint_fn(void *ctx, const hesse_blob_part *parts, int nparts, size_t total);
/* What a checkpoint of `command` over c must agree on to be resumed: model hash, data,
 * loss, preprocessing, operator, layer, precision. The caller adds its own keys and deletes it. */
cJSON *cli_run_header(const char *command, cli_curv *c);
/* The message for a run stopped by a signal (status HESSE_EINTR). */
int cli_stopped(const cli_checkpoint_ctx *cc);
/* --keep-checkpoint: a run that resumed from a checkpoint keeps the file. Without it the file is
 * removed once the whole run succeeded and its outputs are in place (cli_finish), unless it is
 * also another input or output of the run (then it stays, with a note). */
extern int cli_keep_checkpoint;
#define CLI_KEEP_CHECKPOINT_OPTION                                                                 \
    {                                                                                              \
        "keep-checkpoint", 0, OPT_FLAG, &cli_keep_checkpoint, NULL,                                \
            "keep the --resume file when the resumed run succeeds (default: removed)",             \
            CLI_NO_RANGE, 0                                                                        \
    }
/* After cli_checkpoint_resume read `path`: remembered for removal at the end (rank 0, without
 * --keep-checkpoint). */
void cli_checkpoint_resumed(const char *path);
/* The end of a command (cli_finish): ok (the run succeeded and delivered its outputs) removes
 * the file a resume read, with a note; forgets it either way. */
void cli_checkpoint_finish(int ok);
/* What else of this run the file `path` is (an input or output other than --resume and
 * --checkpoint), or NULL. */
const char *cli_other_use(const char *path);
/* Refuses --checkpoint-every without --checkpoint FILE (it would be ignored), and
 * --keep-checkpoint without --resume FILE. */
int cli_checkpoint_options(const cli_opt *opts, int nopts, const char *ckpt);
/* Points a solver's checkpoint fields at cc (written every `every` seconds) when a checkpoint
 * file was asked for (cc->path). */
void cli_checkpoint_attach(cli_checkpoint_ctx *cc, double every, hesse_checkpoint_fn *fn,
                           void **ctx, double *interval);
/* A Lanczos run of a command with --checkpoint / --resume: fresh, or from `resume` (which
 * must belong to the run cc->header describes), with watch as its progress; a run stopped by
 * a signal returns cli_stopped's status. Sets p's monitor, stop and checkpoint fields. */
int cli_lanczos_run(hesse_op *op, hesse_lanczos_params *p, cli_eig_watch *watch,
                    cli_checkpoint_ctx *cc, double every, const char *resume, hesse_eigs *r);

/* ---- Commands as steps (solver.c) ------------------------------------------------------------
 * A command is parse -> validate -> run -> emit. Its option table is built by a function of its
 * own into a caller's array of CLI_MAX_OPTS rows (the table outlives parsing: validation asks
 * which options were given). */
enum { CLI_MAX_OPTS = 64 };
/* Returns from an options function: copies the array `table` into opts (CLI_MAX_OPTS rows) and
 * returns its length; a table longer than opts does not compile. */
#define CLI_OPTS_RETURN(opts, table)                                                               \
    do {                                                                                           \
        _Static_assert(sizeof(table) / sizeof((table)[0]) <= CLI_MAX_OPTS,                         \
                       "an option table longer than CLI_MAX_OPTS");                                \
        memcpy((opts), (table), sizeof(table));                                                    \
        return (int)(sizeof(table) / sizeof((table)[0]));                                          \
    } while (0)
/* cli_parse, then --threads/--quiet (the table's destinations) applied: 1 after --help (exit 0),
 * else a status. */
int cli_start(const cli_command_doc *doc, int argc, char **argv, cli_opt *opts, int nopts,
              const int *threads, const int *quiet);

/* The Lanczos options of the commands that run thick-restart Lanczos (spectrum, powerlaw). */
typedef struct {
    double tol; /* < 0: the solver's default */
    int basis, max_restarts, no_verify;
    double memory_gib;
    uint64_t seed;
    const char *checkpoint, *resume;
    double checkpoint_every;
} cli_lanczos_opts;
#define CLI_LANCZOS_DEFAULTS                                                                       \
    { -1, 0, 0, 0, 0, 0, NULL, NULL, 300 }

/* Table rows (inside a cli_opt initialiser); tol_help describes --tol for the command. */
#define CLI_LANCZOS_OPTIONS(lo, tol_help)                                                            \
    {"tol", 0, OPT_DOUBLE, &(lo).tol, "T", tol_help, 1e-15, 1, 0},                                   \
        {"basis", 0,   OPT_INT, &(lo).basis, "B", "Lanczos basis size (default from memory)",        \
         3,       1e7, 0},                                                                           \
        {"memory", 0,   OPT_DOUBLE, &(lo).memory_gib, "GIB", "memory for the Lanczos basis",         \
         0.001,    1e6, 0},                                                                          \
        {"max-restarts",                                                                             \
         0,                                                                                          \
         OPT_INT,                                                                                    \
         &(lo).max_restarts,                                                                         \
         "R",                                                                                        \
         "Lanczos restarts at most (default 1000)",                                                  \
         1,                                                                                          \
         1e9,                                                                                        \
         0},                                                                                         \
        {"no-verify",     0,    OPT_FLAG,                                                            \
         &(lo).no_verify, NULL, "skip the fresh-start check for repeated eigenvalues",               \
         CLI_NO_RANGE,    0},                                                                        \
        {"solver-seed", 0, OPT_U64, &(lo).seed, "S", "seed of the start vectors (default 0)",        \
         CLI_NO_RANGE,  0},                                                                          \
        {"checkpoint",     0,      OPT_STRING,                                                       \
         &(lo).checkpoint, "FILE", "save the Lanczos state here periodically and on SIGINT/SIGTERM", \
         CLI_NO_RANGE,     0},                                                                       \
        {"checkpoint-every",                                                                         \
         0,                                                                                          \
         OPT_DOUBLE,                                                                                 \
         &(lo).checkpoint_every,                                                                     \
         "SEC",                                                                                      \
         "seconds between checkpoints (default 300; 0: every restart)",                              \
         0,                                                                                          \
         1e9,                                                                                        \
         0},                                                                                         \
        CLI_KEEP_CHECKPOINT_OPTION, {                                                                \
        "resume", 0, OPT_STRING, &(lo).resume, "FILE", "continue from a checkpoint", CLI_NO_RANGE,   \
            0                                                                                        \
    }

/* The options' values in p (tol only when given). */
void cli_lanczos_params(const cli_lanczos_opts *lo, hesse_lanczos_params *p);
/* A Lanczos run over c->op for `task` with progress, --checkpoint/--resume (cc: its header set)
 * and a warning when pairs did not converge. */
int cli_lanczos_solve(cli_curv *c, const char *task, const cli_lanczos_opts *lo,
                      hesse_lanczos_params *p, cli_checkpoint_ctx *cc, hesse_eigs *r);
/* hesse_lanczos_eigs that SIGINT/SIGTERM stops at its next boundary (HESSE_EINTR), without a
 * checkpoint: for the short runs inside an analysis. */
int cli_lanczos_stoppable(const hesse_op *op, hesse_lanczos_params *p, hesse_eigs *r);
/* The end of an eigensolver run started at t0: progress, and a warning when fewer than `wanted`
 * pairs converged. */
void cli_solved(const char *task, const hesse_eigs *r, int wanted, double t0);
/* solver: tol, basis, seed, verify, restarts, breakdowns, fresh_starts, iterations,
 * resumed_from. */
void cli_lanczos_describe(cJSON *solver, const hesse_lanczos_params *p, const hesse_eigs *r,
                          const char *resume);
/* converged, anorm, residuals_explicit and (Lanczos) orthogonality of a result. */
void cli_eigs_describe(cJSON *res, const hesse_eigs *r, int lanczos);

/* ---- Distributed runs (distributed.c) ---------------------------------------------------------
 * Under mpirun or srun, the commands that make products shard the selected samples by rank and
 * sum every pass over the ranks; everything else is replicated. Rank 0 alone writes files,
 * prints and draws progress. */
/* 1 on rank 0 and in a serial run. */
extern int cli_root;
/* Set by SIGINT / SIGTERM on this rank. In a distributed run cli_stop follows it only through
 * the engine's per-pass check (hesse_engine_set_pass_check), so that every rank stops at the
 * same solver boundary. */
extern volatile sig_atomic_t cli_signal;
/* Starts the MPI runtime when an MPI launcher started hesse (main, before the command). */
int cli_dist_start(int *argc, char ***argv);
/* 1 when more than one rank runs. */
int cli_distributed(void);
/* Ends the run on every rank and returns the job's exit code (main, after the command). */
int cli_dist_end(int code);
/* Prints a command's failure line (rank 0), or keeps it for cli_dist_end (other ranks). */
void cli_fail_message(const char *line);
/* Makes d's samples this rank's shard (a contiguous block of the selection, whose size becomes
 * samples.total) and installs the reduction over ranks on e; checks first that every rank runs
 * the same problem: the command and its arguments, the model's and the samples' content, the
 * engine's sizes, precision and memory (HESSE_EINVAL naming the first field that differs, on
 * every rank). No-op with one rank. */
int cli_distribute(cli_data *d, const hesse_model *m, hesse_engine *e);
/* The command line, for the agreement of the ranks (main, before the command). */
void cli_dist_command_line(int argc, char **argv);
/* hesse_engine_defaults with the memory budget rank 0 chose (the same on every rank). */
hesse_engine_params cli_engine_defaults(void);
/* --threads when not given: the node's cores shared among its ranks (0: leave the default). */
int cli_default_threads(void);
/* Adds "distributed" (backend, ranks) to a result when more than one rank runs. */
void cli_describe_ranks(cJSON *doc);

/* ---- Commands ------------------------------------------------------------------------------ */
int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_dense(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_spectrum(int argc, char **argv);
int cmd_density(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_powerlaw(int argc, char **argv);
int cmd_classes(int argc, char **argv);
int cmd_samples(int argc, char **argv);
int cmd_kronecker(int argc, char **argv);
int cmd_blocks(int argc, char **argv);

#endif
