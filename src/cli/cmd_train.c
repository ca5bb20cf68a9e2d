/* hesse train: minibatch SGD (momentum, weight decay), Adam or AdamW, with a step or cosine
 * learning-rate schedule per epoch or a warm-up + cosine schedule per step, written out as a
 * self-describing safetensors model. */
#include "cli/cli.h"
#include "cli/train_track.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *optimizer, *schedule;
    double lr, momentum, wd, gamma;
    int epochs, batch, step_epochs, test_every;
    int64_t warmup; /* warm-up steps of warmup-cosine; -1: not given */
    int64_t steps;  /* --steps: optimizer steps in all; -1: not given */
} train_opts;

/* The option values of hesse train. */
/* The option values of hesse train. */
typedef struct {
    cli_data_opts d;
    train_opts t;
    const char *arch, *loss_name, *out, *init, *json_out;
    const char *checkpoint, *resume;
    const char *track, *track_csv, *track_svg;
    double checkpoint_every;
    int64_t test_samples;
    int threads, quiet, no_test;
} train_args;

/* What a run holds: data, model, the trainer, the test engine and the per-epoch history. */
typedef struct {
    cli_data data, test;
    hesse_model *m;
    hesse_engine *ev;
    hesse_trainer *tr;
    hesse_trainer_params tp;
    char *pre;
    cJSON *history;
    cJSON *header; /* what a checkpoint must agree on */
    cli_checkpoint_ctx cc;
    train_track track;                     /* --track */
    double t_start, t_epoch, t_checkpoint; /* the run's start, the epoch's, the last save */
} train_run;

/* The model, data and optimizer rows of the option table. */
static int options_train(train_args *a, cli_opt *opts) {
    train_opts *t = &a->t;
    const cli_opt tab[] = {
        {"arch", 0, OPT_STRING, &a->arch, "A", "architecture string (PyTorch module names)",
         CLI_NO_RANGE, 0},
        {"loss", 0, OPT_STRING, &a->loss_name, "L",
         "cross_entropy (default; with --init, the model file's loss) or mse", CLI_NO_RANGE, 0},
        {"init", 0, OPT_STRING, &a->init, "FILE", "start from this model instead of a fresh init",
         CLI_NO_RANGE, 0},
        CLI_DATA_OPTIONS(a->d),
        {"epochs", 0, OPT_INT, &t->epochs, "E",
         "passes over the data (default 1; 0 writes the init)", 0, 1e6, 0},
        {"steps", 0, OPT_INT64, &t->steps, "S",
         "optimizer steps in all instead of --epochs (gd: one step per epoch; otherwise a whole "
         "number of epochs)",
         0, 1e12, 0},
        {"batch", 0, OPT_INT, &t->batch, "B", "minibatch size (default 64)", 1, 1 << 20, 0},
        {"lr", 0, OPT_DOUBLE, &t->lr, "LR", "learning rate (default 0.01)", 0, 1e6, 0},
        {"momentum", 0, OPT_DOUBLE, &t->momentum, "MU", "SGD momentum (default 0.9)", 0, 1, 0},
        {"wd", 0, OPT_DOUBLE, &t->wd, "WD",
         "weight decay (default 0; adamw: 0.01, decoupled as torch.optim.AdamW)", 0, 1e6, 0},
        {"optimizer", 0, OPT_STRING, &t->optimizer, "O",
         "sgd (default), adam, adamw or gd (full-batch gradient descent over all --samples)",
         CLI_NO_RANGE, 0},
        {"schedule", 0, OPT_STRING, &t->schedule, "S",
         "constant (default), step or cosine (per epoch), or warmup-cosine (per step)",
         CLI_NO_RANGE, 0},
        {"warmup", 0, OPT_INT64, &t->warmup, "W",
         "warmup-cosine: linear warm-up steps before the cosine decay (default 0)", 0, 1e15, 0},
        {"step-epochs", 0, OPT_INT, &t->step_epochs, "K",
         "step schedule: epochs between decays (default epochs/3)", 1, 1e6, 0},
        {"gamma", 0, OPT_DOUBLE, &t->gamma, "G", "step schedule: decay factor (default 0.1)", 0, 1,
         0},
    };
    CLI_OPTS_RETURN(opts, tab);
}

