/* Option parsing from per-command tables, with typed, range-checked values and generated
 * help. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cli_opt *cli_find(const cli_opt *opts, int nopts, const char *name) {
    for (int i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0) return &opts[i];
    return NULL;
}

int cli_refuse_given(const cli_opt *opts, int nopts, const char *const *names, const char *why) {
    for (; *names; names++) {
        const cli_opt *o = cli_find(opts, nopts, *names);
        if (o && o->seen) return hesse_error(HESSE_EINVAL, "option --%s %s", o->name, why);
    }
    return HESSE_OK;
}

static int bad_value(const cli_opt *o, const char *value, const char *expected) {
    return hesse_error(HESSE_EINVAL, "option --%s: expected %s, got '%s'", o->name, expected,
                       value);
}

static int out_of_range(const cli_opt *o, const char *value) {
    if (o->max >= 1e300)
        return hesse_error(HESSE_EINVAL, "option --%s: %s is below the minimum %g", o->name, value,
                           o->min);
    return hesse_error(HESSE_EINVAL, "option --%s: %s is outside [%g, %g]", o->name, value, o->min,
                       o->max);
}

static int set_value(cli_opt *o, const char *value) {
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case OPT_STRING:
        if (value[0] == '\0') return bad_value(o, value, "a non-empty value");
        *(const char **)o->dest = value;
        return HESSE_OK;
    case OPT_FLAG:
        *(int *)o->dest = 1;
        return HESSE_OK;
    case OPT_LIST: /* handled by the parser, which consumes several arguments */
        return HESSE_EINVAL;
    case OPT_INT:
    case OPT_INT64: {
        long long v = strtoll(value, &end, 10);
        if (end == value || *end != '\0' || errno == ERANGE)
            return bad_value(o, value, "an integer");
        if (o->type == OPT_INT && (v < -2147483647LL || v > 2147483647LL))
            return bad_value(o, value, "an integer that fits in 32 bits");
        if (o->min <= o->max && ((double)v < o->min || (double)v > o->max))
            return out_of_range(o, value);
        if (o->type == OPT_INT)
            *(int *)o->dest = (int)v;
        else
            *(int64_t *)o->dest = (int64_t)v;
        return HESSE_OK;
    }
    case OPT_U64: {
        if (value[0] == '-') return bad_value(o, value, "a non-negative integer");
        unsigned long long v = strtoull(value, &end, 10);
        if (end == value || *end != '\0' || errno == ERANGE)
            return bad_value(o, value, "a non-negative integer");
        *(uint64_t *)o->dest = (uint64_t)v;
        return HESSE_OK;
    }
    case OPT_DOUBLE: {
        double v = strtod(value, &end);
        if (end == value || *end != '\0' || errno == ERANGE || !isfinite(v))
            return bad_value(o, value, "a finite number");
        if (o->min <= o->max && (v < o->min || v > o->max)) return out_of_range(o, value);
        *(double *)o->dest = v;
        return HESSE_OK;
    }
    }
    return HESSE_EINVAL;
}

/* The options whose values are files hesse reads: no output of the command may be one of
 * them (cli_input). */
static int is_input(const cli_opt *o) {
    static const char *const inputs[] = {"model", "data", "init", "resume", "eigenvalues"};
    if (o->type != OPT_STRING) return 0;
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        if (strcmp(o->name, inputs[i]) == 0) return 1;
    return 0;
}

static int add_input(const cli_opt *o, const char *path) {
    char what[80];
    snprintf(what, sizeof what, "option --%s", o->name);
    return cli_input(path, what);
}

/* positional NULL: every argument must be an option (cli_parse). */
static int parse(const cli_command_doc *doc, int argc, char **argv, cli_opt *opts, int nopts,
                 char **positional, int *npositional) {
    int only_positional = 0;
    if (positional) *npositional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (positional && (only_positional || arg[0] != '-' || arg[1] == '\0')) {
            positional[(*npositional)++] = argv[i];
            continue;
        }
        if (positional && strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cli_print_help(doc, opts, nopts);
            return 1;
        }
        cli_opt *o = NULL;
        const char *value = NULL;
        char name[64];
        if (arg[0] == '-' && arg[1] == '-') {
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            if (len >= sizeof name) len = sizeof name - 1;
            memcpy(name, arg + 2, len);
            name[len] = '\0';
            o = (cli_opt *)cli_find(opts, nopts, name);
            if (eq) value = eq + 1;
        } else if (arg[0] == '-' && arg[1] != '\0' && arg[2] == '\0') {
            for (int j = 0; j < nopts; j++)
                if (opts[j].short_name == arg[1]) o = &opts[j];
            snprintf(name, sizeof name, "%s", arg + 1);
        } else {
            return hesse_error(HESSE_EINVAL,
                               "unexpected argument '%s' (options start with --; see hesse %s "
                               "--help)",
                               arg, doc->name);
        }
        if (!o)
            return hesse_error(HESSE_EINVAL,
                               "unknown option '%s' for hesse %s (see hesse %s --help)", arg,
                               doc->name, doc->name);
        if (o->type == OPT_LIST) {
            cli_list *l = o->dest;
            int first = i + 1, last = first;
            while (last < argc && argv[last][0] != '-') last++;
            int add = (value ? 1 : 0) + (last - first);
            if (add == 0)
                return hesse_error(HESSE_EINVAL, "option --%s needs at least one value (%s)",
                                   o->name, o->metavar ? o->metavar : "value");
            const char **items = realloc(l->items, (size_t)(l->count + add) * sizeof *items);
            if (!items) return hesse_error(HESSE_ENOMEM, "out of memory");
            l->items = items;
            if (value) l->items[l->count++] = value;
            for (int j = first; j < last; j++) l->items[l->count++] = argv[j];
            i = last - 1;
            o->seen = 1;
            continue;
        }
        if (o->seen && o->type != OPT_FLAG)
            return hesse_error(HESSE_EINVAL,
                               "option --%s is given twice; give it once (its value would be "
                               "ambiguous)",
                               o->name);
        if (o->type == OPT_FLAG) {
            if (value) return hesse_error(HESSE_EINVAL, "option --%s takes no value", o->name);
        } else if (!value) {
            if (i + 1 >= argc)
                return hesse_error(HESSE_EINVAL, "option --%s needs a value (%s)", o->name,
                                   o->metavar ? o->metavar : "value");
            value = argv[++i];
        }
        int rc = set_value(o, value ? value : "");
        if (rc == HESSE_OK && is_input(o)) rc = add_input(o, value);
        if (rc != HESSE_OK) return rc;
        o->seen = 1;
    }
    return HESSE_OK;
}

void cli_list_free(cli_list *l) {
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

int cli_parse(const cli_command_doc *doc, int argc, char **argv, cli_opt *opts, int nopts) {
    return parse(doc, argc, argv, opts, nopts, NULL, NULL);
}

int cli_parse_positional(const cli_command_doc *doc, int argc, char **argv, cli_opt *opts,
                         int nopts, char **positional, int *npositional) {
    return parse(doc, argc, argv, opts, nopts, positional, npositional);
}

void cli_print_help(const cli_command_doc *doc, const cli_opt *opts, int nopts) {
    printf("hesse %s: %s\n\nUsage: hesse %s %s\n\nOptions:\n", doc->name, doc->summary, doc->name,
           doc->usage);
    for (int i = 0; i < nopts; i++) {
        const cli_opt *o = &opts[i];
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
                     o->metavar ? " " : "", o->metavar ? o->metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        printf("  %-28s %s\n", left, o->help);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
    if (doc->details) printf("\n%s\n", doc->details);
}
