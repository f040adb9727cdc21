/*
 * leaktrace._ff1: FF1 (NIST SP 800-38G) over an Arrow string array, with AES-NI.
 *
 * Why: a release aliases every order number with FF1 (leaktrace.fpe). The numpy batch path
 * costs ~0.4 s per 1M 16-19-digit ids, about as much as reading and writing the whole
 * release. Here each row costs ten AES block encryptions plus a little 64-bit arithmetic.
 *
 * What it computes is exactly `FF1._crypt_group` of fpe.py, for every valid row whose length
 * n has radix**v < 2**64 (v = n - n // 2; radix 10: n <= 38). For those lengths b <= 8 and
 * d <= 12, so NUM(A), NUM(B) and radix**m fit in a uint64, only the last block of P || Q
 * differs per row (the CBC-MAC over the shared prefix is computed once per length and
 * tweak), and y = NUM(R[:d]) < 2**96 needs no extra blocks. y mod radix**m is an exact
 * division by an invariant divisor (multiply-high by a precomputed magic number, and the
 * Moller-Granlund 2-by-1 step for the 96-bit case), without data-dependent branches.
 *
 * How: rows are queued per length and go through the rounds BATCH at a time, so a batch
 * shares its constants and loop counts and its independent AES chains interleave: in
 * 128-bit registers, LANES rows at a time (AES-NI), or, where the CPU has VAES and AVX-512,
 * in 512-bit vectors (8 rows per vector, four AES blocks per instruction). NUM/STR of radix
 * 10 use SWAR digit tricks. The GIL is released during the work. Longer rows are copied
 * unchanged and left to the caller; on a row that is too short or has a character outside
 * the alphabet the function returns None and the caller's reference path raises the error.
 *
 * AES-NI and VAES are used through function attributes and chosen at run time with cpuid,
 * so the module imports on every CPU; without AES-NI (or off x86-64) has_aesni() is False
 * and crypt_arrow() raises RuntimeError. Plain CPython C API, no dependency beyond libc.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__SIZEOF_INT128__) &&                                       \
    (defined(__GNUC__) || defined(__clang__)) && !defined(LT_NO_AESNI)
#define LT_HAVE_AESNI_CODE 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define LT_HAVE_AESNI_CODE 0
#endif
/* The VAES / AVX-512 variant needs a compiler that knows those targets (GCC 8, clang 7). */
#if LT_HAVE_AESNI_CODE && !defined(LT_NO_WIDE) &&                                             \
    ((defined(__clang__) && __clang_major__ >= 7) ||                                          \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 8))
#define LT_HAVE_WIDE_CODE 1
#else
#define LT_HAVE_WIDE_CODE 0
#endif

#define FF1_ROUNDS 10
#define LANES 8  /* rows per AES-NI (128-bit) batch */
#define GROUPS 4 /* 8-row vectors per VAES batch */
#define BATCH (8 * GROUPS)
#define MAX_LEN_TABLE 128 /* radix 2: v <= 63, so n <= 127 */

#if LT_HAVE_AESNI_CODE
#define LT_AESNI_TARGET __attribute__((target("aes,sse4.1")))