/* The test, output and run rows of the option table. */
static int options_run(train_args *a, cli_opt *opts) {
    const cli_opt tab[] = {
        {"test-samples", 0, OPT_INT64, &a->test_samples, "N",
         "test samples evaluated after each epoch (0: all)", 0, 1e15, 0},
        {"test-every", 0, OPT_INT, &a->t.test_every, "E",
         "epochs between test evaluations (default 1; the last epoch is always evaluated)", 1, 1e9,
         0},
        {"no-test", 0, OPT_FLAG, &a->no_test, NULL, "skip the test evaluation", CLI_NO_RANGE, 0},
        {"json", 0, OPT_STRING, &a->json_out, "FILE", "also write the training history as JSON",
         CLI_NO_RANGE, 0},
        {"output", 'o', OPT_STRING, &a->out, "FILE", "the model file to write (.safetensors)",
         CLI_NO_RANGE, 0},
        {"checkpoint", 0, OPT_STRING, &a->checkpoint, "FILE",
         "save the training state here periodically (between steps) and on SIGINT/SIGTERM",
         CLI_NO_RANGE, 0},
        {"checkpoint-every", 0, OPT_DOUBLE, &a->checkpoint_every, "S",
         "seconds between checkpoints (default 300; 0: after every step)", 0, 1e9, 0},
        {"resume", 0, OPT_STRING, &a->resume, "FILE",
         "continue from a checkpoint of the same command", CLI_NO_RANGE, 0},
        {"track", 0, OPT_STRING, &a->track, "SPEC",
         "measure the Hessian along training: every=K[,top=k][,bottom=b][,trace][,powerlaw=K2]"
         "[,samples=N][,preconditioned][,cold][,tol=T] (docs/analyses.md)",
         CLI_NO_RANGE, 0},
        {"track-csv", 0, OPT_STRING, &a->track_csv, "FILE", "--track: also write the series as CSV",
         CLI_NO_RANGE, 0},
        {"track-svg", 0, OPT_STRING, &a->track_svg, "FILE",
         "--track: also plot the sharpness against step with 2/lr", CLI_NO_RANGE, 0},
        {"threads", 0, OPT_INT, &a->threads, "T", "BLAS threads (default: all cores)", 1, 1024, 0},
        {"quiet", 'q', OPT_FLAG, &a->quiet, NULL, "no progress or notes on stderr", CLI_NO_RANGE,
         0},
    };
    CLI_OPTS_RETURN(opts, tab);
}

static const cli_command_doc train_doc = {
    "train", "train a network (SGD, Adam or full-batch GD) and save it as safetensors",
    "--arch A [--data D] [--epochs E | --steps S] [--lr LR] [--batch B] -o model.safetensors",
    "Parameters start from PyTorch's default init (seeded by --seed) unless --init is given. "
    "Each epoch reshuffles the samples with the seed (gd: no shuffle, one full-batch step per "
    "epoch). The model file records the "
    "architecture, input shape, loss, preprocessing, seed and the per-epoch history in its "
    "metadata. --schedule warmup-cosine sets the learning rate of optimizer step s "
    "(0-based) of S = epochs x minibatches per epoch to lr (s + 1) / W for s < W, then "
    "lr (1 + cos(pi (s - W) / (S - W))) / 2 (PyTorch: LambdaLR stepped after each step; "
    "W = --warmup). Example (LeNet-5 on Fashion-MNIST):\n"
    "  hesse train --arch 'conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,"
    "maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)' "
    "--epochs 3 --lr 0.05 -o lenet5.safetensors\n"
    "Long runs: --checkpoint FILE saves the state between two steps every --checkpoint-every "
    "seconds and on Ctrl-C; rerun the same command with --resume FILE to continue, bit for bit "
    "as the uninterrupted run."};

static int parse_train_opts(train_opts *t, hesse_trainer_params *tp) {
    static const char *const schedules[] = {"constant", "step", "cosine", "warmup-cosine"};
    hesse_optim_kind kind;
    if (hesse_optim_parse(t->optimizer, &kind) != HESSE_OK)
        return hesse_error(HESSE_EINVAL,
                           "option --optimizer: expected sgd, adam, adamw or gd, got '%s'",
                           t->optimizer);
    tp->optim = hesse_optim_defaults(kind);
    tp->optim.momentum = t->momentum;
    if (t->wd < 0) t->wd = tp->optim.weight_decay; /* not given: PyTorch's default */
    tp->optim.weight_decay = t->wd;
    int k = 0;
    while (k < 4 && strcmp(t->schedule, schedules[k]) != 0) k++;
    if (k == 4)
        return hesse_error(HESSE_EINVAL,
                           "option --schedule: expected constant, step, cosine or warmup-cosine, "
                           "got '%s'",
                           t->schedule);
    tp->schedule = (hesse_schedule_kind)k;
    if (t->warmup >= 0 && tp->schedule != HESSE_SCHEDULE_WARMUP_COSINE)
        return hesse_error(HESSE_EINVAL,
                           "option --warmup applies to --schedule warmup-cosine, not '%s'",
                           t->schedule);
    if (t->warmup < 0) t->warmup = 0;
    return HESSE_OK;
}

