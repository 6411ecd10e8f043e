/* decompress.c - gzip / deflate / br layers (see decompress.h). */
#include "decompress.h"

#include <brotli/decode.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define DC_BUF 16384

enum { L_INIT, L_RUN, L_DONE, L_TRAIL /* data after the end: ignored */ };

struct layer {
	uint8_t type;
	uint8_t st;
	uint8_t nhdr; /* deflate: header bytes held until zlib vs raw is known */
	uint8_t hdr[2];
	uint8_t zinit;
	uint8_t gz; /* the data is gzip (members may be concatenated) */
	z_stream z;
	BrotliDecoderState *br;
	uint8_t fed;
	uint64_t in, out; /* input consumed, output produced */
};

struct dcmp {
	int n;
	int stopped;
	size_t max_out;
	unsigned ratio;
	size_t mem; /* zlib/brotli heap, from the counting allocator */
	struct tsf_stats *stats;
	struct layer l[];
};

/* Intermediate output of each layer.  Fully drained before dc_feed returns,
 * so one set per thread is enough and idle decoders hold none. */
static _Thread_local uint8_t tl_buf[DC_MAX_LAYERS][DC_BUF];

/* ---- counting allocator ---- */

#define HDR 16

static void *count_alloc(struct dcmp *d, size_t size)
{
	if (size > DC_MEM_CAP || d->mem + size > DC_MEM_CAP)
		return NULL;
	uint8_t *p = malloc(size + HDR);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof(size));
	d->mem += size + HDR;
	return p + HDR;
}

static void count_free(struct dcmp *d, void *ptr)
{
	if (!ptr)
		return;
	uint8_t *p = (uint8_t *)ptr - HDR;
	size_t size;
	memcpy(&size, p, sizeof(size));
	d->mem -= size + HDR;
	free(p);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	if (size && items > SIZE_MAX / size)
		return NULL;
	return count_alloc(opaque, (size_t)items * size);
}

static void z_free(voidpf opaque, voidpf ptr)
{
	count_free(opaque, ptr);
}

static void *br_alloc(void *opaque, size_t size)
{
	return count_alloc(opaque, size);
}

static void br_free(void *opaque, void *ptr)
{
	count_free(opaque, ptr);
}

/* ---- parsing ---- */

int dc_parse(const char *v, size_t len, uint8_t *list, int *n, int max, int skip_chunked)
{
	/* Header order is application order; decode order is the reverse. */
	uint8_t tmp[DC_MAX_LAYERS + 1];
	int k = 0, unknown = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < len && v[i] != ',' && v[i] != ';')
			i++;
		size_t e = i;
		while (i < len && v[i] != ',') /* parameters: ignored */
			i++;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		size_t w = e - s;
		const char *t = v + s;
		int c;
		if (w == 0)
			continue;
		if ((w == 4 && !strncasecmp(t, "gzip", 4)) ||
		    (w == 6 && !strncasecmp(t, "x-gzip", 6)))
			c = DC_GZIP;
		else if (w == 7 && !strncasecmp(t, "deflate", 7))
			c = DC_DEFLATE;
		else if (w == 2 && !strncasecmp(t, "br", 2))
			c = DC_BR;
		else if (w == 8 && !strncasecmp(t, "identity", 8))
			continue;
		else if (skip_chunked && w == 7 && !strncasecmp(t, "chunked", 7))
			continue;
		else {
			unknown = 1;
			continue;
		}
		if (k > DC_MAX_LAYERS)
			return -2;
		tmp[k++] = (uint8_t)c;
	}
	if (unknown)
		return -1;
	if (*n + k > max)
		return -2;
	for (int j = k - 1; j >= 0; j--)
		list[(*n)++] = tmp[j];
	return 0;
}

/* ---- layers ---- */

