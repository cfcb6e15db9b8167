/* SPDX-License-Identifier: BSD-3-Clause */
/* promtext.c - see promtext.h. The grammar is the one of Prometheus'
 * "Exposition formats" page, text format 0.0.4. */
#define _GNU_SOURCE
#include "promtext.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAMILIES 64

struct family {
    char name[128];
    char type[16]; /* "" until a TYPE line */
    int has_samples, closed;
};

struct parser {
    struct prom_text *p;
    struct family fam[MAX_FAMILIES];
    int nfam;
    struct family *current; /* of the last sample */
    int line;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *ps,
                                                      const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(ps->err, ps->errlen, "line %d: ", ps->line);

    va_start(ap, fmt);
    if (n >= 0 && (size_t) n < ps->errlen)
        vsnprintf(ps->err + n, ps->errlen - (size_t) n, fmt, ap);
    va_end(ap);
    return -1;
}

static int name_start(int c, int colon)
{
    return isalpha(c) || c == '_' || (colon && c == ':');
}

/* A metric name (colons allowed) or a label name at *s: copied to out. */
static int read_name(const char **s, char *out, size_t len, int colon)
{
    size_t n = 0;

    if (!name_start((unsigned char) **s, colon))
        return -1;
    while (name_start((unsigned char) **s, colon) ||
           isdigit((unsigned char) **s)) {
        if (n + 1 >= len)
            return -1;
        out[n++] = *(*s)++;
    }
    out[n] = '\0';
    return 0;
}

static struct family *find_family(struct parser *ps, const char *name)
{
    for (int i = 0; i < ps->nfam; i++)
        if (strcmp(ps->fam[i].name, name) == 0)
            return &ps->fam[i];
    return NULL;
}

static struct family *add_family(struct parser *ps, const char *name)
{
    struct family *f = find_family(ps, name);