/* The options' own checks, then the outputs staged before any work. */
static int validate(train_args *a, train_run *r, const cli_opt *opts, int nopts) {
    if (!a->out)
        return hesse_error(HESSE_EINVAL,
                           "option -o/--output is required (the model file to write)");
    if (!a->arch && !a->init)
        return hesse_error(HESSE_EINVAL, "option --arch is required (or --init with a model file)");
    if (a->t.steps >= 0 && a->t.epochs >= 0)
        return hesse_error(HESSE_EINVAL,
                           "options --steps and --epochs: give one (the length of the run), not "
                           "both");
    /* --steps: 0 or 1 until prepare knows the minibatches per epoch */
    if (a->t.epochs < 0) a->t.epochs = a->t.steps >= 0 ? a->t.steps > 0 : 1;
    r->tp = hesse_trainer_defaults();
    int rc = parse_train_opts(&a->t, &r->tp);
    if (rc != HESSE_OK) return rc;
    if (a->t.step_epochs == 0) a->t.step_epochs = a->t.epochs / 3 > 1 ? a->t.epochs / 3 : 1;
    rc = cli_check_output(a->out, "option --output");
    if (rc == HESSE_OK) rc = cli_check_output(a->json_out, "option --json");
    if (rc == HESSE_OK) rc = cli_checkpoint_options(opts, nopts, a->checkpoint);
    if (rc == HESSE_OK) rc = cli_check_checkpoint(a->checkpoint);
    r->track.spec = a->track;
    r->track.csv = a->track_csv;
    r->track.svg = a->track_svg;
    if (rc == HESSE_OK) rc = train_track_validate(&r->track);
    const hesse_optim_kind k = r->tp.optim.kind;
    if (rc == HESSE_OK && a->track && r->track.p.preconditioned && k != HESSE_OPTIM_ADAM &&
        k != HESSE_OPTIM_ADAMW)
        rc = hesse_error(HESSE_EINVAL,
                         "option --track: preconditioned is the sharpness of Adam's P^-1 H; "
                         "--optimizer %s has no preconditioner (use adam or adamw)",
                         a->t.optimizer);
    return rc;
}

/* The model: loaded from --init, or built from --arch and initialised with the seed. */
static int open_model(const train_args *a, train_run *r) {
    if (a->init) {
        cli_model_opts mo = {a->init, a->arch, a->loss_name};
        return cli_load_model(&mo, r->data.dataset, &r->m, &r->pre);
    }
    hesse_loss_kind loss;
    const char *loss_name = a->loss_name ? a->loss_name : "cross_entropy";
    if (hesse_loss_parse(loss_name, &loss) != HESSE_OK)
        return hesse_error(HESSE_EINVAL, "option --loss: expected cross_entropy or mse, got '%s'",
                           loss_name);
    int c, h, w;
    hesse_dataset_shape(r->data.dataset, &c, &h, &w);
    int rc = hesse_model_create(a->arch, c, h, w, loss, &r->m);
    if (rc == HESSE_OK) hesse_model_init(r->m, a->d.seed);
    return rc;
}

