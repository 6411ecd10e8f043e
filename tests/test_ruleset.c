/* test_ruleset.c - the rule parser: syntax, escapes, every error path with
 * its exact file:line:col, and all-or-nothing loading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "normalize.h"
#include "ruleset.h"
#include "unit.h"

static char err[1024];

static int load(struct ruleset *rs, const char *text)
{
	err[0] = 0;
	return ruleset_add_buffer(rs, "t.rules", text, strlen(text), err, sizeof(err));
}

/* Loads text into a fresh rule set and expects exactly this error. */
static void expect_error(const char *text, const char *want)
{
	struct ruleset rs;
	ruleset_init(&rs);
	int rc = load(&rs, text);
	CHECK_EQ_INT(rc, -1);
	CHECK_STR(err, want);
	CHECK_EQ_INT(rs.n, 0);
	ruleset_free(&rs);
}

static void test_basic(void)
{
	struct ruleset rs;
	ruleset_init(&rs);
	const char *text =
	    "# comment\n"
	    "\n"
	    "100001 fraud \"免费领取AI换脸\"\n"
	    "  100002 phishing /verify\\s+your\\s+(wallet|account)/i sev=4\n"
	    "100003 marker \"\\xEF\\xBB\\xBFAIGC\" raw\n"
	    "100004 scam_en \"a\\\"b\\\\c\\n\\r\\t\\u{4E2D}\" msg=\"quoted \\\"msg\\\"\" sev=1\n"
	    "100005 re /a\\/b/ism\n";
	CHECK_EQ_INT(load(&rs, text), 0);
	CHECK_EQ_INT(rs.n, 5);
	CHECK_EQ_INT(rs.rules[0].id, 100001);
	CHECK_STR(rs.cats[rs.rules[0].cat], "fraud");
	CHECK_EQ_INT(rs.rules[0].kind, RULE_LITERAL);
	CHECK_EQ_INT(rs.rules[0].sev, 3);
	CHECK(!memcmp(rs.rules[0].pat, "免费领取AI换脸", rs.rules[0].patlen));
	CHECK_EQ_INT(rs.rules[1].kind, RULE_REGEX);
	CHECK_EQ_INT(rs.rules[1].flags, RULE_F_CASELESS);
	CHECK_EQ_INT(rs.rules[1].sev, 4);
	CHECK_EQ_INT(rs.pos[1].line, 4);
	CHECK_EQ_INT(rs.pos[1].col, 19);
	CHECK_EQ_INT(rs.rules[2].raw, 1);
	CHECK_EQ_INT(rs.rules[2].patlen, 7);
	CHECK(!memcmp(rs.rules[2].pat,
	              "\xEF\xBB\xBF"
	              "AIGC",
	              7));
	CHECK_EQ_INT(rs.rules[3].patlen, 11);
	CHECK(!memcmp(rs.rules[3].pat, "a\"b\\c\n\r\t\xe4\xb8\xad", 11));
	CHECK_STR(rule_msg(&rs.rules[3]), "quoted \"msg\"");
	CHECK_EQ_INT(rs.rules[3].sev, 1);
	CHECK(rule_msg(&rs.rules[0]) == NULL);
	CHECK_STR((const char *)rs.rules[4].pat, "a/b");
	CHECK_EQ_INT(rs.rules[4].flags, RULE_F_CASELESS | RULE_F_DOTALL | RULE_F_MULTILINE);
	CHECK_EQ_INT(rs.ncats, 5);
	ruleset_finish(&rs);
	CHECK_EQ_INT(strlen(rs.hash), 16);
	ruleset_free(&rs);
}

