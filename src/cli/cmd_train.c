/* hesse train: minibatch SGD (momentum, weight decay) or Adam, with a step or cosine
 * learning-rate schedule, written out as a self-describing safetensors model. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *optimizer, *schedule;
    double lr, momentum, wd, gamma;
    int epochs, batch, step_epochs;
} train_opts;

static int parse_train_opts(const train_opts *t, hesse_optim_params *op, hesse_schedule_kind *sk) {
    if (strcmp(t->optimizer, "sgd") == 0)
        *op = hesse_optim_defaults(HESSE_OPTIM_SGD);
    else if (strcmp(t->optimizer, "adam") == 0)
        *op = hesse_optim_defaults(HESSE_OPTIM_ADAM);
    else
        return hesse_error(HESSE_EINVAL, "option --optimizer: expected sgd or adam, got '%s'",
                           t->optimizer);
    op->momentum = t->momentum;
    op->weight_decay = t->wd;
    if (strcmp(t->schedule, "constant") == 0)
        *sk = HESSE_SCHEDULE_CONSTANT;
    else if (strcmp(t->schedule, "step") == 0)
        *sk = HESSE_SCHEDULE_STEP;
    else if (strcmp(t->schedule, "cosine") == 0)
        *sk = HESSE_SCHEDULE_COSINE;
    else
        return hesse_error(HESSE_EINVAL,
                           "option --schedule: expected constant, step or cosine, got '%s'",
                           t->schedule);
    return HESSE_OK;
}

/* Test loss and accuracy (forward only). */
static int evaluate(hesse_engine *e, const hesse_samples *s, double *loss, double *acc) {
    int64_t correct = 0;
    int rc = hesse_loss_grad(e, s, loss, NULL, &correct);
    *acc = (double)correct / (double)s->n;
    return rc;
}

