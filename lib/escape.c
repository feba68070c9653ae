/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Escaping of names for logs and terminals (see escape.h). Valid UTF-8 that
 * is printable goes through as it is, so a name in any script stays
 * readable; what a terminal or a log reader could take for structure does
 * not.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

/* Length of the valid UTF-8 sequence at s and its code point, or 0 if it is not one. */
static size_t utf8_char(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t c;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0; /* ASCII is not handled here; 0x80..0xc1 never start one */
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	c = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0; /* overlong or a surrogate */
	*cp = c;
	return n;
}

/* Code points a terminal or a reader takes for control rather than text. */
static bool unsafe_cp(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

char *luo_escape(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0;

	while (*p) {
		char esc[8];
		const char *out = esc;
		size_t n = 1, k;
		uint32_t cp;

		if (*p == '\\') {
			out = "\\\\";
		} else if (*p == '\n') {
			out = "\\n";
		} else if (*p == '\r') {
			out = "\\r";
		} else if (*p == '\t') {
			out = "\\t";
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
		} else if (*p < 0x80) {
			esc[0] = (char)*p;
			esc[1] = '\0';
		} else if ((n = utf8_char(p, &cp)) == 0) {
			n = 1;
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
		} else if (unsafe_cp(cp)) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
		} else {
			memcpy(esc, p, n);
			esc[n] = '\0';
		}
		k = strlen(out);
		if (used + k >= len)
			break;
		memcpy(buf + used, out, k);
		used += k;
		p += n;
	}
	buf[used] = '\0';
	return buf;
}