static void test_errors(void)
{
	expect_error("1 fraud \"a\\q\"\n", "t.rules:1:11: bad escape '\\q'");
	expect_error("1 fraud \"a\\xZ1\"\n", "t.rules:1:11: bad escape: \\x needs two hex digits");
	expect_error("1 fraud \"\\u{D800}\"\n",
	             "t.rules:1:10: bad escape: \\u{D800} is not a Unicode scalar value");
	expect_error("1 fraud \"\\u{110000}\"\n",
	             "t.rules:1:10: bad escape: \\u{110000} is not a Unicode scalar value");
	expect_error("1 fraud \"\\u123\"\n", "t.rules:1:10: bad escape: expected \\u{HEX}");
	expect_error("1 fraud \"abc\" colour=red\n",
	             "t.rules:1:15: unknown option 'colour=red' (known: sev=N raw msg=\"...\")");
	expect_error("1 fraud \"\"\n", "t.rules:1:9: empty pattern");
	expect_error("1 fraud //\n", "t.rules:1:9: empty pattern");
	expect_error("0 fraud \"x\"\n", "t.rules:1:1: rule id out of range (1..4294967295)");
	expect_error("4294967296 fraud \"x\"\n",
	             "t.rules:1:1: rule id out of range (1..4294967295)");
	expect_error("12a fraud \"x\"\n", "t.rules:1:1: expected a numeric rule id");
	expect_error("5 Bad! \"x\"\n",
	             "t.rules:1:3: invalid character in category (allowed: a-z 0-9 _ -)");
	expect_error("5 abcdefghijabcdefghijabcdefghijabc \"x\"\n",
	             "t.rules:1:3: category longer than 32 characters");
	expect_error("5 fraud \"x\" sev=9\n", "t.rules:1:13: sev must be 1..5");
	expect_error("5 fraud \"x\" sev=\n", "t.rules:1:13: sev must be 1..5");
	expect_error("5 fraud \"abc\n", "t.rules:1:9: unterminated string");
	expect_error("5 fraud /abc\n", "t.rules:1:9: unterminated regex (missing closing '/')");
	expect_error("5 fraud /abc/x\n", "t.rules:1:14: unknown regex flag 'x' (allowed: i s m)");
	expect_error("5 fraud\n", "t.rules:1:8: expected a pattern (\"literal\" or /regex/)");
	expect_error("5\n", "t.rules:1:2: expected a category");
	expect_error("5 fraud abc\n", "t.rules:1:9: expected a pattern (\"literal\" or /regex/)");
	expect_error("5 fraud \"x\"raw\n", "t.rules:1:12: expected whitespace before option");
	expect_error("5 fraud \"x\" msg=abc\n", "t.rules:1:17: msg needs a quoted string");
	expect_error("1 a \"x\"\n2 a \"y\"\n1 b \"z\"\n",
	             "t.rules:3:1: duplicate rule id 1 (first defined at t.rules:1:5)");
	/* Hyperscan's reason, mapped to the rule */
	struct ruleset rs;
	ruleset_init(&rs);
	CHECK_EQ_INT(load(&rs, "# x\n7 re /(ab/\n"), -1);
	CHECK(!strncmp(err, "t.rules:2:6: regex rejected by Hyperscan: ", 42));
	CHECK(strstr(err, "parenthes") != NULL);
	CHECK_EQ_INT(load(&rs, "7 re /a{2,1}/\n"), -1);
	CHECK(!strncmp(err, "t.rules:1:6: regex rejected by Hyperscan: ", 42));
	CHECK_EQ_INT(load(&rs, "7 re /x*/\n"), -1);
	CHECK_STR(err, "t.rules:1:6: regex can match the empty string");
	ruleset_free(&rs);
}

/* A file with an error loads nothing, and earlier files stay intact. */
static void test_all_or_nothing(void)
{
	struct ruleset rs;
	ruleset_init(&rs);
	CHECK_EQ_INT(ruleset_add_buffer(&rs, "a.rules", "1 a \"x\"\n", 8, err, sizeof(err)), 0);
	const char *bad = "2 newcat \"y\"\n3 newcat \"z\" bogus\n";
	CHECK_EQ_INT(ruleset_add_buffer(&rs, "b.rules", bad, strlen(bad), err, sizeof(err)), -1);
	CHECK_EQ_INT(rs.n, 1);
	CHECK_EQ_INT(rs.ncats, 1);
	CHECK_EQ_INT(rs.nfiles, 1);
	/* id 2 was rolled back, so it is free again */
	CHECK_EQ_INT(ruleset_add_buffer(&rs, "c.rules", "2 b \"y\"\n", 8, err, sizeof(err)), 0);
	CHECK_EQ_INT(rs.n, 2);
	/* duplicate across files names the first file */
	CHECK_EQ_INT(ruleset_add_buffer(&rs, "d.rules", "\n1 c \"q\"\n", 9, err, sizeof(err)), -1);
	CHECK_STR(err, "d.rules:2:1: duplicate rule id 1 (first defined at a.rules:1:5)");
	ruleset_free(&rs);
}

static void test_file_errors(void)
{
	struct ruleset rs;
	ruleset_init(&rs);
	CHECK_EQ_INT(ruleset_add_file(&rs, "/nonexistent/x.rules", err, sizeof(err)), -2);
	CHECK(strstr(err, "/nonexistent/x.rules: ") == err);
	const char nul[] = "1 a \"x\0y\"\n";
	CHECK_EQ_INT(ruleset_add_buffer(&rs, "n.rules", nul, sizeof(nul) - 1, err, sizeof(err)),
	             -1);
	CHECK_STR(err, "n.rules:1:7: NUL byte in rule file");
	ruleset_free(&rs);
}