int cmd_train(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 0, "first", 0, NULL, NULL};
    train_opts t = {"sgd", "constant", 0.01, 0.9, 0.0, 0.1, 1, 64, 0};
    const char *arch = NULL, *loss_name = NULL, *out = NULL, *init = NULL;
    const char *json_out = NULL;
    int64_t test_samples = 0;
    int threads = 0, quiet = 0, no_test = 0;
    cli_opt opts[] = {
        {"arch", 0, OPT_STRING, &arch, "A", "architecture string (PyTorch module names)",
         CLI_NO_RANGE, 0},
        {"loss", 0, OPT_STRING, &loss_name, "L",
         "cross_entropy (default; with --init, the model file's loss) or mse", CLI_NO_RANGE, 0},
        {"init", 0, OPT_STRING, &init, "FILE", "start from this model instead of a fresh init",
         CLI_NO_RANGE, 0},
        CLI_DATA_OPTIONS(d),
        {"epochs", 0, OPT_INT, &t.epochs, "E",
         "passes over the data (default 1; 0 writes the init)", 0, 1e6, 0},
        {"batch", 0, OPT_INT, &t.batch, "B", "minibatch size (default 64)", 1, 1 << 20, 0},
        {"lr", 0, OPT_DOUBLE, &t.lr, "LR", "learning rate (default 0.01)", 0, 1e6, 0},
        {"momentum", 0, OPT_DOUBLE, &t.momentum, "MU", "SGD momentum (default 0.9)", 0, 1, 0},
        {"wd", 0, OPT_DOUBLE, &t.wd, "WD", "weight decay (default 0)", 0, 1e6, 0},
        {"optimizer", 0, OPT_STRING, &t.optimizer, "O", "sgd (default) or adam", CLI_NO_RANGE, 0},
        {"schedule", 0, OPT_STRING, &t.schedule, "S", "constant (default), step or cosine",
         CLI_NO_RANGE, 0},
        {"step-epochs", 0, OPT_INT, &t.step_epochs, "K",
         "step schedule: epochs between decays (default epochs/3)", 1, 1e6, 0},
        {"gamma", 0, OPT_DOUBLE, &t.gamma, "G", "step schedule: decay factor (default 0.1)", 0, 1,
         0},
        {"test-samples", 0, OPT_INT64, &test_samples, "N",
         "test samples evaluated after each epoch (0: all)", 0, 1e15, 0},
        {"no-test", 0, OPT_FLAG, &no_test, NULL, "skip the test evaluation", CLI_NO_RANGE, 0},
        {"json", 0, OPT_STRING, &json_out, "FILE", "also write the training history as JSON",
         CLI_NO_RANGE, 0},
        {"output", 'o', OPT_STRING, &out, "FILE", "the model file to write (.safetensors)",
         CLI_NO_RANGE, 0},
        {"threads", 0, OPT_INT, &threads, "T", "BLAS threads (default: all cores)", 1, 1024, 0},
        {"quiet", 'q', OPT_FLAG, &quiet, NULL, "no progress or notes on stderr", CLI_NO_RANGE, 0},
    };
    cli_command_doc doc = {
        "train", "train a network (SGD or Adam) and save it as safetensors",
        "--arch A [--data D] [--epochs E] [--lr LR] [--batch B] -o model.safetensors",
        "Parameters start from PyTorch's default init (seeded by --seed) unless --init is given. "
        "Each epoch reshuffles the samples with the seed. The model file records the "
        "architecture, input shape, loss, preprocessing, seed and the per-epoch history in its "
        "metadata. Example (LeNet-5 on Fashion-MNIST):\n"
        "  hesse train --arch 'conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,"
        "maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)' "
        "--epochs 3 --lr 0.05 -o lenet5.safetensors"};
    int rc = cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("train", rc);
    cli_apply_common(threads, quiet);

    cli_data data = {0}, test = {0};
    hesse_model *m = NULL;
    hesse_engine *e = NULL, *ev = NULL;
    hesse_samples batch = {0};
    hesse_optimizer *opt = NULL;
    int64_t *order = NULL;
    double *grad = NULL;
    char *pre = NULL, *hist_text = NULL, *pre_text = NULL, *data_text = NULL;
    cJSON *history = cJSON_CreateArray(), *res = NULL;
    if (!out) {
        rc = hesse_error(HESSE_EINVAL, "option -o/--output is required (the model file to write)");
        goto cleanup;
    }
    if (!arch && !init) {
        rc = hesse_error(HESSE_EINVAL, "option --arch is required (or --init with a model file)");
        goto cleanup;
    }
    hesse_optim_params op;
    hesse_schedule_kind sk = HESSE_SCHEDULE_CONSTANT;
    HESSE_CHECK(parse_train_opts(&t, &op, &sk));
    if (t.step_epochs == 0) t.step_epochs = t.epochs / 3 > 1 ? t.epochs / 3 : 1;
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(cli_check_output(json_out, "option --json"));
    HESSE_CHECK(cli_data_open(&d, &data));
    if (init) {
        cli_model_opts mo = {init, arch, loss_name};
        HESSE_CHECK(cli_load_model(&mo, data.dataset, &m, &pre));
    } else {
        hesse_loss_kind loss;
        if (!loss_name) loss_name = "cross_entropy";
        if (hesse_loss_parse(loss_name, &loss) != HESSE_OK) {
            rc = hesse_error(HESSE_EINVAL, "option --loss: expected cross_entropy or mse, got '%s'",
                             loss_name);
            goto cleanup;
        }
        int c, h, w;
        hesse_dataset_shape(data.dataset, &c, &h, &w);
        HESSE_CHECK(hesse_model_create(arch, c, h, w, loss, &m));
        hesse_model_init(m, d.seed);
    }
    const char *eval_only = NULL;
    if (t.epochs > 0 && hesse_model_has_eval_only(m, &eval_only)) {
        /* training would need batch statistics and running-statistic updates (batch norm) or
         * random masks (dropout); hesse implements these layers in evaluation mode only */
        rc = hesse_error(HESSE_EINPUT,
                         "hesse train does not train networks with %s layers: hesse implements "
                         "them in evaluation mode only (%s); train in PyTorch and load the "
                         "state_dict with --model and --arch (--epochs 0 writes the initial model)",
                         eval_only,
                         strncmp(eval_only, "batchnorm", 9) == 0
                             ? "running statistics fixed, no batch statistics"
                             : "dropout is the identity");
        goto cleanup;
    }
    HESSE_CHECK(cli_data_select(&d, pre, &data));
    if (hesse_model_num_outputs(m) < hesse_dataset_num_classes(data.dataset)) {
        rc = hesse_error(HESSE_EINPUT, "the model has %d outputs but %s has %d classes",
                         hesse_model_num_outputs(m), hesse_dataset_name(data.dataset),
                         hesse_dataset_num_classes(data.dataset));
        goto cleanup;
    }
    if (!no_test && t.epochs > 0) {
        cli_data_opts td = d;
        td.split = "test";
        td.samples = test_samples;
        td.select = "first";
        /* a single-file dataset has no test split: evaluate on nothing rather than on train */
        if (strstr(d.data, ".safetensors"))
            no_test = 1;
        else {
            HESSE_CHECK(cli_data_open(&td, &test));
            HESSE_CHECK(cli_data_select(&td, pre, &test)); /* the training preprocessing */
        }
    }
    const int64_t n = hesse_model_num_params(m), N = data.samples.n;
    const int B = t.batch < N ? t.batch : (int)N;
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = B;
    HESSE_CHECK(hesse_engine_create(m, &ep, &e));
    HESSE_CHECK(hesse_engine_create(m, NULL, &ev));
    HESSE_CHECK(hesse_samples_alloc(B, data.samples.c, data.samples.h, data.samples.w,
                                    data.samples.num_classes, &batch));
    order = malloc((size_t)N * sizeof *order);
    grad = hesse_calloc((size_t)n, sizeof *grad);
    HESSE_CHECK(hesse_optimizer_create(n, &op, &opt));
    if (!order || !grad || !history) {
        rc = hesse_error(HESSE_ENOMEM, "out of memory for training state");
        goto cleanup;
    }
    cli_note("train: %s, %lld parameters, %s, %d epochs, batch %d, %s lr %g", hesse_model_arch(m),
             (long long)n, data.description, t.epochs, B, t.optimizer, t.lr);
    hesse_rng rng;
    hesse_rng_seed_stream(&rng, d.seed, 1); /* stream 0 initialised the weights */
    for (int64_t i = 0; i < N; i++) order[i] = i;
    const int64_t batches = (N + B - 1) / B;
    double t_start = hesse_now();
    for (int epoch = 0; epoch < t.epochs; epoch++) {
        double lr = hesse_schedule_lr(sk, t.lr, epoch, t.epochs, t.step_epochs, t.gamma),
               t0 = hesse_now(), loss_sum = 0;
        int64_t correct_sum = 0;
        hesse_rng_shuffle(&rng, order, N);
        for (int64_t bi = 0; bi < batches; bi++) {
            int64_t b0 = bi * B, count = N - b0 < B ? N - b0 : B;
            hesse_samples_gather(&data.samples, order + b0, count, &batch);
            double loss;
            int64_t correct;
            HESSE_CHECK(hesse_loss_grad(e, &batch, &loss, grad, &correct));
            hesse_optimizer_step(opt, lr, hesse_model_params(m), grad);
            loss_sum += loss * (double)count;
            correct_sum += correct;
            char detail[96];
            snprintf(detail, sizeof detail, "epoch %d/%d loss %.4f acc %.1f%%", epoch + 1, t.epochs,
                     loss_sum / (double)(b0 + count),
                     100.0 * (double)correct_sum / (double)(b0 + count));
            hesse_progress p = {"train",
                                (double)(epoch * batches + bi + 1),
                                (double)(t.epochs * batches),
                                hesse_now() - t_start,
                                detail,
                                0};
            hesse_report_progress(&p);
        }
        double test_loss = NAN, test_acc = NAN;
        if (!no_test) HESSE_CHECK(evaluate(ev, &test.samples, &test_loss, &test_acc));
        double secs = hesse_now() - t0;
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "epoch", epoch + 1);
        cJSON_AddNumberToObject(row, "lr", lr);
        cJSON_AddNumberToObject(row, "train_loss", loss_sum / (double)N);
        cJSON_AddNumberToObject(row, "train_accuracy", (double)correct_sum / (double)N);
        if (!no_test) {
            cJSON_AddNumberToObject(row, "test_loss", test_loss);
            cJSON_AddNumberToObject(row, "test_accuracy", test_acc);
        }
        cJSON_AddNumberToObject(row, "seconds", secs);
        cJSON_AddItemToArray(history, row);
        hesse_progress p = {"train",
                            (double)((epoch + 1) * batches),
                            (double)(t.epochs * batches),
                            hesse_now() - t_start,
                            "",
                            epoch + 1 == t.epochs};
        if (epoch + 1 == t.epochs) hesse_report_progress(&p);
        if (no_test)
            cli_note("epoch %d/%d: train loss %.4f acc %.2f%% | lr %g | %.1fs", epoch + 1, t.epochs,
                     loss_sum / (double)N, 100.0 * (double)correct_sum / (double)N, lr, secs);
        else
            cli_note(
                "epoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | lr %g | "
                "%.1fs",
                epoch + 1, t.epochs, loss_sum / (double)N, 100.0 * (double)correct_sum / (double)N,
                test_loss, 100.0 * test_acc, lr, secs);
    }

    cJSON *pj = cJSON_CreateObject(), *dj = cJSON_CreateObject();
    hesse_preprocess_to_json(&data.preprocess, pj);
    cJSON_AddStringToObject(dj, "dataset", hesse_dataset_name(data.dataset));
    cJSON_AddStringToObject(dj, "description", data.description);
    cJSON_AddNumberToObject(dj, "samples", (double)N);
    cJSON *tj = cJSON_AddObjectToObject(dj, "optimizer");
    cJSON_AddStringToObject(tj, "name", t.optimizer);
    cJSON_AddStringToObject(tj, "schedule", t.schedule);
    cJSON_AddNumberToObject(tj, "lr", t.lr);
    cJSON_AddNumberToObject(tj, "momentum", t.momentum);
    cJSON_AddNumberToObject(tj, "weight_decay", t.wd);
    cJSON_AddNumberToObject(tj, "batch", B);
    cJSON_AddNumberToObject(tj, "epochs", t.epochs);
    rc = hesse_json_print(pj, &pre_text);
    if (rc == HESSE_OK) rc = hesse_json_print(dj, &data_text);
    if (rc == HESSE_OK) rc = hesse_json_print(history, &hist_text);
    cJSON_Delete(pj);
    cJSON_Delete(dj);
    if (rc != HESSE_OK) goto cleanup;
    hesse_model_meta meta = {pre_text, hist_text, data_text, d.seed};
    HESSE_CHECK(hesse_model_save(m, &meta, out));
    cli_note("train: wrote %s (%.1fs)", out, hesse_now() - t_start);
    if (json_out) {
        res = hesse_result_new("train", argc, argv);
        cli_describe_model(res, m, out);
        cli_describe_data(res, &data);
        cJSON_AddItemReferenceToObject(res, "history", history);
        HESSE_CHECK(cli_emit(res, json_out));
    }
cleanup:
    cJSON_Delete(res);
    cJSON_Delete(history);
    free(hist_text);
    free(pre_text);
    free(data_text);
    hesse_free(grad);
    hesse_optimizer_free(opt);
    free(order);
    free(pre);
    hesse_samples_free(&batch);
    hesse_engine_free(e);
    hesse_engine_free(ev);
    hesse_model_free(m);
    cli_data_free(&data);
    cli_data_free(&test);
    return rc == HESSE_OK ? 0 : cli_fail("train", rc);
}
