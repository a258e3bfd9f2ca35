/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pattern matcher (protocol §5).
 *
 * This runs for every mount × plugin × pattern on the container creation path, so it neither
 * allocates nor does I/O: paths are cleaned into stack buffers, and only when they are not
 * already clean (the common case for paths an engine hands us).
 *
 * Two ways in, one set of predicates: the plain entry points take the data model as it is and
 * work out lengths and path cleanliness as they go; a chain compiles each plugin's patterns
 * (mpp_pattern_set) and prepares its mounts (mpp_mount_set) once, so that the match itself
 * only compares.
 *
 * Conventions, applied everywhere:
 * - a NULL string value in a mount is treated as "";
 * - a string predicate that is NULL or "" is unset (the codec decodes "" as unset too: Go's
 *   omitempty would never send it, and an empty Prefix means nothing);
 * - a StringPattern with no predicate set matches anything, with or without Not (there is
 *   nothing to negate);
 * - a string field of a Pattern (Type, Propagation, …) that is NULL or "" is "don't care". */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/pattern.h>

#include "macro.h"
#include "mount-fields.h"

static inline const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* Go's path.Clean, computed from the right: a ".." cancels the nearest kept component to its
 * left, and the ".." left over lead a relative path (a rooted one drops them, "/.." is "/").
 * This is the same result as Go's left-to-right stack, but it never needs more room than the
 * result: a path that cleans to something short fits a short buffer whatever its input length.
 * With out == NULL it only measures; else it writes the result ending at out + total. */
static size_t clean_walk(const char *p, size_t n, char *out, size_t total)
{
    bool rooted = n > 0 && p[0] == '/';
    size_t len = 0, skip = 0, i = n;
    bool any = false;

#define EMIT(src, l)                                                                               \
    do {                                                                                           \
        if (any) {                                                                                 \
            len++;                                                                                 \
            if (out)                                                                               \
                out[total - len] = '/';                                                            \
        }                                                                                          \
        len += (l);                                                                                \
        if (out)                                                                                   \
            memcpy(out + total - len, (src), (l));                                                 \
        any = true;                                                                                \
    } while (0)

    while (i > 0) {
        size_t end = i;
        while (end > 0 && p[end - 1] == '/')
            end--;
        size_t start = end;
        while (start > 0 && p[start - 1] != '/')
            start--;
        i = start;

        size_t clen = end - start;
        if (clen == 0)
            break; /* only slashes were left */
        if (clen == 1 && p[start] == '.')
            continue;
        if (clen == 2 && p[start] == '.' && p[start + 1] == '.') {
            skip++;
            continue;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
        EMIT(p + start, clen);
    }
    if (!rooted)
        for (; skip > 0; skip--)
            EMIT("..", 2);
#undef EMIT

    if (rooted) {
        len++;
        if (out)
            out[total - len] = '/';
    } else if (!any) {
        len++;
        if (out)
            out[total - len] = '.';
    }
    return len;
}

int mpp_path_clean(const char *in, char *out, size_t outsz)
{
    const char *p = str_or_empty(in);
    size_t n = strlen(p);

    size_t total = clean_walk(p, n, NULL, 0);
    if (total >= outsz || total > INT_MAX)
        return -ENAMETOOLONG;
    clean_walk(p, n, out, total);
    out[total] = '\0';
    return (int)total;
}

/* Whether s (of length n) is already what mpp_path_clean would return, so that it can be used
 * as is. Conservative is fine here: a false "no" only costs a copy. */
static bool path_is_clean(const char *s, size_t n)
{
    if (n == 0)
        return false;
    if (n == 1)
        return true; /* "/", ".", or a one-letter name */
    if (s[n - 1] == '/')
        return false;

    bool rooted = s[0] == '/';
    bool only_dotdots = !rooted; /* a relative path may start with ".." components */
    size_t i = rooted ? 1 : 0;

    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0)
            return false; /* "//" */
        if (len == 1 && s[i] == '.')
            return false; /* "." inside a longer path */
        if (len == 2 && s[i] == '.' && s[i + 1] == '.') {
            if (!only_dotdots)
                return false;
        } else {
            only_dotdots = false;
        }
        i = j + 1;
    }
    return true;
}

/* Equality of n bytes, for the short strings patterns hold: a word at a time (the last word
 * overlapping the one before it), so that a comparison costs a few loads however far into the
 * strings it fails, and no call. */
static inline bool bytes_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t u, w;
        memcpy(&u, a, 4);
        memcpy(&w, b, 4);
        if (u != w)
            return false;
        memcpy(&u, a + n - 4, 4);
        memcpy(&w, b + n - 4, 4);
        return u == w;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

typedef struct str {
    const char *s;
    size_t n;
} str;

/* What is known of a string as a path. */
enum {
    PATH_UNKNOWN, /* not looked at yet */
    PATH_VIEW,    /* cs/cn is the cleaned path (s itself when already clean) */
    PATH_DIRTY,   /* not clean: clean it into a buffer at each use */
    PATH_NONE,    /* does not clean to less than PATH_MAX: no path predicate holds */
};

/* A string being matched (or a pattern's path predicate), with what we learn about it kept for
 * the next predicate: the same Source is tested against every pattern of every plugin. */
typedef struct value {
    const char *s; /* never NULL */
    size_t n;      /* SIZE_MAX until known */
    const char *cs;
    size_t cn;
    uint64_t head; /* with PATH_VIEW: the first bytes of cs (8 at most), zero-padded */
    uint8_t path;
} value;

#define VALUE(str) ((value){.s = str_or_empty(str), .n = SIZE_MAX, .path = PATH_UNKNOWN})

static inline size_t value_len(value *v)
{
    if (v->n == SIZE_MAX)
        v->n = strlen(v->s);
    return v->n;
}

/* The first bytes of s[0..n) (8 at most) as a word, zero-padded. */
static inline uint64_t head_of(const char *s, size_t n)
{
    uint64_t h = 0;
    memcpy(&h, s, n < 8 ? n : 8);
    return h;
}

static void value_set_view(value *v, const char *cs, size_t cn)
{
    v->cs = cs;
    v->cn = cn;
    v->head = head_of(cs, cn);
    v->path = PATH_VIEW;
}