/* Refuses a network hesse cannot train, or one with fewer outputs than the data's classes. */
static int check_trainable(const train_args *a, train_run *r) {
    const char *eval_only = NULL;
    if (a->t.epochs > 0 && hesse_model_has_eval_only(r->m, &eval_only)) {
        /* training would need batch statistics and running-statistic updates (batch norm) or
         * random masks (dropout); hesse implements these layers in evaluation mode only */
        return hesse_error(HESSE_EINPUT,
                           "hesse train does not train networks with %s layers: hesse implements "
                           "them in evaluation mode only (%s); train in PyTorch and load the "
                           "state_dict with --model and --arch (--epochs 0 writes the initial "
                           "model)",
                           eval_only,
                           strncmp(eval_only, "batchnorm", 9) == 0
                               ? "running statistics fixed, no batch statistics"
                               : "dropout is the identity");
    }
    int rc = cli_data_select(&a->d, r->pre, &r->data);
    if (rc != HESSE_OK) return rc;
    if (hesse_model_classes(r->m) < hesse_dataset_num_classes(r->data.dataset))
        return hesse_error(HESSE_EINPUT, "the model has %d outputs but %s has %d classes",
                           hesse_model_classes(r->m), hesse_dataset_name(r->data.dataset),
                           hesse_dataset_num_classes(r->data.dataset));
    return HESSE_OK;
}

/* The test split, with the training preprocessing; none for a single-file dataset. */
static int open_test(train_args *a, train_run *r) {
    if (a->no_test || a->t.epochs == 0) return HESSE_OK;
    cli_data_opts td = a->d;
    td.split = "test";
    td.samples = a->test_samples;
    td.select = "first";
    td.label_noise = 0.0; /* the test labels stay as they are */
    /* a single-file dataset has no test split: evaluate on nothing rather than on train */
    if (strstr(a->d.data, ".safetensors")) {
        a->no_test = 1;
        return HESSE_OK;
    }
    int rc = cli_data_open(&td, &r->test);
    if (rc == HESSE_OK) rc = cli_data_select(&td, r->pre, &r->test); /* the training one */
    return rc;
}

/* --steps as whole epochs: one step each for gd, else a multiple of the minibatches. */
static int steps_to_epochs(train_args *a, int64_t N) {
    const int gd = a->t.optimizer && strcmp(a->t.optimizer, "gd") == 0;
    const int64_t B = gd || a->t.batch >= N ? N : a->t.batch, batches = (N + B - 1) / B;
    if (a->t.steps < 0) return HESSE_OK;
    if (a->t.steps % batches != 0)
        return hesse_error(HESSE_EINVAL,
                           "option --steps %lld: not a whole number of epochs (%lld minibatches of "
                           "%lld per epoch); give a multiple of %lld or --epochs",
                           (long long)a->t.steps, (long long)batches, (long long)B,
                           (long long)batches);
    if (a->t.steps / batches > 1000000)
        return hesse_error(HESSE_EINVAL, "option --steps %lld: more than 1e6 epochs",
                           (long long)a->t.steps);
    a->t.epochs = (int)(a->t.steps / batches);
    return HESSE_OK;
}

/* The trainer over the selected samples, and the test engine. */
static int prepare(train_args *a, train_run *r) {
    int rc = steps_to_epochs(a, r->data.samples.n);
    if (rc != HESSE_OK) return rc;
    hesse_trainer_params *tp = &r->tp;
    tp->lr = a->t.lr;
    tp->epochs = a->t.epochs;
    tp->batch = a->t.batch;
    tp->step_epochs = a->t.step_epochs;
    tp->gamma = a->t.gamma;
    tp->warmup = a->t.warmup;
    tp->seed = a->d.seed;
    HESSE_CHECK(hesse_trainer_create(r->m, &r->data.samples, tp, &r->tr));
    HESSE_CHECK(hesse_engine_create(r->m, NULL, &r->ev));
    HESSE_CHECK(train_track_open(&r->track, r->m, &r->data.samples));
    if (!r->history) rc = hesse_error(HESSE_ENOMEM, "out of memory for training state");
cleanup:
    return rc;
}

/* Test loss and accuracy (forward only). */
static int evaluate(hesse_engine *e, const hesse_samples *s, double *loss, double *acc) {
    int64_t correct = 0;
    int rc = hesse_loss_grad(e, s, loss, NULL, &correct);
    *acc = (double)correct / (double)hesse_samples_positions(s); /* per position */
    return rc;
}

/* Whether epoch (0-based) ends with a test evaluation: every --test-every, and the last. */
static int tested(const train_args *a, int epoch) {
    return !a->no_test && ((epoch + 1) % a->t.test_every == 0 || epoch + 1 == a->t.epochs);
}

