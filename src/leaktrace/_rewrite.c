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
 *   OP_MASK_NAME       leaktrace.masking.name (mask_name), common case only (params: the
 *                      compound surnames, see op_mask_name)
 *   OP_MASK_PHONE      leaktrace.masking.phone (mask_phone), common case only (params: two
 *                      bytes, digits kept at the head and at the tail)
 *   OP_MASK_NUMBERS    leaktrace.masking.numbers (mobile and ID numbers typed into a text;
 *                      params: six bytes, see op_mask_numbers); decides every row
 *
 * The two masking ops decide only the common case (a plain name, an ASCII 11-digit mobile)
 * and give every other row FALLBACK: the operator's own Polars rule is the definition and
 * handles the rest.
 *
 * Where the reference depends on Unicode tables this file does not carry (\d over every
 * script's digits and full Unicode upper-casing, both only in OP_ADDRESS), a row holding a
 * character outside the ranges known to be caseless and digit-free gets status FALLBACK
 * and the caller recomputes it with the Polars reference. Whitespace (\s) is the Unicode
 * White_Space property, listed exactly below. The tests compare every op with its
 * reference on generated text, so the two cannot drift apart silently.
 *
 * Input and output: Arrow string_view arrays (Polars' own layout, so no conversion either
 * way): 16-byte views and their data buffers, plus one status byte per row (OK, NULLED,
 * FALLBACK; SAME, with no output, when a value is left as it is). Null input slots are
 * processed as whatever bytes they hold; the caller re-applies validity. The GIL
 * is released while rows are rewritten, so two release threads run two batches at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    OP_CANONICAL,
    OP_NAME,
    OP_PHONE,
    OP_ADDRESS,
    OP_EMBED_ADDRESS,
    OP_EMBED_TITLE,
    OP_MASK_NAME,
    OP_MASK_PHONE,
    OP_MASK_NUMBERS,
    OP_COUNT
};
enum { ST_OK = 0, ST_NULLED = 1, ST_FALLBACK = 2, ST_SAME = 3 };

/* Room one row may use in the output: a byte becomes at most 3 (half → full-width digit,
 * [ → 【, a truncated sequence → U+FFFD), 栋 → 号楼 is 3 bytes for 3, the address embed
 * adds at most 4 (室 and a space), and enc4() stores up to 3 bytes past the text. */
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

/* ---- code-point passes ------------------------------------------------------------- */

/* Why these ops work on characters rather than bytes: their rules look at neighbouring
 * characters. The address ops walk the row once (runs of ideographs, which no rule
 * touches, are copied as they are), the title embed works on bytes too
 * (op_embed_title_bytes) and decodes the row into code points (A) for its look-ahead only
 * when that path cannot decide a row; both encode their result straight into the output
 * with enc4(), which gives exactly enc()'s bytes without a branch per length (rows switch
 * between 3-byte CJK and 1-byte digits every few characters, and a branch on the length
 * mispredicted at each switch). Every character is read with dec()'s semantics (invalid
 * bytes included), so the output is the same whichever path a character takes. */

enum {
    CP_HAO = 0x53F7,   /* 号 */
    CP_LOU = 0x697C,   /* 楼 */
    CP_DONG = 0x680B,  /* 栋 */
    CP_ZHUANG = 0x5E62, /* 幢 */
    CP_ZUO = 0x5EA7,   /* 座 */
    CP_SHI = 0x5BA4,   /* 室 */
    CP_QU = 0x533A,    /* 区 */
    CP_XIAN = 0x53BF,  /* 县 */
    CP_DAN = 0x5355,   /* 单 */
    CP_YUAN = 0x5143,  /* 元 */
    CP_LB = 0x3010,    /* 【 */
    CP_RB = 0x3011,    /* 】 */
    CP_TIMES = 0xD7,   /* × */
    CP_KELVIN = 0x212A,
};

static size_t decode_all(const uint8_t *s, size_t n, uint32_t *o)
{
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            o[m++] = s[i++];
            continue;
        }
        i += dec(s, i, n, &o[m++]);
    }
    return m;
}

/* enc() without a branch: always stores 4 bytes (the ones past the returned length are
 * overwritten by the next character or lie in the slack GROW leaves), so the output
 * needs 3 bytes of room past the encoded text. */
