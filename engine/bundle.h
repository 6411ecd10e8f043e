/* bundle.h - rule bundles: one file that loads into a ready matcher.
 *
 * A bundle holds the rule metadata (rules, categories, file names, one
 * blob of pattern and message bytes), the normalization flags, each
 * Hyperscan database serialized and tagged with the library version and
 * CPU features it needs, a version number and a BLAKE2b content hash,
 * optionally followed by an Ed25519 signature block.  Layout and the order
 * of checks: docs/bundles.md.  Loading is a read, a hash, a few memcpys and
 * hs_deserialize_database: no parsing, no compiling.
 */
#ifndef TSF_BUNDLE_H
#define TSF_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "match.h"
#include "ruleset.h"
#include "sign.h"

#define BUNDLE_MAGIC "TSFBNDL" /* 8 bytes with the NUL */
#define BUNDLE_FORMAT 1
#define BUNDLE_HEADER_LEN 128
#define BUNDLE_SIG_MAGIC "TSFSIG1"
#define BUNDLE_SIG_LEN (8 + SIGN_PK_LEN + SIGN_SIG_LEN)
#define BUNDLE_HASH_LEN 32
#define BUNDLE_HASH_HEX (2 * BUNDLE_HASH_LEN + 1)

/* Section types (docs/bundles.md).  Unknown types are an error: a newer
 * writer that adds a section must bump the format if old readers would
 * produce wrong verdicts without it. */
enum bundle_sec {
	BSEC_META = 1,  /* ruleset hash, rules per layer, compile time */
	BSEC_RULES = 2, /* fixed 40-byte rule records */
	BSEC_BLOB = 3,  /* pattern and message bytes, NUL-terminated */
	BSEC_CATS = 4,  /* category names */
	BSEC_FILES = 5, /* rule file names */
	BSEC_HSDB = 6,  /* arg = layer: tag + hs_serialize_database output */
	BSEC_LIT = 7,   /* literal index image (litidx_serialize) */
};

/* ---- compiling ---- */

struct bundle_compile_opts {
	unsigned norm_flags;
	unsigned match_opts;   /* MATCH_HS_ONLY: no literal tier */
	uint64_t version;      /* 0: current UNIX time */
	const char *cache_dir; /* NULL: no cache (plain matcher_build) */
	int jobs;              /* layers compiled in parallel; <= 0: online CPUs */
	FILE *progress;        /* progress lines, or NULL */
};

struct bundle_compile_stats {
	int layers_compiled, layers_cached;
	double compile_s, write_s;
	size_t bytes;
};

/* Builds the matcher of rs using (and filling) the cache of serialized
 * databases: an unchanged layer is a load, not a compile.  The matcher
 * points at rs (owns_rs = 0), exactly like matcher_build. */
struct matcher *bundle_build_matcher(const struct ruleset *rs, const struct bundle_compile_opts *o,
                                     struct bundle_compile_stats *st, char *err, size_t errlen);

/* Serializes m (from matcher_build, bundle_build_matcher or bundle_load)
 * as version into path, atomically (path.tmp.PID + fsync + rename).
 * Unsigned; see bundle_sign. */
int bundle_write(const struct matcher *m, uint64_t version, const char *path, size_t *bytes,
                 char *err, size_t errlen);

/* Parse + compile (with cache) + write: `tapsift rules compile`. */
int bundle_compile(const struct ruleset *rs, const struct bundle_compile_opts *o, const char *out,
                   struct bundle_compile_stats *st, char *err, size_t errlen);

/* Adds or replaces the signature block of a bundle file (atomically). */
int bundle_sign(const char *path, const uint8_t sk[SIGN_SK_LEN], char keyid[SIGN_KEYID_HEX],
                char *err, size_t errlen);

/* ---- loading ---- */

