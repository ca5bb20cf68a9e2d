/* The outputs of one run: checked against the inputs and each other before any work, staged
 * under temporary names while the run writes them, renamed into place together at the end. */
#include "io-impl.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *path;      /* as given */
    char *canonical; /* hesse_output_canonical of the resolved target */
    char *tmp;       /* the finished temporary file, staged outputs only */
    char *what;
    int staged, exists;
    dev_t dev;
    ino_t ino;
} output;

typedef struct {
    char *path, *what;
    dev_t dev;
    ino_t ino;
} input;

struct hesse_outputs {
    output *out;
    int nout, capout;
    input *in;
    int nin, capin;
};

static _Thread_local hesse_outputs *active;

int hesse_outputs_create(hesse_outputs **out) {
    *out = calloc(1, sizeof **out);
    return *out ? HESSE_OK : hesse_error(HESSE_ENOMEM, "out of memory");
}

void hesse_outputs_free(hesse_outputs *o) {
    if (!o) return;
    if (active == o) active = NULL;
    for (int i = 0; i < o->nout; i++) {
        if (o->out[i].tmp) unlink(o->out[i].tmp);
        free(o->out[i].tmp);
        free(o->out[i].path);
        free(o->out[i].canonical);
        free(o->out[i].what);
    }
    for (int i = 0; i < o->nin; i++) {
        free(o->in[i].path);
        free(o->in[i].what);
    }
    free(o->out);
    free(o->in);
    free(o);
}

void hesse_outputs_activate(hesse_outputs *o) {
    active = o;
}

static int add_input(hesse_outputs *o, const char *path, const char *what, const struct stat *st) {
    if (o->nin == o->capin) {
        int cap = o->capin ? 2 * o->capin : 8;
        input *in = realloc(o->in, (size_t)cap * sizeof *in);
        if (!in) return hesse_error(HESSE_ENOMEM, "out of memory");
        o->in = in;
        o->capin = cap;
    }
    input *in = &o->in[o->nin];
    in->path = strdup(path);
    in->what = strdup(what);
    if (!in->path || !in->what) {
        free(in->path);
        free(in->what);
        return hesse_error(HESSE_ENOMEM, "out of memory");
    }
    in->dev = st->st_dev;
    in->ino = st->st_ino;
    o->nin++;
    return HESSE_OK;
}

int hesse_outputs_input(hesse_outputs *o, const char *path, const char *what) {
    if (!o || !path || !what)
        return hesse_error(HESSE_EINVAL, "hesse_outputs_input: NULL argument");
    struct stat st;
    if (stat(path, &st) != 0) return HESSE_OK;
    if (!S_ISDIR(st.st_mode)) return add_input(o, path, what, &st);
    /* A data directory: the files in it are the inputs (the formats' directories are flat). */
    DIR *d = opendir(path);
    if (!d) return HESSE_OK;
    int rc = HESSE_OK;
    for (struct dirent *e; rc == HESSE_OK && (e = readdir(d));) {
        char file[4096];
        int n = snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (n > 0 && (size_t)n < sizeof file && stat(file, &st) == 0 && S_ISREG(st.st_mode))
            rc = add_input(o, file, what, &st);
    }
    closedir(d);
    return rc;
}

static int clash(const char *path, const char *what, const char *other_path, const char *other,
                 const char *kind) {
    return hesse_error(HESSE_EINVAL, "%s: '%s' is the same file as %s '%s': %s", what, path, other,
                       other_path, kind);
}

/* The refusals of hesse_outputs_add for an output that is a file (not written in place). */
static int check_distinct(const hesse_outputs *o, const output *n, const char *may_be) {
    for (int i = 0; n->exists && i < o->nin; i++)
        if (o->in[i].dev == n->dev && o->in[i].ino == n->ino &&
            !(may_be && strcmp(may_be, o->in[i].what) == 0))
            return clash(n->path, n->what, o->in[i].path, o->in[i].what,
                         "an output may not replace an input");
    for (int i = 0; i < o->nout; i++) {
        const output *p = &o->out[i];
        if (!p->canonical) continue;
        if ((n->exists && p->exists && p->dev == n->dev && p->ino == n->ino) ||
            strcmp(p->canonical, n->canonical) == 0)
            return clash(n->path, n->what, p->path, p->what,
                         "two outputs of one run may not be one file");
    }
    return HESSE_OK;
}

