/* hesse train --track: the Hessian measured along training (Cohen et al. 2021, 2022) through
 * the tracker of analysis/ (hesse_tracker), the glue between it and the trainer. */
#ifndef HESSE_CLI_TRAIN_TRACK_H
#define HESSE_CLI_TRAIN_TRACK_H

#include "cli/cli.h"

typedef struct {
    const char *spec, *csv, *svg; /* --track, --track-csv, --track-svg (NULL: not given) */
    hesse_track_params p;
    hesse_tracker *tracker;
    hesse_engine *e;   /* the measurement engine */
    hesse_samples sub; /* the first p.samples training samples (a view) */
    hesse_op H;        /* the Hessian of the mean loss over sub */
    double *precond;   /* Adam's preconditioner at the measured step */
    cJSON *series;     /* one row per measurement */
    double seconds_training, seconds_measuring;
    double top1; /* the last measured lambda_1 (NAN before the first) */
} train_track;

/* Parses --track and stages --track-csv/--track-svg (refused without --track). */
int train_track_validate(train_track *k);
/* The tracker, the measurement subset of the training samples and its Hessian over m. */
int train_track_open(train_track *k, const hesse_model *m, const hesse_samples *train);
/* Measures the trainer's model (the one train_track_open was given) at its current step when that
 * step is due and not yet in the series (a resumed run measured it before its checkpoint). */
int train_track_step(train_track *k, const hesse_trainer *tr);
/* A line on stderr: measurements, products, the time split. */
void train_track_note(const train_track *k);
/* The "tracking" object of the --json document (the caller deletes it). */
cJSON *train_track_json(const train_track *k, const hesse_trainer *tr, const char *optimizer,
                        double lr);
/* --track-csv and --track-svg from the "tracking" object. */
int train_track_write(const train_track *k, const cJSON *tracking);
/* The state for a checkpoint: the tracker's blob and the series with the time split as JSON
 * text (both the caller's: hesse_free); and back. */
int train_track_save(const train_track *k, void **blob, size_t *blob_size, char **series);
int train_track_load(train_track *k, const unsigned char *blob, size_t blob_size,
                     const char *series, size_t series_len);
void train_track_free(train_track *k);

#endif
