/* bench_lit.c - the literal index (engine/match_lit.c) against Hyperscan
 * alone, on the same normalized bytes with the same literals.
 *
 *   bench_lit           sizes 100k, 1M, 10M; prints a table, writes
 *                       bench/results/lit.json
 *   BENCH_LIT_SIZES=100000,1000000   other sizes
 *   BENCH_LIT_HS_MAX=1000000         largest size Hyperscan is compiled for
 *                                    (1M: ~60 s, ~2.4 GB here; 0 = never)
 *   BENCH_LIT_TEXT_MB=64             text size
 *   BENCH_LIT_REPS=5                 scans of each kind (best, median)
 *   BENCH_LIT_ANCHOR=k, BENCH_LIT_BMSHIFT=s, BENCH_LIT_FBITS=f   index tuning
 *                                    (litidx_opts)
 *
 * Data (deterministic): a vocabulary of 20k Chinese words (1-2 characters
 * from 3000 CJK characters) and 20k English pseudo-words (3-9 letters);
 * word popularity in the text is Zipf-like (s = 0.9).  A literal is 2-4
 * words of one language drawn uniformly from the vocabulary, concatenated (normalized form: no
 * spaces, lowercase), 6-24 bytes.  The text is the same vocabulary in sentences (Chinese and
 * English runs, some digits), already normalized, with one planted literal
 * per ~4 KiB.  Chance hits come on top (common words make common phrases).
 *
 * Times: build/load/compile in wall and process CPU seconds; scans in
 * thread CPU time (the machine may be shared with other jobs).
 * Each size runs in a child process so that peak RSS (getrusage) is that
 * size's alone.  Reported per size: index build time, peak RSS after the
 * index build (literals + text + index), index memory, serialized size,
 * load (deserialize + validation) time, index scan MiB/s on one core (the
 * whole text as one buffer, and as a stream of 1460-byte pieces, the two
 * alternating BENCH_LIT_REPS (5) times: best and median, thread CPU time),
 * and up to BENCH_LIT_HS_MAX the Hyperscan block-mode compile time and
 * scan MiB/s over the whole text as one block.  Match counts must agree:
 * index whole = index streamed = Hyperscan.
 */
#include <hs.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "match_lit.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Scans are timed in thread CPU time: the machine is shared, and "MiB/s
 * per core" is what the gateway sizing needs. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double proc_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024.0;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- vocabulary ---- */

#define NWORDS 20000
#define NCHARS 3000

struct word {
	uint8_t b[32];
	uint8_t len;
};
static struct word zh[NWORDS], en[NWORDS];
static double zipf_cdf[NWORDS];

static void zipf_init(void)
{
	double s = 0;
	for (int i = 0; i < NWORDS; i++)
		zipf_cdf[i] = (s += 1.0 / pow(i + 1, 0.9));
	for (int i = 0; i < NWORDS; i++)
		zipf_cdf[i] /= s;
}