static void value_classify(value *v)
{
    if (v->path != PATH_UNKNOWN)
        return;
    size_t n = value_len(v);
    if (n == 0)
        value_set_view(v, ".", 1); /* Go's path.Clean("") is "." */
    else if (n < PATH_MAX && path_is_clean(v->s, n))
        value_set_view(v, v->s, n);
    else
        v->path = PATH_DIRTY;
}

/* The cleaned path of v, in buf (PATH_MAX bytes) if it has to be cleaned now. False when it
 * does not fit. */
static bool value_clean_view(value *v, char *buf, str *out)
{
    value_classify(v);
    if (v->path == PATH_DIRTY) {
        int r = mpp_path_clean(v->s, buf, PATH_MAX);
        if (r < 0) {
            v->path = PATH_NONE;
            return false;
        }
        *out = (str){buf, (size_t)r};
        return true;
    }
    if (v->path == PATH_NONE)
        return false;
    *out = (str){v->cs, v->cn};
    return true;
}

/* Everything about v worked out now, so that matching never writes to it: its length, and its
 * cleaned path (a copy in *copy, to be freed by the caller, when it is not clean as it is). */
static int value_prepare(value *v, char **copy)
{
    *copy = NULL;
    value_classify(v);
    if (v->path != PATH_DIRTY)
        return 0;
    char buf[PATH_MAX];
    int r = mpp_path_clean(v->s, buf, sizeof(buf));
    if (r < 0) {
        v->path = PATH_NONE;
        return 0;
    }
    char *c = strndup(buf, (size_t)r);
    if (!c)
        return -ENOMEM;
    value_set_view(v, c, (size_t)r);
    *copy = c;
    return 0;
}

/* Whether clean path v equals clean path p or lies under it component-wise. */
static inline bool path_under(const char *vs, size_t vn, const char *ps, size_t pn)
{
    if (vn < pn || !bytes_eq(vs, ps, pn))
        return false;
    if (vn == pn)
        return true;
    /* "/" is the only clean path that ends with '/': everything absolute is under it. */
    if (pn == 1 && ps[0] == '/')
        return true;
    return vs[pn] == '/';
}

/* A pattern's str has n == SIZE_MAX when it comes straight from the data model (the plain
 * entry points do not measure what they may never compare). */
static inline bool value_eq(const value *v, const str *p)
{
    if (v->n != SIZE_MAX && p->n != SIZE_MAX)
        return v->n == p->n && bytes_eq(v->s, p->s, p->n);
    /* Most comparisons fail on the first byte: skip the call then. */
    return v->s[0] == p->s[0] && strcmp(v->s, p->s) == 0;
}

static inline bool value_starts_with(const value *v, const str *p)
{
    if (v->n != SIZE_MAX && p->n != SIZE_MAX)
        return v->n >= p->n && bytes_eq(v->s, p->s, p->n);
    for (const char *a = v->s, *b = p->s; *b; a++, b++)
        if (*a != *b) /* also stops at the end of v */
            return false;
    return true;
}

static inline bool value_ends_with(value *v, const str *p)
{
    size_t n = value_len(v), m = p->n != SIZE_MAX ? p->n : strlen(p->s);
    return m <= n && bytes_eq(v->s + n - m, p->s, m);
}

/* ---- StringPattern ---- */

/* A path predicate's pattern, to be cleaned into the caller's buffer if need be. One that was
 * just written is built afresh from its string rather than copied: copying a struct that was
 * just written field by field stalls the loads. */
static inline value pattern_path(const value *pp)
{
    return pp->path == PATH_UNKNOWN ? VALUE(pp->s) : *pp;
}

/* PathPrefix pp and PathContains pc (NULL when unset) on v, cleaning what is not clean yet.
 * Kept out of line: its PATH_MAX buffers would otherwise weigh on every string test. */
static __attribute__((noinline)) bool path_predicates_slow(const value *pp, const value *pc,
                                                           bool want, value *v)
{
    /* A path that cannot be cleaned (longer than PATH_MAX) matches no path predicate, with or
     * without Not: we cannot say anything about it. */
    char vbuf[PATH_MAX], pbuf[PATH_MAX];
    str cv, cp;
    if (!value_clean_view(v, vbuf, &cv))
        return false;
    if (pp) {
        value pv = pattern_path(pp);
        if (!value_clean_view(&pv, pbuf, &cp) || path_under(cv.s, cv.n, cp.s, cp.n) != want)
            return false;
    }
    if (pc) {
        value pv = pattern_path(pc);
        if (!value_clean_view(&pv, pbuf, &cp) || path_under(cp.s, cp.n, cv.s, cv.n) != want)
            return false;
    }
    return true;
}

/* A StringPattern from the data model (the plain entry points): the predicates as they come,
 * measured only when a test needs it. */
static bool raw_sp_match(const mpp_string_pattern *p, value *v)
{
    const bool want = !p->not_;

    if (p->empty && (v->s[0] == '\0') != want)
        return false;
    if (!isempty(p->exactly) && value_eq(v, &(str){p->exactly, SIZE_MAX}) != want)
        return false;
    if (!isempty(p->prefix) && value_starts_with(v, &(str){p->prefix, SIZE_MAX}) != want)
        return false;
    if (!isempty(p->suffix) && value_ends_with(v, &(str){p->suffix, SIZE_MAX}) != want)
        return false;
    if (!isempty(p->contains) && (strstr(v->s, p->contains) != NULL) != want)
        return false;
    if (isempty(p->path_prefix) && isempty(p->path_contains))
        return true;
    value pp = VALUE(p->path_prefix), pc = VALUE(p->path_contains);
    return path_predicates_slow(isempty(p->path_prefix) ? NULL : &pp,
                                isempty(p->path_contains) ? NULL : &pc, want, v);
}

static bool raw_sp_is_empty(const mpp_string_pattern *p)
{
    return !p->empty && isempty(p->prefix) && isempty(p->path_prefix) && isempty(p->suffix) &&
           isempty(p->path_contains) && isempty(p->exactly) && isempty(p->contains);
}

enum {
    SP_EMPTY = 1 << 0,
    SP_EXACTLY = 1 << 1,
    SP_PREFIX = 1 << 2,
    SP_SUFFIX = 1 << 3,
    SP_CONTAINS = 1 << 4,
    SP_PATH_PREFIX = 1 << 5,
    SP_PATH_CONTAINS = 1 << 6,
};