/* The progress line after a step: the epoch's running loss and accuracy. */
static void step_progress(const train_args *a, const train_run *r, const hesse_train_step *st) {
    char detail[128];
    int len = snprintf(detail, sizeof detail, "epoch %d/%d loss %.4f acc %.1f%%", st->epoch + 1,
                       a->t.epochs, st->epoch_loss, 100.0 * st->epoch_acc);
    if (r->track.spec && isfinite(r->track.top1))
        snprintf(detail + len, sizeof detail - (size_t)len, " λ1 %.5g", r->track.top1);
    hesse_progress p = {"train",
                        (double)st->step,
                        (double)hesse_trainer_steps_total(r->tr),
                        hesse_now() - r->t_start,
                        detail,
                        0};
    hesse_report_progress(&p);
}

/* An epoch's line on stderr (gd: an epoch is a step, a line every twentieth of the run). */
static void epoch_note(const train_args *a, const train_run *r, const hesse_train_step *st,
                       const cJSON *row) {
    const int epochs = a->t.epochs, e = st->epoch + 1;
    const int every = r->tp.optim.kind == HESSE_OPTIM_GD && epochs / 20 > 1 ? epochs / 20 : 1;
    if (e % every != 0 && e != epochs) return;
    const double lr = cJSON_GetNumberValue(cJSON_GetObjectItem(row, "lr"));
    const double secs = cJSON_GetNumberValue(cJSON_GetObjectItem(row, "seconds"));
    char test[80] = "", lambda[40] = "";
    if (cJSON_HasObjectItem(row, "test_loss"))
        snprintf(test, sizeof test, " | test loss %.4f acc %.2f%%",
                 cJSON_GetNumberValue(cJSON_GetObjectItem(row, "test_loss")),
                 100.0 * cJSON_GetNumberValue(cJSON_GetObjectItem(row, "test_accuracy")));
    if (r->track.spec && isfinite(r->track.top1)) /* the last measured */
        snprintf(lambda, sizeof lambda, " | λ1 %.5g", r->track.top1);
    cli_note("epoch %d/%d: train loss %.4f acc %.2f%%%s | lr %g%s | %.1fs", e, epochs,
             st->epoch_loss, 100.0 * st->epoch_acc, test, lr, lambda, secs);
}

/* An epoch's row of the history (the learning rate of its first step, and of its last with a
 * per-step schedule), after the test evaluation when this epoch has one. */
static int end_epoch(const train_args *a, train_run *r, const hesse_train_step *st) {
    double test_loss = NAN, test_acc = NAN;
    if (tested(a, st->epoch)) {
        int rc = evaluate(r->ev, &r->test.samples, &test_loss, &test_acc);
        if (rc != HESSE_OK) return rc;
    }
    const int64_t s0 = st->step - hesse_trainer_batches(r->tr);
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "epoch", st->epoch + 1);
    cJSON_AddNumberToObject(row, "lr", hesse_trainer_lr(r->tr, s0));
    if (r->tp.schedule == HESSE_SCHEDULE_WARMUP_COSINE)
        cJSON_AddNumberToObject(row, "lr_end", hesse_trainer_lr(r->tr, st->step - 1));
    cJSON_AddNumberToObject(row, "train_loss", st->epoch_loss);
    cJSON_AddNumberToObject(row, "train_accuracy", st->epoch_acc);
    if (tested(a, st->epoch)) {
        cJSON_AddNumberToObject(row, "test_loss", test_loss);
        cJSON_AddNumberToObject(row, "test_accuracy", test_acc);
    }
    cJSON_AddNumberToObject(row, "seconds", hesse_now() - r->t_epoch);
    cJSON_AddItemToArray(r->history, row);
    if (st->epoch + 1 == a->t.epochs) {
        hesse_progress p = {
            "train", (double)st->step, (double)st->step, hesse_now() - r->t_start, "", 1};
        hesse_report_progress(&p);
    }
    epoch_note(a, r, st, row);
    r->t_epoch = hesse_now();
    return HESSE_OK;
}

/* ---- Checkpoints -------------------------------------------------------------------------
 * The header binds a checkpoint to its run: the initial model's hash, the data (name and
 * content), loss, preprocessing and every option that changes the steps or the history. The
 * state is a list of sections: the trainer's state, the history so far (JSON text), and with
 * --track the tracker's state and the series (JSON text); empty without. */
enum { TRAIN_SECTIONS = 4 };

