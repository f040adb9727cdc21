/*
 * leaktrace._hmac: HMAC-SHA256 of many short strings, truncated to the first 8 bytes.
 *
 * Why: `leaktrace.digest.keyed_digest(s)` digests millions of short values per release. The
 * per-value cost of HMAC-SHA256 on an 11-byte message is three SHA-256 compressions, two of
 * which (the ipad and opad key blocks) depend only on the key. This module takes those two
 * chaining values ("midstates") precomputed once per key and walks an Arrow string array
 * (data + offsets buffers) with the GIL released, on up to `threads` pthreads.
 *
 * SHA-256 compression is dispatched at run time: the x86 SHA extensions (SHA-NI) when the
 * CPU has them, else portable C. Only the SHA-NI functions are compiled for that target
 * (`__attribute__((target(...)))`), so the module imports on every x86-64 CPU, and on other
 * architectures only the portable code exists.
 *
 * The same row walker also computes SipHash-2-4 (Aumasson & Bernstein, 2012; 128-bit key,
 * 64-bit output), the keyed digest of workspaces made since key format 2: a pseudorandom
 * function like HMAC-SHA256 truncated to 64 bits, at 10-25 ns per short value instead of
 * 50-120 ns (two to four SHA-256 compressions). See leaktrace/digest.py for which key uses
 * which.
 *
 * Plain CPython C API, no dependency beyond libc and pthreads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(LT_NO_SHANI)
#define LT_HAVE_SHANI_CODE 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define LT_HAVE_SHANI_CODE 0
#endif

#define LT_MAX_THREADS 64
#define LT_MIN_ROWS_PER_THREAD 4096

static const uint32_t K256[64] = {
    0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U,
    0xab1c5ed5U, 0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU,
    0x9bdc06a7U, 0xc19bf174U, 0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU,
    0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU, 0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U,
    0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U, 0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU,
    0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U, 0xa2bfe8a1U, 0xa81a664bU,
    0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U, 0x19a4c116U,
    0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
    0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U,
    0xc67178f2U,
};

static const uint32_t IV256[8] = {
    0x6a09e667U, 0xbb67ae85U, 0x3c6ef372U, 0xa54ff53aU,
    0x510e527fU, 0x9b05688cU, 0x1f83d9abU, 0x5be0cd19U,
};

typedef void (*compress_fn)(uint32_t state[8], const uint8_t *blocks, size_t nblocks);

static inline uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void store_be64(uint8_t *p, uint64_t v)
{
    store_be32(p, (uint32_t)(v >> 32));
    store_be32(p + 4, (uint32_t)v);
}

/* ---------------------------------------------------------------- portable SHA-256 */

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))

static void sha256_portable(uint32_t state[8], const uint8_t *blocks, size_t nblocks)
{
    uint32_t w[64];
    while (nblocks--) {
        for (int t = 0; t < 16; t++)
            w[t] = load_be32(blocks + 4 * t);
        for (int t = 16; t < 64; t++)
            w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + K256[t] + w[t];
            uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
        blocks += 64;
    }
}

/* ---------------------------------------------------------------- SHA-NI SHA-256 */

#if LT_HAVE_SHANI_CODE
#define LT_SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* Four rounds with message words Wg (already in schedule order) and constants K[4g..4g+3]
 * on the state (S0 = ABEF, S1 = CDGH); MSG is scratch. */
#define SHANI_ROUNDS4(g, Wg, MSG, S0, S1)                                                  \
    do {                                                                                  \
        MSG = _mm_add_epi32((Wg), _mm_loadu_si128((const __m128i *)&K256[4 * (g)]));      \
        S1 = _mm_sha256rnds2_epu32(S1, S0, MSG);                                          \
        MSG = _mm_shuffle_epi32(MSG, 0x0E);                                               \
        S0 = _mm_sha256rnds2_epu32(S0, S1, MSG);                                          \
    } while (0)

/* W[g] from W[g-4] (replaced in place), W[g-3], W[g-2], W[g-1]. */
#define SHANI_SCHEDULE(Wm4, Wm3, Wm2, Wm1)                                                \
    (Wm4) = _mm_sha256msg2_epu32(                                                         \
        _mm_add_epi32(_mm_sha256msg1_epu32((Wm4), (Wm3)), _mm_alignr_epi8((Wm1), (Wm2), 4)), \
        (Wm1))

/* state[0..7] = a..h  ->  *s0 = ABEF, *s1 = CDGH (the layout sha256rnds2 works on) */
LT_SHANI_TARGET static inline __attribute__((always_inline)) void
shani_load(const uint32_t state[8], __m128i *s0, __m128i *s1)
{
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);
    *s0 = _mm_alignr_epi8(tmp, efgh, 8);
    *s1 = _mm_blend_epi16(efgh, tmp, 0xF0);
}

/* ABEF / CDGH -> state[0..7] = a..h */
LT_SHANI_TARGET static inline __attribute__((always_inline)) void
shani_store(uint32_t state[8], __m128i s0, __m128i s1)
{
    __m128i tmp = _mm_shuffle_epi32(s0, 0x1B);
    s1 = _mm_shuffle_epi32(s1, 0xB1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(tmp, s1, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(s1, tmp, 8));
}

LT_SHANI_TARGET static inline __attribute__((always_inline)) __m128i
shani_msg(const uint8_t *p)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), bswap);
}