/* Compile-time errors carry the rule position too. */
static void test_compile_errors(void)
{
	struct ruleset rs;
	ruleset_init(&rs);
	CHECK_EQ_INT(load(&rs, "1 a \"ok\"\n2 a \"  ..  \"\n"), 0);
	ruleset_finish(&rs);
	struct matcher *m = matcher_build(&rs, NORM_ALL, err, sizeof(err));
	CHECK(m == NULL);
	CHECK_STR(err, "t.rules:2:5: pattern of rule 2 is empty after normalization (only "
	               "separators or invisible characters)");
	/* with separators kept, the same rule compiles */
	m = matcher_build(&rs, NORM_NFKC_CF, err, sizeof(err));
	CHECK(m != NULL);
	matcher_free(m);
	ruleset_free(&rs);
}

/* Many rules parse and stay findable (id table growth). */
static void test_many(void)
{
	size_t n = 200000, cap = n * 40;
	char *buf = malloc(cap), *p = buf;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%zu cat%zu \"word%zu\"\n", i + 1, i % 7, i);
	struct ruleset rs;
	ruleset_init(&rs);
	CHECK_EQ_INT(ruleset_add_buffer(&rs, "big", buf, (size_t)(p - buf), err, sizeof(err)), 0);
	CHECK_EQ_INT(rs.n, n);
	CHECK_EQ_INT(rs.ncats, 7);
	const char dup[] = "150000 x \"y\"\n";
	CHECK_EQ_INT(ruleset_add_buffer(&rs, "dup", dup, sizeof(dup) - 1, err, sizeof(err)), -1);
	CHECK(strstr(err, "duplicate rule id 150000 (first defined at big:150000:") != NULL);
	ruleset_free(&rs);
	free(buf);
}

/* The message is stored right after the pattern (struct rule has no
 * pointer for it) and the arena is trimmed to what each rule uses: every
 * rule's pattern and message must survive the rules parsed after it. */
static void test_msg_layout(void)
{
	size_t n = 5000, cap = n * 200;
	char *buf = malloc(cap), *p = buf;
	for (size_t i = 0; i < n; i++) {
		switch (i % 4) {
		case 0: /* escapes shrink the pattern, message with escapes */
			p += sprintf(p, "%zu c \"\\x41\\u{4E2D}%zu\" msg=\"m\\\\%zu\"\n", i + 1, i,
			             i);
			break;
		case 1: /* no message */
			p += sprintf(p, "%zu c \"plain%zu\"\n", i + 1, i);
			break;
		case 2: /* msg given twice: the later one counts */
			p +=
			    sprintf(p, "%zu c /re%zu\\/x/i msg=\"first\" sev=2 msg=\"second%zu\"\n",
			            i + 1, i, i);
			break;
		default: /* an empty message */
			p += sprintf(p, "%zu c \"e%zu\" msg=\"\" raw\n", i + 1, i);
		}
	}
	struct ruleset rs;
	ruleset_init(&rs);
	CHECK_EQ_INT(ruleset_add_buffer(&rs, "m", buf, (size_t)(p - buf), err, sizeof(err)), 0);
	CHECK_EQ_INT(rs.n, n);
	char want[64], wmsg[64];
	for (size_t i = 0; i < rs.n; i++) {
		const struct rule *r = &rs.rules[i];
		const char *m = rule_msg(r);
		switch (i % 4) {
		case 0:
			snprintf(want, sizeof(want), "A\xe4\xb8\xad%zu", i);
			snprintf(wmsg, sizeof(wmsg), "m\\%zu", i);
			break;
		case 1:
			snprintf(want, sizeof(want), "plain%zu", i);
			break;
		case 2:
			snprintf(want, sizeof(want), "re%zu/x", i);
			snprintf(wmsg, sizeof(wmsg), "second%zu", i);
			break;
		default:
			snprintf(want, sizeof(want), "e%zu", i);
			wmsg[0] = 0;
		}
		CHECK_EQ_INT(r->patlen, strlen(want));
		CHECK(!memcmp(r->pat, want, r->patlen + 1));
		CHECK(!m == (i % 4 == 1));
		if (m)
			CHECK_STR(m, wmsg);
	}
	ruleset_free(&rs);
	free(buf);
}

int main(void)
{
	RUN(test_basic);
	RUN(test_errors);
	RUN(test_all_or_nothing);
	RUN(test_file_errors);
	RUN(test_compile_errors);
	RUN(test_many);
	RUN(test_msg_layout);
	return UNIT_DONE();
}
