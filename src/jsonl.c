/* jsonl.c: JSON Lines through jansson (see jsonl.h).
 *
 * jansson refuses strings that are not valid UTF-8, so text goes through
 * jsonl_string, which copies it with each invalid sequence replaced by
 * U+FFFD (into a stack buffer for short strings, the heap beyond that);
 * escaping quotes, backslashes and control characters is jansson's. */
#include <stdlib.h>
#include <string.h>

#include "smaudit/jsonl.h"

#define JSONL_STACK 512 /* strings this long are cleaned without malloc */

long jsonl_utf8_next(const unsigned char *s, size_t n, int *len)
{
	long cp;
	int need;

	*len = 1;
	if (s[0] < 0x80)
		return s[0];
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		cp = s[0] & 0x07;
	} else {
		return -1;
	}
	if ((size_t)need >= n)
		return -1;
	for (int i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = need + 1;
	return cp;
}

json_t *jsonl_string(const char *s, size_t n)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *u = (const unsigned char *)s;
	char stack[JSONL_STACK * 3] = "", *buf = stack, *o;
	json_t *j;

	/* each byte becomes at most the 3 bytes of U+FFFD */
	if (n > JSONL_STACK && !(buf = malloc(n * 3)))
		return NULL;
	o = buf;
	for (size_t i = 0; i < n;) {
		int len;
		if (jsonl_utf8_next(u + i, n - i, &len) < 0) {
			memcpy(o, fffd, 3);
			o += 3;
		} else {
			memcpy(o, u + i, (size_t)len);
			o += len;
		}
		i += (size_t)len;
	}
	j = json_stringn(buf, (size_t)(o - buf));
	if (buf != stack)
		free(buf);
	return j;
}

int jsonl_set_str(json_t *obj, const char *key, const char *s)
{
	json_t *v = s ? jsonl_string(s, strlen(s)) : json_null();

	return v ? json_object_set_new(obj, key, v) : -1;
}

int jsonl_write(FILE *out, json_t *obj)
{
	int rc = obj ? json_dumpf(obj, out, JSON_COMPACT | JSON_REAL_PRECISION(16)) : -1;

	json_decref(obj);
	if (rc < 0 || putc('\n', out) == EOF)
		return -1;
	return 0;
}