LT_SHANI_TARGET
static void sha256_shani(uint32_t state[8], const uint8_t *blocks, size_t nblocks)
{
    __m128i s0, s1, msg, m0, m1, m2, m3, abef, cdgh;
    shani_load(state, &s0, &s1);
    while (nblocks--) {
        abef = s0;
        cdgh = s1;
        m0 = shani_msg(blocks + 0);
        m1 = shani_msg(blocks + 16);
        m2 = shani_msg(blocks + 32);
        m3 = shani_msg(blocks + 48);
        SHANI_ROUNDS4(0, m0, msg, s0, s1);
        SHANI_ROUNDS4(1, m1, msg, s0, s1);
        SHANI_ROUNDS4(2, m2, msg, s0, s1);
        SHANI_ROUNDS4(3, m3, msg, s0, s1);
#define SHANI_STEP(g, A, B, C, D)                                                          \
        SHANI_SCHEDULE(A, B, C, D);                                                       \
        SHANI_ROUNDS4(g, A, msg, s0, s1)
        SHANI_STEP(4, m0, m1, m2, m3);
        SHANI_STEP(5, m1, m2, m3, m0);
        SHANI_STEP(6, m2, m3, m0, m1);
        SHANI_STEP(7, m3, m0, m1, m2);
        SHANI_STEP(8, m0, m1, m2, m3);
        SHANI_STEP(9, m1, m2, m3, m0);
        SHANI_STEP(10, m2, m3, m0, m1);
        SHANI_STEP(11, m3, m0, m1, m2);
        SHANI_STEP(12, m0, m1, m2, m3);
        SHANI_STEP(13, m1, m2, m3, m0);
        SHANI_STEP(14, m2, m3, m0, m1);
        SHANI_STEP(15, m3, m0, m1, m2);
#undef SHANI_STEP
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
        blocks += 64;
    }
    shani_store(state, s0, s1);
}

/* One block into each of two independent states, interleaved: a single SHA-256 chain is
 * bound by the latency of sha256rnds2, two chains fill the gaps (~1.6x throughput). */
