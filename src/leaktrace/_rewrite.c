/*
 * leaktrace._rewrite: the per-row text rewrites of a release in one native pass per value.
 *
 * Why: a release spends most of its time in Polars string expressions that walk the same
 * short values again and again (an address embed is four regex passes, its canonical form
 * seven). Each rewrite here is the exact byte-level equivalent of one Polars reference in
 * the package, applied pass by pass to one row at a time while it is in cache:
 *
 *   OP_CANONICAL       leaktrace.pii.text.canonical        (width fold, drop whitespace)
 *   OP_NAME            leaktrace.pii.name.normalise_name   (+ drop the middle dots ·•・)
 *   OP_PHONE           leaktrace.pii.phone.normalise_phone (null when not [0-9*]+)
 *   OP_ADDRESS         leaktrace.pii.address.canonical_address
 *   OP_EMBED_ADDRESS   leaktrace.channels.address.AddressChannel.embed (4 symbols per row)
 *   OP_EMBED_TITLE     leaktrace.channels.title.TitleChannel.embed     (4 symbols per row)
 *
 * Where the reference depends on Unicode tables this file does not carry (\d over every
 * script's digits and full Unicode upper-casing, both only in OP_ADDRESS), a row holding a
 * character outside the ranges known to be caseless and digit-free gets status FALLBACK
 * and the caller recomputes it with the Polars reference. Whitespace (\s) is the Unicode
 * White_Space property, listed exactly below. The tests compare every op with its
 * reference on generated text, so the two cannot drift apart silently.
 *
 * Input: an Arrow string array as a data buffer and int64 offsets (n + 1). Output: a new
 * data buffer, int64 offsets and one status byte per row (OK, NULLED, FALLBACK). Null input
 * slots are processed as whatever bytes they span; the caller re-applies validity. The GIL
 * is released while rows are rewritten, so two release threads run two batches at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { OP_CANONICAL, OP_NAME, OP_PHONE, OP_ADDRESS, OP_EMBED_ADDRESS, OP_EMBED_TITLE, OP_COUNT };
enum { ST_OK = 0, ST_NULLED = 1, ST_FALLBACK = 2 };

/* Worst-case growth of one pass: a byte becomes at most 3 (half → full-width digit,
 * [ → 【); a few passes add a fixed number of bytes per match. Four passes in a row. */
#define GROW(n) ((n) * 3 + 16)

typedef struct {
    uint8_t *p;
    size_t n;
} buf_t;

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* Decode one code point of valid UTF-8 (Arrow strings are valid); returns its length. */
static inline size_t dec(const uint8_t *s, size_t i, size_t n, uint32_t *cp)
{
    uint8_t c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xE0 && i + 1 < n) {
        *cp = ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
        return 2;
    }
    if (c < 0xF0 && i + 2 < n) {
        *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
        return 3;
    }
    if (i + 3 < n) {
        *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
              ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
        return 4;
    }
    *cp = 0xFFFD; /* truncated sequence: cannot happen in Arrow data */
    return n - i;
}

/* Copy one code point (1..4 bytes): a library memcpy call per character was the cost. */
static inline void put(uint8_t *o, const uint8_t *s, size_t len)
{
    o[0] = s[0];
    if (len > 1) {
        o[1] = s[1];
        if (len > 2) {
            o[2] = s[2];
            if (len > 3)
                o[3] = s[3];
        }
    }
}