static int zipf(void)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;
	int lo = 0, hi = NWORDS - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t put_cp(uint8_t *p, unsigned cp)
{
	p[0] = (uint8_t)(0xE0 | (cp >> 12));
	p[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	p[2] = (uint8_t)(0x80 | (cp & 0x3F));
	return 3;
}

static void vocab_init(void)
{
	static unsigned chars[NCHARS];
	for (int i = 0; i < NCHARS; i++)
		chars[i] = 0x4E00 + (unsigned)(rnd() % (0x9FA5 - 0x4E00));
	for (int i = 0; i < NWORDS; i++) {
		int nc = rnd() % 4 ? 2 : 1;
		zh[i].len = 0;
		for (int c = 0; c < nc; c++) {
			/* frequent characters are more frequent: square the uniform */
			uint64_t r = rnd() % NCHARS;
			unsigned ch = chars[(r * r) / NCHARS];
			zh[i].len += (uint8_t)put_cp(zh[i].b + zh[i].len, ch);
		}
		int nl = 3 + (int)(rnd() % 7);
		for (int c = 0; c < nl; c++)
			en[i].b[c] = (uint8_t)("etaoinshrdlucmfwypvbgkjqxz"[(rnd() % 26) *
			                                                    (rnd() % 26) / 25]);
		en[i].len = (uint8_t)nl;
	}
	zipf_init();
}

/* One literal: 2-4 words of one language, 6..24 bytes. */
static uint32_t gen_lit(uint8_t *b)
{
	int chinese = rnd() & 1;
	int nw = 2 + (int)(rnd() % 3);
	uint32_t len = 0;
	for (int w = 0; w < nw || len < 6; w++) {
		/* uniform: signature phrases are specific, so chance hits in
		 * Zipf-distributed text stay rare */
		size_t r = (size_t)(rnd() % NWORDS);
		const struct word *x = chinese ? &zh[r] : &en[r];
		if (len + x->len > 24)
			break;
		memcpy(b + len, x->b, x->len);
		len += x->len;
	}
	while (len < 6)
		b[len++] = 'x';
	return len;
}

struct lits {
	uint8_t *arena;
	const uint8_t **p;
	uint32_t *len, *id;
	size_t n;
};

static void gen_lits(struct lits *L, size_t n)
{
	L->n = n;
	L->arena = malloc(n * 24);
	L->p = malloc(n * sizeof(*L->p));
	L->len = malloc(n * sizeof(uint32_t));
	L->id = malloc(n * sizeof(uint32_t));
	if (!L->arena || !L->p || !L->len || !L->id)
		abort();
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		L->len[i] = gen_lit(L->arena + off);
		L->p[i] = L->arena + off;
		L->id[i] = (uint32_t)i;
		off += L->len[i];
	}
}

static uint8_t *gen_text(const struct lits *L, size_t len)
{
	uint8_t *t = malloc(len + 64);
	size_t n = 0, next_plant = 4096;
	while (n < len) {
		int chinese = rnd() & 1, nw = 5 + (int)(rnd() % 30);
		for (int w = 0; w < nw && n < len; w++) {
			const struct word *x = chinese ? &zh[zipf()] : &en[zipf()];
			memcpy(t + n, x->b, x->len);
			n += x->len;
		}
		if (rnd() % 8 == 0)
			n += (size_t)sprintf((char *)t + n, "%u", (unsigned)(rnd() % 100000));
		if (n >= next_plant && L->n) {
			size_t j = rnd() % L->n;
			memcpy(t + n, L->p[j], L->len[j]);
			n += L->len[j];
			next_plant += 2048 + rnd() % 4096;
		}
	}
	return t;
}

/* ---- one size ---- */

static void count_cb(uint32_t id, uint64_t end, void *ctx)
{
	(void)id, (void)end;
	++*(uint64_t *)ctx;
}

static int hs_count(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                    void *ctx)
{
	(void)id, (void)from, (void)to, (void)fl;
	++*(uint64_t *)ctx;
	return 0;
}

/* One scan of the text, whole (piece 0) or as a stream of pieces; thread
 * CPU seconds. */