/* A StringPattern compiled: which predicates are set, their lengths, and the path predicates
 * cleaned. Only the fields of the predicates that are set are meaningful. */
typedef struct spat {
    uint8_t set;
    bool want;                 /* what each set predicate must evaluate to: false under Not */
    uint64_t path_prefix_mask; /* the bytes of path_prefix.head that are the path's */
    str exactly;
    value path_prefix;
    str prefix, suffix, contains;
    value path_contains;
} spat;

static inline void str_init(str *out, const char *s, uint8_t bit, uint8_t *set)
{
    if (isempty(s))
        return;
    *out = (str){s, strlen(s)};
    *set |= bit;
}

/* The path predicates are left for the caller to clean (compile_spat). */
static void spat_init(spat *c, const mpp_string_pattern *p)
{
    c->set = p->empty ? SP_EMPTY : 0;
    c->want = !p->not_;
    str_init(&c->exactly, p->exactly, SP_EXACTLY, &c->set);
    str_init(&c->prefix, p->prefix, SP_PREFIX, &c->set);
    str_init(&c->suffix, p->suffix, SP_SUFFIX, &c->set);
    str_init(&c->contains, p->contains, SP_CONTAINS, &c->set);
    if (!isempty(p->path_prefix)) {
        c->set |= SP_PATH_PREFIX;
        c->path_prefix = VALUE(p->path_prefix);
    }
    if (!isempty(p->path_contains)) {
        c->set |= SP_PATH_CONTAINS;
        c->path_contains = VALUE(p->path_contains);
    }
}

static inline bool path_predicates_match(const spat *p, value *v)
{
    value_classify(v);
    const value *pp = p->set & SP_PATH_PREFIX ? &p->path_prefix : NULL;
    const value *pc = p->set & SP_PATH_CONTAINS ? &p->path_contains : NULL;
    /* Compiled patterns are clean (or do not fit); a value that is not clean as it is takes the
     * slow way. */
    if (v->path != PATH_VIEW || (pp && pp->path != PATH_VIEW) || (pc && pc->path != PATH_VIEW))
        return path_predicates_slow(pp, pc, p->want, v);
    if (pp && path_under(v->cs, v->cn, pp->cs, pp->cn) != p->want)
        return false;
    if (pc && path_under(pc->cs, pc->cn, v->cs, v->cn) != p->want)
        return false;
    return true;
}

static bool spat_match_general(const spat *p, value *v)
{
    const uint8_t set = p->set;
    const bool want = p->want;

    if ((set & SP_EMPTY) && (v->s[0] == '\0') != want)
        return false;
    if ((set & SP_EXACTLY) && value_eq(v, &p->exactly) != want)
        return false;
    if ((set & SP_PREFIX) && value_starts_with(v, &p->prefix) != want)
        return false;
    if ((set & SP_SUFFIX) && value_ends_with(v, &p->suffix) != want)
        return false;
    if ((set & SP_CONTAINS) && (strstr(v->s, p->contains.s) != NULL) != want)
        return false;
    if (set & (SP_PATH_PREFIX | SP_PATH_CONTAINS))
        return path_predicates_match(p, v);
    return true;
}

/* The shapes most patterns have, a lone Exactly or PathPrefix on a clean path, inline; the
 * rest in spat_match_general. */
static inline __attribute__((always_inline)) bool spat_match(const spat *p, value *v)
{
    switch (p->set) {
    case 0:
        return true;
    case SP_EXACTLY:
        return value_eq(v, &p->exactly) == p->want;
    case SP_PATH_PREFIX:
        if (v->path == PATH_VIEW && p->path_prefix.path == PATH_VIEW) {
            /* Most paths are told apart by their first bytes, without reading either string. */
            if ((v->head ^ p->path_prefix.head) & p->path_prefix_mask)
                return !p->want;
            return path_under(v->cs, v->cn, p->path_prefix.cs, p->path_prefix.cn) == p->want;
        }
        break;
    default:
        break;
    }
    return spat_match_general(p, v);
}

/* A [StringPattern] list from the data model: every element must match. */
static bool raw_string_patterns_match(const mpp_string_patterns *ps, value *v)
{
    for (size_t i = 0; i < ps->n; i++)
        if (!raw_sp_match(&ps->items[i], v))
            return false;
    return true;
}

bool mpp_string_pattern_match(const mpp_string_pattern *p, const char *s)
{
    value v = VALUE(s);
    return !p || raw_sp_match(p, &v);
}

bool mpp_string_patterns_match(const mpp_string_patterns *ps, const char *s)
{
    value v = VALUE(s);
    return !ps || raw_string_patterns_match(ps, &v);
}

/* ---- StringMapPattern ---- */

/* A KV pattern compiled, or straight from the data model. */
typedef struct ckv {
    spat key, value;
} ckv;

/* Key (j == 0) or Value (j == 1) of a KV pattern: compiled when c is set, else raw. */
static inline __attribute__((always_inline)) bool
kv_part_match(const ckv *c, const mpp_kv_pattern *r, int j, value *v)
{
    if (c)
        return spat_match(j ? &c->value : &c->key, v);
    return raw_sp_match(j ? &r->value : &r->key, v);
}

/* Entry i's key (j == 0) or value (j == 1) of m, in *tmp: with its length when the map was
 * measured (pre, in a mount set), else measured as we go. */
static inline value *entry(const mpp_strmap *m, const str *pre, size_t i, int j, value *tmp)
{
    if (pre) {
        const str *e = &pre[2 * i + (size_t)j];
        *tmp = (value){.s = e->s, .n = e->n, .path = PATH_UNKNOWN};
    } else {
        *tmp = VALUE(j ? m->items[i].value : m->items[i].key);
    }
    return tmp;
}

static inline __attribute__((always_inline)) bool kv_exists(const ckv *c, const mpp_kv_pattern *r,
                                                            const mpp_strmap *m, const str *pre)
{
    for (size_t i = 0; i < m->n; i++) {
        value tk, tv;
        if (kv_part_match(c, r, 0, entry(m, pre, i, 0, &tk)) &&
            kv_part_match(c, r, 1, entry(m, pre, i, 1, &tv)))
            return true;
    }
    return false;
}