static inline size_t enc4(uint8_t *o, uint32_t cp)
{
    static const uint8_t lead[5] = {0, 0x00, 0xC0, 0xE0, 0xF0};
    static const uint8_t unused[5] = {0, 18, 12, 6, 0};
    size_t len = 1 + (cp >= 0x80) + (cp >= 0x800) + (cp >= 0x10000);
    uint32_t x = cp << unused[len]; /* payload at the top of a 21-bit field */
    o[0] = (uint8_t)(lead[len] | (x >> 18));
    o[1] = (uint8_t)(0x80 | ((x >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((x >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (x & 0x3F));
    return len;
}

/* Whether the encoded text ending at o + k ends with code point `cp` (3-byte, as all
 * the words the tail rules look for). enc4() output is well-formed, so 3 bytes that spell
 * a 3-byte sequence are a whole character. */
static inline int ends_with3(const uint8_t *o, size_t k, uint32_t cp)
{
    return k >= 3 && o[k - 3] == (uint8_t)(0xE0 | (cp >> 12)) &&
           o[k - 2] == (uint8_t)(0x80 | ((cp >> 6) & 0x3F)) &&
           o[k - 1] == (uint8_t)(0x80 | (cp & 0x3F));
}

/* Length of the (half- or full-width) digit the encoded text ending at o + k ends with,
 * or 0. */
static inline size_t ends_with_digit(const uint8_t *o, size_t k)
{
    if (k >= 1 && o[k - 1] >= '0' && o[k - 1] <= '9')
        return 1;
    if (k >= 3 && o[k - 3] == 0xEF && o[k - 2] == 0xBC && o[k - 1] >= 0x90 && o[k - 1] <= 0x99)
        return 3; /* U+FF10..U+FF19 */
    return 0;
}

/* The code point of the U+4E00..U+9FFF ideograph (the bulk of addresses and titles)
 * starting at s[i], or 0. Such a sequence is well-formed and dec() + enc() give it back
 * unchanged, so the address ops copy runs of them as they are. */
static inline uint32_t cjk_at(const uint8_t *s, size_t i, size_t n)
{
    if (i + 3 > n || (s[i] & 0xF0) != 0xE0 || (s[i + 1] & 0xC0) != 0x80 ||
        (s[i + 2] & 0xC0) != 0x80)
        return 0;
    uint32_t cp = ((uint32_t)(s[i] & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) |
                  (s[i + 2] & 0x3F);
    return cp - 0x4E00u <= 0x9FFFu - 0x4E00u ? cp : 0;
}

/* Width fold of canonical(): U+FF01..U+FF5E → ASCII, U+3000 → space. */
static inline uint32_t fold_width(uint32_t cp)
{
    if (cp >= 0xFF01 && cp <= 0xFF5E)
        return cp - 0xFEE0;
    return cp == 0x3000 ? 0x20 : cp;
}

/* ASCII classes for the address rules (after the width fold). */
enum { AC_DROP = 1, AC_SEP = 2, AC_DIGIT = 4, AC_LOWER = 8 };
static uint8_t ascii_class[128];

static void init_ascii_class(void)
{
    for (uint32_t c = 0; c < 128; c++)
        ascii_class[c] = (uint8_t)(((is_ws(c) || is_bracket(c)) ? AC_DROP : 0) |
                                   (is_separator(c) ? AC_SEP : 0) |
                                   (is_half_digit(c) ? AC_DIGIT : 0) |
                                   ((c >= 'a' && c <= 'z') ? AC_LOWER : 0));
}

/* canonical_address in one pass over the row: map (width fold, whitespace and brackets
 * dropped, ASCII upper-cased — single characters, and upper-casing commutes with the later
 * rules, which only look at digits, separators and CJK words), the separator rule
 * (\d)SEP+ → $1-, then the building-word and 室 rules together: a word is replaced by 栋
 * (never a digit) and digits are never replaced, so "preceded by a digit" means the same
 * before and after the word rule, and the same before and after the separator rule (a
 * separator is no digit, nor is the '-' it becomes). Returns 0 (FALLBACK) for characters
 * outside address_safe(). Why the two runs at the top of the loop: most of a row is
 * ideographs no rule touches unless a digit precedes them (copied as they are), and
 * ASCII or full-width characters that are only folded and upper-cased. */
static int op_address(const uint8_t *s, size_t n, uint8_t *out, size_t *outn)
{
    size_t i = 0, k = 0;
    int prev_digit = 0; /* the previous kept character (after the map) is a digit */
    int in_seps = 0;    /* inside a separator run that follows a digit: dropped */
    while (i < n) {
        if (!prev_digit && cjk_at(s, i, n)) {
            do {
                put(out + k, s + i, 3);
                i += 3;
                k += 3;
            } while (cjk_at(s, i, n));
            in_seps = 0;
            if (i >= n)
                break;
        }
        uint32_t cp;
        size_t len = dec(s, i, n, &cp);
        i += len;
        uint32_t f = fold_width(cp);
        if (f < 0x80 && !(ascii_class[f] & (AC_DROP | AC_SEP))) { /* kept as it is */
            uint8_t ac = ascii_class[f];
            out[k++] = (uint8_t)(ac & AC_LOWER ? f - 32 : f);
            prev_digit = (ac & AC_DIGIT) != 0;
            in_seps = 0;
            continue;
        }
        /* the rest, rule by rule */
        if (cp >= 0x80 && !address_safe(cp))
            return 0;
        cp = f;
        if (is_ws(cp) || is_bracket(cp))
            continue; /* not a character of the mapped text: no state changes */
        if (is_separator(cp)) {
            if (prev_digit) {
                out[k++] = '-';
                in_seps = 1;
            } else if (!in_seps)
                k += enc4(out + k, cp);
            prev_digit = 0;
            continue;
        }
        in_seps = 0;
        if (prev_digit) {
            prev_digit = 0;
            if (cp == CP_HAO || cp == CP_ZUO) { /* 号楼 / 座楼: the next kept character */
                size_t j = i;
                uint32_t next = 0;
                while (j < n) {
                    j += dec(s, j, n, &next);
                    uint32_t g = fold_width(next);
                    if (!is_ws(g) && !is_bracket(g))
                        break; /* (the dropped ones are all address_safe) */
                }
                if (next == CP_LOU) {
                    k += enc4(out + k, CP_DONG);
                    i = j;
                    continue;
                }
            } else if (cp == CP_DONG || cp == CP_ZHUANG) {
                k += enc4(out + k, CP_DONG);
                continue;
            } else if (cp == CP_SHI)
                continue;
        }
        k += enc4(out + k, cp);
        prev_digit = is_half_digit(cp);
    }
    *outn = k;
    return 1;
}

/* The address embed in one pass over the row, rules 1, 2 and 4 as characters come and
 * rule 3 on the encoded tail. Runs of ideographs are copied as they are (rule 2 only looks
 * at the character after a digit, rule 4 only until the first 区/县). */
static void op_embed_address(const uint8_t *s, size_t n, const int8_t *sym, uint8_t *out,
                             size_t *outn)
{
    uint32_t zero = sym[0] == 1 ? 0xFF10 : '0';
    size_t i = 0, k = 0;
    int prev_digit = 0, district = 0;
    while (i < n) {
        uint32_t cp;
        if (!prev_digit) {
            while ((cp = cjk_at(s, i, n)) != 0 && (district || (cp != CP_QU && cp != CP_XIAN))) {
                put(out + k, s + i, 3);
                i += 3;
                k += 3;
            }
            if (i >= n)
                break;
        }
        /* 1. digit width, first for runs of whole digits (either width, ASCII or
         * EF BC 90..99 as is: the common case in house numbers) */
        if ((uint8_t)(s[i] - '0') <= 9 || (i + 3 <= n && s[i] == 0xEF && s[i + 1] == 0xBC &&
                                (uint8_t)(s[i + 2] - 0x90) <= 9)) {
            do {
                uint32_t v = s[i] == 0xEF ? s[i + 2] - 0x90u : s[i] - (uint32_t)'0';
                i += s[i] == 0xEF ? 3 : 1;
                k += enc4(out + k, zero + v);
            } while (i < n && ((uint8_t)(s[i] - '0') <= 9 || (i + 3 <= n && s[i] == 0xEF && s[i + 1] == 0xBC &&
                                                  (uint8_t)(s[i + 2] - 0x90) <= 9)));
            prev_digit = 1;
            continue;
        }
        size_t len = dec(s, i, n, &cp);
        i += len;
        /* ... and the other ways to spell them (e.g. overlong bytes): ([0-9]) ↔ ([０-９]) */
        uint32_t half = cp - '0', full = cp - 0xFF10;
        if (half <= 9 || full <= 9) {
            k += enc4(out + k, zero + (half <= 9 ? half : full));
            prev_digit = 1;
            continue;
        }
        /* 2. ([0-9０-９])(?:号楼|栋|幢) → digit + word(b1) */
        if (prev_digit && (cp == CP_DONG || cp == CP_ZHUANG || cp == CP_HAO)) {
            uint32_t next = 0;
            size_t next_len = cp == CP_HAO && i < n ? dec(s, i, n, &next) : 0;
            if (cp != CP_HAO || next == CP_LOU) {
                i += cp == CP_HAO ? next_len : 0;
                if (sym[1] == 2)
                    k += enc4(out + k, CP_ZHUANG);
                else if (sym[1] == 1)
                    k += enc4(out + k, CP_DONG);
                else {
                    k += enc4(out + k, CP_HAO);
                    k += enc4(out + k, CP_LOU);
                }
                prev_digit = 0;
                continue;
            }
        }
        prev_digit = 0;
        k += enc4(out + k, cp);
        /* 4. ^([^区县]*[区县])\s* → $1 + (" " if b3). Rule 3 below neither removes nor adds
         * a 区/县 or whitespace, so doing this first gives the same text. */
        if (!district && (cp == CP_QU || cp == CP_XIAN)) {
            district = 1;
            while (i < n) {
                size_t l = dec(s, i, n, &cp);
                if (!is_ws(cp))
                    break;
                i += l;
            }
            if (sym[3] == 1)
                out[k++] = ' ';
        }
    }
    /* 3. ((?:单元|楼|栋|幢)[0-9０-９]+)室?$ → $1 + (室 if b2), on the encoded text */
    size_t end = k - (ends_with3(out, k, CP_SHI) ? 3 : 0), j = end, d;
    while ((d = ends_with_digit(out, j)) != 0)
        j -= d;
    if (j < end && ((ends_with3(out, j, CP_YUAN) && ends_with3(out, j - 3, CP_DAN)) ||
                    ends_with3(out, j, CP_LOU) || ends_with3(out, j, CP_DONG) ||
                    ends_with3(out, j, CP_ZHUANG))) {
        k = end;
        if (sym[2] == 1)
            k += enc4(out + k, CP_SHI);
    }
    *outn = k;
}

static const char *const UNITS[] = {"mah", "ml", "kg", "mm", "cm", "gb", "tb", "g", "l", "w"};

/* Whether unit `u` (lower-case ASCII) starts at A[i], in any letter case (k also as U+212A
 * KELVIN SIGN, which the reference's case-insensitive forms include); its length or 0. */
static inline size_t unit_at(const uint32_t *A, size_t i, size_t m, const char *u)
{
    size_t c = 0;
    for (; u[c]; c++) {
        if (i + c >= m)
            return 0;
        uint32_t cp = A[i + c];
        int ok = (cp < 0x80 && (cp | 0x20) == (uint32_t)u[c]) || (u[c] == 'k' && cp == CP_KELVIN);
        if (!ok)
            return 0;
    }
    return c;
}

/* Rule 3 of the title embed for the digit at A[i]: a unit right after it (the first in
 * UNITS order that matches) is rewritten in place, upper-case if `upper`. Each digit's
 * unit is decided on its own (a unit is letters, never the next digit), so applying this
 * at each digit as the final pass reaches it gives the reference's left-to-right result.
 * Only the units starting with the letter after the digit are tried (in UNITS order).
 * Returns the unit's length (0: none). */
static size_t title_unit(uint32_t *A, size_t i, size_t m, int upper)
{
    if (i + 1 >= m)
        return 0;
    uint32_t a = A[i + 1];
    uint32_t first = a == CP_KELVIN ? 'k' : a < 0x80 ? (a | 0x20) : 0;
    if (!(first == 'm' || first == 'k' || first == 'c' || first == 'g' || first == 't' ||
          first == 'l' || first == 'w'))
        return 0; /* every unit starts with one of these letters */
    for (size_t u = 0; u < sizeof UNITS / sizeof *UNITS; u++) {
        if ((uint32_t)UNITS[u][0] != first)
            continue;
        size_t ul = unit_at(A, i + 1, m, UNITS[u]);
        if (ul) {
            for (size_t c = 0; c < ul; c++)
                A[i + 1 + c] = upper ? (uint32_t)(UNITS[u][c] - 32) : (uint32_t)UNITS[u][c];
            return ul;
        }
    }
    return 0;
}

static inline int is_title_letter(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= 0xFF41 && cp <= 0xFF5A) ||
           (cp >= 0xFF21 && cp <= 0xFF3A);
}

/* noinline, like op_embed_title_bytes: inlined into the per-row dispatch, the title code
 * cost the address embed 10-15 % (bench/rewrite_bench.py), by register pressure alone. */
static __attribute__((noinline)) void op_embed_title(uint32_t *A, size_t m, const int8_t *sym,
                                                     uint8_t *out, size_t *outn)
{
    /* 1. bracket style and 2. digit width: both one character for one, branch-free */
    uint32_t zero = sym[1] == 1 ? 0xFF10 : '0';
    uint32_t from_l = sym[0] == 1 ? '[' : CP_LB, from_r = sym[0] == 1 ? ']' : CP_RB;
    uint32_t to_l = sym[0] == 1 ? CP_LB : '[', to_r = sym[0] == 1 ? CP_RB : ']';
    for (size_t i = 0; i < m; i++) {
        uint32_t cp = A[i], half = cp - '0', full = cp - 0xFF10;
        cp = cp == from_l ? to_l : cp == from_r ? to_r : cp;
        A[i] = half <= 9 ? zero + half : full <= 9 ? zero + full : cp;
    }
    /* 3. digit + unit (any case) → digit + UNIT / unit, and 4. ([0-9０-９][a-zA-Zａ-ｚＡ-Ｚ]*)
     * \s*[*×]\s*([0-9０-９]) → $1 + (× if b3 else *) + $2, in one pass: rule 3 only
     * rewrites the letters right after a digit, so it is applied at each digit before rule
     * 4 looks past it (and at the digit rule 4 jumps to). */
    size_t k = 0;
    for (size_t i = 0; i < m;) {
        if (!is_any_digit(A[i])) {
            k += enc4(out + k, A[i++]);
            continue;
        }
        title_unit(A, i, m, sym[2] == 1);
        size_t q = i + 1;
        while (q < m && is_title_letter(A[q]))
            q++;
        size_t r = q;
        while (r < m && is_ws(A[r]))
            r++;
        if (r < m && (A[r] == '*' || A[r] == CP_TIMES)) {
            size_t e = r + 1;
            while (e < m && is_ws(A[e]))
                e++;
            if (e < m && is_any_digit(A[e])) {
                while (i < q)
                    k += enc4(out + k, A[i++]);
                k += enc4(out + k, sym[3] == 1 ? CP_TIMES : '*');
                title_unit(A, e, m, sym[2] == 1);
                k += enc4(out + k, A[e]);
                i = e + 1;
                continue;
            }
        }
        k += enc4(out + k, A[i++]);
    }
    *outn = k;
}

/* The title embed on UTF-8 bytes, the path every well-formed row takes. Why: almost every
 * byte of a title is copied as it is (rules 1 and 2 map single characters, rules 3 and 4
 * only look at the few characters after a digit), and decoding whole rows into code
 * points (op_embed_title) was most of the cost. Only well-formed UTF-8 is handled here,
 * where dec() + enc4() give every character back as it is; a row with anything else, or
 * whose letters or whitespace after a digit run past TITLE_WINDOW characters, returns 0
 * and is done by op_embed_title, so the output is the same byte for byte either way. */

/* Length of the well-formed UTF-8 character at s[i] (its code point in *cp), or 0. */
static inline size_t utf8_at(const uint8_t *s, size_t i, size_t n, uint32_t *cp)
{
    uint8_t c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        if (i + 2 > n || (s[i + 1] & 0xC0) != 0x80)
            return 0;
        *cp = ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
        return 2;
    }
    if (c < 0xF0) {
        if (i + 3 > n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
            (c == 0xE0 && s[i + 1] < 0xA0))
            return 0;
        *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) |
              (s[i + 2] & 0x3F);
        return 3;
    }
    if (c > 0xF4 || i + 4 > n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
        (s[i + 3] & 0xC0) != 0x80 || (c == 0xF0 && s[i + 1] < 0x90) ||
        (c == 0xF4 && s[i + 1] > 0x8F))
        return 0;
    *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
          ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
    return 4;
}

/* Bytes that, right after a digit, start a character rules 3 and 4 cannot act on (no
 * letter, whitespace, * or ×; the character itself is checked later by the byte loop). */
static uint8_t title_plain_next[256];

static void init_title_class(void)
{
    for (uint32_t c = 0; c < 256; c++) {
        int plain;
        if (c < 0x80)
            plain = !is_title_letter(c) && !is_ws(c) && c != '*';
        else /* 0xC2 NEL/NBSP, 0xC3 ×, 0xE1-0xE3 whitespace and KELVIN, 0xEF letters */
            plain = (c >= 0xC4 && c <= 0xE0) || (c >= 0xE4 && c <= 0xEE) ||
                    (c >= 0xF0 && c <= 0xF4);
        title_plain_next[c] = (uint8_t)plain;
    }
}

#define TITLE_WINDOW 24

/* The characters from a digit on, decoded as far as rules 3 and 4 look: cp[0] is the
 * digit (already in its new width), cp[t] starts at byte pos[t], pos[m] is the end of the
 * last one. `bad`: an ill-formed character or the window is full (the row falls back). */
typedef struct {
    uint32_t cp[TITLE_WINDOW];
    size_t pos[TITLE_WINDOW + 1];
    size_t m;
    int bad;
} title_window;

/* Whether character t exists (decoding up to it); 0 at the end of the row or when bad. */
static inline int tw_has(title_window *w, const uint8_t *s, size_t n, size_t t)
{
    while (w->m <= t) {
        size_t p = w->pos[w->m], len;
        if (p >= n)
            return 0;
        if (w->m == TITLE_WINDOW || (len = utf8_at(s, p, n, &w->cp[w->m])) == 0) {
            w->bad = 1;
            return 0;
        }
        w->pos[++w->m] = p + len;
    }
    return 1;
}

/* Rules 3 and 4 at the digit (new code point `d`) at s[i..j), the same steps as
 * op_embed_title on the window: writes the digit, its unit and, when rule 4 matches, the
 * sign, the next digit and its unit; returns the byte where the loop resumes (the
 * characters before it are written), or 0 for a row op_embed_title must do. */
static size_t title_at_digit(const uint8_t *s, size_t i, size_t j, size_t n, uint32_t d,
                             uint32_t zero, const int8_t *sym, uint8_t *out, size_t *k)
{
    title_window w;
    int upper = sym[2] == 1;
    w.cp[0] = d;
    w.pos[0] = i;
    w.pos[1] = j;
    w.m = 1;
    w.bad = 0;
    tw_has(&w, s, n, 3); /* title_unit looks at up to 3 characters */
    if (w.bad)
        return 0;
    size_t ul = title_unit(w.cp, 0, w.m, upper);
    size_t q = 1;
    while (tw_has(&w, s, n, q) && is_title_letter(w.cp[q]))
        q++;
    size_t r = q;
    while (tw_has(&w, s, n, r) && is_ws(w.cp[r]))
        r++;
    if (tw_has(&w, s, n, r) && (w.cp[r] == '*' || w.cp[r] == CP_TIMES)) {
        size_t e = r + 1;
        while (tw_has(&w, s, n, e) && is_ws(w.cp[e]))
            e++;
        if (tw_has(&w, s, n, e) && is_any_digit(w.cp[e])) {
            tw_has(&w, s, n, e + 3);
            if (w.bad)
                return 0;
            size_t o = *k;
            for (size_t t = 0; t < q; t++)
                o += enc4(out + o, w.cp[t]);
            o += enc4(out + o, sym[3] == 1 ? CP_TIMES : '*');
            size_t ue = title_unit(w.cp, e, w.m, upper);
            uint32_t half = w.cp[e] - '0';
            o += enc4(out + o, zero + (half <= 9 ? half : w.cp[e] - 0xFF10));
            for (size_t t = e + 1; t <= e + ue; t++)
                out[o++] = (uint8_t)w.cp[t];
            *k = o;
            return w.pos[e + 1 + ue];
        }
    }
    if (w.bad)
        return 0;
    size_t o = *k;
    o += enc4(out + o, d);
    for (size_t t = 1; t <= ul; t++)
        out[o++] = (uint8_t)w.cp[t];
    *k = o;
    return w.pos[1 + ul];
}

/* Returns 0 when the row must be done by op_embed_title (see above). */
static __attribute__((noinline)) int op_embed_title_bytes(const uint8_t *s, size_t n,
                                                          const int8_t *sym, uint8_t *out,
                                                          size_t *outn)
{
    uint32_t zero = sym[1] == 1 ? 0xFF10 : '0';
    int full = sym[1] == 1, to_lenticular = sym[0] == 1;
    size_t i = 0, k = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t v;
        size_t j;
        if ((uint8_t)(c - 0xE4) <= 0xE9 - 0xE4 && i + 3 <= n && (s[i + 1] & 0xC0) == 0x80 &&
            (s[i + 2] & 0xC0) == 0x80) { /* runs of ideographs and the like: as they are */
            do {
                put(out + k, s + i, 3);
                k += 3;
                i += 3;
            } while (i + 3 <= n && (uint8_t)(s[i] - 0xE4) <= 0xE9 - 0xE4 &&
                     (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80);
            continue;
        }
        if (c < 0x80) {
            if ((uint8_t)(c - '0') > 9) {
                if ((c == '[' || c == ']') && to_lenticular) { /* [ ] → 【 】 */
                    out[k] = 0xE3;
                    out[k + 1] = 0x80;
                    out[k + 2] = c == '[' ? 0x90 : 0x91;
                    k += 3;
                } else
                    out[k++] = c;
                i++;
                continue;
            }
            v = c - (uint32_t)'0';
            j = i + 1;
        } else if (c >= 0xE1 && c <= 0xEF && i + 3 <= n && (s[i + 1] & 0xC0) == 0x80 &&
                   (s[i + 2] & 0xC0) == 0x80) {
            if (c == 0xEF && s[i + 1] == 0xBC && (uint8_t)(s[i + 2] - 0x90) <= 9) {
                v = s[i + 2] - 0x90u; /* U+FF10..U+FF19 */
                j = i + 3;
            } else {
                if (c == 0xE3 && s[i + 1] == 0x80 && (s[i + 2] == 0x90 || s[i + 2] == 0x91) &&
                    !to_lenticular) /* 【 】 → [ ] */
                    out[k++] = s[i + 2] == 0x90 ? '[' : ']';
                else {
                    put(out + k, s + i, 3);
                    k += 3;
                }
                i += 3;
                continue;
            }
        } else {
            uint32_t cp;
            size_t len = utf8_at(s, i, n, &cp);
            if (!len)
                return 0;
            put(out + k, s + i, len);
            k += len;
            i += len;
            continue;
        }
        /* a digit (value v) at s[i..j) */
        if (j >= n || title_plain_next[s[j]] ||
            (s[j] == 0xEF && j + 3 <= n && s[j + 1] == 0xBC && (uint8_t)(s[j + 2] - 0x90) <= 9)) {
            if (full) { /* nothing after it for rules 3 and 4 */
                out[k] = 0xEF;
                out[k + 1] = 0xBC;
                out[k + 2] = (uint8_t)(0x90 + v);
                k += 3;
            } else
                out[k++] = (uint8_t)('0' + v);
            i = j;
            continue;
        }
        i = title_at_digit(s, i, j, n, zero + v, zero, sym, out, &k);
        if (!i)
            return 0;
    }
    *outn = k;
    return 1;
}

/* ---- OP_MASK_NAME, OP_MASK_PHONE ---------------------------------------------------- */

/* mask_name's common case: at least two characters, no whitespace or separator dot
 * ([\s·•・.．]) and no compound surname at the start. Such a value keeps its first
 * character and every other character becomes one '*'. Anything else: FALLBACK.
 * `params` is a 512-byte bitmap of the surnames' first characters (code point mod 4096),
 * then the compound surnames as sorted uint64 keys (first << 32 | second): the bitmap
 * spares almost every name the binary search (which cost more than the rest of the op). */
#define NAME_BITMAP 512
static int op_mask_name(const uint8_t *s, size_t n, const uint8_t *params, size_t nparams,
                        uint8_t *out, size_t *outn)
{
    const uint8_t *bitmap = params, *pairs = params + NAME_BITMAP;
    size_t npairs = (nparams - NAME_BITMAP) / 8;
    size_t ncp = 0, first_len = 0;
    uint32_t first = 0, second = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = dec(s, i, n, &cp);
        if (is_ws(cp) || cp == 0xB7 || cp == 0x2022 || cp == 0x30FB || cp == '.' || cp == 0xFF0E)
            return ST_FALLBACK;
        if (ncp == 0) {
            first = cp;
            first_len = len;
        } else if (ncp == 1) {
            second = cp;
        }
        ncp++;
        i += len;
    }
    if (ncp < 2)
        return ST_FALLBACK;
    uint64_t key = (uint64_t)first << 32 | second;
    size_t lo = 0, hi = bitmap[(first & 4095) >> 3] & (1u << (first & 7)) ? npairs : 0;
    while (lo < hi) { /* binary search; memcpy because a bytes buffer need not be aligned */
        size_t mid = lo + (hi - lo) / 2;
        uint64_t x;
        memcpy(&x, pairs + 8 * mid, 8);
        if (x == key)
            return ST_FALLBACK;
        if (x < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    memcpy(out, s, first_len);
    memset(out + first_len, '*', ncp - 1);
    *outn = first_len + ncp - 1;
    return ST_OK;
}

/* mask_phone's common case, an ASCII 11-digit mobile (^1[0-9]{10}$): the first `head` and
 * last `tail` digits stay, the rest become '*'. Anything else: FALLBACK. */
static int op_mask_phone(const uint8_t *s, size_t n, size_t head, size_t tail, uint8_t *out,
                         size_t *outn)
{
    if (n != 11 || s[0] != '1')
        return ST_FALLBACK;
    for (size_t i = 1; i < 11; i++)
        if (s[i] < '0' || s[i] > '9')
            return ST_FALLBACK;
    memcpy(out, s, head);
    memset(out + head, '*', 11 - head - tail);
    memcpy(out + 11 - tail, s + 11 - tail, tail);
    *outn = 11;
    return ST_OK;
}

/* ---- OP_MASK_NUMBERS --------------------------------------------------------------- */

/* Mobile and 18-digit ID numbers inside a text, as leaktrace.masking.numbers defines them
 * (its Python `re` pattern is the reference): a number starts where the character before
 * it is not a digit, may carry a +86 / 0086 / 86 prefix, is laid out 3-4-4 (mobile) or
 * 6-4-4-4 (ID, the last character X allowed) with at most one separator at each layout
 * point, and is followed by a non-digit. Digits are ASCII or full-width. Found numbers
 * have their digits starred between a head and a tail kept; the scan goes on after them.
 * `params`: phone on, phone head, phone tail, ID on, ID head, ID tail. */
static inline int num_sep(uint32_t cp) /* leaktrace.pii.text.NUMBER_SEPARATORS */
{
    switch (cp) {
    case ' ': case '\t': case 0xA0: case 0xAD: case 0x2060: case 0xFEFF: case 0x202F:
    case 0x205F: case 0x3000: case '.': case 0x3002: case 0x3001: case 0xB7: case 0x30FB:
    case 0x2022: case '_': case '~': case '-': case 0x2010: case 0x2011: case 0x2012:
    case 0x2013: case 0x2014: case 0x2015: case 0x2212: case 0xFE63: case 0x30FC:
    case 0xFF70: case 0xFF0D: case 0xFF0E: case 0xFF3F: case 0xFF5E:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200D;
    }
}
static inline int dig_is(uint32_t cp, uint32_t d) { return cp == '0' + d || cp == 0xFF10 + d; }
static inline uint32_t dig_val(uint32_t cp) { return cp <= '9' ? cp - '0' : cp - 0xFF10; }
#define NUM_STAR 0x80000000u
#define NUM_CP(x) ((x) & ~NUM_STAR)

/* `count` digits from A[*j]; their indices appended to pos. */
static inline int num_digits(const uint32_t *A, size_t m, size_t *j, int count, size_t *pos,
                             int *np)
{
    for (int c = 0; c < count; c++, (*j)++) {
        if (*j >= m || !is_any_digit(NUM_CP(A[*j])))
            return 0;
        pos[(*np)++] = *j;
    }
    return 1;
}
/* Up to four separators, as many as there are (the regex's greedy {0,4}: a digit must
 * follow, and a separator is none, so taking fewer never lets a number match). */
static inline void num_sep_skip(const uint32_t *A, size_t m, size_t *j)
{
    for (int c = 0; c < 4 && *j < m && num_sep(NUM_CP(A[*j])); c++)
        (*j)++;
}
static inline int num_end(const uint32_t *A, size_t m, size_t j)
{
    return j >= m || !is_any_digit(NUM_CP(A[j]));
}

/* A mobile (kind 1) or ID (kind 2; not when `mobile_only`) at A[j]: its end, digit
 * positions and kind; 0 if none. */
static size_t num_body(const uint32_t *A, size_t m, size_t j, size_t *pos, int *kind,
                       int mobile_only)
{
    size_t k = j;
    int np = 0;
    if (k + 2 < m && dig_is(NUM_CP(A[k]), 1) && is_any_digit(NUM_CP(A[k + 1])) &&
        dig_val(NUM_CP(A[k + 1])) >= 3 && num_digits(A, m, &k, 3, pos, &np)) {
        num_sep_skip(A, m, &k);
        if (num_digits(A, m, &k, 4, pos, &np)) {
            num_sep_skip(A, m, &k);
            if (num_digits(A, m, &k, 4, pos, &np) && num_end(A, m, k)) {
                *kind = 1;
                return k;
            }
        }
    }
    k = j;
    np = 0;
    if (mobile_only || !(k < m && is_any_digit(NUM_CP(A[k])) && dig_val(NUM_CP(A[k])) >= 1))
        return 0;
    if (!num_digits(A, m, &k, 6, pos, &np))
        return 0;
    num_sep_skip(A, m, &k);
    if (!(k + 1 < m && ((dig_is(NUM_CP(A[k]), 1) && dig_is(NUM_CP(A[k + 1]), 9)) ||
                        (dig_is(NUM_CP(A[k]), 2) && dig_is(NUM_CP(A[k + 1]), 0)))))
        return 0;
    if (!num_digits(A, m, &k, 4, pos, &np))
        return 0;
    num_sep_skip(A, m, &k);
    if (!num_digits(A, m, &k, 4, pos, &np))
        return 0;
    num_sep_skip(A, m, &k);
    if (!num_digits(A, m, &k, 3, pos, &np) || k >= m)
        return 0;
    uint32_t last = NUM_CP(A[k]);
    if (!(is_any_digit(last) || last == 'X' || last == 'x' || last == 0xFF38 || last == 0xFF58))
        return 0;
    pos[np++] = k++;
    if (!num_end(A, m, k))
        return 0;
    *kind = 2;
    return k;
}

/* The number starting at A[i], prefix included, as the reference's regex finds it: each
 * prefix form in the order its alternation tries them (+86, 0086, 86, each with the
 * separators after it; a trunk 0 before a mobile), then none: at a 0 no number starts
 * without a prefix, so the reference's order (none before the trunk 0) gives the same. */
static size_t num_at(const uint32_t *A, size_t m, size_t i, size_t *pos, int *kind)
{
    for (int form = 0; form < 5; form++) {
        size_t j = i;
        if (form < 3) {
            if (form == 0) { /* + */
                if (!(j < m && (NUM_CP(A[j]) == '+' || NUM_CP(A[j]) == 0xFF0B)))
                    continue;
                j++;
            } else if (form == 1) { /* 00 */
                if (!(j + 1 < m && dig_is(NUM_CP(A[j]), 0) && dig_is(NUM_CP(A[j + 1]), 0)))
                    continue;
                j += 2;
            }
            if (!(j + 1 < m && dig_is(NUM_CP(A[j]), 8) && dig_is(NUM_CP(A[j + 1]), 6)))
                continue;
            j += 2;
            num_sep_skip(A, m, &j);
        } else if (form == 3) { /* a trunk 0, before a mobile only */
            if (!(j < m && dig_is(NUM_CP(A[j]), 0)))
                continue;
            j++;
        }
        size_t end = num_body(A, m, j, pos, kind, form == 3);
        if (end)
            return end;
    }
    return 0;
}

static int op_mask_numbers(const uint8_t *s, size_t n, const uint8_t *params, uint32_t *A,
                           uint8_t *out, size_t *outn)
{
    /* fewer than 11 digits, or no 4 in a row: no number (most values), copied as they are.
     * Counted without branches first (a full-width digit is EF BC 90..99), so that the
     * common value costs one vectorisable pass. */
    uint32_t digits = 0;
    for (size_t i = 0; i < n; i++)
        digits += (uint8_t)(s[i] - '0') < 10;
    for (size_t i = 2; i < n; i++)
        digits += (s[i - 2] == 0xEF) & (s[i - 1] == 0xBC) & ((uint8_t)(s[i] - 0x90) < 10);
    int run = 0, run4 = 0;
    for (size_t i = 0; i < n && digits >= 11 && !run4; i++) {
        uint8_t b = s[i];
        if (b >= '0' && b <= '9') {
            run4 = ++run >= 4;
        } else if (b == 0xEF && i + 2 < n && s[i + 1] == 0xBC && s[i + 2] >= 0x90 &&
                   s[i + 2] <= 0x99) {
            run4 = ++run >= 4;
            i += 2;
        } else {
            run = 0;
        }
    }
    if (!run4)
        return ST_SAME;
    size_t m = decode_all(s, n, A), pos[18];
    for (size_t i = 0; i < m;) {
        int kind = 0;
        size_t end = 0;
        uint32_t c = NUM_CP(A[i]);
        /* a number starts with a digit or a plus sign, after anything but a digit */
        if ((is_any_digit(c) || c == '+' || c == 0xFF0B) &&
            (i == 0 || !is_any_digit(NUM_CP(A[i - 1]))))
            end = num_at(A, m, i, pos, &kind);
        if (!end) {
            i++;
            continue;
        }
        size_t total = kind == 1 ? 11 : 18;
        int on = kind == 1 ? params[0] : params[3];
        size_t head = kind == 1 ? params[1] : params[4], tail = kind == 1 ? params[2] : params[5];
        if (on)
            for (size_t d = head; d + tail < total; d++)
                A[pos[d]] |= NUM_STAR;
        i = end;
    }
    size_t k = 0;
    for (size_t i = 0, c = 0; i < n; c++) {
        uint32_t cp;
        size_t len = dec(s, i, n, &cp);
        if (A[c] & NUM_STAR) {
            out[k++] = '*';
        } else {
            memcpy(out + k, s + i, len);
            k += len;
        }
        i += len;
    }
    *outn = k;
    return ST_OK;
}

/* ---- driver ------------------------------------------------------------------------ */

/* Rewrite one row into `out` (capacity GROW(n)); returns the status and sets *outn. `A`
 * is a code-point scratch array of n entries; `sym` is the row's symbols (embeds) or the
 * call's parameters (masking ops, `nsym` bytes). */
static int rewrite_row(int op, const uint8_t *s, size_t n, const int8_t *sym, size_t nsym,
                       uint32_t *A, uint8_t *out, size_t *outn)
{
    buf_t o = {out, 0};
    int st = ST_OK;
    switch (op) {
    case OP_CANONICAL:
    case OP_NAME:
        pass_canonical(s, n, &o, op == OP_NAME, 0);
        break;
    case OP_PHONE:
        st = op_phone(s, n, &o);
        break;
    case OP_ADDRESS:
        if (!op_address(s, n, out, &o.n))
            st = ST_FALLBACK;
        break;
    case OP_EMBED_ADDRESS:
        op_embed_address(s, n, sym, out, &o.n);
        break;
    case OP_MASK_NAME:
        st = op_mask_name(s, n, (const uint8_t *)sym, nsym, out, &o.n);
        break;
    case OP_MASK_PHONE:
        st = op_mask_phone(s, n, (uint8_t)sym[0], (uint8_t)sym[1], out, &o.n);
        break;
    case OP_MASK_NUMBERS:
        st = op_mask_numbers(s, n, (const uint8_t *)sym, A, out, &o.n);
        break;
    default: /* OP_EMBED_TITLE */
        if (!op_embed_title_bytes(s, n, sym, out, &o.n))
            op_embed_title(A, decode_all(s, n, A), sym, out, &o.n);
        break;
    }
    *outn = st == ST_OK ? o.n : 0;
    return st;
}

/* ---- Arrow string views ------------------------------------------------------------ */

/* An Arrow string_view row is 16 bytes: int32 length, then either the bytes themselves
 * (length <= 12, zero-padded) or a 4-byte prefix, an int32 buffer index and an int32
 * offset. This is Polars' own string layout, so columns cross to and from Polars without
 * a copy (converting to large_string and back cost more than some rewrites themselves). */
#define VIEW_INLINE 12

static inline int32_t view_len(const uint8_t *v)
{
    int32_t len;
    memcpy(&len, v, 4);
    return len;
}

static inline const uint8_t *view_data(const uint8_t *v, const uint8_t *const *bufs)
{
    int32_t len = view_len(v), idx, off;
    if (len <= VIEW_INLINE)
        return v + 4;
    memcpy(&idx, v + 8, 4);
    memcpy(&off, v + 12, 4);
    return bufs[idx] + off;
}

static inline void view_write(uint8_t *v, const uint8_t *s, int32_t len, int32_t offset)
{
    memset(v, 0, 16);
    memcpy(v, &len, 4);
    if (len <= VIEW_INLINE) {
        memcpy(v + 4, s, (size_t)len);
    } else {
        int32_t idx = 0;
        memcpy(v + 4, s, 4);
        memcpy(v + 8, &idx, 4);
        memcpy(v + 12, &offset, 4);
    }
}

/* ---- output memory ------------------------------------------------------------------ */

/* Why a pool: the text written by one call over a long column (addresses, titles) needs
 * tens of MB of room, which glibc maps afresh for every call and unmaps when Arrow lets the
 * result go, so every page of every call was faulted in again: 3,600 page faults and a
 * quarter of the time of one 200k-row address embed (perf stat, session 4). The room for
 * long outputs is kept in a small pool instead, so the next call writes into pages that are
 * already mapped. The pool is only touched with the GIL held (in rewrite() and in the
 * dealloc of Output), and holds at most POOL_MAX_BYTES. */
#define POOL_SLOTS 4
#define POOL_MIN_BYTES ((size_t)4 << 20)
#define POOL_MAX_BYTES ((size_t)128 << 20)

static struct {
    uint8_t *p;
    size_t cap;
} pool[POOL_SLOTS];
static size_t pool_bytes;

/* At least `need` bytes; their capacity in *cap. */
static uint8_t *pool_take(size_t need, size_t *cap)
{
    int best = -1;
    if (need >= POOL_MIN_BYTES)
        for (int i = 0; i < POOL_SLOTS; i++)
            if (pool[i].p && pool[i].cap >= need && (best < 0 || pool[i].cap < pool[best].cap))
                best = i;
    if (best < 0) {
        *cap = need;
        return malloc(need ? need : 1);
    }
    uint8_t *p = pool[best].p;
    *cap = pool[best].cap;
    pool_bytes -= pool[best].cap;
    pool[best].p = NULL;
    return p;
}

/* Keep a long output's room for the next call (in place of a smaller one), or free it. */
static void pool_give(uint8_t *p, size_t cap)
{
    if (cap >= POOL_MIN_BYTES && cap <= POOL_MAX_BYTES) {
        int slot = -1;
        for (int i = 0; i < POOL_SLOTS && slot < 0; i++)
            if (!pool[i].p)
                slot = i;
        if (slot < 0) { /* all taken: replace the smallest room if it is smaller */
            int small = 0;
            for (int i = 1; i < POOL_SLOTS; i++)
                if (pool[i].cap < pool[small].cap)
                    small = i;
            if (pool[small].cap < cap) {
                pool_bytes -= pool[small].cap;
                free(pool[small].p);
                pool[small].p = NULL;
                slot = small;
            }
        }
        if (slot >= 0) {
            while (pool_bytes + cap > POOL_MAX_BYTES) { /* drop the largest rooms first */
                int big = -1;
                for (int i = 0; i < POOL_SLOTS; i++)
                    if (pool[i].p && (big < 0 || pool[i].cap > pool[big].cap))
                        big = i;
                pool_bytes -= pool[big].cap;
                free(pool[big].p);
                pool[big].p = NULL;
            }
            pool[slot].p = p;
            pool[slot].cap = cap;
            pool_bytes += cap;
            return;
        }
    }
    free(p);
}

/* The text of one call's output: a read-only buffer whose memory returns to the pool. */
typedef struct {
    PyObject_HEAD
    uint8_t *p;
    size_t cap;
    Py_ssize_t len;
} Output;

static int output_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    Output *o = (Output *)self;
    return PyBuffer_FillInfo(view, self, o->p, o->len, 1, flags);
}

static void output_dealloc(PyObject *self)
{
    Output *o = (Output *)self;
    if (o->p)
        pool_give(o->p, o->cap);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs output_as_buffer = {output_getbuffer, NULL};

static PyTypeObject OutputType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "leaktrace._rewrite.Output",
    .tp_basicsize = sizeof(Output),
    .tp_dealloc = output_dealloc,
    .tp_as_buffer = &output_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Rewritten text (read-only buffer); its memory is reused by later calls.",
};

static PyObject *py_rewrite(PyObject *self, PyObject *args)
{
    (void)self;
    int op;
    Py_buffer views = {0}, symbols = {0};
    PyObject *buf_list;
    if (!PyArg_ParseTuple(args, "iy*O!y*:rewrite", &op, &views, &PyTuple_Type, &buf_list,
                          &symbols))
        return NULL;
    PyObject *result = NULL, *out_obj = NULL, *views_obj = NULL, *status_obj = NULL;
    uint32_t *scratch = NULL;
    Py_ssize_t nbufs = PyTuple_GET_SIZE(buf_list), got = 0;
    Py_buffer *bufs = calloc((size_t)nbufs + 1, sizeof(Py_buffer));
    const uint8_t **bptr = calloc((size_t)nbufs + 1, sizeof(const uint8_t *));
    int overflow = 0;

    if (!bufs || !bptr) {
        PyErr_NoMemory();
        goto done;
    }
    for (; got < nbufs; got++) {
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(buf_list, got), &bufs[got], PyBUF_SIMPLE) < 0)
            goto done;
        bptr[got] = (const uint8_t *)bufs[got].buf;
    }
    if (op < 0 || op >= OP_COUNT) {
        PyErr_SetString(PyExc_ValueError, "unknown rewrite op");
        goto done;
    }
    if (views.len % 16) {
        PyErr_SetString(PyExc_ValueError, "views must be 16 bytes per row");
        goto done;
    }
    Py_ssize_t nrows = views.len / 16;
    const uint8_t *vin = (const uint8_t *)views.buf;
    int needs_sym = op == OP_EMBED_ADDRESS || op == OP_EMBED_TITLE;
    if (needs_sym && symbols.len != nrows * 4) {
        PyErr_SetString(PyExc_ValueError, "embed ops need 4 int8 symbols per row");
        goto done;
    }
    if (op == OP_MASK_NAME && (symbols.len < NAME_BITMAP || (symbols.len - NAME_BITMAP) % 8)) {
        PyErr_SetString(PyExc_ValueError, "mask_name needs a bitmap and uint64 surname keys");
        goto done;
    }
    if (op == OP_MASK_PHONE &&
        (symbols.len != 2 || ((const uint8_t *)symbols.buf)[0] +
                                     ((const uint8_t *)symbols.buf)[1] > 11)) {
        PyErr_SetString(PyExc_ValueError, "mask_phone needs 2 bytes: head + tail <= 11");
        goto done;
    }
    if (op == OP_MASK_NUMBERS &&
        (symbols.len != 6 ||
         ((const uint8_t *)symbols.buf)[1] + ((const uint8_t *)symbols.buf)[2] > 11 ||
         ((const uint8_t *)symbols.buf)[4] + ((const uint8_t *)symbols.buf)[5] > 18)) {
        PyErr_SetString(PyExc_ValueError,
                        "mask_numbers needs 6 bytes: on, head, tail for phones, then for IDs");
        goto done;
    }
    size_t maxlen = 0, total = 0;
    for (Py_ssize_t r = 0; r < nrows; r++) {
        const uint8_t *v = vin + 16 * r;
        int32_t len = view_len(v), idx, off;
        if (len < 0) {
            PyErr_SetString(PyExc_ValueError, "negative string view length");
            goto done;
        }
        if (len > VIEW_INLINE) {
            memcpy(&idx, v + 8, 4);
            memcpy(&off, v + 12, 4);
            if (idx < 0 || idx >= nbufs || off < 0 || (Py_ssize_t)off + len > bufs[idx].len) {
                PyErr_SetString(PyExc_ValueError, "string view outside its data buffer");
                goto done;
            }
        }
        if ((size_t)len > maxlen)
            maxlen = (size_t)len;
        total += (size_t)len;
    }
    size_t cap = 3 * total + 16 * (size_t)nrows + 16;
    if (cap > (size_t)INT32_MAX) { /* view offsets are int32: the caller splits bigger input */
        PyErr_SetString(PyExc_OverflowError, "input too large for one call; split it");
        goto done;
    }
    /* Written in place: no second copy of the output. */
    {
        Output *o = PyObject_New(Output, &OutputType);
        if (o) {
            o->len = 0;
            o->p = pool_take(cap, &o->cap);
            if (!o->p) {
                o->cap = 0;
                Py_DECREF(o);
                o = NULL;
            }
        }
        out_obj = (PyObject *)o;
    }
    views_obj = PyBytes_FromStringAndSize(NULL, 16 * nrows);
    status_obj = PyBytes_FromStringAndSize(NULL, nrows);
    scratch = malloc(sizeof(uint32_t) * (maxlen + 1));
    if (!out_obj || !views_obj || !status_obj || !scratch) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    uint8_t *out = ((Output *)out_obj)->p;
    uint8_t *vout = (uint8_t *)PyBytes_AS_STRING(views_obj);
    uint8_t *status = (uint8_t *)PyBytes_AS_STRING(status_obj);
    size_t k = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < nrows; r++) {
        const uint8_t *v = vin + 16 * r;
        size_t n = (size_t)view_len(v), wrote = 0;
        if (k + GROW(n) > cap) { /* cannot happen: every row stays within GROW(n) */
            overflow = 1;
            break;
        }
        status[r] = (uint8_t)rewrite_row(
            op, view_data(v, bptr), n,
            needs_sym ? (const int8_t *)symbols.buf + 4 * r : (const int8_t *)symbols.buf,
            needs_sym ? 4 : (size_t)symbols.len, scratch, out + k, &wrote);
        view_write(vout + 16 * r, out + k, (int32_t)wrote, (int32_t)k);
        k += wrote;
    }
    Py_END_ALLOW_THREADS
    if (overflow) {
        PyErr_SetString(PyExc_RuntimeError, "rewrite output exceeded its bound");
        goto done;
    }
    ((Output *)out_obj)->len = (Py_ssize_t)k;
    result = PyTuple_Pack(3, views_obj, out_obj, status_obj);