struct dcmp *dc_new(const uint8_t *codings, int n, size_t max_out, unsigned max_ratio,
                    struct tsf_stats *stats)
{
	if (n < 1 || n > DC_MAX_LAYERS)
		return NULL;
	struct dcmp *d = calloc(1, sizeof(*d) + (size_t)n * sizeof(struct layer));
	if (!d)
		return NULL;
	d->n = n;
	d->max_out = max_out;
	d->ratio = max_ratio;
	d->stats = stats;
	for (int i = 0; i < n; i++)
		d->l[i].type = codings[i];
	if (stats)
		stats->decomp_streams++;
	return d;
}

static int fail(struct dcmp *d, int bomb)
{
	if (d->stats) {
		if (bomb)
			d->stats->decomp_bombs++;
		else
			d->stats->decomp_errors++;
	}
	d->stopped = 1;
	return -1;
}

static int zinit(struct dcmp *d, struct layer *L, int wbits)
{
	L->z.zalloc = z_alloc;
	L->z.zfree = z_free;
	L->z.opaque = d;
	if (inflateInit2(&L->z, wbits) != Z_OK)
		return -1;
	L->zinit = 1;
	return 0;
}

static int feed(struct dcmp *d, int i, const uint8_t *in, size_t len, tsf_out_fn out, void *ud);

/* Passes a layer's output on, enforcing the caps on it.  The ratio is
 * checked when the output crosses each DC_RATIO_STEP and the output is cut
 * exactly there, so the cut point does not depend on how the input was fed
 * (except when the ratio is within a few input bytes of the limit). */
static int emit(struct dcmp *d, int i, const uint8_t *p, size_t n, tsf_out_fn out, void *ud)
{
	struct layer *L = &d->l[i];
	while (n) {
		if (L->out >= d->max_out)
			return fail(d, 1);
		size_t k = n;
		uint64_t room = d->max_out - L->out;
		uint64_t to_step = DC_RATIO_STEP - L->out % DC_RATIO_STEP;
		if (k > room)
			k = (size_t)room;
		if (k > to_step)
			k = (size_t)to_step;
		if (i + 1 < d->n) {
			if (feed(d, i + 1, p, k, out, ud) < 0)
				return -1;
		} else {
			out(ud, p, k);
		}
		L->out += k;
		p += k;
		n -= k;
		if (L->out % DC_RATIO_STEP == 0 && L->out >= DC_RATIO_FLOOR &&
		    L->out / (L->in ? L->in : 1) >= d->ratio)
			return fail(d, 1);
	}
	return 0;
}

/* One inflate call into the layer's buffer: what it wrote (*got bytes) is
 * passed on, the end of the stream noted, an error refused.  Returns -1 after
 * a failure, else 0 with inflate's result in *r. */
static int inflate_once(struct dcmp *d, int i, tsf_out_fn out, void *ud, int *r, size_t *got)
{
	struct layer *L = &d->l[i];
	L->z.next_out = tl_buf[i];
	L->z.avail_out = DC_BUF;
	uInt before = L->z.avail_in;
	*r = inflate(&L->z, Z_NO_FLUSH);
	*got = DC_BUF - L->z.avail_out;
	L->in += before - L->z.avail_in;
	if (*got && emit(d, i, tl_buf[i], *got, out, ud) < 0)
		return -1;
	if (*r == Z_STREAM_END)
		L->st = L_DONE;
	else if (*r != Z_OK && *r != Z_BUF_ERROR)
		return fail(d, 0);
	return 0;
}

static int feed_zlib(struct dcmp *d, int i, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	struct layer *L = &d->l[i];
	L->z.next_in = (Bytef *)in;
	L->z.avail_in = (uInt)len;
	while (L->z.avail_in) {
		if (L->st == L_TRAIL)
			return 0;
		if (L->st == L_DONE) {
			/* Right after the end: another gzip member may follow
			 * (concatenated gzip).  Anything else, and everything
			 * after it, is ignored - decided once, on the first
			 * byte, so it does not depend on how input was cut. */
			if (!L->gz || *L->z.next_in != 0x1f) {
				L->st = L_TRAIL;
				return 0;
			}
			if (inflateReset(&L->z) != Z_OK)
				return fail(d, 0);
			L->st = L_RUN;
		}
		int r;
		size_t got;
		if (inflate_once(d, i, out, ud, &r, &got))
			return -1;
		if (r == Z_BUF_ERROR && got == 0)
			break; /* no progress possible: needs more input */
	}
	/* inflate may hold output it could not write (avail_out was 0). */
	while (L->st == L_RUN) {
		int r;
		size_t got;
		if (inflate_once(d, i, out, ud, &r, &got))
			return -1;
		if (got < DC_BUF)
			break;
	}
	return 0;
}