static bool kv_all(const ckv *c, const mpp_kv_pattern *r, const mpp_strmap *m, const str *pre)
{
    /* With no Value the rule "every matching key has a matching value" would always hold, so
     * protocol §5 gives it a meaning: every key of the map matches Key. */
    bool keys_only = c ? c->value.set == 0 : raw_sp_is_empty(&r->value);

    for (size_t i = 0; i < m->n; i++) {
        value tk, tv;
        bool key_ok = kv_part_match(c, r, 0, entry(m, pre, i, 0, &tk));
        if (keys_only) {
            if (!key_ok)
                return false;
        } else if (key_ok && !kv_part_match(c, r, 1, entry(m, pre, i, 1, &tv))) {
            return false;
        }
    }
    return true;
}

static const mpp_strmap empty_map = {0};

bool mpp_strmap_pattern_match(const mpp_strmap_pattern *p, const mpp_strmap *m)
{
    if (!p)
        return true;
    if (!m)
        m = &empty_map;
    bool want = !p->not_; /* Not inverts each element on its own */

    for (size_t i = 0; i < p->n_exists; i++)
        if (kv_exists(NULL, &p->exists[i], m, NULL) != want)
            return false;
    for (size_t i = 0; i < p->n_all; i++)
        if (kv_all(NULL, &p->all[i], m, NULL) != want)
            return false;
    return true;
}

bool mpp_strmap_patterns_match(const mpp_strmap_patterns *ps, const mpp_strmap *m)
{
    if (!ps)
        return true;
    for (size_t i = 0; i < ps->n; i++)
        if (!mpp_strmap_pattern_match(&ps->items[i], m))
            return false;
    return true;
}

/* ---- AppliedMiddlewareStackPattern ---- */

/* Plain string field of a Pattern: NULL or "" = don't care, else equal. */
static bool string_field_match(const char *want, const char *have)
{
    have = str_or_empty(have);
    return isempty(want) || (want[0] == have[0] && strcmp(want, have) == 0);
}

static bool applied_match(const mpp_applied_pattern *ap, const mpp_applied *a)
{
    return string_field_match(ap->changes_effective_consistency,
                              a->changes.effective_consistency) &&
           mpp_string_patterns_match(&ap->name, a->name) &&
           mpp_string_patterns_match(&ap->changes_effective_source, a->changes.effective_source);
}

/* Whether list matches stack[start .. start+list->n) one to one. */
static bool run_matches(const mpp_applied_patterns *list, const mpp_applied *stack, size_t start)
{
    for (size_t j = 0; j < list->n; j++)
        if (!applied_match(&list->items[j], &stack[start + j]))
            return false;
    return true;
}

static bool stack_op_match(mpp_stack_op op, const mpp_applied_patterns *list,
                           const mpp_applied *stack, size_t n)
{
    const size_t k = list->n;

    switch (op) {
    case MPP_STACK_EXISTS:
        for (size_t j = 0; j < k; j++) {
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                found = applied_match(&list->items[j], &stack[i]);
            if (!found)
                return false;
        }
        return true;

    case MPP_STACK_ALL:
        for (size_t j = 0; j < k; j++)
            for (size_t i = 0; i < n; i++)
                if (!applied_match(&list->items[j], &stack[i]))
                    return false;
        return true;

    case MPP_STACK_ANY_SEQUENCE:
        if (k > n)
            return false;
        for (size_t start = 0; start + k <= n; start++)
            if (run_matches(list, stack, start))
                return true;
        return false;

    case MPP_STACK_TOP_SEQUENCE:
        /* "Top" is the first applied entry, index 0 (the protocol's naming, §5). */
        return k <= n && run_matches(list, stack, 0);

    case MPP_STACK_BOTTOM_SEQUENCE:
        return k <= n && run_matches(list, stack, n - k);

    case MPP_STACK_RELATIVE_ORDER: {
        /* Taking the earliest match for each element is optimal for a subsequence. */
        size_t j = 0;
        for (size_t i = 0; i < n && j < k; i++)
            if (applied_match(&list->items[j], &stack[i]))
                j++;
        return j == k;
    }

    case _MPP_STACK_OP_MAX:
        break;
    }
    return false;
}

bool mpp_stack_pattern_match(const mpp_stack_pattern *p, const mpp_applied *stack, size_t n)
{
    if (!p)
        return true;
    if (!stack)
        n = 0;

    for (int op = 0; op < _MPP_STACK_OP_MAX; op++) {
        /* An empty list is "don't care", for an op and its Not twin alike. */
        if (p->op[op].n > 0 && !stack_op_match((mpp_stack_op)op, &p->op[op], stack, n))
            return false;
        if (p->not_op[op].n > 0 && stack_op_match((mpp_stack_op)op, &p->not_op[op], stack, n))
            return false;
    }
    return true;
}

/* ---- Pattern ---- */

/* Protocol §4: the effective consistency is "the last consistency set by a plugin, else default";
 * for the user's Consistency an unset value is the default as well. */
static const char *consistency_or_default(const char *c)
{
    return isempty(c) ? "default" : c;
}

/* What each kind of field (mount-fields.h) means to the matcher, phase by phase; a phase is
 * expanded over the whole field list with FOR(PHASE). The fields whose meaning is their own
 * (EffectiveSource and EffectiveConsistency, which plugins change along the chain, the
 * AppliedMiddleware stack, and Type's tmpfs rule) are written out where they act. */
#define FOR_FIELD(phase, group, id, key, mk, mm, pk, pm) pk##_(phase, pk, id, mm, pm)
#define SLIST_(phase, ...) SLIST_##phase(__VA_ARGS__)
#define ATOM_(phase, ...) ATOM_##phase(__VA_ARGS__)
#define TYPE_(phase, ...) ATOM_##phase(__VA_ARGS__)
#define CONSISTENCY_(phase, ...) ATOM_##phase(__VA_ARGS__)
#define TRI_(phase, ...) TRI_##phase(__VA_ARGS__)
#define MAPS_(phase, ...) MAPS_##phase(__VA_ARGS__)
#define EFFECTIVE_SOURCE_(phase, ...)
#define EFFECTIVE_CONSISTENCY_(phase, ...)
#define STACK_(phase, ...)
#define OBJ_(phase, ...)
#define NONE_(phase, ...)