static inline size_t enc(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- character classes -------------------------------------------------------------- */

/* Unicode White_Space, which is what Rust regex's \s matches. */
static inline int is_ws(uint32_t cp)
{
    if (cp < 0x80)
        return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp > 0x3000)
        return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static inline int is_half_digit(uint32_t cp) { return cp >= '0' && cp <= '9'; }
static inline int is_full_digit(uint32_t cp) { return cp >= 0xFF10 && cp <= 0xFF19; }
static inline int is_any_digit(uint32_t cp) { return is_half_digit(cp) || is_full_digit(cp); }

/* Characters with no case mapping and no Unicode digit value (other than ASCII, which is
 * handled explicitly): the alphabet OP_ADDRESS decides natively. Fullwidth forms are
 * width-folded before any case or digit rule applies. */
static inline int address_safe(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || cp < 0x80 || cp == 0xB7 || cp == 0xD7 || (cp >= 0x2010 && cp <= 0x2015) ||
           cp == 0x2022 || cp == 0x2212 || (cp >= 0x3000 && cp <= 0x303F) ||
           (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xFF01 && cp <= 0xFFEF) ||
           is_ws(cp);
}

/* ---- shared passes ----------------------------------------------------------------- */

/* canonical(): U+FF01..U+FF5E → ASCII, U+3000 → space, then every \s removed. With
 * `drop_dots` also ·•・ (normalise_name). With `check_safe` returns 0 when a character
 * outside address_safe() occurs. */
static int pass_canonical(const uint8_t *s, size_t n, buf_t *o, int drop_dots, int check_safe)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        if (s[i] < 0x80) { /* ASCII: keep unless whitespace */
            if (!is_ws(s[i]))
                o->p[k++] = s[i];
            i++;
            continue;
        }
        size_t len = dec(s, i, n, &cp);
        if (check_safe && !address_safe(cp))
            return 0;
        if (cp >= 0xFF01 && cp <= 0xFF5E)
            cp -= 0xFEE0;
        else if (cp == 0x3000)
            cp = 0x20;
        if (is_ws(cp) || (drop_dots && (cp == 0xB7 || cp == 0x2022 || cp == 0x30FB))) {
            i += len;
            continue;
        }
        if (cp < 0x80)
            o->p[k++] = (uint8_t)cp;
        else {
            put(o->p + k, s + i, len);
            k += len;
        }
        i += len;
    }
    o->n = k;
    return 1;
}

/* Digit width: every 0-9 / ０-９ to the requested width. */
static void pass_digit_width(const uint8_t *s, size_t n, buf_t *o, int full)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = dec(s, i, n, &cp);
        if (full && is_half_digit(cp))
            k += enc(o->p + k, 0xFF10 + (cp - '0'));
        else if (!full && is_full_digit(cp))
            o->p[k++] = (uint8_t)('0' + (cp - 0xFF10));
        else {
            put(o->p + k, s + i, len);
            k += len;
        }
        i += len;
    }
    o->n = k;
}

static inline int starts(const uint8_t *s, size_t i, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return i < n && s[i] == (uint8_t)lit[0] && i + m <= n && memcmp(s + i, lit, m) == 0;
}

/* ---- OP_PHONE ---------------------------------------------------------------------- */

static int op_phone(const uint8_t *s, size_t n, buf_t *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = dec(s, i, n, &cp);
        if (cp >= 0xFF01 && cp <= 0xFF5E)
            cp -= 0xFEE0;
        else if (cp == 0x3000)
            cp = 0x20;
        i += len;
        if (is_ws(cp) || cp == '-' || cp == '(' || cp == ')' || cp == '.' || cp == '/')
            continue;
        if (cp >= 0x80)
            return ST_NULLED; /* survives cleaning and is not [0-9*]: the value is junk */
        o->p[k++] = (uint8_t)cp;
    }
    size_t skip = 0;
    if (k >= 3 && memcmp(o->p, "+86", 3) == 0)
        skip = 3;
    else if (k >= 4 && memcmp(o->p, "0086", 4) == 0)
        skip = 4;
    else if (k >= 5 && memcmp(o->p, "+0086", 5) == 0)
        skip = 5;
    uint8_t *d = o->p + skip;
    size_t m = k - skip;
    /* ^86(1[3-9].{9})$ — only ASCII is left, so 13 characters are 13 bytes */
    if (m == 13 && d[0] == '8' && d[1] == '6' && d[2] == '1' && d[3] >= '3' && d[3] <= '9') {
        int newline = 0;
        for (size_t j = 4; j < 13; j++)
            newline |= d[j] == '\n';
        if (!newline) {
            d += 2;
            m -= 2;
        }
    }
    if (m == 0)
        return ST_NULLED;
    for (size_t j = 0; j < m; j++)
        if (!((d[j] >= '0' && d[j] <= '9') || d[j] == '*'))
            return ST_NULLED;
    memmove(o->p, d, m);
    o->n = m;
    return ST_OK;
}