LT_SHANI_TARGET
static void sha256_shani_x2(uint32_t sa[8], const uint8_t *ba, uint32_t sb[8], const uint8_t *bb)
{
    __m128i a0, a1, amsg, am0, am1, am2, am3, asave0, asave1;
    __m128i b0, b1, bmsg, bm0, bm1, bm2, bm3, bsave0, bsave1;
    shani_load(sa, &a0, &a1);
    shani_load(sb, &b0, &b1);
    asave0 = a0;
    asave1 = a1;
    bsave0 = b0;
    bsave1 = b1;
    am0 = shani_msg(ba + 0);
    bm0 = shani_msg(bb + 0);
    am1 = shani_msg(ba + 16);
    bm1 = shani_msg(bb + 16);
    am2 = shani_msg(ba + 32);
    bm2 = shani_msg(bb + 32);
    am3 = shani_msg(ba + 48);
    bm3 = shani_msg(bb + 48);
    SHANI_ROUNDS4(0, am0, amsg, a0, a1);
    SHANI_ROUNDS4(0, bm0, bmsg, b0, b1);
    SHANI_ROUNDS4(1, am1, amsg, a0, a1);
    SHANI_ROUNDS4(1, bm1, bmsg, b0, b1);
    SHANI_ROUNDS4(2, am2, amsg, a0, a1);
    SHANI_ROUNDS4(2, bm2, bmsg, b0, b1);
    SHANI_ROUNDS4(3, am3, amsg, a0, a1);
    SHANI_ROUNDS4(3, bm3, bmsg, b0, b1);
#define SHANI_STEP2(g, A, B, C, D)                                                         \
    SHANI_SCHEDULE(a##A, a##B, a##C, a##D);                                               \
    SHANI_SCHEDULE(b##A, b##B, b##C, b##D);                                               \
    SHANI_ROUNDS4(g, a##A, amsg, a0, a1);                                                 \
    SHANI_ROUNDS4(g, b##A, bmsg, b0, b1)
    SHANI_STEP2(4, m0, m1, m2, m3);
    SHANI_STEP2(5, m1, m2, m3, m0);
    SHANI_STEP2(6, m2, m3, m0, m1);
    SHANI_STEP2(7, m3, m0, m1, m2);
    SHANI_STEP2(8, m0, m1, m2, m3);
    SHANI_STEP2(9, m1, m2, m3, m0);
    SHANI_STEP2(10, m2, m3, m0, m1);
    SHANI_STEP2(11, m3, m0, m1, m2);
    SHANI_STEP2(12, m0, m1, m2, m3);
    SHANI_STEP2(13, m1, m2, m3, m0);
    SHANI_STEP2(14, m2, m3, m0, m1);
    SHANI_STEP2(15, m3, m0, m1, m2);
#undef SHANI_STEP2
    shani_store(sa, _mm_add_epi32(a0, asave0), _mm_add_epi32(a1, asave1));
    shani_store(sb, _mm_add_epi32(b0, bsave0), _mm_add_epi32(b1, bsave1));
}

static int cpu_has_shani(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & (1u << 9)) || !(c & (1u << 19))) /* SSSE3, SSE4.1 */
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1u; /* SHA */
}
#else
static int cpu_has_shani(void) { return 0; }
#endif

static int g_have_shani = 0;

/* ---------------------------------------------------------------- HMAC over rows */

/* One message of the inner hash: its whole blocks are read in place, the padded tail
 * (the last len % 64 bytes, 0x80, zeros, bit length) is built in `tail`. */
typedef struct {
    const uint8_t *m;
    size_t full;    /* whole 64-byte blocks of the message */
    size_t nblocks; /* full + 1 or 2 tail blocks */
    uint8_t tail[128];
} msg_t;

/* The message m[0:len] as blocks: whole blocks in place, the padded tail copied. */
static inline __attribute__((always_inline)) void msg_set(msg_t *g, const uint8_t *m, size_t len)
{
    g->m = m;
    g->full = len / 64;
    size_t rem = len - g->full * 64;
    size_t nb = rem < 56 ? 1 : 2;
    g->nblocks = g->full + nb;
    if (rem)
        memcpy(g->tail, g->m + g->full * 64, rem);
    g->tail[rem] = 0x80;
    memset(g->tail + rem + 1, 0, nb * 64 - 8 - rem - 1);
    /* the inner hash also covers the 64-byte ipad block */
    store_be64(g->tail + nb * 64 - 8, ((uint64_t)len + 64) * 8);
}

/* ---------------------------------------------------------------- row sources */

/* Arrow string_view: 16 bytes per row; length (int32), then either the string itself
 * (length <= 12) or a 4-byte prefix, the data buffer index and the offset in it. */
#define LT_VIEW_INLINE 12

typedef struct {
    const uint8_t *views;
    const uint8_t **bufs;
    const size_t *buflens;
    size_t nbufs;
} viewcol_t;

static inline __attribute__((always_inline)) int view_get(const viewcol_t *c, size_t i,
                                                          const uint8_t **p, size_t *len)
{
    const uint8_t *v = c->views + 16 * i;
    int32_t n, idx, off;
    memcpy(&n, v, 4);
    if (n < 0)
        return -1;
    if (n <= LT_VIEW_INLINE) {
        *p = v + 4;
        *len = (size_t)n;
        return 0;
    }
    memcpy(&idx, v + 8, 4);
    memcpy(&off, v + 12, 4);
    if (idx < 0 || (size_t)idx >= c->nbufs || off < 0 ||
        (size_t)off + (size_t)n > c->buflens[idx])
        return -1;
    *p = c->bufs[idx] + off;
    *len = (size_t)n;
    return 0;
}

/* Where row i's message comes from: an Arrow string array (data + offsets, ncols == 0),
 * or one or two string_view columns, two joined by `sep` (the identity keys hash
 * "a<US>b"; joining here spares building the joined column first). */
typedef struct {
    const uint8_t *data;
    size_t data_len;
    const void *offsets;
    int off64;
    int ncols;
    viewcol_t cols[2];
    const uint8_t *sep;
    size_t seplen;
} src_t;

/* Row i's message; two columns are joined in `scratch` (room for the longest row). Returns
 * -1 when offsets or views point outside their buffers. */
static inline __attribute__((always_inline)) int src_row(const src_t *s, size_t i,
                                                         uint8_t *scratch, const uint8_t **m,
                                                         size_t *len)
{
    if (s->ncols == 0) {
        int64_t a, b;
        if (s->off64) {
            a = ((const int64_t *)s->offsets)[i];
            b = ((const int64_t *)s->offsets)[i + 1];
        } else {
            a = ((const int32_t *)s->offsets)[i];
            b = ((const int32_t *)s->offsets)[i + 1];
        }
        if (a < 0 || b < a || (uint64_t)b > (uint64_t)s->data_len)
            return -1;
        *m = s->data + a;
        *len = (size_t)(b - a);
        return 0;
    }
    if (s->ncols == 1)
        return view_get(&s->cols[0], i, m, len);
    const uint8_t *a, *b;
    size_t la, lb;
    if (view_get(&s->cols[0], i, &a, &la) < 0 || view_get(&s->cols[1], i, &b, &lb) < 0)
        return -1;
    memcpy(scratch, a, la);
    memcpy(scratch + la, s->sep, s->seplen);
    memcpy(scratch + la + s->seplen, b, lb);
    *m = scratch;
    *len = la + s->seplen + lb;
    return 0;
}

static inline __attribute__((always_inline)) int msg_prepare(msg_t *g, const src_t *s, size_t i,
                                                             uint8_t *scratch)
{
    const uint8_t *m;
    size_t len;
    if (src_row(s, i, scratch, &m, &len) < 0)
        return -1;
    msg_set(g, m, len);
    return 0;
}

static inline __attribute__((always_inline)) const uint8_t *msg_block(const msg_t *g, size_t k)
{
    return k < g->full ? g->m + 64 * k : g->tail + 64 * (k - g->full);
}

/* The outer message: opad block (in the midstate) + 32-byte inner hash, padded. */
static inline __attribute__((always_inline)) void outer_block(uint8_t blk[64],
                                                              const uint32_t inner_hash[8])
{
    for (int j = 0; j < 8; j++)
        store_be32(blk + 4 * j, inner_hash[j]);
    blk[32] = 0x80;
    memset(blk + 33, 0, 64 - 33 - 8);
    store_be64(blk + 56, (uint64_t)(64 + 32) * 8);
}

typedef void (*compress2_fn)(uint32_t sa[8], const uint8_t *ba, uint32_t sb[8],
                             const uint8_t *bb);

/*
 * out[i] = first 8 bytes (big-endian) of HMAC-SHA256 for rows i in [row0, row1) of `src`,
 * inner/outer being the chaining values after the ipad / opad key block. Rows go in pairs
 * through `compress2` (two independent chains at once); `scratch` holds two joined rows.
 * Returns the first bad row + 1 on malformed offsets or views, 0 when all went well.
 */
static inline __attribute__((always_inline)) size_t
hmac_rows(const src_t *src, uint8_t *scratch, size_t scratch_half, size_t row0, size_t row1,
          const uint32_t inner[8], const uint32_t outer[8], uint64_t *out, compress_fn compress,
          compress2_fn compress2)
{
    msg_t ma, mb;
    uint8_t oa[64], ob[64];
    uint32_t sa[8], sb[8];
    size_t i = row0;

    for (; i + 1 < row1; i += 2) {
        if (msg_prepare(&ma, src, i, scratch) < 0)
            return i + 1;
        if (msg_prepare(&mb, src, i + 1, scratch + scratch_half) < 0)
            return i + 2;
        memcpy(sa, inner, sizeof sa);
        memcpy(sb, inner, sizeof sb);
        size_t common = ma.nblocks < mb.nblocks ? ma.nblocks : mb.nblocks;
        for (size_t k = 0; k < common; k++)
            compress2(sa, msg_block(&ma, k), sb, msg_block(&mb, k));
        for (size_t k = common; k < ma.nblocks; k++)
            compress(sa, msg_block(&ma, k), 1);
        for (size_t k = common; k < mb.nblocks; k++)
            compress(sb, msg_block(&mb, k), 1);
        outer_block(oa, sa);
        outer_block(ob, sb);
        memcpy(sa, outer, sizeof sa);
        memcpy(sb, outer, sizeof sb);
        compress2(sa, oa, sb, ob);
        out[i] = ((uint64_t)sa[0] << 32) | sa[1];
        out[i + 1] = ((uint64_t)sb[0] << 32) | sb[1];
    }
    if (i < row1) {
        if (msg_prepare(&ma, src, i, scratch) < 0)
            return i + 1;
        memcpy(sa, inner, sizeof sa);
        if (ma.full)
            compress(sa, ma.m, ma.full);
        compress(sa, ma.tail, ma.nblocks - ma.full);
        outer_block(oa, sa);
        memcpy(sa, outer, sizeof sa);
        compress(sa, oa, 1);
        out[i] = ((uint64_t)sa[0] << 32) | sa[1];
    }
    return 0;
}

static inline __attribute__((always_inline)) void
sha256_portable_x2(uint32_t sa[8], const uint8_t *ba, uint32_t sb[8], const uint8_t *bb)
{
    sha256_portable(sa, ba, 1);
    sha256_portable(sb, bb, 1);
}

static size_t hmac_rows_portable(const src_t *src, uint8_t *scratch, size_t scratch_half,
                                 size_t row0, size_t row1, const uint32_t inner[8],
                                 const uint32_t outer[8], uint64_t *out)
{
    return hmac_rows(src, scratch, scratch_half, row0, row1, inner, outer, out, sha256_portable,
                     sha256_portable_x2);
}

#if LT_HAVE_SHANI_CODE
LT_SHANI_TARGET
static size_t hmac_rows_shani(const src_t *src, uint8_t *scratch, size_t scratch_half,
                              size_t row0, size_t row1, const uint32_t inner[8],
                              const uint32_t outer[8], uint64_t *out)
{
    return hmac_rows(src, scratch, scratch_half, row0, row1, inner, outer, out, sha256_shani,
                     sha256_shani_x2);
}
#endif

/* ---------------------------------------------------------------- SipHash-2-4 */

#define LT_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define LT_SIPROUND                                                                        \
    do {                                                                                   \
        v0 += v1; v1 = LT_ROTL(v1, 13); v1 ^= v0; v0 = LT_ROTL(v0, 32);                    \
        v2 += v3; v3 = LT_ROTL(v3, 16); v3 ^= v2;                                          \
        v0 += v3; v3 = LT_ROTL(v3, 21); v3 ^= v0;                                          \
        v2 += v1; v1 = LT_ROTL(v1, 17); v1 ^= v2; v2 = LT_ROTL(v2, 32);                    \
    } while (0)

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int j = 7; j >= 0; j--)
        x = (x << 8) | p[j];
    return x;
}