/* The phases: MV_MEMBER, MV_INIT, MV_VALUE, MV_MAP (the mount's view), RAW_EQ and RAW (plain
 * matching: the cheap equality tests first, they reject most mounts), BYTE, CP_MEMBER, COMPILE,
 * WORD, STRCMP, CHECK (compiled matching). */
#define FOR_MV_MEMBER(...) FOR_FIELD(MV_MEMBER, __VA_ARGS__)
#define FOR_MV_INIT(...) FOR_FIELD(MV_INIT, __VA_ARGS__)
#define FOR_MV_VALUE(...) FOR_FIELD(MV_VALUE, __VA_ARGS__)
#define FOR_MV_MAP(...) FOR_FIELD(MV_MAP, __VA_ARGS__)
#define FOR_RAW_EQ(...) FOR_FIELD(RAW_EQ, __VA_ARGS__)
#define FOR_RAW(...) FOR_FIELD(RAW, __VA_ARGS__)
#define FOR_BYTE(...) FOR_FIELD(BYTE, __VA_ARGS__)
#define FOR_CP_MEMBER(...) FOR_FIELD(CP_MEMBER, __VA_ARGS__)
#define FOR_COMPILE(...) FOR_FIELD(COMPILE, __VA_ARGS__)
#define FOR_WORD(...) FOR_FIELD(WORD, __VA_ARGS__)
#define FOR_STRCMP(...) FOR_FIELD(STRCMP, __VA_ARGS__)
#define FOR_CHECK(...) FOR_FIELD(CHECK, __VA_ARGS__)
#define FOR(phase) MPP_MOUNT_FIELDS(FOR_##phase)

/* SLIST: [StringPattern] on a string plugins never change, kept in the mount's view as a value
 * (length and cleaned path worked out once). */
#define SLIST_MV_MEMBER(pk, id, mm, pm) value id;
#define SLIST_MV_INIT(pk, id, mm, pm) mv->id = VALUE(m->mm);
#define SLIST_MV_VALUE(pk, id, mm, pm) &mv->id,
#define SLIST_MV_MAP(pk, id, mm, pm)
#define SLIST_RAW_EQ(pk, id, mm, pm)
#define SLIST_RAW(pk, id, mm, pm) &&raw_string_patterns_match(&p->pm, &mv->id)
#define SLIST_BYTE(pk, id, mm, pm)
#define SLIST_CP_MEMBER(pk, id, mm, pm) slist id;
#define SLIST_COMPILE(pk, id, mm, pm)                                                              \
    if (compile_slist(o, &c->id, &p->pm, C(id), &c->checks) < 0)                                   \
        return -ENOMEM;
#define SLIST_WORD(pk, id, mm, pm)
#define SLIST_STRCMP(pk, id, mm, pm)
#define SLIST_CHECK(pk, id, mm, pm)                                                                \
    if ((k & C(id)) && !slist_match(&c->id, &mv->id))                                              \
        return false;

/* ATOM (and TYPE, CONSISTENCY): equal or don't care, one byte of the compiled word; the table
 * id##_atoms holds the usual values. ATOM_VALUE is the mount's value as patterns see it. */