static cJSON *run_header(const train_args *a, train_run *r) {
    cJSON *h = cJSON_CreateObject();
    char hash[65];
    hesse_model_hash(r->m, hash); /* before the first step: the initial model */
    cJSON_AddStringToObject(h, "command", "train");
    cJSON_AddStringToObject(h, "model_sha256", hash);
    cJSON_AddStringToObject(h, "data", r->data.description);
    cJSON_AddStringToObject(h, "data_sha256", cli_data_hash(&r->data));
    cJSON_AddStringToObject(h, "loss", hesse_loss_name(hesse_model_loss(r->m)));
    hesse_preprocess_to_json(&r->data.preprocess, cJSON_AddObjectToObject(h, "preprocess"));
    char opt[512];
    snprintf(opt, sizeof opt,
             "%s lr %.17g momentum %.17g wd %.17g schedule %s warmup %lld step-epochs %d gamma "
             "%.17g epochs %d batch %d seed %llu test %d/%lld/%d",
             a->t.optimizer, a->t.lr, a->t.momentum, a->t.wd, a->t.schedule, (long long)a->t.warmup,
             a->t.step_epochs, a->t.gamma, a->t.epochs, a->t.batch, (unsigned long long)a->d.seed,
             a->no_test, (long long)a->test_samples, a->t.test_every);
    cJSON_AddStringToObject(h, "training", opt);
    if (a->track) cJSON_AddStringToObject(h, "track", a->track);
    return h;
}

/* Writes the state between two steps. */
static int checkpoint_save(train_run *r) {
    const size_t tb = hesse_trainer_state_bytes(r->tr);
    unsigned char *state = malloc(tb);
    char *hist = NULL, *series = NULL; /* numbers that read back exactly */
    void *tk = NULL;
    size_t tkb = 0;
    int rc = hesse_json_print(r->history, &hist);
    if (rc == HESSE_OK) rc = train_track_save(&r->track, &tk, &tkb, &series);
    if (rc == HESSE_OK && !state) rc = hesse_error(HESSE_ENOMEM, "checkpoint: out of memory");
    if (rc == HESSE_OK) {
        hesse_trainer_state_save(r->tr, state);
        const size_t sl = series ? strlen(series) : 0;
        uint64_t lens[TRAIN_SECTIONS] = {tb, strlen(hist), tkb, sl};
        /* an untracked run's sections are empty (NULL, 0): cli_checkpoint_write takes them */
        const void *parts[1 + TRAIN_SECTIONS] = {lens, state, hist, tk, series};
        size_t sizes[1 + TRAIN_SECTIONS] = {sizeof lens, tb, strlen(hist), tkb, sl};
        rc = cli_checkpoint_write(r->cc.path, r->header, parts, sizes, 1 + TRAIN_SECTIONS);
    }
    if (rc == HESSE_OK) r->cc.written++;
    r->t_checkpoint = hesse_now();
    free(state);
    hesse_free(hist);
    hesse_free(series);
    hesse_free(tk);
    return rc;
}

/* The sections of a checkpoint's state: sec[i] of len[i] bytes. */
static int checkpoint_sections(const unsigned char *blob, size_t size,
                               const unsigned char *sec[TRAIN_SECTIONS],
                               size_t len[TRAIN_SECTIONS]) {
    uint64_t lens[TRAIN_SECTIONS];
    if (size < sizeof lens)
        return hesse_error(HESSE_EINPUT, "checkpoint: no training state (%zu bytes)", size);
    memcpy(lens, blob, sizeof lens);
    size_t at = sizeof lens;
    for (int i = 0; i < TRAIN_SECTIONS; i++) {
        if (lens[i] > size - at)
            return hesse_error(HESSE_EINPUT,
                               "checkpoint: training state section %d of %llu bytes runs past "
                               "the %zu bytes of the state",
                               i, (unsigned long long)lens[i], size);
        sec[i] = blob + at;
        len[i] = (size_t)lens[i];
        at += len[i];
    }
    return at == size ? HESSE_OK
                      : hesse_error(HESSE_EINPUT, "checkpoint: %zu bytes after the training state",
                                    size - at);
}