static int feed_br(struct dcmp *d, int i, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	struct layer *L = &d->l[i];
	size_t avail = len;
	const uint8_t *next = in;
	if (L->st >= L_DONE)
		return 0;
	for (;;) {
		uint8_t *o = tl_buf[i];
		size_t aout = DC_BUF;
		size_t before = avail;
		BrotliDecoderResult r =
		    BrotliDecoderDecompressStream(L->br, &avail, &next, &aout, &o, NULL);
		size_t got = DC_BUF - aout;
		L->in += before - avail;
		if (got && emit(d, i, tl_buf[i], got, out, ud) < 0)
			return -1;
		if (r == BROTLI_DECODER_RESULT_SUCCESS) {
			L->st = L_DONE;
			return 0;
		}
		/* Decoded bytes may still sit in the ring buffer. */
		if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT &&
		    (!got || !BrotliDecoderHasMoreOutput(L->br)))
			return 0;
		if (r == BROTLI_DECODER_RESULT_ERROR)
			return fail(d, 0);
	}
}

static int feed(struct dcmp *d, int i, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	struct layer *L = &d->l[i];
	if (!len)
		return 0;
	L->fed = 1;
	if (L->st == L_INIT) {
		if (L->type == DC_BR) {
			L->br = BrotliDecoderCreateInstance(br_alloc, br_free, d);
			if (!L->br)
				return fail(d, 0);
		} else {
			/* The first two bytes say what the data really is,
			 * whatever the label: gzip magic, a zlib header (RFC
			 * "deflate"), or else raw deflate (what many servers
			 * send as "deflate").  Raw deflate cannot start with
			 * 0x1f (reserved block type). */
			while (L->nhdr < 2 && len) {
				L->hdr[L->nhdr++] = *in++;
				len--;
			}
			if (L->nhdr < 2)
				return 0;
			unsigned h = (unsigned)L->hdr[0] << 8 | L->hdr[1];
			int wbits = -15;
			if (L->hdr[0] == 0x1f && L->hdr[1] == 0x8b) {
				wbits = 16 + 15;
				L->gz = 1;
			} else if ((L->hdr[0] & 0x0f) == 8 && (L->hdr[0] >> 4) <= 7 && h % 31 == 0)
				wbits = 15;
			if (zinit(d, L, wbits) < 0)
				return fail(d, 0);
			L->st = L_RUN;
			if (feed_zlib(d, i, L->hdr, 2, out, ud) < 0)
				return -1;
		}
		L->st = L_RUN;
	}
	if (L->type == DC_BR)
		return feed_br(d, i, in, len, out, ud);
	return len ? feed_zlib(d, i, in, len, out, ud) : 0;
}

int dc_feed(struct dcmp *d, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	if (d->stopped)
		return -1;
	return feed(d, 0, in, len, out, ud);
}

void dc_end(struct dcmp *d)
{
	if (d->stopped)
		return;
	for (int i = 0; i < d->n; i++) {
		if (d->l[i].fed && d->l[i].st != L_DONE && d->l[i].st != L_TRAIL) {
			fail(d, 0); /* truncated */
			return;
		}
	}
}

void dc_free(struct dcmp *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++) {
		if (d->l[i].zinit)
			inflateEnd(&d->l[i].z);
		if (d->l[i].br)
			BrotliDecoderDestroyInstance(d->l[i].br);
	}
	free(d);
}

size_t dc_memsize(const struct dcmp *d)
{
	return d ? sizeof(*d) + (size_t)d->n * sizeof(struct layer) + d->mem : 0;
}