#define ATOM_VALUE_ATOM(s) (s)
#define ATOM_VALUE_TYPE(s) (s)
#define ATOM_VALUE_CONSISTENCY(s) consistency_or_default(s)
#define ATOM_MV_MEMBER(pk, id, mm, pm)
#define ATOM_MV_INIT(pk, id, mm, pm)
#define ATOM_MV_VALUE(pk, id, mm, pm)
#define ATOM_MV_MAP(pk, id, mm, pm)
#define ATOM_RAW_EQ(pk, id, mm, pm) &&string_field_match(p->pm, ATOM_VALUE_##pk(m->mm))
#define ATOM_RAW(pk, id, mm, pm)
#define ATOM_BYTE(pk, id, mm, pm) B_##id,
#define ATOM_CP_MEMBER(pk, id, mm, pm)
#define ATOM_COMPILE(pk, id, mm, pm) word_atom(c, B_##id, atom(p->pm, id##_atoms));
#define ATOM_WORD(pk, id, mm, pm) | byte_at(B_##id, atom(ATOM_VALUE_##pk(m->mm), id##_atoms))
#define ATOM_STRCMP(pk, id, mm, pm)                                                                \
    &&(c->atoms[B_##id] != ATOM_OTHER || strcmp(p->pm, ATOM_VALUE_##pk(m->mm)) == 0)
#define ATOM_CHECK(pk, id, mm, pm)

/* TRI: a *bool of the pattern against a bool, one byte of the compiled word. */
#define TRI_MV_MEMBER(pk, id, mm, pm)
#define TRI_MV_INIT(pk, id, mm, pm)
#define TRI_MV_VALUE(pk, id, mm, pm)
#define TRI_MV_MAP(pk, id, mm, pm)
#define TRI_RAW_EQ(pk, id, mm, pm) &&tristate_match(p->pm, m->mm)
#define TRI_RAW(pk, id, mm, pm)
#define TRI_BYTE(pk, id, mm, pm) B_##id,
#define TRI_CP_MEMBER(pk, id, mm, pm)
#define TRI_COMPILE(pk, id, mm, pm) word_tristate(c, B_##id, p->pm);
#define TRI_WORD(pk, id, mm, pm) | byte_at(B_##id, m->mm)
#define TRI_STRCMP(pk, id, mm, pm)
#define TRI_CHECK(pk, id, mm, pm)

/* MAPS: [StringMapPattern] on a map; a mount set measures its entries once (MV_MAP). */
#define MAPS_MV_MEMBER(pk, id, mm, pm) str *id;
#define MAPS_MV_INIT(pk, id, mm, pm)
#define MAPS_MV_VALUE(pk, id, mm, pm)
#define MAPS_MV_MAP(pk, id, mm, pm) {&m->mm, &mv->id},
#define MAPS_RAW_EQ(pk, id, mm, pm)
#define MAPS_RAW(pk, id, mm, pm) &&mpp_strmap_patterns_match(&p->pm, &m->mm)
#define MAPS_BYTE(pk, id, mm, pm)
#define MAPS_CP_MEMBER(pk, id, mm, pm) cmaps id;
#define MAPS_COMPILE(pk, id, mm, pm)                                                               \
    if (compile_cmaps(o, &c->id, &p->pm, C(id), &c->checks) < 0)                                   \
        return -ENOMEM;
#define MAPS_WORD(pk, id, mm, pm)
#define MAPS_STRCMP(pk, id, mm, pm)
#define MAPS_CHECK(pk, id, mm, pm)                                                                 \
    if ((k & C(id)) && !cmaps_match(&c->id, &m->mm, mv->id))                                       \
        return false;

/* The fields of a mount the matcher looks at, as it can see them fast. EffectiveSource is not
 * here: plugins change it along the chain. In a mount set, also what is derived from the fields
 * plugins never change: lengths and cleaned paths, the map entries measured, and the
 * enum-like fields as one word of codes. */
typedef struct mview {
    /* Mount sets only (first: the word is read for every pattern): */
    uint64_t word; /* see scalar_word */
    uint8_t type;
    /* SLIST values; MAPS entries measured, key then value (NULL for an empty map). */
    FOR(MV_MEMBER)
    const mpp_mount *m;
} mview;

/* The part the plain entry points use (a mount set fills in the rest). */
static void mview_init(mview *mv, const mpp_mount *m)
{
    mv->m = m;
    FOR(MV_INIT)
}

/* What one match call works out about the fields plugins change, if a pattern needs them. */
typedef struct live {
    value *effective_source;
    value own;
} live;

static value *live_effective_source(live *l, mview *mv)
{
    if (!l->effective_source) {
        /* The effective source is Source until a plugin changes it (protocol §4, §6). */
        if (isempty(mv->m->effective_source)) {
            l->effective_source = &mv->source;
        } else {
            l->own = VALUE(mv->m->effective_source);
            l->effective_source = &l->own;
        }
    }
    return l->effective_source;
}

static bool tristate_match(mpp_tristate want, bool have)
{
    return want == MPP_UNSET || (want != MPP_FALSE) == have;
}

static bool is_tmpfs(const char *type)
{
    return type && strcmp(type, "tmpfs") == 0;
}

/* One Pattern from the data model. */
static bool raw_pattern_match(const mpp_pattern *p, mview *mv, live *l)
{
    const mpp_mount *m = mv->m;

    /* [mpp extension] tmpfs mounts reach only patterns that name that type, so that plugins
     * written for v2 never see a type they were not written for (protocol §3). */
    if (is_tmpfs(m->type) && !is_tmpfs(p->type))
        return false;
    return true FOR(RAW_EQ) &&
           string_field_match(p->effective_consistency,
                              consistency_or_default(m->effective_consistency)) FOR(RAW) &&
           (p->effective_source.n == 0 ||
            raw_string_patterns_match(&p->effective_source, live_effective_source(l, mv))) &&
           mpp_stack_pattern_match(&p->applied_middleware, m->applied, m->n_applied);
}

bool mpp_pattern_match(const mpp_pattern *p, const mpp_mount *m)
{
    if (!p || !m)
        return false;
    mview mv;
    mview_init(&mv, m);
    live l = {0};
    return raw_pattern_match(p, &mv, &l);
}

int mpp_patterns_match(const mpp_pattern *ps, size_t n, const mpp_mount *m)
{
    if (!ps || !m)
        return -1;
    mview mv;
    mview_init(&mv, m);
    live l = {0};
    for (size_t i = 0; i < n && i <= INT_MAX; i++)
        if (raw_pattern_match(&ps[i], &mv, &l))
            return (int)i;
    return -1;
}

/* ---- Compiled sets ---- */

/* The enum-like string fields as small codes: equal codes are equal strings, except ATOM_OTHER
 * (a value outside the table), which is compared as a string. */
enum {
    ATOM_UNSET, /* pattern: don't care; mount: NULL or "" */
    ATOM_OTHER,
    ATOM_FIRST,
};

static const char *const type_atoms[] = {"bind", "volume", "tmpfs", NULL};
#define ATOM_TMPFS (ATOM_FIRST + 2)
static const char *const propagation_atoms[] = {"rprivate", "private", "rslave", "slave",
                                                "rshared",  "shared",  NULL};
static const char *const consistency_atoms[] = {"default", "consistent", "cached", "delegated",
                                                NULL};
static const char *const volume_scope_atoms[] = {"local", "global", NULL};

static uint8_t atom(const char *s, const char *const *table)
{
    if (isempty(s))
        return ATOM_UNSET;
    for (size_t i = 0; table[i]; i++)
        if (strcmp(s, table[i]) == 0)
            return (uint8_t)(ATOM_FIRST + i);
    return ATOM_OTHER;
}

/* A pattern's field (code want, string ws) against a mount's (have, hs). */
static bool atom_match(uint8_t want, const char *ws, uint8_t have, const char *hs)
{
    return want == ATOM_UNSET || (want == have && (want != ATOM_OTHER || strcmp(ws, hs) == 0));
}

/* The fields that are equal-or-don't-care, one byte each in a word, so that a pattern tests
 * them all with one mask: (mount word & mask) == want. */
enum { FOR(BYTE) N_BYTES };
_Static_assert(N_BYTES <= 8, "the fields of the word fit in 64 bits");

static inline uint64_t byte_at(unsigned b, uint64_t v)
{
    return v << (8 * b);
}

/* What a cpattern checks beyond its word, a bit per field (C(id)); each bit is set only when
 * the pattern sets the field. */
#define CHECK_BIT(group, id, ...) CB_##id,
enum {
    MPP_MOUNT_FIELDS(CHECK_BIT) CB_OTHER_STRINGS, /* a word field outside its table: compare the
                                                     strings too */
    N_CHECK_BITS
};
_Static_assert(N_CHECK_BITS <= 32, "the checks of a pattern fit in 32 bits");
#define C(id) (UINT32_C(1) << CB_##id)

typedef struct slist {
    spat *items;
    size_t n;
} slist;

typedef struct cmap {
    bool want;
    ckv *exists;
    size_t n_exists;
    ckv *all;
    size_t n_all;
} cmap;

typedef struct cmaps {
    cmap *items;
    size_t n;
} cmaps;

typedef struct cpattern {
    uint64_t mask, want;
    uint32_t checks;
    uint8_t atoms[N_BYTES]; /* the codes of the word's ATOM fields, by byte */
    uint8_t effective_consistency;
    const mpp_pattern *raw;
    slist effective_source;
    FOR(CP_MEMBER)
} cpattern;

/* Every allocation a set makes, freed together. */
typedef struct owned {
    void **p;
    size_t n, cap;
} owned;

/* Take ownership of ptr (NULL is allowed and ignored). On failure ptr is freed. */
static int own(owned *o, void *ptr)
{
    if (!ptr)
        return 0;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        void **np = reallocarray(o->p, cap, sizeof(*np));
        if (!np) {
            free(ptr);
            return -ENOMEM;
        }
        o->p = np;
        o->cap = cap;
    }
    o->p[o->n++] = ptr;
    return 0;
}

static void owned_free(owned *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->p[i]);
    free(o->p);
    *o = (owned){0};
}