done:
    Py_XDECREF(out_obj);
    Py_XDECREF(views_obj);
    Py_XDECREF(status_obj);
    free(scratch);
    for (Py_ssize_t i = 0; i < got; i++)
        PyBuffer_Release(&bufs[i]);
    free(bufs);
    free(bptr);
    PyBuffer_Release(&views);
    PyBuffer_Release(&symbols);
    return result;
}

static PyMethodDef methods[] = {
    {"rewrite", py_rewrite, METH_VARARGS,
     "rewrite(op, views, data_buffers, symbols) -> (views, data, status): one op over an "
     "Arrow string_view array; status per row 0 ok, 1 null, 2 recompute in Polars."},
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
    init_ascii_class();
    init_title_class();
    if (PyType_Ready(&OutputType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    static const struct {
        const char *name;
        int value;
    } consts[] = {
        {"OP_CANONICAL", OP_CANONICAL}, {"OP_NAME", OP_NAME}, {"OP_PHONE", OP_PHONE},
        {"OP_ADDRESS", OP_ADDRESS}, {"OP_EMBED_ADDRESS", OP_EMBED_ADDRESS},
        {"OP_EMBED_TITLE", OP_EMBED_TITLE}, {"OP_MASK_NAME", OP_MASK_NAME},
        {"OP_MASK_PHONE", OP_MASK_PHONE}, {"OP_MASK_NUMBERS", OP_MASK_NUMBERS}, {"OK", ST_OK}, {"NULLED", ST_NULLED},
        {"FALLBACK", ST_FALLBACK}, {"SAME", ST_SAME},
    };
    for (size_t i = 0; i < sizeof consts / sizeof *consts; i++)
        if (PyModule_AddIntConstant(m, consts[i].name, consts[i].value) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    return m;
}
