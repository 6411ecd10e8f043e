/* sign.c - Ed25519 keys and trust lists (see sign.h). */
#include "sign.h"
#include "keyfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sodium_ready(char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialize");
		return -1;
	}
	return 0;
}

void sign_keyid(const uint8_t pk[SIGN_PK_LEN], char out[SIGN_KEYID_HEX])
{
	sodium_bin2hex(out, SIGN_KEYID_HEX, pk, 8);
}

static int write_file(const char *path, const char *text, mode_t mode, int excl, char *err,
                      size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | (excl ? O_EXCL : O_TRUNC), mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	size_t n = strlen(text);
	int bad = write(fd, text, n) != (ssize_t)n;
	if (fsync(fd))
		bad = 1;
	if (close(fd) || bad) {
		snprintf(err, errlen, "%s: write failed", path);
		return -1;
	}
	return 0;
}

int sign_keygen(const char *base, char keyid[SIGN_KEYID_HEX], char *err, size_t errlen)
{
	if (sodium_ready(err, errlen))
		return -1;
	char b[4096], kpath[4200], ppath[4200];
	snprintf(b, sizeof(b), "%s", base);
	size_t bl = strlen(b);
	if (bl > 4 && !strcmp(b + bl - 4, ".key"))
		b[bl - 4] = 0;
	snprintf(kpath, sizeof(kpath), "%s.key", b);
	snprintf(ppath, sizeof(ppath), "%s.pub", b);
	uint8_t pk[SIGN_PK_LEN], sk[SIGN_SK_LEN];
	crypto_sign_keypair(pk, sk);
	sign_keyid(pk, keyid);
	char hex[2 * SIGN_SK_LEN + 1], text[512];
	sodium_bin2hex(hex, sizeof(hex), sk, SIGN_SK_LEN);
	snprintf(text, sizeof(text), "# tapsift Ed25519 secret key, id %s\n%s\n", keyid, hex);
	sodium_memzero(sk, sizeof(sk));
	/* O_EXCL: regenerating over an existing key would orphan every
	 * gateway that trusts it. */
	int rc = write_file(kpath, text, 0600, 1, err, errlen);
	sodium_memzero(text, sizeof(text));
	sodium_memzero(hex, sizeof(hex));
	if (rc)
		return -1;
	sodium_bin2hex(hex, sizeof(hex), pk, SIGN_PK_LEN);
	snprintf(text, sizeof(text), "# tapsift Ed25519 public key, id %s\n%s\n", keyid, hex);
	return write_file(ppath, text, 0644, 0, err, errlen);
}

/* First non-comment line of a small text file, as binary of exactly n bytes. */
static int load_hex(const char *path, uint8_t *out, size_t n, const char *what, char *err,
                    size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[512];
	size_t l = 0, got = 0;
	int ok = -1;
	const char *p = keyfile_word(f, line, sizeof(line), &l, NULL);
	if (p && l == 2 * n && !sodium_hex2bin(out, n, p, l, NULL, &got, NULL) && got == n)
		ok = 0;
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (ok)
		snprintf(err, errlen, "%s: not a tapsift %s (expected %zu hex digits)", path, what,
		         2 * n);
	return ok;
}

int sign_load_secret(const char *path, uint8_t sk[SIGN_SK_LEN], char *err, size_t errlen)
{
	if (sodium_ready(err, errlen))
		return -1;
	if (load_hex(path, sk, SIGN_SK_LEN, "Ed25519 secret key", err, errlen))
		return -1;
	/* The secret key embeds the public key: check they belong together, so
	 * a damaged key file cannot produce signatures nobody can verify. */
	uint8_t pk[SIGN_PK_LEN], seed[32], pk2[SIGN_PK_LEN], sk2[SIGN_SK_LEN];
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	crypto_sign_ed25519_sk_to_seed(seed, sk);
	crypto_sign_seed_keypair(pk2, sk2, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk2, sizeof(sk2));
	if (memcmp(pk, pk2, SIGN_PK_LEN)) {
		snprintf(err, errlen, "%s: damaged secret key (public half does not match)", path);
		return -1;
	}
	return 0;
}

int sign_load_public(const char *path, uint8_t pk[SIGN_PK_LEN], char *err, size_t errlen)
{
	if (sodium_ready(err, errlen))
		return -1;
	return load_hex(path, pk, SIGN_PK_LEN, "Ed25519 public key", err, errlen);
}

/* domain || 0 || msg, hashed first so the signed message stays small. */
static void prehash(const char *domain, const uint8_t *msg, size_t len, uint8_t out[64])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 64);
	crypto_generichash_update(&st, (const uint8_t *)domain, strlen(domain) + 1);
	crypto_generichash_update(&st, msg, len);
	crypto_generichash_final(&st, out, 64);
}

void sign_detached(const uint8_t sk[SIGN_SK_LEN], const char *domain, const uint8_t *msg,
                   size_t len, uint8_t sig[SIGN_SIG_LEN])
{
	uint8_t h[64];
	if (sodium_init() < 0)
		abort(); /* unreachable: keys were loaded through sodium_ready */
	prehash(domain, msg, len, h);
	crypto_sign_detached(sig, NULL, h, sizeof(h), sk);
}

int sign_verify(const uint8_t pk[SIGN_PK_LEN], const char *domain, const uint8_t *msg, size_t len,
                const uint8_t sig[SIGN_SIG_LEN])
{
	uint8_t h[64];
	if (sodium_init() < 0)
		return -1;
	prehash(domain, msg, len, h);
	return crypto_sign_verify_detached(sig, h, sizeof(h), pk) ? -1 : 0;
}

void trust_init(struct bundle_trust *t)
{
	memset(t, 0, sizeof(*t));
}

int trust_has(const struct bundle_trust *t, const uint8_t pk[SIGN_PK_LEN])
{
	for (size_t i = 0; t && i < t->n; i++)
		if (!memcmp(t->keys[i], pk, SIGN_PK_LEN))
			return 1;
	return 0;
}

int trust_add_key(struct bundle_trust *t, const uint8_t pk[SIGN_PK_LEN])
{
	if (trust_has(t, pk))
		return 0;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 8;
		void *nk = realloc(t->keys, nc * SIGN_PK_LEN);
		if (!nk)
			return -1;
		t->keys = nk;
		t->cap = nc;
	}
	memcpy(t->keys[t->n++], pk, SIGN_PK_LEN);
	return 0;
}

int trust_add(struct bundle_trust *t, const char *path, char *err, size_t errlen)
{
	struct stat st;
	uint8_t pk[SIGN_PK_LEN];
	if (stat(path, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (sign_load_public(path, pk, err, errlen))
			return -1;
		if (trust_add_key(t, pk)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	}
	DIR *d = opendir(path);
	if (!d) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int found = 0, rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".pub") || de->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (sign_load_public(p, pk, err, errlen) || trust_add_key(t, pk)) {
			rc = -1;
			break;
		}
		found++;
	}
	closedir(d);
	if (!rc && !found) {
		snprintf(err, errlen, "%s: no *.pub keys in this trust directory", path);
		rc = -1;
	}
	return rc;
}

void trust_free(struct bundle_trust *t)
{
	free(t->keys);
	memset(t, 0, sizeof(*t));
}
