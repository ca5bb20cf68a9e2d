/* hesse train: minibatch SGD (momentum, weight decay), Adam or AdamW, with a step or cosine
 * learning-rate schedule per epoch or a warm-up + cosine schedule per step, written out as a
 * self-describing safetensors model. */
#include "cli/cli.h"

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
typedef struct {
    cli_data_opts d;
    train_opts t;
    const char *arch, *loss_name, *out, *init, *json_out;
    int64_t test_samples;
    int threads, quiet, no_test;
} train_args;

/* What a run holds: data, model, engines, optimizer and the per-epoch history. */
typedef struct {
    cli_data data, test;
    hesse_model *m;
    hesse_engine *e, *ev;
    hesse_samples batch;
    hesse_optimizer *opt;
    hesse_optim_params op;
    hesse_schedule_kind sk;
    int64_t *order;
    double *grad;
    char *pre;
    cJSON *history;
    int64_t n, N, batches, steps;
    int B, gd; /* gd: one full-batch step per epoch over the samples in file order */
    double t_start;
} train_run;

static int parse_train(train_args *a, int argc, char **argv) {
    train_opts *t = &a->t;
    cli_opt opts[] = {
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
        {"test-samples", 0, OPT_INT64, &a->test_samples, "N",
         "test samples evaluated after each epoch (0: all)", 0, 1e15, 0},
        {"test-every", 0, OPT_INT, &t->test_every, "E",
         "epochs between test evaluations (default 1; the last epoch is always evaluated)", 1, 1e9,
         0},
        {"no-test", 0, OPT_FLAG, &a->no_test, NULL, "skip the test evaluation", CLI_NO_RANGE, 0},
        {"json", 0, OPT_STRING, &a->json_out, "FILE", "also write the training history as JSON",
         CLI_NO_RANGE, 0},
        {"output", 'o', OPT_STRING, &a->out, "FILE", "the model file to write (.safetensors)",
         CLI_NO_RANGE, 0},
        {"threads", 0, OPT_INT, &a->threads, "T", "BLAS threads (default: all cores)", 1, 1024, 0},
        {"quiet", 'q', OPT_FLAG, &a->quiet, NULL, "no progress or notes on stderr", CLI_NO_RANGE,
         0},
    };
    cli_command_doc doc = {
        "train", "train a network (SGD or Adam) and save it as safetensors",
        "--arch A [--data D] [--epochs E] [--lr LR] [--batch B] -o model.safetensors",
        "Parameters start from PyTorch's default init (seeded by --seed) unless --init is given. "
        "Each epoch reshuffles the samples with the seed. The model file records the "
        "architecture, input shape, loss, preprocessing, seed and the per-epoch history in its "
        "metadata. --schedule warmup-cosine sets the learning rate of optimizer step s "
        "(0-based) of S = epochs x minibatches per epoch to lr (s + 1) / W for s < W, then "
        "lr (1 + cos(pi (s - W) / (S - W))) / 2 (PyTorch: LambdaLR stepped after each step; "
        "W = --warmup). Example (LeNet-5 on Fashion-MNIST):\n"
        "  hesse train --arch 'conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,"
        "maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)' "
        "--epochs 3 --lr 0.05 -o lenet5.safetensors"};
    return cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
}

static int parse_train_opts(train_opts *t, hesse_optim_params *op, hesse_schedule_kind *sk) {
    static const char *const schedules[] = {"constant", "step", "cosine", "warmup-cosine"};
    hesse_optim_kind kind;
    if (hesse_optim_parse(t->optimizer, &kind) != HESSE_OK)
        return hesse_error(HESSE_EINVAL,
                           "option --optimizer: expected sgd, adam, adamw or gd, got '%s'",
                           t->optimizer);
    *op = hesse_optim_defaults(kind);
    op->momentum = t->momentum;
    if (t->wd < 0) t->wd = op->weight_decay; /* not given: PyTorch's default */
    op->weight_decay = t->wd;
    int k = 0;
    while (k < 4 && strcmp(t->schedule, schedules[k]) != 0) k++;
    if (k == 4)
        return hesse_error(HESSE_EINVAL,
                           "option --schedule: expected constant, step, cosine or warmup-cosine, "
                           "got '%s'",
                           t->schedule);
    *sk = (hesse_schedule_kind)k;
    if (t->warmup >= 0 && *sk != HESSE_SCHEDULE_WARMUP_COSINE)
        return hesse_error(HESSE_EINVAL,
                           "option --warmup applies to --schedule warmup-cosine, not '%s'",
                           t->schedule);
    if (t->warmup < 0) t->warmup = 0;
    return HESSE_OK;
}