/* SipHash-2-4 of m[0:len] under the key (k0, k1) = the 16 key bytes read little-endian:
 * the reference algorithm (its test vectors are in tests/test_digest.py). */
static inline uint64_t siphash24(const uint8_t *m, size_t len, uint64_t k0, uint64_t k1)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    const uint8_t *end = m + (len - len % 8);
    for (; m != end; m += 8) {
        uint64_t w = load_le64(m);
        v3 ^= w;
        LT_SIPROUND;
        LT_SIPROUND;
        v0 ^= w;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t j = 0; j < len % 8; j++)
        b |= (uint64_t)m[j] << (8 * j);
    v3 ^= b;
    LT_SIPROUND;
    LT_SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    LT_SIPROUND;
    LT_SIPROUND;
    LT_SIPROUND;
    LT_SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* out[i] = SipHash-2-4 of rows [row0, row1) of `src`; as hmac_rows for bad rows. */
static size_t siphash_rows(const src_t *src, uint8_t *scratch, size_t row0, size_t row1,
                           uint64_t k0, uint64_t k1, uint64_t *out)
{
    for (size_t i = row0; i < row1; i++) {
        const uint8_t *m;
        size_t len;
        if (src_row(src, i, scratch, &m, &len) < 0)
            return i + 1;
        out[i] = siphash24(m, len, k0, k1);
    }
    return 0;
}