/* ---- OP_ADDRESS -------------------------------------------------------------------- */

static inline int is_bracket(uint32_t cp)
{
    switch (cp) {
    case '(': case ')': case '[': case ']': case '{': case '}': case '<': case '>':
    case 0xFF08: case 0xFF09: case 0x3010: case 0x3011: case 0x3014: case 0x3015:
    case 0x3016: case 0x3017: case 0xFF5B: case 0xFF5D: case 0x300A: case 0x300B:
        return 1;
    default:
        return 0;
    }
}

static inline int is_separator(uint32_t cp)
{
    switch (cp) {
    case '#': case 0x2014: case 0x2013: case 0x2015: case 0x2010: case 0x2011: case 0x2212:
    case 0xFF0D: case '~': case 0xFF5E: case '-':
        return 1;
    default:
        return 0;
    }
}

/* After pass_canonical (so only ASCII digits are \d digits: address_safe() excluded the
 * others): brackets dropped; a separator run after a digit → '-'; N号楼/N栋/N幢/N座楼 →
 * N栋; N室 → N; ASCII upper-cased. Each step is its own pass, as in the reference. */
static void op_address_tail(buf_t *a, buf_t *b)
{
    const uint8_t *s = a->p;
    size_t n = a->n, k = 0;
    for (size_t i = 0; i < n;) { /* brackets */
        uint32_t cp;
        size_t len = dec(s, i, n, &cp);
        if (!is_bracket(cp)) {
            put(b->p + k, s + i, len);
            k += len;
        }
        i += len;
    }
    b->n = k;

    s = b->p, n = b->n, k = 0; /* separators after a digit */
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = dec(s, i, n, &cp);
        if (is_separator(cp) && i > 0 && is_half_digit(s[i - 1])) {
            a->p[k++] = '-';
            i += len;
            while (i < n) {
                len = dec(s, i, n, &cp);
                if (!is_separator(cp))
                    break;
                i += len;
            }
            continue;
        }
        put(a->p + k, s + i, len);
        k += len;
        i += len;
    }
    a->n = k;

    s = a->p, n = a->n, k = 0; /* building word after a digit → 栋 */
    for (size_t i = 0; i < n;) {
        if (i > 0 && is_half_digit(s[i - 1])) {
            size_t w = starts(s, i, n, "号楼") ? 6
                       : (starts(s, i, n, "栋") || starts(s, i, n, "幢")) ? 3
                       : starts(s, i, n, "座楼") ? 6 : 0;
            if (w) {
                memcpy(b->p + k, "栋", 3);
                k += 3;
                i += w;
                continue;
            }
        }
        b->p[k++] = s[i++];
    }
    b->n = k;

    s = b->p, n = b->n, k = 0; /* 室 after a digit dropped; ASCII upper-cased */
    for (size_t i = 0; i < n;) {
        if (i > 0 && is_half_digit(s[i - 1]) && starts(s, i, n, "室")) {
            i += 3;
            continue;
        }
        uint8_t c = s[i++];
        a->p[k++] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
    }
    a->n = k;
}

/* ---- OP_EMBED_ADDRESS -------------------------------------------------------------- */

/* Code point that ends just before byte i (i > 0). */
static inline uint32_t prev_cp(const uint8_t *s, size_t i)
{
    size_t j = i - 1;
    while (j > 0 && (s[j] & 0xC0) == 0x80)
        j--;
    uint32_t cp;
    dec(s, j, i, &cp);
    return cp;
}