/* The trainer's state and the history from a checkpoint's sections. */
static int checkpoint_apply(train_run *r, const unsigned char *blob, size_t size) {
    const unsigned char *sec[TRAIN_SECTIONS] = {NULL};
    size_t len[TRAIN_SECTIONS] = {0};
    int rc = checkpoint_sections(blob, size, sec, len);
    if (rc != HESSE_OK) return rc;
    cJSON *hist = cJSON_ParseWithLength((const char *)sec[1], len[1]);
    if (!cJSON_IsArray(hist)) rc = hesse_error(HESSE_EINPUT, "checkpoint: the history is no array");
    if (rc == HESSE_OK)
        rc = train_track_load(&r->track, sec[2], len[2], (const char *)sec[3], len[3]);
    if (rc == HESSE_OK) rc = hesse_trainer_state_load(r->tr, sec[0], len[0]);
    if (rc != HESSE_OK) {
        cJSON_Delete(hist);
        return rc;
    }
    cJSON_Delete(r->history);
    r->history = hist;
    return HESSE_OK;
}

/* --resume: the checkpoint must belong to this run (the header), then its state replaces the
 * trainer's. */
static int resume(const train_args *a, train_run *r) {
    if (!a->resume) return HESSE_OK;
    unsigned char *data = NULL;
    const unsigned char *blob = NULL;
    size_t size = 0;
    int rc = cli_checkpoint_resume(a->resume, r->header, &data, &blob, &size);
    if (rc == HESSE_OK) rc = cli_resume_failed(a->resume, checkpoint_apply(r, blob, size));
    free(data);
    if (rc == HESSE_OK)
        cli_note("train: resuming at step %lld of %lld", (long long)hesse_trainer_steps_done(r->tr),
                 (long long)hesse_trainer_steps_total(r->tr));
    return rc;
}

/* Between two steps: a checkpoint when one is due, and the stop a signal asked for. */
static int step_boundary(const train_args *a, train_run *r) {
    int rc = HESSE_OK;
    const int due =
        r->cc.path && (cli_stop || hesse_now() - r->t_checkpoint >= a->checkpoint_every);
    if (due) rc = checkpoint_save(r);
    if (rc == HESSE_OK && cli_stop) rc = cli_stopped(&r->cc);
    return rc;
}

/* One optimizer step, its progress, and the end of its epoch. */
static int train_step(const train_args *a, train_run *r) {
    hesse_train_step st;
    const double t0 = hesse_now();
    int rc = hesse_trainer_step(r->tr, &st);
    if (rc == HESSE_OK && st.epoch_end) rc = end_epoch(a, r, &st);
    r->track.seconds_training += hesse_now() - t0;
    if (rc == HESSE_OK) rc = train_track_step(&r->track, r->tr);
    if (rc == HESSE_OK) step_progress(a, r, &st);
    return rc;
}

/* The steps, each epoch followed by its test evaluation. */
static int train(const train_args *a, train_run *r) {
    const train_opts *t = &a->t;
    cli_note("train: %s, %lld parameters, %s, %d epochs, batch %d, %s lr %g",
             hesse_model_arch(r->m), (long long)hesse_model_num_params(r->m), r->data.description,
             t->epochs, hesse_trainer_batch_size(r->tr), t->optimizer, t->lr);
    r->t_start = r->t_epoch = r->t_checkpoint = hesse_now();
    int rc = train_track_step(&r->track, r->tr); /* step 0, unless resumed */
    cli_stoppable(1); /* a signal stops the run at the next step boundary */
    while (rc == HESSE_OK && hesse_trainer_steps_done(r->tr) < hesse_trainer_steps_total(r->tr)) {
        rc = train_step(a, r);
        if (rc == HESSE_OK) rc = step_boundary(a, r);
    }
    cli_stoppable(0);
    if (rc == HESSE_OK) train_track_note(&r->track);
    return rc;
}

/* The model file, its metadata recording the preprocessing, the data, the optimizer and the
 * history. */