enum { LT_ALG_HMAC = 0, LT_ALG_SIPHASH = 1 };

/* The key of one call: HMAC's two chaining values, or SipHash's two key words. */
typedef struct {
    int alg;
    uint32_t inner[8], outer[8];
    uint64_t k0, k1;
} digest_key_t;

typedef struct {
    const src_t *src;
    uint8_t *scratch; /* 2 * scratch_half bytes, this job's own */
    size_t scratch_half;
    size_t row0, row1;
    const digest_key_t *key;
    uint64_t *out;
    int use_shani;
    size_t bad; /* first bad row + 1, or 0 */
} job_t;

static void *run_job(void *arg)
{
    job_t *j = (job_t *)arg;
    if (j->key->alg == LT_ALG_SIPHASH) {
        j->bad = siphash_rows(j->src, j->scratch, j->row0, j->row1, j->key->k0, j->key->k1,
                              j->out);
        return NULL;
    }
#if LT_HAVE_SHANI_CODE
    if (j->use_shani) {
        j->bad = hmac_rows_shani(j->src, j->scratch, j->scratch_half, j->row0, j->row1,
                                 j->key->inner, j->key->outer, j->out);
        return NULL;
    }
#endif
    j->bad = hmac_rows_portable(j->src, j->scratch, j->scratch_half, j->row0, j->row1,
                                j->key->inner, j->key->outer, j->out);
    return NULL;
}

/* Rows [0, n) of `src` split in contiguous runs over up to `threads` threads (fewer when a
 * run would hold < min_rows rows); job 0 runs on the calling thread. Each job gets its own
 * scratch of 2 * scratch_half bytes. Called without the GIL. Returns -1 when scratch
 * memory cannot be allocated; `*bad` = first bad row + 1, or 0. */
static int run_jobs(const src_t *src, size_t n, size_t scratch_half, const digest_key_t *key,
                    uint64_t *out, size_t threads, size_t min_rows, int use_shani, size_t *bad)
{
    job_t jobs[LT_MAX_THREADS];
    pthread_t tids[LT_MAX_THREADS];
    int started[LT_MAX_THREADS];
    size_t nthreads = threads > LT_MAX_THREADS ? LT_MAX_THREADS : threads;
    if (nthreads > n / min_rows)
        nthreads = n / min_rows;
    if (nthreads < 1)
        nthreads = 1;
    uint8_t *scratch = NULL;
    if (scratch_half) {
        scratch = malloc(2 * scratch_half * nthreads);
        if (scratch == NULL)
            return -1;
    }
    for (size_t t = 0; t < nthreads; t++) {
        jobs[t].src = src;
        jobs[t].scratch = scratch ? scratch + 2 * scratch_half * t : NULL;
        jobs[t].scratch_half = scratch_half;
        jobs[t].row0 = n * t / nthreads;
        jobs[t].row1 = n * (t + 1) / nthreads;
        jobs[t].key = key;
        jobs[t].out = out;
        jobs[t].use_shani = use_shani;
        jobs[t].bad = 0;
        started[t] = 0;
    }
    for (size_t t = 1; t < nthreads; t++)
        started[t] = pthread_create(&tids[t], NULL, run_job, &jobs[t]) == 0;
    run_job(&jobs[0]);
    for (size_t t = 1; t < nthreads; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            run_job(&jobs[t]);
    }
    *bad = 0;
    for (size_t t = 0; t < nthreads; t++) {
        if (jobs[t].bad) {
            *bad = jobs[t].bad;
            break;
        }
    }
    free(scratch);
    return 0;
}

/* ---------------------------------------------------------------- Python glue */

static int state_from_buffer(const Py_buffer *buf, uint32_t st[8], const char *name)
{
    if (buf->len != 32) {
        PyErr_Format(PyExc_ValueError, "%s must be 32 bytes", name);
        return -1;
    }
    for (int j = 0; j < 8; j++)
        st[j] = load_be32((const uint8_t *)buf->buf + 4 * j);
    return 0;
}

static int use_shani_for(int portable) { return !portable && g_have_shani; }

PyDoc_STRVAR(sha256_midstate_doc,
"sha256_midstate(block, /, *, portable=False) -> bytes\n"
"\n"
"SHA-256 chaining value (8 big-endian 32-bit words, 32 bytes) after compressing one\n"
"64-byte block from the standard initial value. For HMAC, block is the key XOR ipad\n"
"(inner state) or key XOR opad (outer state).");