    if (f != NULL || ps->nfam == MAX_FAMILIES)
        return f;
    f = &ps->fam[ps->nfam++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    return f;
}

static int parse_comment(struct parser *ps, const char *s)
{
    char name[128], kw[8];
    struct family *f;

    if (sscanf(s, "# %7s ", kw) != 1 ||
        (strcmp(kw, "HELP") != 0 && strcmp(kw, "TYPE") != 0))
        return 0; /* a plain comment */
    s += 2 + strlen(kw);
    if (*s++ != ' ' || read_name(&s, name, sizeof name, 1) != 0)
        return fail(ps, "# %s without a valid metric name", kw);
    f = add_family(ps, name);
    if (f == NULL)
        return fail(ps, "too many families");
    if (strcmp(kw, "HELP") == 0)
        return *s == '\0' || *s == ' ' ? 0 : fail(ps, "bad HELP line");
    if (*s++ != ' ')
        return fail(ps, "TYPE of %s without a type", name);
    if (strcmp(s, "counter") && strcmp(s, "gauge") && strcmp(s, "histogram") &&
        strcmp(s, "summary") && strcmp(s, "untyped"))
        return fail(ps, "TYPE of %s: unknown type '%s'", name, s);
    if (f->type[0] != '\0')
        return fail(ps, "a second TYPE line for %s", name);
    if (f->has_samples)
        return fail(ps, "TYPE of %s after its samples", name);
    snprintf(f->type, sizeof f->type, "%s", s);
    if (strcmp(s, "counter") == 0 &&
        (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total") != 0))
        return fail(ps, "counter %s does not end in _total", name);
    return 0;
}

/* A quoted label value at *s (after the quote), unescaped into out. */
static int read_value(const char **s, char *out, size_t len)
{
    size_t n = 0;

    for (;;) {
        char c = *(*s)++;
        if (c == '"')
            break;
        if (c == '\0' || n + 1 >= len)
            return -1;
        if (c == '\\') {
            c = *(*s)++;
            if (c == 'n')
                c = '\n';
            else if (c != '\\' && c != '"')
                return -1;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

static int read_labels(struct parser *ps, const char **s, struct prom_sample *x)
{
    (*s)++; /* '{' */
    while (**s != '}') {
        struct prom_label *lb;
        if (x->nlabels == PROM_MAX_LABELS)
            return fail(ps, "too many labels");
        lb = &x->labels[x->nlabels++];
        if (read_name(s, lb->name, sizeof lb->name, 0) != 0)
            return fail(ps, "bad label name");
        for (int i = 0; i + 1 < x->nlabels; i++)
            if (strcmp(x->labels[i].name, lb->name) == 0)
                return fail(ps, "label %s twice", lb->name);
        if (*(*s)++ != '=' || *(*s)++ != '"' ||
            read_value(s, lb->value, sizeof lb->value) != 0)
            return fail(ps, "bad value of label %s", lb->name);
        if (**s == ',')
            (*s)++;
        else if (**s != '}')
            return fail(ps, "',' or '}' expected after label %s", lb->name);
    }
    (*s)++;
    return 0;
}

static int read_number(const char *t, double *v)
{
    char *end;

    if (strcmp(t, "+Inf") == 0 || strcmp(t, "-Inf") == 0) {
        *v = t[0] == '+' ? INFINITY : -INFINITY;
        return 0;
    }
    if (strcmp(t, "NaN") == 0) {
        *v = NAN;
        return 0;
    }
    *v = strtod(t, &end);
    return end == t || *end != '\0' ? -1 : 0;
}

/* The family a sample belongs to: a histogram's _bucket, _sum and _count
 * are its own. */
static struct family *family_of(struct parser *ps, const char *name)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    char base[128];

    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(suffixes[i]);
        struct family *f;
        if (n <= k || strcmp(name + n - k, suffixes[i]) != 0)
            continue;
        snprintf(base, sizeof base, "%.*s", (int) (n - k), name);
        f = find_family(ps, base);
        if (f != NULL && strcmp(f->type, "histogram") == 0)
            return f;
    }
    return add_family(ps, name);
}

static int same_labels(const struct prom_sample *a, const struct prom_sample *b,
                       const char *except)
{
    int na = 0, nb = 0;

    for (int i = 0; i < a->nlabels; i++) {
        const char *v;
        if (except != NULL && strcmp(a->labels[i].name, except) == 0)
            continue;
        na++;
        v = prom_label(b, a->labels[i].name);
        if (v == NULL || strcmp(v, a->labels[i].value) != 0)
            return 0;
    }
    for (int i = 0; i < b->nlabels; i++)
        if (except == NULL || strcmp(b->labels[i].name, except) != 0)
            nb++;
    return na == nb;
}

static int parse_sample(struct parser *ps, const char *s)
{
    struct prom_sample *x;
    struct family *f;
    char num[64], ts[64];
    int fields;

    if (ps->p->n == PROM_MAX_SAMPLES)
        return fail(ps, "too many samples");
    x = &ps->p->samples[ps->p->n];
    memset(x, 0, sizeof *x);
    if (read_name(&s, x->name, sizeof x->name, 1) != 0)
        return fail(ps, "bad metric name");
    if (*s == '{' && read_labels(ps, &s, x) != 0)
        return -1;
    fields = sscanf(s, " %63s %63s", num, ts);
    if (*s != ' ' || fields < 1 || read_number(num, &x->value) != 0)
        return fail(ps, "%s: bad value", x->name);
    for (int i = 0; i < ps->p->n; i++)
        if (strcmp(ps->p->samples[i].name, x->name) == 0 &&
            same_labels(&ps->p->samples[i], x, NULL))
            return fail(ps, "%s: the same sample twice", x->name);
    f = family_of(ps, x->name);
    if (f == NULL)
        return fail(ps, "too many families");
    if (f != ps->current && f->has_samples)
        return fail(ps, "samples of %s are not together", f->name);
    if (ps->current != NULL && ps->current != f)
        ps->current->closed = 1;
    ps->current = f;
    f->has_samples = 1;
    ps->p->n++;
    return 0;
}

/* The buckets of one histogram series (the labels of s but le). */
static int check_series(struct parser *ps, const struct family *f,
                        const struct prom_sample *s)
{
    char bucket[160], sum[160], count[160];
    double last = -INFINITY, lastv = 0, inf = NAN;
    int found_sum = 0, found_count = 0;
    double count_v = NAN;

    snprintf(bucket, sizeof bucket, "%s_bucket", f->name);
    snprintf(sum, sizeof sum, "%s_sum", f->name);
    snprintf(count, sizeof count, "%s_count", f->name);
    /* Buckets come in the order of their bounds. */
    for (int i = 0; i < ps->p->n; i++) {
        const struct prom_sample *b = &ps->p->samples[i];
        const char *le;
        double bound;
        if (!same_labels(b, s, "le"))
            continue;
        if (strcmp(b->name, sum) == 0)
            found_sum = 1;
        if (strcmp(b->name, count) == 0) {
            found_count = 1;
            count_v = b->value;
        }
        if (strcmp(b->name, bucket) != 0)
            continue;
        le = prom_label(b, "le");
        if (le == NULL || read_number(le, &bound) != 0 || bound <= last)
            return fail(ps, "%s: bad or unordered le", f->name);
        if (b->value < lastv)
            return fail(ps, "%s: buckets not cumulative", f->name);
        last = bound;
        lastv = b->value;
        if (isinf(bound))
            inf = b->value;
    }
    if (isnan(inf) || !found_sum || !found_count)
        return fail(ps, "%s: no +Inf bucket, _sum or _count", f->name);
    if (inf != count_v)
        return fail(ps, "%s: +Inf bucket %g != _count %g", f->name, inf,
                    count_v);
    return 0;
}

static int check_histograms(struct parser *ps)
{
    ps->line = 0;
    for (int i = 0; i < ps->p->n; i++) {
        const struct prom_sample *s = &ps->p->samples[i];
        const struct family *f = family_of(ps, s->name);
        if (f == NULL || strcmp(f->type, "histogram") != 0)
            continue;
        if (strcmp(s->name, f->name) == 0)
            return fail(ps, "%s: a histogram sample without suffix", s->name);
        if (check_series(ps, f, s) != 0)
            return -1;
    }
    return 0;
}

int prom_parse(const char *text, struct prom_text *p, char *err, size_t errlen)
{
    struct parser ps = {.p = p, .err = err, .errlen = errlen};
    char *copy = strdup(text), *save = NULL, *line;
    int rc = 0;

    p->n = 0;
    if (copy == NULL)
        return -1;
    if (text[0] != '\0' && text[strlen(text) - 1] != '\n') {
        free(copy);
        return fail(&ps, "the text does not end with a newline");
    }
    for (line = strtok_r(copy, "\n", &save); line != NULL && rc == 0;
         line = strtok_r(NULL, "\n", &save)) {
        ps.line++;
        if (line[0] == '#')
            rc = parse_comment(&ps, line);
        else if (line[0] != '\0')
            rc = parse_sample(&ps, line);
    }
    free(copy);
    return rc != 0 ? rc : check_histograms(&ps);
}

const char *prom_label(const struct prom_sample *s, const char *name)
{
    for (int i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return NULL;
}

static int has_labels(const struct prom_sample *s, const char *const labels[])
{
    for (int i = 0; labels != NULL && labels[i] != NULL; i++) {
        const char *eq = strchr(labels[i], '=');
        char name[64];
        const char *v;
        snprintf(name, sizeof name, "%.*s", (int) (eq - labels[i]), labels[i]);
        v = prom_label(s, name);
        if (v == NULL || strcmp(v, eq + 1) != 0)
            return 0;
    }
    return 1;
}

int prom_value(const struct prom_text *p, const char *name,
               const char *const labels[], double *v)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->samples[i].name, name) == 0 &&
            has_labels(&p->samples[i], labels)) {
            *v = p->samples[i].value;
            return 0;
        }
    return -1;
}