static const char ALPHABET[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* ---------------------------------------------------------------- AES key expansion */

/* SubWord of FIPS-197 with the AES unit: with the word in all four columns ShiftRows is a
 * no-op, so AESENCLAST with a zero round key is SubBytes alone (no table, no key-dependent
 * memory access). */
LT_AESNI_TARGET static uint32_t sub_word(uint32_t w)
{
    __m128i x = _mm_aesenclast_si128(_mm_set1_epi32((int)w), _mm_setzero_si128());
    return (uint32_t)_mm_cvtsi128_si32(x);
}

/* FIPS-197 KeyExpansion; round key r is bytes rk[16r .. 16r+15] (the AES-NI layout). Words
 * are read little-endian, so byte 0 of a word is its low byte. Returns the number of rounds
 * (10, 12 or 14). */
LT_AESNI_TARGET static int aes_expand_key(const uint8_t *key, size_t keylen,
                                          uint8_t rk[15 * 16])
{
    int nk = (int)(keylen / 4), nr = nk + 6, total = 4 * (nr + 1);
    uint32_t w[60], rcon = 1;
    memcpy(w, key, keylen);
    for (int i = nk; i < total; i++) {
        uint32_t t = w[i - 1];
        if (i % nk == 0) {
            t = sub_word((t >> 8) | (t << 24)) ^ rcon; /* RotWord, SubWord, Rcon */
            rcon = ((rcon << 1) ^ ((rcon & 0x80) ? 0x1b : 0)) & 0xff;
        } else if (nk > 6 && i % nk == 4) {
            t = sub_word(t);
        }
        w[i] = w[i - nk] ^ t;
    }
    memcpy(rk, w, (size_t)total * 4);
    memset(w, 0, sizeof w);
    return nr;
}

/* ---------------------------------------------------------------- y mod M */

__extension__ typedef unsigned __int128 u128;

/* Division by an invariant modulus M (2 <= M < 2**64), set up once per length:
 *  - y < 2**64: q = floor(y / M) by multiply-high with magic and shift (Granlund &
 *    Montgomery 1994, fig. 4.1: l = ceil(log2 M), magic = floor(2**64 (2**l - M) / M) + 1);
 *  - a two-word numerator u1:u0 with u1 < M << s (s = clz(M)): Moller & Granlund 2011,
 *    algorithm 4, with inv = floor((2**128 - 1) / dn) - 2**64 for dn = M << s.
 * Both are exact for every input in range; the corrections are branch-free because they
 * depend on random data. */
typedef struct {
    uint64_t m, magic, dn, inv;
    unsigned sh, s; /* sh = l - 1 */
} reducer_t;

static void reducer_init(reducer_t *r, uint64_t m)
{
    unsigned l = 64 - (unsigned)__builtin_clzll(m - 1); /* m >= 2, so 1 <= l <= 64 */
    u128 two_l = (u128)1 << l;
    r->m = m;
    r->sh = l - 1;
    r->magic = (uint64_t)((((u128)(uint64_t)(two_l - m)) << 64) / m + 1);
    r->s = (unsigned)__builtin_clzll(m);
    r->dn = m << r->s;
    r->inv = (uint64_t)((((u128)~r->dn) << 64 | (u128)UINT64_MAX) / r->dn);
}

/* y mod M for any y < 2**64 */
static inline __attribute__((always_inline)) uint64_t mod64(uint64_t y, const reducer_t *r)
{
    uint64_t t = (uint64_t)(((u128)r->magic * y) >> 64);
    uint64_t q = (t + ((y - t) >> 1)) >> r->sh;
    return y - q * r->m;
}

/* (u1 * 2**64 + u0) mod dn, for u1 < dn */
static inline __attribute__((always_inline)) uint64_t rem_2by1(uint64_t u1, uint64_t u0,
                                                               const reducer_t *r)
{
    u128 q = (u128)r->inv * u1 + ((u128)u1 << 64 | u0);
    uint64_t q1 = (uint64_t)(q >> 64) + 1, q0 = (uint64_t)q;
    uint64_t rem = u0 - q1 * r->dn;
    rem += r->dn & (0 - (uint64_t)(rem > q0));
    rem -= r->dn & (0 - (uint64_t)(rem >= r->dn));
    return rem;
}

/* (hi * 2**32 + lo32) mod M for any hi < 2**64, lo32 < 2**32: hi mod M first, then the
 * remaining value (hi mod M) * 2**32 + lo32 < M * 2**32, which fits one word when
 * M <= 2**32 and otherwise, shifted left by s (< 32), is a two-word u1:u0 with u1 < dn. */
static inline __attribute__((always_inline)) uint64_t mod96(uint64_t hi, uint64_t lo32,
                                                            const reducer_t *r)
{
    uint64_t r0 = mod64(hi, r);
    if (r->m <= ((uint64_t)1 << 32))
        return mod64((r0 << 32) | lo32, r);
    unsigned s = r->s; /* < 32 */
    return rem_2by1(r0 >> (32 - s), (r0 << (32 + s)) | (lo32 << s), r) >> s;
}

/* ---------------------------------------------------------------- per-length setup */

typedef struct {
    int state; /* 0 not yet computed, 1 ready */
    int u, v, b, d;
    reducer_t red[2]; /* modulo radix**u (even rounds), radix**v (odd rounds) */
    uint8_t base[FF1_ROUNDS][16]; /* CBC-MAC state XOR last Q block, with [i] in it */
} lenparam_t;

/* radix**e, or 0 when it is >= 2**64 */
static uint64_t pow_u64(uint64_t radix, int e)
{
    uint64_t x = 1;
    for (int k = 0; k < e; k++) {
        if (x > UINT64_MAX / radix)
            return 0;
        x *= radix;
    }
    return x;
}

static int bytes_for(uint64_t maxval) /* ceil(bit length / 8), as b in SP 800-38G */
{
    int bits = maxval ? 64 - __builtin_clzll(maxval) : 0;
    return (bits + 7) / 8;
}

/* Arithmetic part of the per-length table; the base blocks need AES and come later.
 * Returns 0, or -1 when radix**v >= 2**64. */
static int lenparam_arith(lenparam_t *lp, uint64_t radix, int n)
{
    lp->u = n / 2;
    lp->v = n - lp->u;
    uint64_t mu = pow_u64(radix, lp->u), mv = pow_u64(radix, lp->v);
    if (mu == 0 || mv == 0)
        return -1;
    lp->b = bytes_for(mv - 1);
    lp->d = 4 * ((lp->b + 3) / 4) + 4;
    reducer_init(&lp->red[0], mu);
    reducer_init(&lp->red[1], mv);
    lp->state = 0;
    return 0;
}

/* Q[start .. start + 16) with the round number and NUM(B) still zero, for
 * Q = tweak || 0^pad || [i] || NUM(B): the tweak's bytes there, zeros after it. */
static inline void q_block(const uint8_t *tweak, size_t t, size_t start, uint8_t out[16])
{
    memset(out, 0, 16);
    if (start < t)
        memcpy(out, tweak + start, t - start < 16 ? t - start : 16);
}

LT_AESNI_TARGET static inline __attribute__((always_inline)) __m128i
aes_block(__m128i x, const __m128i *rk, int nr)
{
    x = _mm_xor_si128(x, rk[0]);
    for (int r = 1; r < nr; r++)
        x = _mm_aesenc_si128(x, rk[r]);
    return _mm_aesenclast_si128(x, rk[nr]);
}

LT_AESNI_TARGET static void lenparam_blocks(lenparam_t *lp, uint64_t radix, int n,
                                            const uint8_t *tweak, size_t t, const __m128i *rk,
                                            int nr)
{
    uint8_t p[16], blk[16];
    p[0] = 1;
    p[1] = 2;
    p[2] = 1;
    p[3] = (uint8_t)(radix >> 16);
    p[4] = (uint8_t)(radix >> 8);
    p[5] = (uint8_t)radix;
    p[6] = 10;
    p[7] = (uint8_t)(lp->u % 256);
    p[8] = (uint8_t)((uint32_t)n >> 24);
    p[9] = (uint8_t)((uint32_t)n >> 16);
    p[10] = (uint8_t)((uint32_t)n >> 8);
    p[11] = (uint8_t)n;
    p[12] = (uint8_t)((uint64_t)t >> 24);
    p[13] = (uint8_t)((uint64_t)t >> 16);
    p[14] = (uint8_t)((uint64_t)t >> 8);
    p[15] = (uint8_t)t;
    __m128i y = aes_block(_mm_loadu_si128((const __m128i *)p), rk, nr);
    size_t b = (size_t)lp->b;
    size_t pad = (16 - (t + b + 1) % 16) % 16;
    size_t qlen = t + pad + 1 + b; /* a multiple of 16 */
    for (size_t start = 0; start + 16 < qlen; start += 16) {
        q_block(tweak, t, start, blk);
        y = aes_block(_mm_xor_si128(y, _mm_loadu_si128((const __m128i *)blk)), rk, nr);
    }
    q_block(tweak, t, qlen - 16, blk);
    y = _mm_xor_si128(y, _mm_loadu_si128((const __m128i *)blk));
    for (int i = 0; i < FF1_ROUNDS; i++) {
        _mm_storeu_si128((__m128i *)lp->base[i], y);
        lp->base[i][15 - b] ^= (uint8_t)i;
    }
    lp->state = 1;
}

/* ---------------------------------------------------------------- the Feistel rounds */

/* y mod radix**m for y = NUM(R[:d]) (d = 8 or 12) of the AES output S */
#define Y_MOD(D12, S, RED)                                                                    \
    __extension__({                                                                           \
        uint64_t q0_ = __builtin_bswap64((uint64_t)_mm_cvtsi128_si64(S));                     \
        uint64_t y_;                                                                          \
        if (D12)                                                                              \
            y_ = mod96(q0_, __builtin_bswap32((uint32_t)_mm_extract_epi32((S), 2)), (RED));   \
        else                                                                                  \
            y_ = mod64(q0_, (RED));                                                           \
        y_;                                                                                   \
    })

/* The ten rounds over LANES rows of one length: A, B are NUM of the two halves (radix**u,
 * radix**v), updated in place. Lanes share the per-length constants and their AES chains
 * are independent, so they interleave. */
LT_AESNI_TARGET static inline __attribute__((always_inline)) void
feistel_batch_t(const lenparam_t *lp, uint64_t *A, uint64_t *B, const __m128i *rk, int nr,
                const int decrypt, const int d12)
{
    for (int k = 0; k < FF1_ROUNDS; k++) {
        const int i = decrypt ? FF1_ROUNDS - 1 - k : k;
        const reducer_t red = lp->red[i & 1]; /* m = u for even rounds, v for odd ones */
        const uint64_t m = red.m;
        const __m128i base =
            _mm_xor_si128(_mm_loadu_si128((const __m128i *)lp->base[i]), rk[0]);
        __m128i s[LANES];
        for (int l = 0; l < LANES; l++) {
            uint64_t x = decrypt ? A[l] : B[l]; /* NUM(B) as the last b bytes, big-endian */
            s[l] = _mm_xor_si128(base, _mm_set_epi64x((long long)__builtin_bswap64(x), 0));
        }
        for (int r = 1; r < nr; r++) {
            const __m128i key = rk[r];
            for (int l = 0; l < LANES; l++)
                s[l] = _mm_aesenc_si128(s[l], key);
        }
        for (int l = 0; l < LANES; l++)
            s[l] = _mm_aesenclast_si128(s[l], rk[nr]);
        for (int l = 0; l < LANES; l++) {
            uint64_t y = Y_MOD(d12, s[l], &red);
            uint64_t a = A[l], b = B[l], c;
            if (decrypt) { /* C = (B - y) mod m; A, B = C, A */
                c = b - y;
                c += m & (0 - (uint64_t)(b < y));
                B[l] = a;
                A[l] = c;
            } else { /* C = (A + y) mod m, where A + y < 2m may pass 2**64; A, B = B, C */
                c = a + y;
                c -= m & (0 - (uint64_t)((c < a) | (c >= m)));
                A[l] = b;
                B[l] = c;
            }
        }
    }
}

LT_AESNI_TARGET static void feistel_batch(const lenparam_t *lp, uint64_t *A, uint64_t *B,
                                          const __m128i *rk, int nr, int decrypt)
{
    if (lp->d == 12) {
        if (decrypt)
            feistel_batch_t(lp, A, B, rk, nr, 1, 1);
        else
            feistel_batch_t(lp, A, B, rk, nr, 0, 1);
    } else {
        if (decrypt)
            feistel_batch_t(lp, A, B, rk, nr, 1, 0);
        else
            feistel_batch_t(lp, A, B, rk, nr, 0, 0);
    }
}

/* ---------------------------------------------------------------- VAES + AVX-512 rounds */

#if LT_HAVE_WIDE_CODE

/* Where the CPU has VAES and AVX-512 (F, DQ, BW), the whole round runs in 512-bit vectors:
 * NUM(A), NUM(B) of 8 rows per vector, four AES blocks per VAES instruction, and y mod M
 * by the same two exact methods as mod64 / mod96, with the 64x64-bit products built from
 * 32x32-bit multiplies. GROUPS vectors per batch keep enough independent work in flight. */
#define LT_WIDE_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,vaes,aes,sse4.1")))

typedef struct {
    __m512i m, magic, magic_hi, dn, inv, inv_hi;
    __m128i sh, s, s_left, s_right; /* shift counts: l - 1, s, 32 + s, 32 - s */
    int small;                      /* m <= 2**32 */
} vreducer_t;

static const uint64_t W_IDX_LO4[8] = {0, 0, 0, 1, 0, 2, 0, 3}; /* lanes 0-3 to odd qwords */
static const uint64_t W_IDX_HI4[8] = {0, 4, 0, 5, 0, 6, 0, 7}; /* lanes 4-7 to odd qwords */
static const uint64_t W_IDX_EVEN[8] = {0, 2, 4, 6, 8, 10, 12, 14};
static const uint64_t W_IDX_ODD[8] = {1, 3, 5, 7, 9, 11, 13, 15};

LT_WIDE_TARGET static inline __attribute__((always_inline)) __m512i
mulhi64_v(__m512i a, __m512i b, __m512i b_hi)
{
    __m512i a_hi = _mm512_srli_epi64(a, 32);
    __m512i ll = _mm512_mul_epu32(a, b);
    __m512i lh = _mm512_mul_epu32(a, b_hi);
    __m512i hl = _mm512_mul_epu32(a_hi, b);
    __m512i hh = _mm512_mul_epu32(a_hi, b_hi);
    __m512i t = _mm512_add_epi64(hl, _mm512_srli_epi64(ll, 32)); /* < 2**64 */
    __m512i w = _mm512_add_epi64(_mm512_maskz_mov_epi32(0x5555, t), lh);
    return _mm512_add_epi64(_mm512_add_epi64(hh, _mm512_srli_epi64(t, 32)),
                            _mm512_srli_epi64(w, 32));
}

LT_WIDE_TARGET static inline __attribute__((always_inline)) __m512i
mod64_v(__m512i y, const vreducer_t *r)
{
    __m512i t = mulhi64_v(y, r->magic, r->magic_hi);
    __m512i q = _mm512_add_epi64(t, _mm512_srli_epi64(_mm512_sub_epi64(y, t), 1));
    q = _mm512_srl_epi64(q, r->sh);
    return _mm512_sub_epi64(y, _mm512_mullo_epi64(q, r->m));
}

LT_WIDE_TARGET static inline __attribute__((always_inline)) __m512i
rem_2by1_v(__m512i u1, __m512i u0, const vreducer_t *r)
{
    const __m512i one = _mm512_set1_epi64(1);
    __m512i pl = _mm512_mullo_epi64(r->inv, u1);
    __m512i ph = mulhi64_v(u1, r->inv, r->inv_hi);
    __m512i q0 = _mm512_add_epi64(pl, u0);
    __mmask8 carry = _mm512_cmplt_epu64_mask(q0, pl);
    __m512i q1 = _mm512_add_epi64(_mm512_add_epi64(ph, u1), one);
    q1 = _mm512_mask_add_epi64(q1, carry, q1, one);
    __m512i rem = _mm512_sub_epi64(u0, _mm512_mullo_epi64(q1, r->dn));
    rem = _mm512_mask_add_epi64(rem, _mm512_cmpgt_epu64_mask(rem, q0), rem, r->dn);
    rem = _mm512_mask_sub_epi64(rem, _mm512_cmpge_epu64_mask(rem, r->dn), rem, r->dn);
    return rem;
}

LT_WIDE_TARGET static inline __attribute__((always_inline)) __m512i
mod96_v(__m512i hi, __m512i lo32, const vreducer_t *r)
{
    __m512i r0 = mod64_v(hi, r);
    if (r->small)
        return mod64_v(_mm512_or_si512(_mm512_slli_epi64(r0, 32), lo32), r);
    __m512i u1 = _mm512_srl_epi64(r0, r->s_right);
    __m512i u0 = _mm512_or_si512(_mm512_sll_epi64(r0, r->s_left), _mm512_sll_epi64(lo32, r->s));
    return _mm512_srl_epi64(rem_2by1_v(u1, u0, r), r->s);
}

LT_WIDE_TARGET static void vreducer_init(vreducer_t *v, const reducer_t *r)
{
    v->m = _mm512_set1_epi64((long long)r->m);
    v->magic = _mm512_set1_epi64((long long)r->magic);
    v->magic_hi = _mm512_set1_epi64((long long)(r->magic >> 32));
    v->dn = _mm512_set1_epi64((long long)r->dn);
    v->inv = _mm512_set1_epi64((long long)r->inv);
    v->inv_hi = _mm512_set1_epi64((long long)(r->inv >> 32));
    v->sh = _mm_cvtsi32_si128((int)r->sh);
    v->s = _mm_cvtsi32_si128((int)r->s);
    v->s_left = _mm_cvtsi32_si128((int)(32 + r->s));
    v->s_right = _mm_cvtsi32_si128((int)(32 - r->s)); /* used only when s < 32 */
    v->small = r->m <= ((uint64_t)1 << 32);
}

LT_WIDE_TARGET static inline __attribute__((always_inline)) void
feistel_wide_t(const lenparam_t *lp, uint64_t *A, uint64_t *B, const __m128i *rk, int nr,
               const int decrypt, const int d12)
{
    __m512i rkz[15];
    for (int r = 0; r <= nr; r++)
        rkz[r] = _mm512_broadcast_i32x4(rk[r]);
    vreducer_t R[2];
    vreducer_init(&R[0], &lp->red[0]);
    vreducer_init(&R[1], &lp->red[1]);
    /* byte reversal of each qword; of the low dword of each qword (other bytes zeroed) */
    const __m512i bswap64 = _mm512_broadcast_i32x4(
        _mm_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8));
    const __m512i bswap32 = _mm512_broadcast_i32x4(_mm_setr_epi8(
        3, 2, 1, 0, -128, -128, -128, -128, 11, 10, 9, 8, -128, -128, -128, -128));
    const __m512i idx_lo4 = _mm512_loadu_si512(W_IDX_LO4), idx_hi4 = _mm512_loadu_si512(W_IDX_HI4);
    const __m512i idx_even = _mm512_loadu_si512(W_IDX_EVEN);
    const __m512i idx_odd = _mm512_loadu_si512(W_IDX_ODD);
    __m512i a[GROUPS], b[GROUPS];
    for (int g = 0; g < GROUPS; g++) {
        a[g] = _mm512_loadu_si512(A + 8 * g);
        b[g] = _mm512_loadu_si512(B + 8 * g);
    }
    for (int k = 0; k < FF1_ROUNDS; k++) {
        const int i = decrypt ? FF1_ROUNDS - 1 - k : k;
        const vreducer_t *red = &R[i & 1];
        const __m512i base = _mm512_broadcast_i32x4(
            _mm_xor_si128(_mm_loadu_si128((const __m128i *)lp->base[i]), rk[0]));
        __m512i s[2 * GROUPS];
        for (int g = 0; g < GROUPS; g++) {
            __m512i xb = _mm512_shuffle_epi8(decrypt ? a[g] : b[g], bswap64);
            s[2 * g] = _mm512_xor_si512(base, _mm512_maskz_permutexvar_epi64(0xAA, idx_lo4, xb));
            s[2 * g + 1] =
                _mm512_xor_si512(base, _mm512_maskz_permutexvar_epi64(0xAA, idx_hi4, xb));
        }
        for (int r = 1; r < nr; r++)
            for (int g = 0; g < 2 * GROUPS; g++)
                s[g] = _mm512_aesenc_epi128(s[g], rkz[r]);
        for (int g = 0; g < 2 * GROUPS; g++)
            s[g] = _mm512_aesenclast_epi128(s[g], rkz[nr]);
        for (int g = 0; g < GROUPS; g++) {
            __m512i q0 = _mm512_shuffle_epi8(
                _mm512_permutex2var_epi64(s[2 * g], idx_even, s[2 * g + 1]), bswap64);
            __m512i y;
            if (d12) {
                __m512i w = _mm512_shuffle_epi8(
                    _mm512_permutex2var_epi64(s[2 * g], idx_odd, s[2 * g + 1]), bswap32);
                y = mod96_v(q0, w, red);
            } else {
                y = mod64_v(q0, red);
            }
            if (decrypt) { /* C = (B - y) mod m; A, B = C, A */
                __m512i c = _mm512_sub_epi64(b[g], y);
                c = _mm512_mask_add_epi64(c, _mm512_cmplt_epu64_mask(b[g], y), c, red->m);
                b[g] = a[g];
                a[g] = c;
            } else { /* C = (A + y) mod m; A, B = B, C */
                __m512i c = _mm512_add_epi64(a[g], y);
                __mmask8 over = _mm512_cmplt_epu64_mask(c, a[g]) |
                                _mm512_cmpge_epu64_mask(c, red->m);
                c = _mm512_mask_sub_epi64(c, over, c, red->m);
                a[g] = b[g];
                b[g] = c;
            }
        }
    }
    for (int g = 0; g < GROUPS; g++) {
        _mm512_storeu_si512(A + 8 * g, a[g]);
        _mm512_storeu_si512(B + 8 * g, b[g]);
    }
}