static void op_embed_address(const uint8_t *s, size_t n, const int8_t *sym, buf_t *a, buf_t *b)
{
    /* 1. digit width */
    pass_digit_width(s, n, a, sym[0] == 1);

    /* 2. ([0-9０-９])(?:号楼|栋|幢) → digit + word(b1) */
    const char *word = sym[1] == 2 ? "幢" : sym[1] == 1 ? "栋" : "号楼";
    size_t wl = strlen(word), k = 0;
    const uint8_t *t = a->p;
    size_t m = a->n;
    for (size_t i = 0; i < m;) {
        size_t w = starts(t, i, m, "号楼") ? 6
                   : (starts(t, i, m, "栋") || starts(t, i, m, "幢")) ? 3 : 0;
        if (w && i > 0 && is_any_digit(prev_cp(t, i))) {
            {
                memcpy(b->p + k, word, wl);
                k += wl;
                i += w;
                continue;
            }
        }
        b->p[k++] = t[i++];
    }
    b->n = k;

    /* 3. ((?:单元|楼|栋|幢)[0-9０-９]+)室?$ → $1 + (室 if b2) */
    t = b->p, m = b->n;
    size_t end = m;
    if (end >= 3 && memcmp(t + end - 3, "室", 3) == 0)
        end -= 3;
    size_t j = end;
    while (j > 0) {
        uint32_t cp = prev_cp(t, j);
        if (!is_any_digit(cp))
            break;
        j -= cp < 0x80 ? 1 : 3;
    }
    int room = j < end && ((j >= 6 && memcmp(t + j - 6, "单元", 6) == 0) ||
                           (j >= 3 && (memcmp(t + j - 3, "楼", 3) == 0 ||
                                       memcmp(t + j - 3, "栋", 3) == 0 ||
                                       memcmp(t + j - 3, "幢", 3) == 0)));
    if (room) {
        memcpy(a->p, t, end);
        k = end;
        if (sym[2] == 1) {
            memcpy(a->p + k, "室", 3);
            k += 3;
        }
    } else {
        memcpy(a->p, t, m);
        k = m;
    }
    a->n = k;

    /* 4. ^([^区县]*[区县])\s* → $1 + (" " if b3) */
    t = a->p, m = a->n, k = 0;
    size_t i = 0, cut = SIZE_MAX;
    while (i < m) {
        uint32_t cp;
        size_t len = dec(t, i, m, &cp);
        i += len;
        if (cp == 0x533A || cp == 0x53BF) { /* 区 县 */
            cut = i;
            break;
        }
    }
    if (cut == SIZE_MAX) {
        memcpy(b->p, t, m);
        b->n = m;
        return;
    }
    size_t rest = cut;
    while (rest < m) {
        uint32_t cp;
        size_t len = dec(t, rest, m, &cp);
        if (!is_ws(cp))
            break;
        rest += len;
    }
    memcpy(b->p, t, cut);
    k = cut;
    if (sym[3] == 1)
        b->p[k++] = ' ';
    memcpy(b->p + k, t + rest, m - rest);
    b->n = k + (m - rest);
}

/* ---- OP_EMBED_TITLE ---------------------------------------------------------------- */

static const char *const UNITS[] = {"mah", "ml", "kg", "mm", "cm", "gb", "tb", "g", "l", "w"};

/* Length in bytes of unit `u` at t[i] in any letter case (k also as U+212A KELVIN SIGN),
 * or 0. */
static size_t unit_at(const uint8_t *t, size_t i, size_t m, const char *u)
{
    size_t start = i;
    for (const char *c = u; *c; c++) {
        if (i < m && (t[i] | 0x20) == (uint8_t)*c && t[i] < 0x80) {
            i++;
            continue;
        }
        if (*c == 'k' && i + 3 <= m && t[i] == 0xE2 && t[i + 1] == 0x84 && t[i + 2] == 0xAA) {
            i += 3;
            continue;
        }
        return 0;
    }
    return i - start;
}

static inline int is_title_letter(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= 0xFF41 && cp <= 0xFF5A) ||
           (cp >= 0xFF21 && cp <= 0xFF3A);
}

