/* SPDX-License-Identifier: BSD-3-Clause */
/* promtext.h - a checker of Prometheus' text exposition format (version
 * 0.0.4), written for the tests of `leader run --metrics-listen`: it
 * parses a scrape line by line, refuses what Prometheus would refuse, and
 * keeps the samples so that a test can look values up. */
#ifndef LEADER_TEST_PROMTEXT_H
#define LEADER_TEST_PROMTEXT_H

#include <stddef.h>

#define PROM_MAX_SAMPLES 512
#define PROM_MAX_LABELS  8

struct prom_label {
    char name[64];
    char value[300]; /* unescaped */
};

struct prom_sample {
    char name[128];
    struct prom_label labels[PROM_MAX_LABELS];
    int nlabels;
    double value;
};

struct prom_text {
    struct prom_sample samples[PROM_MAX_SAMPLES];
    int n;
};

/* Parses text into p. Checks: every line is a # HELP, a # TYPE or a
 * sample; names and label names are valid; label values are quoted and
 * escaped as the format says; a family's TYPE comes once, before its
 * samples, and its samples are together; counters end in _total; a
 * histogram has cumulative le buckets ending in +Inf, equal to its _count,
 * and a _sum; no sample repeats a name and label set. Returns 0, or -1
 * with the line and the reason in err. */
int prom_parse(const char *text, struct prom_text *p, char *err, size_t errlen);

/* The value of the sample name whose labels include the given ones
 * ("name=value" strings, NULL-terminated; NULL for none). Returns 0 and
 * the value in *v, or -1 when there is no such sample. */
int prom_value(const struct prom_text *p, const char *name,
               const char *const labels[], double *v);

/* The value of a label of a sample, NULL when it has none. */
const char *prom_label(const struct prom_sample *s, const char *name);

#endif