LT_WIDE_TARGET static void feistel_wide(const lenparam_t *lp, uint64_t *A, uint64_t *B,
                                        const __m128i *rk, int nr, int decrypt)
{
    if (lp->d == 12) {
        if (decrypt)
            feistel_wide_t(lp, A, B, rk, nr, 1, 1);
        else
            feistel_wide_t(lp, A, B, rk, nr, 0, 1);
    } else {
        if (decrypt)
            feistel_wide_t(lp, A, B, rk, nr, 1, 0);
        else
            feistel_wide_t(lp, A, B, rk, nr, 0, 0);
    }
}

#endif /* LT_HAVE_WIDE_CODE */

/* ---------------------------------------------------------------- NUM and STR */

/* NUM_10 of the k ASCII digits p[0..k) (1 <= k <= 8), from the 8 bytes that END at p + k
 * (so p + k - 8 must be readable; the bytes before p are masked off and act as leading
 * zeros). Sets bits in *bad when one of the k bytes is not '0'-'9'. SWAR digit parsing as
 * in simdjson / fast_float. */
static inline __attribute__((always_inline)) uint64_t num10_8(const uint8_t *p, int k,
                                                              uint64_t *bad)
{
    uint64_t x;
    memcpy(&x, p + k - 8, 8);
    uint64_t d = (x ^ 0x3030303030303030ULL) & (~0ULL << (8 * (8 - k))); /* digit values */
    /* a byte is a digit iff d < 0x10 and d + 6 < 0x10 (a carry out of a byte >= 0xfa can
     * only come from a byte that is flagged itself) */
    *bad |= (d | (d + 0x0606060606060606ULL)) & 0xF0F0F0F0F0F0F0F0ULL;
    d = d * 10 + (d >> 8);
    return (((d & 0x000000FF000000FFULL) * 0x000F424000000064ULL) +
            (((d >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL)) >>
           32;
}

/* NUM_10 of p[0..k), 1 <= k <= 19; reads from p + (k % 8) - 8 on. */
static inline __attribute__((always_inline)) uint64_t num10(const uint8_t *p, int k,
                                                            uint64_t *bad)
{
    int r = k % 8;
    uint64_t x = 0;
    if (r) {
        x = num10_8(p, r, bad);
        p += r;
    }
    for (int g = 0; g < k / 8; g++, p += 8)
        x = x * 100000000ULL + num10_8(p, 8, bad);
    return x;
}

/* NUM_radix of p[0..k) through the alphabet table (255: not in the alphabet). */
static inline __attribute__((always_inline)) uint64_t num_table(const uint8_t *p, int k,
                                                                uint64_t radix,
                                                                const uint8_t *table,
                                                                uint64_t *bad)
{
    uint64_t x = 0;
    for (int j = 0; j < k; j++) {
        unsigned dg = table[p[j]];
        *bad |= dg == 255;
        x = x * radix + dg;
    }
    return x;
}

/* The 8 ASCII digits of v < 10**8, most significant first in memory (SWAR: split into
 * 4 + 4, 2 + 2 and 1 + 1 digits with multiply-shift divisions that stay inside lanes). */
static inline __attribute__((always_inline)) uint64_t ascii8(uint64_t v)
{
    uint64_t x = (v / 10000) | ((v % 10000) << 32);       /* 4-digit halves (< 10000) */
    uint64_t hi = ((x * 10486) >> 20) & 0x0000007F0000007FULL; /* / 100, exact < 10000 */
    x = ((x - 100 * hi) << 16) | hi;                      /* 2-digit quarters (< 100) */
    hi = ((x * 103) >> 10) & 0x000F000F000F000FULL;       /* / 10, exact below 100 */
    x = ((x - 10 * hi) << 8) | hi;                        /* digits */
    return x | 0x3030303030303030ULL;
}

/* STR_10^m(x) into buf[end - m .. end), m <= 19; may also write '0's into the up to 7
 * bytes before that, which the caller overwrites or ignores. */
static inline __attribute__((always_inline)) void str10(uint64_t x, int m, uint8_t *buf,
                                                        int end)
{
    for (int e = end; e > end - m; e -= 8) {
        uint64_t w = ascii8(x % 100000000ULL);
        memcpy(buf + e - 8, &w, 8);
        x /= 100000000ULL;
    }
}

static inline __attribute__((always_inline)) void str_radix(uint64_t x, int m, uint64_t radix,
                                                            uint8_t *dst)
{
    for (int k = m - 1; k >= 0; k--) {
        dst[k] = (uint8_t)ALPHABET[x % radix];
        x /= radix;
    }
}

/* dst[0..n) = src[0..n) by overlapping fixed-size moves (n is the same for a whole batch,
 * so the branches are predicted; a memcpy call per row costs more than the copy). */
static inline __attribute__((always_inline)) void copy_row(uint8_t *dst, const uint8_t *src,
                                                           int n)
{
    if (n >= 16) {
        for (int k = 0; k + 16 < n; k += 16)
            memcpy(dst + k, src + k, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else {
        for (int k = 0; k < n; k++)
            dst[k] = src[k];
    }
}

/* ---------------------------------------------------------------- rows */

/* Rows of one length waiting for a full batch (same length: same constants and loops). */
typedef struct {
    int count;
    int64_t start[BATCH];
} pending_t;

typedef struct {
    const uint8_t *data;
    size_t data_len;
    const int64_t *offsets;
    const uint8_t *valid;
    size_t rows;
    const uint8_t *tweak;
    size_t tweak_len;
    uint64_t radix;
    int minlen, maxlen, decrypt, wide;
    const uint8_t *rk_bytes;
    int nr;
    lenparam_t *params; /* indexed by length, maxlen + 1 entries */
    pending_t *pending; /* likewise */
    uint8_t table[256]; /* character -> digit, 255 outside the alphabet */
    uint8_t *out;
} job_t;

/* FF1 of the p->count rows of length n waiting in p. Returns 1 on a bad character. */
LT_AESNI_TARGET static int run_batch(const job_t *j, int n, pending_t *p, const __m128i *rk)
{
    lenparam_t *lp = &j->params[n];
    if (lp->state == 0)
        lenparam_blocks(lp, j->radix, n, j->tweak, j->tweak_len, rk, j->nr);
    const int u = lp->u, v = lp->v, count = p->count;
    const uint64_t radix = j->radix;
    uint64_t A[BATCH], B[BATCH], bad = 0;
    for (int l = count; l < BATCH; l++) /* padding lanes repeat the first row */
        p->start[l] = p->start[0];
    for (int l = 0; l < BATCH; l++) {
        const uint8_t *src = j->data + p->start[l];
        if (radix == 10 && p->start[l] >= 8) {
            A[l] = num10(src, u, &bad);
            B[l] = num10(src + u, v, &bad);
        } else {
            A[l] = num_table(src, u, radix, j->table, &bad);
            B[l] = num_table(src + u, v, radix, j->table, &bad);
        }
    }
    if (bad)
        return 1;
#if LT_HAVE_WIDE_CODE
    if (j->wide)
        feistel_wide(lp, A, B, rk, j->nr, j->decrypt);
    else
#endif
        for (int l = 0; l < BATCH; l += LANES)
            feistel_batch(lp, A + l, B + l, rk, j->nr, j->decrypt);
    for (int l = 0; l < count; l++) {
        uint8_t *dst = j->out + p->start[l];
        if (radix == 10) {
            uint8_t buf[64];
            str10(B[l], v, buf, 64);
            str10(A[l], u, buf, 64 - v);
            copy_row(dst, buf + 64 - n, n);
        } else {
            str_radix(A[l], u, radix, dst);
            str_radix(B[l], v, radix, dst + u);
        }
    }
    p->count = 0;
    return 0;
}

/* Returns 0; 1 on a too-short or out-of-alphabet row; 2 on malformed offsets. */
LT_AESNI_TARGET static int ff1_rows_aesni(const job_t *j)
{
    __m128i rk[15];
    for (int r = 0; r <= j->nr; r++)
        rk[r] = _mm_loadu_si128((const __m128i *)(j->rk_bytes + 16 * r));
    for (size_t i = 0; i < j->rows; i++) {
        if (!j->valid[i])
            continue;
        int64_t start, end; /* memcpy: the buffer need not be 8-byte aligned */
        memcpy(&start, j->offsets + i, 8);
        memcpy(&end, j->offsets + i + 1, 8);
        if (start < 0 || end < start || (uint64_t)end > j->data_len)
            return 2;
        int64_t n = end - start;
        if (n < j->minlen)
            return 1;
        if (n > j->maxlen)
            continue; /* the caller's reference path */
        pending_t *p = &j->pending[n];
        p->start[p->count++] = start;
        if (p->count == BATCH && run_batch(j, (int)n, p, rk))
            return 1;
    }
    for (int n = j->minlen; n <= j->maxlen; n++)
        if (j->pending[n].count && run_batch(j, n, &j->pending[n], rk))
            return 1;
    return 0;
}

/* The work of crypt_arrow() once its arguments are checked. */
static PyObject *crypt_impl(const Py_buffer *data, const Py_buffer *offs, const Py_buffer *valid,
                            const Py_buffer *key, const Py_buffer *tweak, int radix, int minlen,
                            int maxlen, int decrypt, int wide)
{
    PyObject *result = NULL;
    size_t rows = (size_t)valid->len;
    lenparam_t *params = (lenparam_t *)calloc((size_t)maxlen + 1, sizeof(lenparam_t));
    pending_t *pending = (pending_t *)calloc((size_t)maxlen + 1, sizeof(pending_t));
    if (params == NULL || pending == NULL) {
        free(params);
        free(pending);
        return PyErr_NoMemory();
    }
    for (int n = minlen; n <= maxlen; n++) {
        if (lenparam_arith(&params[n], (uint64_t)radix, n) < 0) {
            PyErr_SetString(PyExc_ValueError, "maxlen too large: radix**v must be < 2**64");
            goto done;
        }
    }
    result = PyByteArray_FromStringAndSize(NULL, data->len);
    if (result == NULL)
        goto done;

    uint8_t rk_bytes[15 * 16];
    int nr = aes_expand_key((const uint8_t *)key->buf, (size_t)key->len, rk_bytes);
    job_t job = {
        .data = (const uint8_t *)data->buf,
        .data_len = (size_t)data->len,
        .offsets = (const int64_t *)offs->buf,
        .valid = (const uint8_t *)valid->buf,
        .rows = rows,
        .tweak = (const uint8_t *)tweak->buf,
        .tweak_len = (size_t)tweak->len,
        .radix = (uint64_t)radix,
        .minlen = minlen,
        .maxlen = maxlen < minlen ? minlen - 1 : maxlen,
        .decrypt = decrypt,
        .wide = wide,
        .rk_bytes = rk_bytes,
        .nr = nr,
        .params = params,
        .pending = pending,
        .out = (uint8_t *)PyByteArray_AS_STRING(result),
    };
    memset(job.table, 255, sizeof job.table);
    for (int k = 0; k < radix; k++)
        job.table[(uint8_t)ALPHABET[k]] = (uint8_t)k;
    int status;
    Py_BEGIN_ALLOW_THREADS
    if (job.data_len)
        memcpy(job.out, job.data, job.data_len);
    status = ff1_rows_aesni(&job);
    Py_END_ALLOW_THREADS
    memset(rk_bytes, 0, sizeof rk_bytes);
    if (status == 1) {
        Py_CLEAR(result);
        Py_INCREF(Py_None);
        result = Py_None;
    } else if (status == 2) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_ValueError, "offsets are not a valid range of data");
    }
done:
    memset(params, 0, ((size_t)maxlen + 1) * sizeof(lenparam_t));
    memset(pending, 0, ((size_t)maxlen + 1) * sizeof(pending_t));
    free(params);
    free(pending);
    return result;
}

static int cpu_has_aesni(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c & (1u << 25)) && (c & (1u << 19)); /* AES, SSE4.1 */
}

/* VAES and AVX-512 F/DQ/BW, with the OS saving the opmask and ZMM registers. */
static int cpu_has_wide(void)
{
#if LT_HAVE_WIDE_CODE
    unsigned int a, b, c, d, lo, hi;
    if (!cpu_has_aesni() || !__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
        return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 0xE6u) != 0xE6u) /* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM state */
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (c & (1u << 9));
#else
    return 0;
#endif
}
#else
static int cpu_has_aesni(void) { return 0; }
static int cpu_has_wide(void) { return 0; }

