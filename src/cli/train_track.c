/* hesse train --track: measurements of the Hessian at the step boundaries the spec asks for,
 * on a fixed subset of the training samples, into a series for --json, CSV and SVG. */
#include "cli/train_track.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int train_track_validate(train_track *k) {
    static const char *const none = NULL;
    k->top1 = NAN;
    if (!k->spec) {
        const char *given = k->csv ? "--track-csv" : k->svg ? "--track-svg" : none;
        return given ? hesse_error(HESSE_EINVAL, "option %s needs --track SPEC", given) : HESSE_OK;
    }
    int rc = hesse_track_parse(k->spec, &k->p);
    if (rc == HESSE_OK) rc = cli_check_output(k->csv, "option --track-csv");
    if (rc == HESSE_OK) rc = cli_check_output(k->svg, "option --track-svg");
    return rc;
}

int train_track_open(train_track *k, const hesse_model *m, const hesse_samples *train) {
    if (!k->spec) return HESSE_OK;
    /* the first N of the training selection; all when N is 0 or not smaller */
    k->sub = hesse_samples_slice(train, 0, k->p.samples > 0 ? k->p.samples : train->n);
    k->p.samples = k->sub.n;
    const int64_t n = hesse_model_num_params(m);
    int rc;
    HESSE_CHECK(hesse_tracker_create(n, &k->p, &k->tracker));
    HESSE_CHECK(hesse_engine_create(m, NULL, &k->e));
    HESSE_CHECK(hesse_op_curvature(k->e, &k->sub, HESSE_CURV_HESSIAN, &k->H));
    k->precond = hesse_calloc((size_t)n, sizeof *k->precond);
    k->series = cJSON_CreateArray();
    if (!k->precond || !k->series) rc = hesse_error(HESSE_ENOMEM, "--track: out of memory");
cleanup:
    return rc;
}

/* The last measured step, or -1. */
static int64_t last_step(const train_track *k) {
    const cJSON *row = cJSON_GetArrayItem(k->series, cJSON_GetArraySize(k->series) - 1);
    return row ? (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(row, "step")) : -1;
}

/* Adam's preconditioner after at least one step; NULL otherwise (GD, SGD, step 0). */
static const double *preconditioner(const train_track *k, const hesse_trainer *tr) {
    const hesse_optimizer *o = hesse_trainer_optimizer(tr);
    if (!k->p.preconditioned || hesse_optimizer_beta1(o) == 0.0 || hesse_optimizer_steps(o) < 1)
        return NULL;
    return hesse_optimizer_preconditioner(o, k->precond) == HESSE_OK ? k->precond : NULL;
}

/* A series row: where (step, epoch, lr), the subset's loss and accuracy, the measurement. */
static int measure(train_track *k, const hesse_trainer *tr, int64_t step) {
    double loss = 0;
    int64_t correct = 0;
    int rc = hesse_loss_grad(k->e, &k->sub, &loss, NULL, &correct);
    hesse_track_point pt;
    if (rc == HESSE_OK) rc = hesse_tracker_measure(k->tracker, &k->H, preconditioner(k, tr), &pt);
    if (rc != HESSE_OK) return rc;
    const int64_t total = hesse_trainer_steps_total(tr);
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "step", (double)step);
    cJSON_AddNumberToObject(row, "epoch", (double)step / (double)hesse_trainer_batches(tr));
    cJSON_AddNumberToObject(row, "loss", loss);
    cJSON_AddNumberToObject(row, "accuracy",
                            (double)correct / (double)hesse_samples_positions(&k->sub));
    cJSON_AddNumberToObject(row, "lr", hesse_trainer_lr(tr, step < total ? step : total - 1));
    hesse_track_point_json(&pt, row);
    cJSON_AddItemToArray(k->series, row);
    k->top1 = pt.ntop > 0 ? pt.top[0] : NAN;
    hesse_track_point_free(&pt);
    return HESSE_OK;
}

void train_track_note(const train_track *k) {
    if (!k->spec) return;
    hesse_track_totals tot = hesse_tracker_totals(k->tracker);
    cli_note("train: %lld measurements of the Hessian on %lld samples, %lld products (%.1f per "
             "measurement); %.1fs training, %.1fs measuring",
             (long long)tot.measurements, (long long)k->sub.n, (long long)tot.products,
             tot.measurements ? (double)tot.products / (double)tot.measurements : 0.0,
             k->seconds_training, k->seconds_measuring);
}

