/* jsonl.h: JSON Lines written with jansson, for every JSON output.
 *
 * Strings from the network (Host, SNI, reasons quoting them) may hold
 * control characters and bytes that are not UTF-8: jansson escapes the
 * former; jsonl_string replaces each invalid sequence with U+FFFD first,
 * since JSON text must be UTF-8. Numbers are written as numbers; reals
 * with at most 16 significant digits (microseconds of an epoch time). */
#ifndef SMAUDIT_JSONL_H
#define SMAUDIT_JSONL_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Decode one UTF-8 sequence at s (n >= 1 bytes left): the code point, or -1
 * if invalid (overlong, surrogate, beyond U+10FFFF, truncated); *len =
 * bytes used (1 for an invalid byte). */
long jsonl_utf8_next(const unsigned char *s, size_t n, int *len);

/* A JSON string of n bytes of s, invalid UTF-8 replaced by U+FFFD; NULL
 * only when out of memory. s may hold NUL bytes. */
json_t *jsonl_string(const char *s, size_t n);

/* obj[key] = s as a string (jsonl_string), or null when s is NULL.
 * Returns 0 or -1 (out of memory). */
int jsonl_set_str(json_t *obj, const char *key, const char *s);

/* Write obj as one compact line to out and release it (the reference is
 * stolen, also on error). Returns 0, or -1 if it could not be written. */
int jsonl_write(FILE *out, json_t *obj);

#endif