static PyObject *crypt_impl(const Py_buffer *data, const Py_buffer *offs, const Py_buffer *valid,
                            const Py_buffer *key, const Py_buffer *tweak, int radix, int minlen,
                            int maxlen, int decrypt, int wide)
{
    (void)data, (void)offs, (void)valid, (void)key, (void)tweak;
    (void)radix, (void)minlen, (void)maxlen, (void)decrypt, (void)wide;
    PyErr_SetString(PyExc_RuntimeError, "FF1 kernel needs AES-NI (see has_aesni())");
    return NULL;
}
#endif

static int g_have_aesni = 0, g_have_wide = 0;

/* ---------------------------------------------------------------- Python glue */

/* 0 when the offsets buffer holds native int64, else -1 with TypeError set. */
static int check_int64(const Py_buffer *v)
{
    const char *f = v->format ? v->format : "B";
#if PY_LITTLE_ENDIAN
    if (*f == '@' || *f == '=' || *f == '<')
#else
    if (*f == '@' || *f == '=' || *f == '>' || *f == '!')
#endif
        f++;
    if (v->ndim <= 1 && v->itemsize == 8 && (f[0] == 'q' || f[0] == 'l') && f[1] == '\0')
        return 0;
    PyErr_SetString(PyExc_TypeError, "offsets must be a 1-d contiguous int64 buffer");
    return -1;
}

