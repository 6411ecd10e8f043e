/* sign.h - Ed25519 keys (libsodium) and trust lists for rule bundles.
 *
 * Key files are text so they survive copy/paste and mail:
 *   NAME.key  "# tapsift Ed25519 secret key, id <keyid>" + 128 hex digits
 *             (libsodium's 64-byte secret key, which embeds the public key),
 *             mode 0600
 *   NAME.pub  "# tapsift Ed25519 public key, id <keyid>" + 64 hex digits
 * The key id is the first 8 bytes of the public key in hex (16 characters):
 * short enough for logs, and a collision only matters between keys that
 * are already trusted.
 */
#ifndef TSF_SIGN_H
#define TSF_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define SIGN_PK_LEN 32
#define SIGN_SK_LEN 64
#define SIGN_SIG_LEN 64
#define SIGN_KEYID_HEX 17 /* 16 hex digits + NUL */

/* Writes base.key (0600, never overwritten) and base.pub.  base may end in
 * ".key"; it is stripped.  Returns 0, or -1 with a message. */
int sign_keygen(const char *base, char keyid[SIGN_KEYID_HEX], char *err, size_t errlen);

int sign_load_secret(const char *path, uint8_t sk[SIGN_SK_LEN], char *err, size_t errlen);
int sign_load_public(const char *path, uint8_t pk[SIGN_PK_LEN], char *err, size_t errlen);

void sign_keyid(const uint8_t pk[SIGN_PK_LEN], char out[SIGN_KEYID_HEX]);

/* Detached signature of msg with domain separation (so a bundle signature
 * can never be replayed as a signature of anything else). */
void sign_detached(const uint8_t sk[SIGN_SK_LEN], const char *domain, const uint8_t *msg,
                   size_t len, uint8_t sig[SIGN_SIG_LEN]);
int sign_verify(const uint8_t pk[SIGN_PK_LEN], const char *domain, const uint8_t *msg, size_t len,
                const uint8_t sig[SIGN_SIG_LEN]);

/* The public keys a gateway accepts bundles from.  Empty (n == 0) means
 * "no trust list": signatures are not required (development, tests). */
struct bundle_trust {
	uint8_t (*keys)[SIGN_PK_LEN];
	size_t n, cap;
};

void trust_init(struct bundle_trust *t);
/* Adds a .pub file, or every *.pub file of a directory (a directory
 * without any is an error: an empty trust list would silently turn
 * signature checking off). */
int trust_add(struct bundle_trust *t, const char *path, char *err, size_t errlen);
int trust_add_key(struct bundle_trust *t, const uint8_t pk[SIGN_PK_LEN]);
int trust_has(const struct bundle_trust *t, const uint8_t pk[SIGN_PK_LEN]);
void trust_free(struct bundle_trust *t);

#endif