int hesse_outputs_add(hesse_outputs *o, const char *path, const char *what, int staged,
                      const char *may_be) {
    if (!o || !path || !what) return hesse_error(HESSE_EINVAL, "hesse_outputs_add: NULL argument");
    char *resolved = NULL;
    int inplace, fd;
    int rc = hesse_output_target(path, &resolved, &inplace, &fd);
    if (rc != HESSE_OK || !resolved) return rc != HESSE_OK ? rc : HESSE_ENOMEM;
    if (!inplace && (rc = hesse_output_check_dir(path, resolved)) != HESSE_OK) {
        free(resolved);
        return rc;
    }
    output n = {0};
    n.what = strdup(what);
    n.staged = staged && !inplace;
    n.path = strdup(path);
    n.canonical = inplace ? NULL : hesse_output_canonical(resolved);
    struct stat st;
    if (!inplace && stat(resolved, &st) == 0) {
        n.exists = 1;
        n.dev = st.st_dev;
        n.ino = st.st_ino;
    }
    free(resolved);
    if (!n.path || !n.what || (!inplace && !n.canonical))
        rc = hesse_error(HESSE_ENOMEM, "out of memory");
    else if (!inplace)
        rc = check_distinct(o, &n, may_be);
    if (rc == HESSE_OK && o->nout == o->capout) {
        int cap = o->capout ? 2 * o->capout : 8;
        output *out = realloc(o->out, (size_t)cap * sizeof *out);
        if (!out)
            rc = hesse_error(HESSE_ENOMEM, "out of memory");
        else {
            o->out = out;
            o->capout = cap;
        }
    }
    if (rc != HESSE_OK) {
        free(n.path);
        free(n.what);
        free(n.canonical);
        return rc;
    }
    o->out[o->nout++] = n;
    return HESSE_OK;
}

static int skipped(const char *what, const char *const *skip) {
    for (; skip && *skip; skip++)
        if (strcmp(what, *skip) == 0) return 1;
    return 0;
}

const char *hesse_outputs_user(const hesse_outputs *o, const char *path, const char *const *skip) {
    struct stat st;
    if (!o || !path || stat(path, &st) != 0) return NULL;
    for (int i = 0; i < o->nin; i++)
        if (!skipped(o->in[i].what, skip) && o->in[i].dev == st.st_dev && o->in[i].ino == st.st_ino)
            return o->in[i].what;
    char *resolved = NULL;
    int inplace = 0, fd = -1;
    if (hesse_output_target(path, &resolved, &inplace, &fd) != HESSE_OK) return NULL;
    char *c = resolved && !inplace ? hesse_output_canonical(resolved) : NULL;
    free(resolved);
    const char *hit = NULL;
    for (int i = 0; i < o->nout && !hit; i++) {
        const output *p = &o->out[i];
        if (skipped(p->what, skip)) continue;
        if ((p->exists && p->dev == st.st_dev && p->ino == st.st_ino) ||
            (c && p->canonical && strcmp(p->canonical, c) == 0))
            hit = p->what;
    }
    free(c);
    return hit;
}

int hesse_outputs_hold(const char *resolved, char *tmp) {
    if (!active) return 0;
    char *c = hesse_output_canonical(resolved);
    if (!c) return 0;
    output *hit = NULL;
    for (int i = 0; i < active->nout && !hit; i++)
        if (active->out[i].staged && strcmp(active->out[i].canonical, c) == 0)
            hit = &active->out[i];
    free(c);
    if (!hit) return 0;
    if (hit->tmp) { /* written again: the newer file counts */
        unlink(hit->tmp);
        free(hit->tmp);
    }
    hit->tmp = tmp;
    return 1;
}

int hesse_outputs_commit(hesse_outputs *o) {
    if (!o) return hesse_error(HESSE_EINVAL, "hesse_outputs_commit: NULL argument");
    int rc = HESSE_OK;
    for (int i = 0; i < o->nout; i++) {
        output *p = &o->out[i];
        if (!p->tmp) continue;
        if (rc == HESSE_OK && rename(p->tmp, p->canonical) != 0)
            rc = hesse_error(HESSE_EIO, "%s: renaming the temporary file into place: %s", p->path,
                             strerror(errno));
        if (rc != HESSE_OK) unlink(p->tmp);
        free(p->tmp);
        p->tmp = NULL;
    }
    return rc;
}