static void op_embed_title(const uint8_t *s, size_t n, const int8_t *sym, buf_t *a, buf_t *b)
{
    /* 1. bracket style */
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (sym[0] == 1 && (s[i] == '[' || s[i] == ']')) {
            memcpy(a->p + k, s[i] == '[' ? "【" : "】", 3);
            k += 3;
            i++;
        } else if (sym[0] != 1 && (starts(s, i, n, "【") || starts(s, i, n, "】"))) {
            a->p[k++] = starts(s, i, n, "【") ? '[' : ']';
            i += 3;
        } else
            a->p[k++] = s[i++];
    }
    a->n = k;

    /* 2. digit width */
    pass_digit_width(a->p, a->n, b, sym[1] == 1);

    /* 3. digit + unit (any case) → digit + UNIT / unit; leftmost, first unit in order */
    const uint8_t *t = b->p;
    size_t m = b->n;
    k = 0;
    for (size_t i = 0; i < m;) {
        uint32_t cp;
        size_t len = dec(t, i, m, &cp);
        put(a->p + k, t + i, len);
        k += len;
        i += len;
        if (!is_any_digit(cp))
            continue;
        for (size_t u = 0; u < sizeof UNITS / sizeof *UNITS; u++) {
            size_t ul = unit_at(t, i, m, UNITS[u]);
            if (ul) {
                for (const char *c = UNITS[u]; *c; c++)
                    a->p[k++] = sym[2] == 1 ? (uint8_t)(*c - 32) : (uint8_t)*c;
                i += ul;
                break;
            }
        }
    }
    a->n = k;

    /* 4. ([0-9０-９][a-zA-Zａ-ｚＡ-Ｚ]*)\s*[*×]\s*([0-9０-９]) → $1 + (× if b3 else *) + $2 */
    t = a->p, m = a->n, k = 0;
    for (size_t i = 0; i < m;) {
        uint32_t cp;
        size_t len = dec(t, i, m, &cp);
        if (is_any_digit(cp)) {
            size_t q = i + len, r, e;
            uint32_t c2;
            while (q < m && (len = dec(t, q, m, &c2), is_title_letter(c2)))
                q += len;
            r = q;
            while (r < m && (len = dec(t, r, m, &c2), is_ws(c2)))
                r += len;
            if (r < m && (len = dec(t, r, m, &c2), c2 == '*' || c2 == 0xD7)) {
                e = r + len;
                while (e < m && (len = dec(t, e, m, &c2), is_ws(c2)))
                    e += len;
                if (e < m && (len = dec(t, e, m, &c2), is_any_digit(c2))) {
                    memcpy(b->p + k, t + i, q - i);
                    k += q - i;
                    if (sym[3] == 1) {
                        memcpy(b->p + k, "×", 2);
                        k += 2;
                    } else
                        b->p[k++] = '*';
                    memcpy(b->p + k, t + e, len);
                    k += len;
                    i = e + len;
                    continue;
                }
            }
            len = dec(t, i, m, &cp);
        }
        put(b->p + k, t + i, len);
        k += len;
        i += len;
    }
    b->n = k;
}

/* ---- driver ------------------------------------------------------------------------ */

/* Rewrite one row into `out` (capacity GROW(n)); returns the status. `a`, `b` are scratch
 * buffers of the same capacity. */
static int rewrite_row(int op, const uint8_t *s, size_t n, const int8_t *sym, buf_t *a, buf_t *b,
                       buf_t **result)
{
    switch (op) {
    case OP_CANONICAL:
    case OP_NAME:
        pass_canonical(s, n, a, op == OP_NAME, 0);
        *result = a;
        return ST_OK;
    case OP_PHONE:
        *result = a;
        return op_phone(s, n, a);
    case OP_ADDRESS:
        if (!pass_canonical(s, n, a, 0, 1))
            return ST_FALLBACK;
        op_address_tail(a, b);
        *result = a;
        return ST_OK;
    case OP_EMBED_ADDRESS:
        op_embed_address(s, n, sym, a, b);
        *result = b;
        return ST_OK;
    default: /* OP_EMBED_TITLE */
        op_embed_title(s, n, sym, a, b);
        *result = b;
        return ST_OK;
    }
}