static PyObject *py_sha256_midstate(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"block", "portable", NULL};
    Py_buffer block;
    int portable = 0;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|$p:sha256_midstate", kwlist, &block,
                                     &portable))
        return NULL;
    if (block.len != 64) {
        PyBuffer_Release(&block);
        PyErr_SetString(PyExc_ValueError, "block must be exactly 64 bytes");
        return NULL;
    }
    uint32_t st[8];
    memcpy(st, IV256, sizeof st);
#if LT_HAVE_SHANI_CODE
    if (use_shani_for(portable))
        sha256_shani(st, (const uint8_t *)block.buf, 1);
    else
#endif
        sha256_portable(st, (const uint8_t *)block.buf, 1);
    PyBuffer_Release(&block);
    uint8_t outb[32];
    for (int j = 0; j < 8; j++)
        store_be32(outb + 4 * j, st[j]);
    return PyBytes_FromStringAndSize((const char *)outb, 32);
}

/* A bytes object for n native uint64 digests (NULL with MemoryError set when too large). */
static PyObject *u64_result(size_t n)
{
    if (n > (size_t)PY_SSIZE_T_MAX / 8)
        return PyErr_NoMemory();
    return PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * 8));
}

/* 1 for int64, 0 for int32, -1 (exception set) otherwise. */
static int offsets_width(const Py_buffer *v)
{
    const char *f = v->format ? v->format : "B";
#if PY_LITTLE_ENDIAN
    if (*f == '@' || *f == '=' || *f == '<')
#else
    if (*f == '@' || *f == '=' || *f == '>' || *f == '!')
#endif
        f++;
    if (f[0] != '\0' && f[1] == '\0' && v->ndim <= 1) {
        if (v->itemsize == 8 && (f[0] == 'q' || f[0] == 'l'))
            return 1;
        if (v->itemsize == 4 && (f[0] == 'i' || f[0] == 'l'))
            return 0;
    }
    PyErr_Format(PyExc_TypeError,
                 "offsets must be a 1-d contiguous int32 or int64 buffer (got format '%s', "
                 "itemsize %zd)",
                 v->format ? v->format : "B", v->itemsize);
    return -1;
}

PyDoc_STRVAR(hmac_sha256_u64_doc,
"hmac_sha256_u64(data, offsets, inner_state, outer_state, threads=2, *, portable=False,\n"
"                min_rows_per_thread=4096) -> bytes\n"
"\n"
"For each of the n = len(offsets) - 1 rows, the message data[offsets[i]:offsets[i+1]]\n"
"(Arrow string layout; offsets int32 or int64), compute HMAC-SHA256 from the precomputed\n"
"inner/outer chaining values (see sha256_midstate) and store its first 8 bytes, read\n"
"big-endian, as a native uint64. Returns n * 8 bytes. Rows are split in contiguous runs\n"
"over up to `threads` threads (fewer when a run would hold < min_rows_per_thread rows),\n"
"with the GIL released; `portable=True` forces the portable C compression even when the\n"
"CPU has SHA-NI. The buffers must not be mutated during the call.");