enum bundle_status {
	BUNDLE_OK = 0,
	BUNDLE_E_IO,        /* unreadable file */
	BUNDLE_E_FORMAT,    /* size, magic, format version, header fields */
	BUNDLE_E_UNSIGNED,  /* trust list given, no signature block */
	BUNDLE_E_UNTRUSTED, /* signed by a key not in the trust list */
	BUNDLE_E_SIGNATURE, /* signature does not verify */
	BUNDLE_E_ROLLBACK,  /* version < min_version */
	BUNDLE_E_SAME,      /* version == min_version: already live (not an error to report) */
	BUNDLE_E_HASH,      /* content hash mismatch */
	BUNDLE_E_SECTION,   /* section table / bounds / contents */
	BUNDLE_E_PLATFORM,  /* Hyperscan version or CPU features differ */
	BUNDLE_E_RULE,      /* a rule field out of range */
	BUNDLE_E_NOMEM,
	BUNDLE_E_COMPILE, /* recompiling (allowed) failed */
};

struct bundle_load_opts {
	const struct bundle_trust *trust; /* NULL or empty: signatures not required */
	uint64_t min_version;             /* e.g. the live version; 0: none */
	int allow_rollback;               /* accept version < / == min_version */
	int allow_recompile; /* databases for another HS version/CPU: rebuild from the rules */
};

/* What a bundle says about itself (filled as far as verification got). */
struct bundle_info {
	enum bundle_status status;
	uint64_t version, created, nrules;
	unsigned norm_flags;
	char hash[BUNDLE_HASH_HEX]; /* content hash, hex */
	char keyid[SIGN_KEYID_HEX]; /* "" when unsigned */
	int recompiled;             /* databases rebuilt from the rules */
	double load_s;
};

/* Verifies and loads.  Returns a matcher with owns_rs = 1, refs = 1,
 * version set; or NULL with info->status and a reason in err.  buf is
 * only read during the call (a ZeroMQ message can be passed directly). */
struct matcher *bundle_load(const void *buf, size_t len, const struct bundle_load_opts *o,
                            struct bundle_info *info, char *err, size_t errlen);
/* From an open file, read window by window or straight into the set's own
 * allocations (never mapped: see struct bsrc in bundle.c), so the file does
 * not stay resident next to the set it becomes.  name is for messages. */
struct matcher *bundle_load_fd(int fd, const char *name, const struct bundle_load_opts *o,
                               struct bundle_info *info, char *err, size_t errlen);
struct matcher *bundle_load_file(const char *path, const struct bundle_load_opts *o,
                                 struct bundle_info *info, char *err, size_t errlen);

/* `tapsift rules info`: checks the hash (and signature, when a trust list
 * is given) and describes the bundle.  Returns 0 or -1 (reason in err). */
int bundle_describe(FILE *out, const void *buf, size_t len, const struct bundle_trust *trust,
                    char *err, size_t errlen);

/* For `scan --bundle` / `run --bundle` (engine/setup.c): loads path against
 * the trust files (ntrust 0: unsigned bundles accepted), prints the reason
 * on stderr and returns NULL on failure, with *exit_code (may be NULL) set
 * to 1 (unreadable: EXIT_FAIL) or 2 (rejected: EXIT_USAGE).  Databases built
 * for another Hyperscan/CPU are recompiled only when allow_recompile. */
struct matcher *bundle_open_for_setup(const char *path, const char *const *trust_paths, int ntrust,
                                      int allow_recompile, int *exit_code);

/* Top n rules by hits (id, category, hits), for stats output. */
void bundle_print_rule_hits(FILE *f, const struct matcher *m, int top);

/* Helpers for tests and fuzzing: whole-file reads, the hash of a buffer
 * (recomputed in place so mutated images reach the deeper checks), and the
 * status names. */
int bundle_read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen);
/* Read-only mapping of a whole file (for info/push: no copy of a 1 GB
 * bundle); NULL with a message on error. */
const uint8_t *bundle_map_file(const char *path, size_t *len, char *err, size_t errlen);
void bundle_unmap_file(const uint8_t *p, size_t len);
void bundle_fix_hash(uint8_t *buf, size_t len);
const char *bundle_status_name(enum bundle_status s);
/* Default cache dir ($XDG_CACHE_HOME/tapsift or ~/.cache/tapsift) into buf. */
const char *bundle_default_cache_dir(char *buf, size_t len);

#endif