static void *own_calloc(owned *o, size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p || own(o, p) < 0)
        return NULL;
    return p;
}

struct mpp_pattern_set {
    owned own;
    size_t n;
    cpattern items[];
};

struct mpp_mount_set {
    owned own;
    size_t n;
    mview items[];
};

static int compile_spat(owned *o, spat *c, const mpp_string_pattern *p)
{
    char *copy;
    spat_init(c, p);
    /* Cleaned once here rather than at each match. */
    if ((c->set & SP_PATH_PREFIX) &&
        (value_prepare(&c->path_prefix, &copy) < 0 || own(o, copy) < 0))
        return -ENOMEM;
    if ((c->set & SP_PATH_PREFIX) && c->path_prefix.path == PATH_VIEW) {
        static const char ones[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
        c->path_prefix_mask = head_of(ones, c->path_prefix.cn);
    }
    if ((c->set & SP_PATH_CONTAINS) &&
        (value_prepare(&c->path_contains, &copy) < 0 || own(o, copy) < 0))
        return -ENOMEM;
    return 0;
}

static int compile_slist(owned *o, slist *out, const mpp_string_patterns *in, uint32_t bit,
                         uint32_t *checks)
{
    if (in->n == 0)
        return 0;
    out->items = own_calloc(o, in->n, sizeof(spat));
    if (!out->items)
        return -ENOMEM;
    out->n = in->n;
    for (size_t i = 0; i < in->n; i++)
        if (compile_spat(o, &out->items[i], &in->items[i]) < 0)
            return -ENOMEM;
    *checks |= bit;
    return 0;
}

static int compile_kvs(owned *o, ckv **out, const mpp_kv_pattern *in, size_t n)
{
    if (n == 0)
        return 0;
    *out = own_calloc(o, n, sizeof(ckv));
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (compile_spat(o, &(*out)[i].key, &in[i].key) < 0 ||
            compile_spat(o, &(*out)[i].value, &in[i].value) < 0)
            return -ENOMEM;
    return 0;
}

static int compile_cmaps(owned *o, cmaps *out, const mpp_strmap_patterns *in, uint32_t bit,
                         uint32_t *checks)
{
    if (in->n == 0)
        return 0;
    out->items = own_calloc(o, in->n, sizeof(cmap));
    if (!out->items)
        return -ENOMEM;
    out->n = in->n;
    for (size_t i = 0; i < in->n; i++) {
        const mpp_strmap_pattern *p = &in->items[i];
        cmap *c = &out->items[i];
        c->want = !p->not_;
        c->n_exists = p->n_exists;
        c->n_all = p->n_all;
        if (compile_kvs(o, &c->exists, p->exists, p->n_exists) < 0 ||
            compile_kvs(o, &c->all, p->all, p->n_all) < 0)
            return -ENOMEM;
    }
    *checks |= bit;
    return 0;
}

static bool stack_pattern_is_set(const mpp_stack_pattern *p)
{
    for (int op = 0; op < _MPP_STACK_OP_MAX; op++)
        if (p->op[op].n > 0 || p->not_op[op].n > 0)
            return true;
    return false;
}

static void word_atom(cpattern *c, unsigned b, uint8_t a)
{
    if (a == ATOM_UNSET)
        return;
    c->mask |= byte_at(b, 0xff);
    c->want |= byte_at(b, a);
    c->atoms[b] = a;
    if (a == ATOM_OTHER)
        c->checks |= C(OTHER_STRINGS);
}

static void word_tristate(cpattern *c, unsigned b, mpp_tristate t)
{
    if (t == MPP_UNSET)
        return;
    c->mask |= byte_at(b, 0xff);
    c->want |= byte_at(b, t != MPP_FALSE);
}

static int compile_pattern(owned *o, cpattern *c, const mpp_pattern *p)
{
    c->raw = p;
    FOR(COMPILE)
    c->effective_consistency = atom(p->effective_consistency, consistency_atoms);
    if (c->effective_consistency != ATOM_UNSET)
        c->checks |= C(effective_consistency);
    if (stack_pattern_is_set(&p->applied_middleware))
        c->checks |= C(applied_middleware);
    if (compile_slist(o, &c->effective_source, &p->effective_source, C(effective_source),
                      &c->checks) < 0)
        return -ENOMEM;
    return 0;
}

void mpp_pattern_set_free(mpp_pattern_set *s)
{
    if (!s)
        return;
    owned_free(&s->own);
    free(s);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_pattern_set *, mpp_pattern_set_free);

int mpp_pattern_set_new(const mpp_pattern *ps, size_t n, mpp_pattern_set **out, mpp_error *err)
{
    if (!out || (!ps && n > 0))
        return mpp_error_set(err, -EINVAL, "compiling patterns: no patterns given");
    /* Indexes are returned as int. */
    if (n > INT_MAX || n > (SIZE_MAX - sizeof(mpp_pattern_set)) / sizeof(cpattern))
        return mpp_error_set(err, -E2BIG, "compiling patterns: %zu patterns are too many", n);

    _cleanup_(mpp_pattern_set_freep) mpp_pattern_set *s =
        calloc(1, sizeof(mpp_pattern_set) + n * sizeof(cpattern));
    if (!s)
        return mpp_error_set(err, -ENOMEM, "compiling %zu patterns: out of memory", n);
    s->n = n;
    for (size_t i = 0; i < n; i++)
        if (compile_pattern(&s->own, &s->items[i], &ps[i]) < 0)
            return mpp_error_set(err, -ENOMEM, "compiling pattern %zu: out of memory", i);
    *out = TAKE_PTR(s);
    return 0;
}

void mpp_mount_set_free(mpp_mount_set *s)
{
    if (!s)
        return;
    owned_free(&s->own);
    free(s);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_mount_set *, mpp_mount_set_free);

/* The entries of the mount's maps, measured once. */
static int prepare_maps(owned *o, mview *mv)
{
    const mpp_mount *m = mv->m;
    const struct {
        const mpp_strmap *map;
        str **pre;
    } maps[] = {FOR(MV_MAP)};
    size_t total = 0;
    for (size_t k = 0; k < ELEMENTSOF(maps); k++)
        total += maps[k].map->n;
    if (total == 0)
        return 0;
    str *e = own_calloc(o, 2 * total, sizeof(str));
    if (!e)
        return -ENOMEM;
    for (size_t k = 0; k < ELEMENTSOF(maps); k++) {
        if (maps[k].map->n == 0)
            continue;
        *maps[k].pre = e;
        for (size_t i = 0; i < maps[k].map->n; i++) {
            const char *key = str_or_empty(maps[k].map->items[i].key);
            const char *val = str_or_empty(maps[k].map->items[i].value);
            *e++ = (str){key, strlen(key)};
            *e++ = (str){val, strlen(val)};
        }
    }
    return 0;
}

static uint64_t scalar_word(const mview *mv)
{
    const mpp_mount *m = mv->m;
    return 0 FOR(WORD);
}

int mpp_mount_set_new(const mpp_mount *ms, size_t n, mpp_mount_set **out, mpp_error *err)
{
    if (!out || (!ms && n > 0))
        return mpp_error_set(err, -EINVAL, "preparing mounts: no mounts given");
    if (n > (SIZE_MAX - sizeof(mpp_mount_set)) / sizeof(mview))
        return mpp_error_set(err, -E2BIG, "preparing mounts: %zu mounts are too many", n);

    _cleanup_(mpp_mount_set_freep) mpp_mount_set *s =
        calloc(1, sizeof(mpp_mount_set) + n * sizeof(mview));
    if (!s)
        return mpp_error_set(err, -ENOMEM, "preparing %zu mounts: out of memory", n);
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        mview *mv = &s->items[i];
        mview_init(mv, &ms[i]);
        mv->type = atom(ms[i].type, type_atoms);
        mv->word = scalar_word(mv);
        /* Lengths and cleaned paths now, so that matching does not work them out again for
         * each plugin. */
        value *vs[] = {FOR(MV_VALUE)};
        for (size_t k = 0; k < ELEMENTSOF(vs); k++) {
            char *copy;
            if (value_prepare(vs[k], &copy) < 0 || own(&s->own, copy) < 0)
                return mpp_error_set(err, -ENOMEM, "preparing mount %zu: out of memory", i);
        }
        if (prepare_maps(&s->own, mv) < 0)
            return mpp_error_set(err, -ENOMEM, "preparing mount %zu: out of memory", i);
    }
    *out = TAKE_PTR(s);
    return 0;
}