static double scan_once(const struct litidx *x, const uint8_t *t, size_t len, size_t piece,
                        uint64_t *hits)
{
	struct litidx_stream s;
	litidx_stream_init(&s);
	uint64_t c = 0;
	double t0 = cpu_now();
	if (!piece)
		litidx_scan(x, &s, t, len, count_cb, &c);
	else
		for (size_t off = 0; off < len; off += piece)
			litidx_scan(x, &s, t + off, len - off < piece ? len - off : piece, count_cb,
			            &c);
	double dt = cpu_now() - t0;
	*hits = c;
	litidx_stream_free(&s);
	return dt;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* BENCH_LIT_REPS (default 5) scans of each kind, whole and in 1460-byte
 * pieces alternating, so that both see the same phases of this VM's
 * drifting speed; the fastest and the median of each. */
#define MAX_REPS 15
static int g_scans; /* scans done (per-byte stats with -DLIT_STATS) */
struct scan_times {
	double best_w, med_w, best_p, med_p;
};

static void scan_both(const struct litidx *x, const uint8_t *t, size_t len, uint64_t *hw,
                      uint64_t *hp, struct scan_times *st)
{
	int reps = getenv("BENCH_LIT_REPS") ? atoi(getenv("BENCH_LIT_REPS")) : 5;
	reps = reps < 1 ? 1 : reps > MAX_REPS ? MAX_REPS : reps;
	double w[MAX_REPS], p[MAX_REPS];
	g_scans = 2 * reps;
	for (int r = 0; r < reps; r++) {
		w[r] = scan_once(x, t, len, 0, hw);
		p[r] = scan_once(x, t, len, 1460, hp);
	}
	qsort(w, (size_t)reps, sizeof(double), cmp_dbl);
	qsort(p, (size_t)reps, sizeof(double), cmp_dbl);
	st->best_w = w[0];
	st->best_p = p[0];
	st->med_w = w[reps / 2];
	st->med_p = p[reps / 2];
}

static int run_size(size_t n, size_t text_len, size_t hs_max, FILE *out)
{
	double t0 = now();
	struct lits L;
	gen_lits(&L, n);
	uint8_t *text = gen_text(&L, text_len);
	double mib = text_len / 1048576.0;
	fprintf(stderr, "[%zu] generated %zu literals + %.0f MiB text in %.1f s\n", n, n, mib,
	        now() - t0);

	struct litidx_opts o = {0};
	if (getenv("BENCH_LIT_ANCHOR"))
		o.anchor_len = (unsigned)atoi(getenv("BENCH_LIT_ANCHOR"));
	if (getenv("BENCH_LIT_FBITS"))
		o.filter_bits = (unsigned)atoi(getenv("BENCH_LIT_FBITS"));
	if (getenv("BENCH_LIT_BMSHIFT"))
		o.bitmap_shift = (unsigned)atoi(getenv("BENCH_LIT_BMSHIFT"));
	char err[512];
	double rss0 = peak_rss_mb();
	t0 = now();
	double c0 = proc_cpu();
	struct litidx *x = litidx_build_opts(L.p, L.len, L.id, n, &o, err, sizeof(err));
	double build_s = now() - t0, build_cpu = proc_cpu() - c0;
	if (!x) {
		fprintf(stderr, "build: %s\n", err);
		return 1;
	}
	double rss1 = peak_rss_mb();
	fprintf(stderr,
	        "[%zu] index built in %.2f s (%.2f s CPU), %.0f MB, anchor %u, peak RSS %.0f MB\n",
	        n, build_s, build_cpu, litidx_memsize(x) / 1e6, litidx_anchor(x), rss1);
	uint8_t *img;
	size_t img_len;
	if (litidx_serialize(x, &img, &img_len))
		return 1;
	litidx_free(x);
	t0 = now();
	c0 = proc_cpu();
	x = litidx_deserialize(img, img_len, err, sizeof(err));
	double load_s = now() - t0, load_cpu = proc_cpu() - c0;
	free(img);
	if (!x) {
		fprintf(stderr, "load: %s\n", err);
		return 1;
	}
	fprintf(stderr, "[%zu] serialized %.0f MB, loaded in %.2f s (%.2f s CPU)\n", n,
	        img_len / 1e6, load_s, load_cpu);
	uint64_t hits_whole = 0, hits_pieces = 0;
	struct scan_times st;
	scan_both(x, text, text_len, &hits_whole, &hits_pieces, &st);
	double sw = st.best_w, sp = st.best_p;
	fprintf(stderr,
	        "[%zu] index scan %.0f MiB/s whole, %.0f MiB/s in 1460-byte pieces (best; median "
	        "%.0f, %.0f); %llu hits\n",
	        n, mib / sw, mib / sp, mib / st.med_w, mib / st.med_p,
	        (unsigned long long)hits_whole);
	double rss2 = peak_rss_mb();
#ifdef LIT_STATS
	extern unsigned long long lit_st_pos, lit_st_pf, lit_st_bit, lit_st_ent, lit_st_anchor,
	    lit_st_hit;
	fprintf(stderr,
	        "[stats] per byte: positions %.3f filter-pass %.4f bitmap-pass %.4f entries %.4f "
	        "anchor-eq %.4f "
	        "hits %.6f\n",
	        lit_st_pos / ((double)g_scans * text_len), lit_st_pf / ((double)g_scans * text_len),
	        lit_st_bit / ((double)g_scans * text_len),
	        lit_st_ent / ((double)g_scans * text_len),
	        lit_st_anchor / ((double)g_scans * text_len),
	        lit_st_hit / ((double)g_scans * text_len));
#endif

	double hs_compile = -1, hs_compile_cpu = -1, hs_scan_s = -1, hs_rss = -1;
	uint64_t hs_hits = 0;
	size_t hs_db = 0;
	if (n <= hs_max) {
		fprintf(stderr, "[%zu] compiling Hyperscan (block mode)...\n", n);
		unsigned *flags = calloc(n, sizeof(unsigned));
		size_t *lens = malloc(n * sizeof(size_t));
		for (size_t i = 0; i < n; i++)
			lens[i] = L.len[i];
		hs_database_t *db = NULL;
		hs_compile_error_t *ce = NULL;
		t0 = now();
		c0 = proc_cpu();
		hs_error_t rc = hs_compile_lit_multi((const char *const *)L.p, flags, L.id, lens,
		                                     (unsigned)n, HS_MODE_BLOCK, NULL, &db, &ce);
		hs_compile = now() - t0;
		hs_compile_cpu = proc_cpu() - c0;
		free(flags);
		free(lens);
		if (rc != HS_SUCCESS) {
			fprintf(stderr, "hs: %s\n", ce ? ce->message : "?");
			return 1;
		}
		hs_rss = peak_rss_mb();
		hs_database_size(db, &hs_db);
		hs_scratch_t *scr = NULL;
		hs_alloc_scratch(db, &scr);
		fprintf(stderr, "[%zu] Hyperscan compiled in %.1f s; scanning...\n", n, hs_compile);
		t0 = cpu_now();
		/* hs_scan takes an unsigned length: fine up to 4 GiB */
		hs_scan(db, (const char *)text, (unsigned)text_len, 0, scr, hs_count, &hs_hits);
		hs_scan_s = cpu_now() - t0;
		fprintf(stderr, "[%zu] Hyperscan scan %.1f MiB/s; %llu hits\n", n, mib / hs_scan_s,
		        (unsigned long long)hs_hits);
		hs_free_scratch(scr);
		hs_free_database(db);
	}
	int same = hits_whole == hits_pieces && (hs_scan_s < 0 || hs_hits == hits_whole);
	fprintf(out,
	        "{\"literals\": %zu, \"anchor\": %u, \"build_s\": %.3f, \"build_cpu_s\": %.3f, "
	        "\"load_cpu_s\": %.3f, \"hs_compile_cpu_s\": %.1f, \"rss_before_build_mb\": "
	        "%.0f, \"rss_after_build_mb\": %.0f, \"rss_after_scan_mb\": %.0f, "
	        "\"index_mb\": %.1f, \"serialized_mb\": %.1f, \"load_s\": %.3f, "
	        "\"text_mib\": %.1f, \"scan_mibps\": %.1f, \"scan_pieces_mibps\": %.1f, "
	        "\"scan_mibps_median\": %.1f, \"scan_pieces_mibps_median\": %.1f, "
	        "\"hits\": %llu, \"hits_pieces\": %llu, \"hs_compile_s\": %.1f, "
	        "\"hs_peak_rss_mb\": %.0f, \"hs_db_mb\": %.1f, \"hs_scan_mibps\": %.1f, "
	        "\"hs_hits\": %llu, \"same_hits\": %s}\n",
	        n, litidx_anchor(x), build_s, build_cpu, load_cpu, hs_compile_cpu, rss0, rss1, rss2,
	        litidx_memsize(x) / 1e6, img_len / 1e6, load_s, mib, mib / sw, mib / sp,
	        mib / st.med_w, mib / st.med_p, (unsigned long long)hits_whole,
	        (unsigned long long)hits_pieces, hs_compile, hs_rss, hs_db / 1e6,
	        hs_scan_s > 0 ? mib / hs_scan_s : -1.0, (unsigned long long)hs_hits,
	        same ? "true" : "false");
	fflush(out);
	litidx_free(x);
	return same ? 0 : 3;
}

/* ---- driver ---- */

static double jnum(const char *line, const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\": ", key);
	const char *p = strstr(line, k);
	return p ? atof(p + strlen(k)) : -1;
}