static PyObject *py_rewrite(PyObject *self, PyObject *args)
{
    (void)self;
    int op;
    Py_buffer data = {0}, offsets = {0}, symbols = {0};
    if (!PyArg_ParseTuple(args, "iy*y*y*:rewrite", &op, &data, &offsets, &symbols))
        return NULL;
    PyObject *result = NULL;
    uint8_t *out = NULL, *status = NULL, *scratch = NULL;
    int64_t *out_off = NULL;
    int nomem = 0;

    if (op < 0 || op >= OP_COUNT) {
        PyErr_SetString(PyExc_ValueError, "unknown rewrite op");
        goto done;
    }
    if (offsets.len < (Py_ssize_t)sizeof(int64_t) || offsets.len % sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "offsets must be int64 with n + 1 entries");
        goto done;
    }
    Py_ssize_t nrows = offsets.len / (Py_ssize_t)sizeof(int64_t) - 1;
    const int64_t *off = (const int64_t *)offsets.buf;
    int needs_sym = op == OP_EMBED_ADDRESS || op == OP_EMBED_TITLE;
    if (needs_sym && symbols.len != nrows * 4) {
        PyErr_SetString(PyExc_ValueError, "embed ops need 4 int8 symbols per row");
        goto done;
    }
    size_t maxlen = 0;
    for (Py_ssize_t r = 0; r < nrows; r++) {
        if (off[r] < 0 || off[r + 1] < off[r] || off[r + 1] > data.len) {
            PyErr_SetString(PyExc_ValueError, "offsets out of range of the data buffer");
            goto done;
        }
        size_t len = (size_t)(off[r + 1] - off[r]);
        if (len > maxlen)
            maxlen = len;
    }
    size_t total = (size_t)(off[nrows] - off[0]);
    size_t cap = total * 3 + 16 * (size_t)nrows + 16;
    out = malloc(cap);
    out_off = malloc(sizeof(int64_t) * (size_t)(nrows + 1));
    status = malloc((size_t)nrows + 1);
    scratch = malloc(2 * GROW(maxlen));
    if (!out || !out_off || !status || !scratch) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    buf_t a = {scratch, 0}, b = {scratch + GROW(maxlen), 0};
    size_t k = 0;
    out_off[0] = 0;
    for (Py_ssize_t r = 0; r < nrows; r++) {
        const uint8_t *s = (const uint8_t *)data.buf + off[r];
        size_t n = (size_t)(off[r + 1] - off[r]);
        buf_t *res = &a;
        int st = rewrite_row(op, s, n, needs_sym ? (const int8_t *)symbols.buf + 4 * r : NULL, &a,
                             &b, &res);
        status[r] = (uint8_t)st;
        if (st == ST_OK) {
            if (k + res->n > cap) { /* cannot happen with the growth bound; stay safe */
                nomem = 1;
                break;
            }
            memcpy(out + k, res->p, res->n);
            k += res->n;
        }
        out_off[r + 1] = (int64_t)k;
    }
    Py_END_ALLOW_THREADS
    if (nomem) {
        PyErr_SetString(PyExc_RuntimeError, "rewrite output exceeded its bound");
        goto done;
    }
    result = Py_BuildValue("(y#y#y#)", (const char *)out, (Py_ssize_t)out_off[nrows],
                           (const char *)out_off, (Py_ssize_t)(sizeof(int64_t) * (nrows + 1)),
                           (const char *)status, nrows);
done:
    free(out);
    free(out_off);
    free(status);
    free(scratch);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&symbols);
    return result;
}

static PyMethodDef methods[] = {
    {"rewrite", py_rewrite, METH_VARARGS,
     "rewrite(op, data, offsets, symbols) -> (data, offsets, status): one op over an Arrow "
     "string array (int64 offsets); status per row 0 ok, 1 null, 2 recompute in Polars."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "leaktrace._rewrite",
    "Native per-row text rewrites of a release (see _rewrite.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__rewrite(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    static const struct {
        const char *name;
        int value;
    } consts[] = {
        {"OP_CANONICAL", OP_CANONICAL}, {"OP_NAME", OP_NAME}, {"OP_PHONE", OP_PHONE},
        {"OP_ADDRESS", OP_ADDRESS}, {"OP_EMBED_ADDRESS", OP_EMBED_ADDRESS},
        {"OP_EMBED_TITLE", OP_EMBED_TITLE}, {"OK", ST_OK}, {"NULLED", ST_NULLED},
        {"FALLBACK", ST_FALLBACK},
    };
    for (size_t i = 0; i < sizeof consts / sizeof *consts; i++)
        if (PyModule_AddIntConstant(m, consts[i].name, consts[i].value) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    return m;
}