static PyObject *py_hmac_sha256_u64(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"data",    "offsets",  "inner_state",         "outer_state",
                             "threads", "portable", "min_rows_per_thread", NULL};
    Py_buffer data, inner_b, outer_b, offs;
    PyObject *offsets_obj;
    int threads = 2, portable = 0;
    Py_ssize_t min_rows = LT_MIN_ROWS_PER_THREAD;
    PyObject *result = NULL;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*Oy*y*|i$pn:hmac_sha256_u64", kwlist,
                                     &data, &offsets_obj, &inner_b, &outer_b, &threads,
                                     &portable, &min_rows))
        return NULL;
    memset(&offs, 0, sizeof offs);
    int have_offs = 0;

    digest_key_t key;
    memset(&key, 0, sizeof key);
    key.alg = LT_ALG_HMAC;
    if (state_from_buffer(&inner_b, key.inner, "inner_state") < 0 ||
        state_from_buffer(&outer_b, key.outer, "outer_state") < 0)
        goto done;
    if (threads < 1 || min_rows < 1) {
        PyErr_SetString(PyExc_ValueError, "threads and min_rows_per_thread must be >= 1");
        goto done;
    }
    if (PyObject_GetBuffer(offsets_obj, &offs, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto done;
    have_offs = 1;
    int off64 = offsets_width(&offs);
    if (off64 < 0)
        goto done;
    Py_ssize_t count = offs.len / offs.itemsize;
    if (count < 1) {
        PyErr_SetString(PyExc_ValueError, "offsets must hold at least one entry");
        goto done;
    }
    size_t n = (size_t)count - 1;
    result = u64_result(n);
    if (result == NULL)
        goto done;

    uint64_t *out = (uint64_t *)PyBytes_AS_STRING(result);
    src_t src;
    memset(&src, 0, sizeof src);
    src.data = (const uint8_t *)data.buf;
    src.data_len = (size_t)data.len;
    src.offsets = offs.buf;
    src.off64 = off64;
    size_t bad = 0;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = run_jobs(&src, n, 0, &key, out, (size_t)threads, (size_t)min_rows,
                      use_shani_for(portable), &bad);
    Py_END_ALLOW_THREADS
    if (failed) {
        Py_CLEAR(result);
        PyErr_NoMemory();
        goto done;
    }

    if (bad) {
        Py_CLEAR(result);
        PyErr_Format(PyExc_ValueError,
                     "offsets[%zu:%zu] are not a valid range of data (%zd bytes)", bad - 1,
                     bad + 1, data.len);
    }

done:
    if (have_offs)
        PyBuffer_Release(&offs);
    PyBuffer_Release(&data);
    PyBuffer_Release(&inner_b);
    PyBuffer_Release(&outer_b);
    return result;
}

PyDoc_STRVAR(hmac_sha256_u64_views_doc,
"hmac_sha256_u64_views(columns, sep, inner_state, outer_state, threads=2, *, portable=False,\n"
"                      min_rows_per_thread=4096) -> bytes\n"
"\n"
"Like hmac_sha256_u64, for Arrow string_view columns: `columns` is a tuple of one or two\n"
"(views, data_buffers) pairs (16-byte views of the array's own rows, the tuple of its data\n"
"buffers). Row i's message is column 0's value, or with two columns value0 + sep + value1.\n"
"Null slots are hashed as whatever their views hold; the caller masks them.");

/* The digests of one or two string_view columns (see hmac_sha256_u64_views); shared by
 * the HMAC and SipHash entry points, which differ only in `key`. */
static PyObject *views_digest(PyObject *columns, const Py_buffer *sep, const digest_key_t *key,
                              int threads, Py_ssize_t min_rows, int portable)
{
    PyObject *result = NULL;
    Py_buffer views[2];
    int have_views[2] = {0, 0};
    Py_buffer *bufs[2] = {NULL, NULL};
    Py_ssize_t got[2] = {0, 0};
    const uint8_t **bptr[2] = {NULL, NULL};
    size_t *blen[2] = {NULL, NULL};
    src_t src;

    memset(&src, 0, sizeof src);
    if (threads < 1 || min_rows < 1) {
        PyErr_SetString(PyExc_ValueError, "threads and min_rows_per_thread must be >= 1");
        goto done;
    }
    if (!PyTuple_Check(columns) || PyTuple_GET_SIZE(columns) < 1 ||
        PyTuple_GET_SIZE(columns) > 2) {
        PyErr_SetString(PyExc_ValueError, "columns must be a tuple of one or two columns");
        goto done;
    }
    int ncols = (int)PyTuple_GET_SIZE(columns);
    size_t n = 0;
    for (int c = 0; c < ncols; c++) {
        PyObject *col = PyTuple_GET_ITEM(columns, c);
        if (!PyTuple_Check(col) || PyTuple_GET_SIZE(col) != 2 ||
            !PyTuple_Check(PyTuple_GET_ITEM(col, 1))) {
            PyErr_SetString(PyExc_ValueError,
                            "each column must be a (views, tuple of data buffers) pair");
            goto done;
        }
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(col, 0), &views[c], PyBUF_SIMPLE) < 0)
            goto done;
        have_views[c] = 1;
        if (views[c].len % 16) {
            PyErr_SetString(PyExc_ValueError, "views must be 16 bytes per row");
            goto done;
        }
        size_t rows = (size_t)views[c].len / 16;
        if (c == 0)
            n = rows;
        else if (rows != n) {
            PyErr_SetString(PyExc_ValueError, "the columns differ in length");
            goto done;
        }
        PyObject *buf_list = PyTuple_GET_ITEM(col, 1);
        Py_ssize_t nbufs = PyTuple_GET_SIZE(buf_list);
        bufs[c] = calloc((size_t)nbufs + 1, sizeof(Py_buffer));
        bptr[c] = calloc((size_t)nbufs + 1, sizeof(const uint8_t *));
        blen[c] = calloc((size_t)nbufs + 1, sizeof(size_t));
        if (!bufs[c] || !bptr[c] || !blen[c]) {
            PyErr_NoMemory();
            goto done;
        }
        for (; got[c] < nbufs; got[c]++) {
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(buf_list, got[c]), &bufs[c][got[c]],
                                   PyBUF_SIMPLE) < 0)
                goto done;
            bptr[c][got[c]] = (const uint8_t *)bufs[c][got[c]].buf;
            blen[c][got[c]] = (size_t)bufs[c][got[c]].len;
        }
        src.cols[c].views = (const uint8_t *)views[c].buf;
        src.cols[c].bufs = bptr[c];
        src.cols[c].buflens = blen[c];
        src.cols[c].nbufs = (size_t)nbufs;
    }
    src.ncols = ncols;
    src.sep = (const uint8_t *)sep->buf;
    src.seplen = (size_t)sep->len;
    size_t scratch_half = 0;
    if (ncols == 2) { /* room for the longest joined row (a bad length is refused later) */
        scratch_half = src.seplen + 1;
        for (int c = 0; c < 2; c++) {
            int32_t longest = 0;
            for (size_t i = 0; i < n; i++) {
                int32_t len;
                memcpy(&len, src.cols[c].views + 16 * i, 4);
                if (len > longest)
                    longest = len;
            }
            scratch_half += (size_t)longest;
        }
    }
    result = u64_result(n);
    if (result == NULL)
        goto done;
    size_t bad = 0;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = run_jobs(&src, n, scratch_half, key, (uint64_t *)PyBytes_AS_STRING(result),
                      (size_t)threads, (size_t)min_rows, use_shani_for(portable), &bad);
    Py_END_ALLOW_THREADS
    if (failed) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    } else if (bad) {
        Py_CLEAR(result);
        PyErr_Format(PyExc_ValueError, "row %zu: a string view lies outside its data buffers",
                     bad - 1);
    }