static int save(const train_args *a, train_run *r) {
    char *hist_text = NULL, *pre_text = NULL, *data_text = NULL;
    cJSON *pj = cJSON_CreateObject(), *dj = cJSON_CreateObject();
    hesse_preprocess_to_json(&r->data.preprocess, pj);
    cJSON_AddStringToObject(dj, "dataset", hesse_dataset_name(r->data.dataset));
    cJSON_AddStringToObject(dj, "description", r->data.description);
    cJSON_AddNumberToObject(dj, "samples", (double)r->data.samples.n);
    if (r->data.label_noise > 0.0) cli_describe_label_noise(dj, &r->data);
    cJSON *tj = cJSON_AddObjectToObject(dj, "optimizer");
    cJSON_AddStringToObject(tj, "name", a->t.optimizer);
    cJSON_AddStringToObject(tj, "schedule", a->t.schedule);
    if (r->tp.schedule == HESSE_SCHEDULE_WARMUP_COSINE) {
        cJSON_AddNumberToObject(tj, "warmup", (double)a->t.warmup);
        cJSON_AddNumberToObject(tj, "steps", (double)hesse_trainer_steps_total(r->tr));
    }
    cJSON_AddNumberToObject(tj, "lr", a->t.lr);
    cJSON_AddNumberToObject(tj, "momentum", a->t.momentum);
    cJSON_AddNumberToObject(tj, "weight_decay", a->t.wd);
    cJSON_AddNumberToObject(tj, "batch", hesse_trainer_batch_size(r->tr));
    cJSON_AddNumberToObject(tj, "epochs", a->t.epochs);
    int rc = hesse_json_print(pj, &pre_text);
    if (rc == HESSE_OK) rc = hesse_json_print(dj, &data_text);
    if (rc == HESSE_OK) rc = hesse_json_print(r->history, &hist_text);
    cJSON_Delete(pj);
    cJSON_Delete(dj);
    if (rc == HESSE_OK) {
        hesse_model_meta meta = {pre_text, hist_text, data_text, a->d.seed};
        rc = hesse_model_save(r->m, &meta, a->out);
    }
    if (rc == HESSE_OK) cli_note("train: wrote %s (%.1fs)", a->out, hesse_now() - r->t_start);
    free(hist_text);
    free(pre_text);
    free(data_text);
    return rc;
}

/* --json: the model, the data and the history. */
/* --json: the model, the data, the history and the tracking; --track-csv, --track-svg. */
static int emit(const train_args *a, const train_run *r, int argc, char **argv) {
    cJSON *tracking = a->track ? train_track_json(&r->track, r->tr, a->t.optimizer, a->t.lr) : NULL;
    int rc = tracking ? train_track_write(&r->track, tracking) : HESSE_OK;
    if (rc == HESSE_OK && a->json_out) {
        cJSON *res = hesse_result_new("train", argc, argv);
        cli_describe_model(res, r->m, a->out);
        cli_describe_data(res, &r->data);
        cJSON_AddItemReferenceToObject(res, "history", r->history);
        if (tracking) cJSON_AddItemReferenceToObject(res, "tracking", tracking);
        rc = cli_emit(res, a->json_out);
        cJSON_Delete(res);
    }
    cJSON_Delete(tracking);
    return rc;
}

static void train_run_free(train_run *r) {
    cJSON_Delete(r->history);
    cJSON_Delete(r->header);
    train_track_free(&r->track);
    hesse_trainer_free(r->tr);
    free(r->pre);
    hesse_engine_free(r->ev);
    hesse_model_free(r->m);
    cli_data_free(&r->data);
    cli_data_free(&r->test);
}

int cmd_train(int argc, char **argv) {
    train_args a = {.d = {"fashion-mnist", "train", 0, "first", 0, NULL, NULL, 0, 0},
                    .t = {"sgd", "constant", 0.01, 0.9, -1.0, 0.1, -1, 64, 0, 1, -1, -1},
                    .checkpoint_every = 300};
    cli_opt opts[CLI_MAX_OPTS];
    int nopts = options_train(&a, opts);
    nopts += options_run(&a, opts + nopts);
    int rc = cli_start(&train_doc, argc, argv, opts, nopts, &a.threads, &a.quiet);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("train", rc);

    train_run r = {.history = cJSON_CreateArray()};
    cli_signals_install();
    HESSE_CHECK(validate(&a, &r, opts, nopts));
    HESSE_CHECK(cli_data_open(&a.d, &r.data));
    HESSE_CHECK(open_model(&a, &r));
    HESSE_CHECK(check_trainable(&a, &r));
    HESSE_CHECK(open_test(&a, &r));
    HESSE_CHECK(prepare(&a, &r));
    if (a.checkpoint || a.resume) r.header = run_header(&a, &r); /* hashes the data */
    r.cc = (cli_checkpoint_ctx){a.checkpoint, r.header, 0};
    HESSE_CHECK(resume(&a, &r));
    HESSE_CHECK(train(&a, &r));
    HESSE_CHECK(save(&a, &r));
    HESSE_CHECK(emit(&a, &r, argc, argv));
cleanup:
    train_run_free(&r);
    return rc == HESSE_OK ? 0 : cli_fail("train", rc);
}
