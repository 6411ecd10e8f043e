/* verdict.h - what the engine reports, and where reports go.
 *
 * A verdict is produced by a worker thread; sinks (stdout JSON/text, the
 * ZeroMQ publisher, ...) receive it through struct vsink.  emit() is called
 * concurrently from several workers, so every sink must be thread-safe and
 * must never block a worker for long: the publisher sink queues and counts
 * what it cannot queue.
 */
#ifndef TSF_VERDICT_H
#define TSF_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TSF_EXCERPT_MAX 64

struct tsf_verdict {
	uint64_t ts_ns; /* capture time of the packet that completed the match */
	uint8_t ipver;  /* 4 or 6; 0 for text-file input */
	uint8_t proto;  /* TSF_PROTO_TCP / TSF_PROTO_UDP; 0 for text input */
	uint8_t sev;    /* 1..5 */
	uint8_t dir;    /* 0: client->server (or first sender), 1: reverse */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t rule_id;
	const char *category; /* owned by the rule set, valid while it is live */
	const char *msg;      /* may be NULL */
	const char *file;     /* text input: the file name; NULL for traffic */
	const char *ruleset;  /* short hash of the loaded rules */
	uint64_t ruleset_version;
	uint64_t
	    offset; /* end of the match in the decoded stream (raw rules: in the byte stream) */
	uint16_t excerpt_len;
	char excerpt[TSF_EXCERPT_MAX]; /* valid UTF-8 */
};

struct vsink {
	void (*emit)(struct vsink *s, const struct tsf_verdict *v);
	void (*flush)(struct vsink *s);   /* may be NULL */
	void (*destroy)(struct vsink *s); /* may be NULL */
};

enum verdict_format { VFMT_JSON, VFMT_TEXT };

/* A sink that writes one line per verdict to f (JSON lines or text). */
struct vsink *vsink_stdio_new(FILE *f, enum verdict_format fmt);

/* A sink that forwards to up to 4 other sinks. */
struct vsink *vsink_tee_new(struct vsink **sinks, int n);

/* Formats v as one JSON object with a trailing newline.  Returns length or -1. */
int verdict_to_json(const struct tsf_verdict *v, char *buf, size_t cap);
int verdict_to_text(const struct tsf_verdict *v, char *buf, size_t cap);

/* Appends s as a JSON string body (no quotes) to buf; invalid UTF-8 becomes U+FFFD. */
size_t json_escape(char *buf, size_t cap, const char *s, size_t len);

/* Largest n <= len such that s[0..n) ends on a UTF-8 character boundary and
 * s[start..n) starts on one: used to cut excerpts. */
size_t utf8_trim_tail(const uint8_t *s, size_t len);

#endif