/* The options' own checks, then the outputs staged before any work. */
static int validate(train_args *a, train_run *r) {
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
    r->sk = HESSE_SCHEDULE_CONSTANT;
    int rc = parse_train_opts(&a->t, &r->op, &r->sk);
    if (rc != HESSE_OK) return rc;
    if (a->t.step_epochs == 0) a->t.step_epochs = a->t.epochs / 3 > 1 ? a->t.epochs / 3 : 1;
    rc = cli_check_output(a->out, "option --output");
    if (rc == HESSE_OK) rc = cli_check_output(a->json_out, "option --json");
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
static int steps_to_epochs(train_args *a, train_run *r) {
    if (a->t.steps < 0) return HESSE_OK;
    if (a->t.steps % r->batches != 0)
        return hesse_error(HESSE_EINVAL,
                           "option --steps %lld: not a whole number of epochs (%lld minibatches of "
                           "%d per epoch); give a multiple of %lld or --epochs",
                           (long long)a->t.steps, (long long)r->batches, r->B,
                           (long long)r->batches);
    if (a->t.steps / r->batches > 1000000)
        return hesse_error(HESSE_EINVAL, "option --steps %lld: more than 1e6 epochs",
                           (long long)a->t.steps);
    a->t.epochs = (int)(a->t.steps / r->batches);
    return HESSE_OK;
}

/* Engines, the minibatch, the shuffle order, the gradient and the optimizer. */
static int prepare(train_args *a, train_run *r) {
    r->n = hesse_model_num_params(r->m);
    r->N = r->data.samples.n;
    r->gd = r->op.kind == HESSE_OPTIM_GD;
    r->B = a->t.batch < r->N && !r->gd ? a->t.batch : (int)r->N;
    r->batches = (r->N + r->B - 1) / r->B;
    int rc = steps_to_epochs(a, r);
    if (rc != HESSE_OK) return rc;
    r->steps = (int64_t)a->t.epochs * r->batches;
    if (r->sk == HESSE_SCHEDULE_WARMUP_COSINE && a->t.epochs > 0 && a->t.warmup >= r->steps)
        return hesse_error(HESSE_EINVAL,
                           "option --warmup %lld: the run has %lld optimizer steps (%d epochs x "
                           "%lld minibatches); the warm-up must leave at least one step of decay",
                           (long long)a->t.warmup, (long long)r->steps, a->t.epochs,
                           (long long)r->batches);
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = r->gd ? 0 : r->B; /* gd: the engine's chunks over all samples */
    HESSE_CHECK(hesse_engine_create(r->m, &ep, &r->e));
    HESSE_CHECK(hesse_engine_create(r->m, NULL, &r->ev));
    const hesse_samples *s = &r->data.samples;
    HESSE_CHECK(hesse_samples_alloc_like(s, r->gd ? 1 : r->B, &r->batch));
    r->order = malloc((size_t)r->N * sizeof *r->order);
    r->grad = hesse_calloc((size_t)r->n, sizeof *r->grad);
    HESSE_CHECK(hesse_optimizer_create(r->n, &r->op, &r->opt));
    if (!r->order || !r->grad || !r->history)
        rc = hesse_error(HESSE_ENOMEM, "out of memory for training state");
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

/* The learning rate of minibatch bi of an epoch: per epoch, or per step for warmup-cosine. */
static double step_lr(const train_opts *t, const train_run *r, int epoch, int64_t bi) {
    if (r->sk == HESSE_SCHEDULE_WARMUP_COSINE)
        return hesse_schedule_warmup_cosine(t->lr, (int64_t)epoch * r->batches + bi, r->steps,
                                            t->warmup);
    return hesse_schedule_lr(r->sk, t->lr, epoch, t->epochs, t->step_epochs, t->gamma);
}

/* One pass over the shuffled samples, a step per minibatch; the running loss and accuracy
 * go to the progress line. */
static int train_epoch(const train_args *a, train_run *r, int epoch, hesse_rng *rng,
                       double *loss_sum, int64_t *correct_sum) {
    const int64_t N = r->N, B = r->B;
    if (!r->gd) hesse_rng_shuffle(rng, r->order, N);
    for (int64_t bi = 0; bi < r->batches; bi++) {
        int64_t b0 = bi * B, count = N - b0 < B ? N - b0 : B;
        if (!r->gd) hesse_samples_gather(&r->data.samples, r->order + b0, count, &r->batch);
        double loss;
        int64_t correct;
        int rc =
            hesse_loss_grad(r->e, r->gd ? &r->data.samples : &r->batch, &loss, r->grad, &correct);
        if (rc != HESSE_OK) return rc;
        hesse_optimizer_step(r->opt, step_lr(&a->t, r, epoch, bi), hesse_model_params(r->m),
                             r->grad);
        *loss_sum += loss * (double)count;
        *correct_sum += correct;
        char detail[96];
        snprintf(detail, sizeof detail, "epoch %d/%d loss %.4f acc %.1f%%", epoch + 1, a->t.epochs,
                 *loss_sum / (double)(b0 + count),
                 100.0 * (double)*correct_sum /
                     (double)((b0 + count) * hesse_samples_targets(&r->batch)));
        hesse_progress p = {"train",
                            (double)(epoch * r->batches + bi + 1),
                            (double)(a->t.epochs * r->batches),
                            hesse_now() - r->t_start,
                            detail,
                            0};
        hesse_report_progress(&p);
    }
    return HESSE_OK;
}

/* Whether epoch (0-based) ends with a test evaluation: every --test-every, and the last. */
static int tested(const train_args *a, int epoch) {
    return !a->no_test && ((epoch + 1) % a->t.test_every == 0 || epoch + 1 == a->t.epochs);
}

/* An epoch's row of the history (the learning rate of its first step, and of its last with a
 * per-step schedule), its last progress and its line on stderr. */
static void record_epoch(const train_args *a, train_run *r, int epoch, double secs, double loss_sum,
                         int64_t correct_sum, double test_loss, double test_acc) {
    const double N = (double)r->N, lr = step_lr(&a->t, r, epoch, 0);
    const double NP = N * hesse_samples_targets(&r->data.samples);
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "epoch", epoch + 1);
    cJSON_AddNumberToObject(row, "lr", lr);
    if (r->sk == HESSE_SCHEDULE_WARMUP_COSINE)
        cJSON_AddNumberToObject(row, "lr_end", step_lr(&a->t, r, epoch, r->batches - 1));
    cJSON_AddNumberToObject(row, "train_loss", loss_sum / N);
    cJSON_AddNumberToObject(row, "train_accuracy", (double)correct_sum / NP);
    if (tested(a, epoch)) {
        cJSON_AddNumberToObject(row, "test_loss", test_loss);
        cJSON_AddNumberToObject(row, "test_accuracy", test_acc);
    }
    cJSON_AddNumberToObject(row, "seconds", secs);
    cJSON_AddItemToArray(r->history, row);
    const int epochs = a->t.epochs;
    hesse_progress p = {"train",
                        (double)((epoch + 1) * r->batches),
                        (double)(epochs * r->batches),
                        hesse_now() - r->t_start,
                        "",
                        epoch + 1 == epochs};
    if (epoch + 1 == epochs) hesse_report_progress(&p);
    /* gd: an epoch is a step; a note every twentieth of the run and at its end */
    const int every = r->gd && epochs / 20 > 1 ? epochs / 20 : 1;
    if ((epoch + 1) % every != 0 && epoch + 1 != epochs) return;
    if (!tested(a, epoch))
        cli_note("epoch %d/%d: train loss %.4f acc %.2f%% | lr %g | %.1fs", epoch + 1, epochs,
                 loss_sum / N, 100.0 * (double)correct_sum / NP, lr, secs);
    else
        cli_note("epoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | lr %g | "
                 "%.1fs",
                 epoch + 1, epochs, loss_sum / N, 100.0 * (double)correct_sum / NP, test_loss,
                 100.0 * test_acc, lr, secs);
}

/* The epochs: shuffled with stream 1 of the seed, each followed by the test evaluation. */
static int train(const train_args *a, train_run *r) {
    const train_opts *t = &a->t;
    cli_note("train: %s, %lld parameters, %s, %d epochs, batch %d, %s lr %g",
             hesse_model_arch(r->m), (long long)r->n, r->data.description, t->epochs, r->B,
             t->optimizer, t->lr);
    hesse_rng rng;
    hesse_rng_seed_stream(&rng, a->d.seed, 1); /* stream 0 initialised the weights */
    for (int64_t i = 0; i < r->N; i++) r->order[i] = i;
    r->t_start = hesse_now();
    for (int epoch = 0; epoch < t->epochs; epoch++) {
        double t0 = hesse_now(), loss_sum = 0;
        int64_t correct_sum = 0;
        int rc = train_epoch(a, r, epoch, &rng, &loss_sum, &correct_sum);
        double test_loss = NAN, test_acc = NAN;
        if (rc == HESSE_OK && tested(a, epoch))
            rc = evaluate(r->ev, &r->test.samples, &test_loss, &test_acc);
        if (rc != HESSE_OK) return rc;
        record_epoch(a, r, epoch, hesse_now() - t0, loss_sum, correct_sum, test_loss, test_acc);
    }
    return HESSE_OK;
}

/* The model file, its metadata recording the preprocessing, the data, the optimizer and the
 * history. */
static int save(const train_args *a, train_run *r) {
    char *hist_text = NULL, *pre_text = NULL, *data_text = NULL;
    cJSON *pj = cJSON_CreateObject(), *dj = cJSON_CreateObject();
    hesse_preprocess_to_json(&r->data.preprocess, pj);
    cJSON_AddStringToObject(dj, "dataset", hesse_dataset_name(r->data.dataset));
    cJSON_AddStringToObject(dj, "description", r->data.description);
    cJSON_AddNumberToObject(dj, "samples", (double)r->N);
    if (r->data.label_noise > 0.0) cli_describe_label_noise(dj, &r->data);
    cJSON *tj = cJSON_AddObjectToObject(dj, "optimizer");
    cJSON_AddStringToObject(tj, "name", a->t.optimizer);
    cJSON_AddStringToObject(tj, "schedule", a->t.schedule);
    if (r->sk == HESSE_SCHEDULE_WARMUP_COSINE) {
        cJSON_AddNumberToObject(tj, "warmup", (double)a->t.warmup);
        cJSON_AddNumberToObject(tj, "steps", (double)r->steps);
    }
    cJSON_AddNumberToObject(tj, "lr", a->t.lr);
    cJSON_AddNumberToObject(tj, "momentum", a->t.momentum);
    cJSON_AddNumberToObject(tj, "weight_decay", a->t.wd);
    cJSON_AddNumberToObject(tj, "batch", r->B);
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
static int emit(const train_args *a, const train_run *r, int argc, char **argv) {
    if (!a->json_out) return HESSE_OK;
    cJSON *res = hesse_result_new("train", argc, argv);
    cli_describe_model(res, r->m, a->out);
    cli_describe_data(res, &r->data);
    cJSON_AddItemReferenceToObject(res, "history", r->history);
    int rc = cli_emit(res, a->json_out);
    cJSON_Delete(res);
    return rc;
}

static void train_run_free(train_run *r) {
    cJSON_Delete(r->history);
    hesse_free(r->grad);
    hesse_optimizer_free(r->opt);
    free(r->order);
    free(r->pre);
    hesse_samples_free(&r->batch);
    hesse_engine_free(r->e);
    hesse_engine_free(r->ev);
    hesse_model_free(r->m);
    cli_data_free(&r->data);
    cli_data_free(&r->test);
}

int cmd_train(int argc, char **argv) {
    train_args a = {.d = {"fashion-mnist", "train", 0, "first", 0, NULL, NULL, 0, 0},
                    .t = {"sgd", "constant", 0.01, 0.9, -1.0, 0.1, -1, 64, 0, 1, -1, -1}};
    int rc = parse_train(&a, argc, argv);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("train", rc);
    cli_apply_common(a.threads, a.quiet);

    train_run r = {.history = cJSON_CreateArray()};
    HESSE_CHECK(validate(&a, &r));
    HESSE_CHECK(cli_data_open(&a.d, &r.data));
    HESSE_CHECK(open_model(&a, &r));
    HESSE_CHECK(check_trainable(&a, &r));
    HESSE_CHECK(open_test(&a, &r));
    HESSE_CHECK(prepare(&a, &r));
    HESSE_CHECK(train(&a, &r));
    HESSE_CHECK(save(&a, &r));
    HESSE_CHECK(emit(&a, &r, argc, argv));
cleanup:
    train_run_free(&r);
    return rc == HESSE_OK ? 0 : cli_fail("train", rc);
}