int train_track_step(train_track *k, const hesse_trainer *tr) {
    if (!k->spec) return HESSE_OK;
    const int64_t step = hesse_trainer_steps_done(tr), total = hesse_trainer_steps_total(tr);
    if (!hesse_track_due(&k->p, step, total) || last_step(k) >= step) return HESSE_OK;
    const double t0 = hesse_now();
    int rc = measure(k, tr, step);
    k->seconds_measuring += hesse_now() - t0;
    return rc;
}

cJSON *train_track_json(const train_track *k, const hesse_trainer *tr, const char *optimizer,
                        double lr) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "spec", k->spec);
    hesse_track_params_json(&k->p, t);
    cJSON_AddStringToObject(t, "optimizer", optimizer);
    cJSON_AddNumberToObject(t, "lr", lr);
    const double b1 = hesse_optimizer_beta1(hesse_trainer_optimizer(tr));
    if (b1 > 0) cJSON_AddNumberToObject(t, "beta1", b1);
    cJSON_AddNumberToObject(t, "threshold", 2.0 / lr); /* Cohen et al. 2021: 2/eta */
    if (b1 > 0) /* Cohen et al. 2022: (2 + 2 beta1) / ((1 - beta1) eta), 38/eta at 0.9 */
        cJSON_AddNumberToObject(t, "threshold_preconditioned", (2 + 2 * b1) / ((1 - b1) * lr));
    cJSON_AddNumberToObject(t, "seconds_training", k->seconds_training);
    cJSON_AddNumberToObject(t, "seconds_measuring", k->seconds_measuring);
    hesse_track_totals tot = hesse_tracker_totals(k->tracker);
    cJSON_AddNumberToObject(t, "products", (double)tot.products);
    if (k->p.cold) cJSON_AddNumberToObject(t, "products_cold", (double)tot.products_cold);
    cJSON_AddItemReferenceToObject(t, "series", k->series);
    return t;
}

/* One of the tracking files from its text maker. */
static int write_one(const char *path, const cJSON *tracking, int (*make)(const cJSON *, char **)) {
    if (!path || !cli_root) return HESSE_OK;
    char *text = NULL;
    int rc = make(tracking, &text);
    if (rc == HESSE_OK) rc = hesse_write_file_atomic(path, text, strlen(text));
    hesse_free(text);
    return rc;
}

int train_track_write(const train_track *k, const cJSON *tracking) {
    int rc = write_one(k->csv, tracking, hesse_track_csv);
    return rc == HESSE_OK ? write_one(k->svg, tracking, hesse_track_svg) : rc;
}

int train_track_save(const train_track *k, void **blob, size_t *blob_size, char **series) {
    *blob = NULL;
    *blob_size = 0;
    *series = NULL;
    if (!k->spec) return HESSE_OK;
    int rc = hesse_tracker_save(k->tracker, blob, blob_size);
    cJSON *s = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(s, "series", k->series);
    cJSON_AddNumberToObject(s, "seconds_training", k->seconds_training);
    cJSON_AddNumberToObject(s, "seconds_measuring", k->seconds_measuring);
    cJSON_AddNumberToObject(s, "top1", isfinite(k->top1) ? k->top1 : 0.0);
    if (rc == HESSE_OK) rc = hesse_json_print(s, series); /* numbers that read back exactly */
    cJSON_Delete(s);
    return rc;
}

int train_track_load(train_track *k, const unsigned char *blob, size_t blob_size,
                     const char *series, size_t series_len) {
    if (!k->spec)
        return blob_size || series_len
                   ? hesse_error(HESSE_EINPUT, "checkpoint: it tracked the Hessian, this run does "
                                               "not (--track)")
                   : HESSE_OK;
    cJSON *s = cJSON_ParseWithLength(series, series_len);
    cJSON *rows = cJSON_GetObjectItem(s, "series");
    int rc = cJSON_IsArray(rows) ? hesse_tracker_load(k->tracker, blob, blob_size)
                                 : hesse_error(HESSE_EINPUT, "checkpoint: no tracking series");
    if (rc == HESSE_OK) {
        cJSON_DetachItemViaPointer(s, rows);
        cJSON_Delete(k->series);
        k->series = rows;
        k->seconds_training = cJSON_GetNumberValue(cJSON_GetObjectItem(s, "seconds_training"));
        k->seconds_measuring = cJSON_GetNumberValue(cJSON_GetObjectItem(s, "seconds_measuring"));
        k->top1 = cJSON_GetNumberValue(cJSON_GetObjectItem(s, "top1"));
    }
    cJSON_Delete(s);
    return rc;
}

void train_track_free(train_track *k) {
    hesse_tracker_free(k->tracker);
    hesse_op_free(&k->H);
    hesse_engine_free(k->e);
    hesse_free(k->precond);
    cJSON_Delete(k->series);
}