static inline __attribute__((always_inline)) bool slist_match(const slist *l, value *v)
{
    for (size_t i = 0; i < l->n; i++)
        if (!spat_match(&l->items[i], v))
            return false;
    return true;
}

static bool cmaps_match(const cmaps *c, const mpp_strmap *m, const str *pre)
{
    for (size_t i = 0; i < c->n; i++) {
        const cmap *p = &c->items[i];
        for (size_t j = 0; j < p->n_exists; j++)
            if (kv_exists(&p->exists[j], NULL, m, pre) != p->want)
                return false;
        for (size_t j = 0; j < p->n_all; j++)
            if (kv_all(&p->all[j], NULL, m, pre) != p->want)
                return false;
    }
    return true;
}

/* The fields of the word whose codes are ATOM_OTHER (the word test made the mount's OTHER too,
 * so its string is set): compare the strings. */
static bool other_strings_match(const cpattern *c, const mpp_mount *m)
{
    const mpp_pattern *p = c->raw;
    return true FOR(STRCMP);
}

/* What raw_pattern_match checks beyond the word (which the caller has tested). */
static bool cpattern_checks(const cpattern *c, mview *mv, live *l)
{
    const uint32_t k = c->checks;
    const mpp_mount *m = mv->m;

    if ((k & C(OTHER_STRINGS)) && !other_strings_match(c, m))
        return false;
    if (k & C(effective_consistency)) {
        /* Plugins change it: read from the mount each time. */
        const char *ec = consistency_or_default(m->effective_consistency);
        if (!atom_match(c->effective_consistency, c->raw->effective_consistency,
                        atom(ec, consistency_atoms), ec))
            return false;
    }
    FOR(CHECK)
    if ((k & C(effective_source)) &&
        !slist_match(&c->effective_source, live_effective_source(l, mv)))
        return false;
    if ((k & C(applied_middleware)) &&
        !mpp_stack_pattern_match(&c->raw->applied_middleware, m->applied, m->n_applied))
        return false;
    return true;
}

int mpp_pattern_set_match(const mpp_pattern_set *ps, const mpp_mount_set *ms, size_t i)
{
    if (!ps || !ms || i >= ms->n)
        return -1;
    /* The matcher takes its values writable, to note their lengths and path forms as it learns
     * them; a mount set's are all known already (mpp_mount_set_new), so nothing is written. */
    mview *mv = (mview *)&ms->items[i];
    const uint64_t word = mv->word;
    /* [mpp extension] a tmpfs mount reaches only patterns that name that type (see
     * raw_pattern_match). */
    const bool tmpfs = mv->type == ATOM_TMPFS;
    live l;
    l.effective_source = NULL;
    for (size_t k = 0; k < ps->n; k++) {
        const cpattern *c = &ps->items[k];
        if ((word & c->mask) != c->want || (tmpfs && c->atoms[B_type] != ATOM_TMPFS))
            continue;
        if (c->checks == 0 || cpattern_checks(c, mv, &l))
            return (int)k;
    }
    return -1;
}