int main(void)
{
	const char *sizes = getenv("BENCH_LIT_SIZES");
	if (!sizes)
		sizes = "100000,1000000,10000000";
	size_t hs_max =
	    getenv("BENCH_LIT_HS_MAX") ? (size_t)atol(getenv("BENCH_LIT_HS_MAX")) : 1000000;
	size_t text_len =
	    (getenv("BENCH_LIT_TEXT_MB") ? (size_t)atol(getenv("BENCH_LIT_TEXT_MB")) : 64) << 20;
	vocab_init();
	char lines[16][1024];
	int nl = 0, fail = 0;
	char *list = strdup(sizes);
	for (char *tok = strtok(list, ","); tok && nl < 16; tok = strtok(NULL, ",")) {
		size_t n = (size_t)atol(tok);
		int pfd[2];
		if (pipe(pfd))
			return 1;
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			FILE *out = fdopen(pfd[1], "w");
			rng ^= n; /* each size its own literals; vocabulary shared */
			_exit(run_size(n, text_len, hs_max, out));
		}
		close(pfd[1]);
		FILE *in = fdopen(pfd[0], "r");
		if (!fgets(lines[nl], sizeof(lines[nl]), in))
			lines[nl][0] = 0;
		fclose(in);
		int st = 0;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "size %zu: child failed (status %d)\n", n, st);
			fail = 1;
		}
		if (lines[nl][0])
			nl++;
	}
	free(list);
	printf(
	    "\n| literals | build s wall (CPU) | peak RSS MB | index MB | serialized MB | load s "
	    "wall (CPU) | "
	    "scan MiB/s whole, best (median) | scan MiB/s 1460 B pieces, best (median) | HS "
	    "compile s | HS scan MiB/s "
	    "| index/HS | hits | same |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nl; i++) {
		const char *l = lines[i];
		double hs = jnum(l, "hs_scan_mibps"), sc = jnum(l, "scan_mibps");
		char hsb[32] = "-", hcb[32] = "-", rb[32] = "-";
		if (hs > 0) {
			snprintf(hsb, sizeof(hsb), "%.1f", hs);
			snprintf(hcb, sizeof(hcb), "%.1f (%.1f)", jnum(l, "hs_compile_s"),
			         jnum(l, "hs_compile_cpu_s"));
			snprintf(rb, sizeof(rb), "%.1fx", sc / hs);
		}
		printf(
		    "| %.0f | %.2f (%.2f) | %.0f | %.0f | %.0f | %.2f (%.2f) | %.0f (%.0f) | %.0f "
		    "(%.0f) | %s "
		    "| %s "
		    "| %s | %.0f | %s |\n",
		    jnum(l, "literals"), jnum(l, "build_s"), jnum(l, "build_cpu_s"),
		    jnum(l, "rss_after_scan_mb"), jnum(l, "index_mb"), jnum(l, "serialized_mb"),
		    jnum(l, "load_s"), jnum(l, "load_cpu_s"), sc, jnum(l, "scan_mibps_median"),
		    jnum(l, "scan_pieces_mibps"), jnum(l, "scan_pieces_mibps_median"), hcb, hsb, rb,
		    jnum(l, "hits"), strstr(l, "\"same_hits\": true") ? "yes" : "NO");
	}
	FILE *j = fopen("bench/results/lit.json", "w");
	if (j) {
		fprintf(j, "{\n  \"text_mib\": %zu,\n  \"runs\": [\n", text_len >> 20);
		for (int i = 0; i < nl; i++) {
			lines[i][strcspn(lines[i], "\n")] = 0;
			fprintf(j, "    %s%s\n", lines[i], i + 1 < nl ? "," : "");
		}
		fprintf(j, "  ]\n}\n");
		fclose(j);
		printf("\nwrote bench/results/lit.json\n");
	}
	return fail;
}