PyDoc_STRVAR(crypt_arrow_doc,
"crypt_arrow(data, offsets, valid, key, tweak, radix, minlen, maxlen, decrypt, *, wide=True)\n"
"    -> bytearray | None\n"
"\n"
"FF1 encryption (decrypt=False) or decryption of the rows of an Arrow string array.\n"
"Row i is data[offsets[i]:offsets[i+1]] (offsets: int64, len(valid) + 1 entries, already\n"
"shifted by the array offset); it is processed when valid[i] (one byte per row) is\n"
"non-zero and its length is at most maxlen. Returns a copy of data with those rows\n"
"replaced, other bytes unchanged. Returns None, without a result, as soon as a processed\n"
"row is shorter than minlen or has a character outside the first `radix` characters of\n"
"0-9a-z: the caller reports the error. maxlen must satisfy radix**(maxlen - maxlen // 2)\n"
"< 2**64. wide=False keeps to the 128-bit AES-NI code even where VAES and AVX-512 are\n"
"available (has_vaes()). The GIL is released during the work; the buffers must not change\n"
"meanwhile.");

static PyObject *py_crypt_arrow(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"data",   "offsets", "valid",   "key",  "tweak", "radix",
                             "minlen", "maxlen",  "decrypt", "wide", NULL};
    Py_buffer data, offs, valid, key, tweak;
    PyObject *offsets_obj;
    int radix, minlen, maxlen, decrypt, wide = 1, have_offs = 0;
    PyObject *result = NULL;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*Oy*y*y*iiip|$p:crypt_arrow", kwlist,
                                     &data, &offsets_obj, &valid, &key, &tweak, &radix,
                                     &minlen, &maxlen, &decrypt, &wide))
        return NULL;
    if (!g_have_aesni) {
        PyErr_SetString(PyExc_RuntimeError, "FF1 kernel needs AES-NI (see has_aesni())");
        goto done;
    }
    if (PyObject_GetBuffer(offsets_obj, &offs, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto done;
    have_offs = 1;
    if (check_int64(&offs) < 0)
        goto done;
    if (key.len != 16 && key.len != 24 && key.len != 32) {
        PyErr_SetString(PyExc_ValueError, "key must be 16, 24 or 32 bytes");
        goto done;
    }
    if (radix < 2 || radix > 36 || minlen < 2 || maxlen < 0 || maxlen >= MAX_LEN_TABLE) {
        PyErr_SetString(PyExc_ValueError, "radix, minlen or maxlen out of range");
        goto done;
    }
    if (offs.len / 8 != valid.len + 1) {
        PyErr_SetString(PyExc_ValueError, "offsets must have len(valid) + 1 entries");
        goto done;
    }
    result = crypt_impl(&data, &offs, &valid, &key, &tweak, radix, minlen, maxlen, decrypt,
                        wide && g_have_wide);

done:
    PyBuffer_Release(&data);
    if (have_offs)
        PyBuffer_Release(&offs);
    PyBuffer_Release(&valid);
    PyBuffer_Release(&key);
    PyBuffer_Release(&tweak);
    return result;
}

PyDoc_STRVAR(has_aesni_doc,
"has_aesni() -> bool\n"
"\n"
"Whether the AES-NI kernel is compiled in and the CPU supports it; crypt_arrow() needs it.");

static PyObject *py_has_aesni(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(g_have_aesni);
}

PyDoc_STRVAR(has_vaes_doc,
"has_vaes() -> bool\n"
"\n"
"Whether crypt_arrow() runs its rounds with VAES and AVX-512 (unless wide=False).");

static PyObject *py_has_vaes(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(g_have_wide);
}

static PyMethodDef ff1_methods[] = {
    {"crypt_arrow", (PyCFunction)(void (*)(void))py_crypt_arrow, METH_VARARGS | METH_KEYWORDS,
     crypt_arrow_doc},
    {"has_aesni", py_has_aesni, METH_NOARGS, has_aesni_doc},
    {"has_vaes", py_has_vaes, METH_NOARGS, has_vaes_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ff1_module = {
    PyModuleDef_HEAD_INIT,
    "leaktrace._ff1",
    "FF1 (SP 800-38G) over Arrow string buffers with AES-NI, GIL released.",
    -1,
    ff1_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__ff1(void)
{
    g_have_aesni = cpu_has_aesni();
    g_have_wide = g_have_aesni && cpu_has_wide();
    return PyModule_Create(&ff1_module);
}