done:
    for (int c = 0; c < 2; c++) {
        for (Py_ssize_t i = 0; i < got[c]; i++)
            PyBuffer_Release(&bufs[c][i]);
        free(bufs[c]);
        free(bptr[c]);
        free(blen[c]);
        if (have_views[c])
            PyBuffer_Release(&views[c]);
    }
    return result;
}

static PyObject *py_hmac_sha256_u64_views(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"columns", "sep",      "inner_state",         "outer_state",
                             "threads", "portable", "min_rows_per_thread", NULL};
    PyObject *columns;
    Py_buffer sep, inner_b, outer_b;
    int threads = 2, portable = 0;
    Py_ssize_t min_rows = LT_MIN_ROWS_PER_THREAD;
    PyObject *result = NULL;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Oy*y*y*|i$pn:hmac_sha256_u64_views", kwlist,
                                     &columns, &sep, &inner_b, &outer_b, &threads, &portable,
                                     &min_rows))
        return NULL;
    digest_key_t key;
    memset(&key, 0, sizeof key);
    key.alg = LT_ALG_HMAC;
    if (state_from_buffer(&inner_b, key.inner, "inner_state") == 0 &&
        state_from_buffer(&outer_b, key.outer, "outer_state") == 0)
        result = views_digest(columns, &sep, &key, threads, min_rows, portable);
    PyBuffer_Release(&sep);
    PyBuffer_Release(&inner_b);
    PyBuffer_Release(&outer_b);
    return result;
}

PyDoc_STRVAR(siphash24_u64_views_doc,
"siphash24_u64_views(columns, sep, key, threads=2, *, min_rows_per_thread=4096) -> bytes\n"
"\n"
"Like hmac_sha256_u64_views, with SipHash-2-4 under the 16-byte `key` (k0, k1 read\n"
"little-endian, as in the reference implementation): n native uint64 digests.");

static PyObject *py_siphash24_u64_views(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"columns", "sep", "key", "threads", "min_rows_per_thread", NULL};
    PyObject *columns;
    Py_buffer sep, key_b;
    int threads = 2;
    Py_ssize_t min_rows = LT_MIN_ROWS_PER_THREAD;
    PyObject *result = NULL;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Oy*y*|i$n:siphash24_u64_views", kwlist,
                                     &columns, &sep, &key_b, &threads, &min_rows))
        return NULL;
    if (key_b.len != 16) {
        PyErr_SetString(PyExc_ValueError, "key must be exactly 16 bytes");
    } else {
        digest_key_t key;
        memset(&key, 0, sizeof key);
        key.alg = LT_ALG_SIPHASH;
        key.k0 = load_le64((const uint8_t *)key_b.buf);
        key.k1 = load_le64((const uint8_t *)key_b.buf + 8);
        result = views_digest(columns, &sep, &key, threads, min_rows, 0);
        memset(&key, 0, sizeof key);
    }
    PyBuffer_Release(&sep);
    PyBuffer_Release(&key_b);
    return result;
}

PyDoc_STRVAR(has_sha_ni_doc,
"has_sha_ni() -> bool\n"
"\n"
"Whether the SHA-NI compression is compiled in and the CPU supports it (then it is used\n"
"unless portable=True).");

static PyObject *py_has_sha_ni(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(g_have_shani);
}

static PyMethodDef hmac_methods[] = {
    {"sha256_midstate", (PyCFunction)(void (*)(void))py_sha256_midstate,
     METH_VARARGS | METH_KEYWORDS, sha256_midstate_doc},
    {"hmac_sha256_u64", (PyCFunction)(void (*)(void))py_hmac_sha256_u64,
     METH_VARARGS | METH_KEYWORDS, hmac_sha256_u64_doc},
    {"hmac_sha256_u64_views", (PyCFunction)(void (*)(void))py_hmac_sha256_u64_views,
     METH_VARARGS | METH_KEYWORDS, hmac_sha256_u64_views_doc},
    {"siphash24_u64_views", (PyCFunction)(void (*)(void))py_siphash24_u64_views,
     METH_VARARGS | METH_KEYWORDS, siphash24_u64_views_doc},
    {"has_sha_ni", py_has_sha_ni, METH_NOARGS, has_sha_ni_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef hmac_module = {
    PyModuleDef_HEAD_INIT,
    "leaktrace._hmac",
    "Keyed 64-bit digests over Arrow string buffers, GIL released: HMAC-SHA256 (first 8 "
    "bytes; SHA-NI when present) and SipHash-2-4.",
    -1,
    hmac_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__hmac(void)
{
    g_have_shani = cpu_has_shani();
    return PyModule_Create(&hmac_module);
}
