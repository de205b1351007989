/*
 * BLAKE3 XOF to 2048 bytes and LtHash16 lane sums, for WebAssembly with SIMD (simd128).
 *
 * Written for @synddb/applier's state root (see its README). An element's hash is the first 2048
 * bytes of BLAKE3's extended output (unkeyed hash mode) of the element's bytes, read as 1024
 * little-endian 16-bit lanes. Those 2048 bytes are 32 output blocks of 64 bytes; each one is an
 * independent compression of the same root node (same input chaining value, block, length and
 * flags) with the output counter t = 0..31. This file computes them 4 at a time, one output
 * counter per 32-bit lane of a u32x4 vector (8 vector compressions per element); the chunk
 * chaining before the root node (every block of the input but the last, and the parent tree
 * above 1024 bytes) is scalar.
 *
 * The batch call accumulates the elements' lanes in a permuted layout (the vector state word w
 * of counter group g at acc[g][w], i.e. the counter-major transpose of the natural byte order):
 * a 16-bit add is lane-wise whatever the lanes' order, so the transpose back to natural order is
 * done once per batch (lthash_acc_take), not once per element.
 *
 * Build: wasm/build.sh (clang --target=wasm32 -msimd128 -O3, no libc).
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define CHUNK_LEN 1024u
#define BLOCK_LEN 64u
#define CHUNK_START 1u
#define CHUNK_END 2u
#define PARENT 4u
#define ROOT 8u

static const uint32_t IV[8] = {0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                               0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u};

static const uint8_t MSG_SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

/* ---------------------------------------------------------------- scalar compression */

static inline uint32_t rotr32(uint32_t w, uint32_t c) { return (w >> c) | (w << (32 - c)); }

static inline uint32_t load32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#define G(a, b, c, d, x, y)                                                                        \
  do {                                                                                             \
    s[a] = s[a] + s[b] + (x);                                                                      \
    s[d] = rotr32(s[d] ^ s[a], 16);                                                                \
    s[c] = s[c] + s[d];                                                                            \
    s[b] = rotr32(s[b] ^ s[c], 12);                                                                \
    s[a] = s[a] + s[b] + (y);                                                                      \
    s[d] = rotr32(s[d] ^ s[a], 8);                                                                 \
    s[c] = s[c] + s[d];                                                                            \
    s[b] = rotr32(s[b] ^ s[c], 7);                                                                 \
  } while (0)

/* The 16-word state after the 7 rounds (before the output XORs). */
static void compress_rounds(uint32_t s[16], const uint32_t cv[8], const uint32_t m[16],
                            uint64_t counter, uint32_t block_len, uint32_t flags) {
  for (int i = 0; i < 8; i++) s[i] = cv[i];
  s[8] = IV[0];
  s[9] = IV[1];
  s[10] = IV[2];
  s[11] = IV[3];
  s[12] = (uint32_t)counter;
  s[13] = (uint32_t)(counter >> 32);
  s[14] = block_len;
  s[15] = flags;
  for (int r = 0; r < 7; r++) {
    const uint8_t *k = MSG_SCHEDULE[r];
    G(0, 4, 8, 12, m[k[0]], m[k[1]]);
    G(1, 5, 9, 13, m[k[2]], m[k[3]]);
    G(2, 6, 10, 14, m[k[4]], m[k[5]]);
    G(3, 7, 11, 15, m[k[6]], m[k[7]]);
    G(0, 5, 10, 15, m[k[8]], m[k[9]]);
    G(1, 6, 11, 12, m[k[10]], m[k[11]]);
    G(2, 7, 8, 13, m[k[12]], m[k[13]]);
    G(3, 4, 9, 14, m[k[14]], m[k[15]]);
  }
}

/* A chaining value: the first 8 words of the compression's output. */
static void compress_cv(uint32_t cv[8], const uint32_t m[16], uint64_t counter,
                        uint32_t block_len, uint32_t flags) {
  uint32_t s[16];
  compress_rounds(s, cv, m, counter, block_len, flags);
  for (int i = 0; i < 8; i++) cv[i] = s[i] ^ s[i + 8];
}

static void load_block(uint32_t m[16], const uint8_t *p, uint32_t len) {
  uint8_t b[BLOCK_LEN];
  for (uint32_t i = 0; i < BLOCK_LEN; i++) b[i] = i < len ? p[i] : 0;
  for (int i = 0; i < 16; i++) m[i] = load32(b + 4 * i);
}

/* The root node, whose output blocks are the XOF: compress(cv, m, t, block_len, flags | ROOT). */
typedef struct {
  uint32_t cv[8];
  uint32_t m[16];
  uint32_t block_len;
  uint32_t flags;
} RootNode;

/*
 * A chunk (at most 1024 bytes): every block but the last chained into cv; returns the last
 * block's node (not yet compressed).
 */
static void chunk_node(RootNode *node, const uint8_t *p, uint32_t len, uint64_t chunk) {
  uint32_t cv[8];
  for (int i = 0; i < 8; i++) cv[i] = IV[i];
  uint32_t flags = CHUNK_START;
  while (len > BLOCK_LEN) {
    uint32_t m[16];
    load_block(m, p, BLOCK_LEN);
    compress_cv(cv, m, chunk, BLOCK_LEN, flags);
    flags = 0;
    p += BLOCK_LEN;
    len -= BLOCK_LEN;
  }
  for (int i = 0; i < 8; i++) node->cv[i] = cv[i];
  load_block(node->m, p, len);
  node->block_len = len;
  node->flags = flags | CHUNK_END;
}

/* The chaining value of a non-root subtree of whole chunks starting at chunk index `chunk`. */
static void subtree_cv(uint32_t out[8], const uint8_t *p, uint32_t len, uint64_t chunk) {
  if (len <= CHUNK_LEN) {
    RootNode n;
    chunk_node(&n, p, len, chunk);
    for (int i = 0; i < 8; i++) out[i] = n.cv[i];
    compress_cv(out, n.m, chunk, n.block_len, n.flags);
    return;
  }
  /* left subtree: the largest power of two of chunks strictly less than the whole */
  uint32_t chunks = (len + CHUNK_LEN - 1) / CHUNK_LEN;
  uint32_t left = 1;
  while (left * 2 < chunks) left *= 2;
  uint32_t m[16];
  subtree_cv(m, p, left * CHUNK_LEN, chunk);
  subtree_cv(m + 8, p + left * CHUNK_LEN, len - left * CHUNK_LEN, chunk + left);
  for (int i = 0; i < 8; i++) out[i] = IV[i];
  compress_cv(out, m, 0, BLOCK_LEN, PARENT);
}

/* The root node of an input of any length (flags without ROOT). */
static void root_node(RootNode *node, const uint8_t *p, uint32_t len) {
  if (len <= CHUNK_LEN) {
    chunk_node(node, p, len, 0);
    return;
  }
  uint32_t chunks = (len + CHUNK_LEN - 1) / CHUNK_LEN;
  uint32_t left = 1;
  while (left * 2 < chunks) left *= 2;
  subtree_cv(node->m, p, left * CHUNK_LEN, 0);
  subtree_cv(node->m + 8, p + left * CHUNK_LEN, len - left * CHUNK_LEN, left);
  for (int i = 0; i < 8; i++) node->cv[i] = IV[i];
  node->block_len = BLOCK_LEN;
  node->flags = PARENT;
}

/* ---------------------------------------------------------------- 4-way output blocks */

static inline v128_t rot16(v128_t x) {
  return wasm_i8x16_shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
static inline v128_t rot8(v128_t x) {
  return wasm_i8x16_shuffle(x, x, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);
}
static inline v128_t rot12(v128_t x) {
  return wasm_v128_or(wasm_u32x4_shr(x, 12), wasm_i32x4_shl(x, 20));
}
static inline v128_t rot7(v128_t x) { return wasm_v128_or(wasm_u32x4_shr(x, 7), wasm_i32x4_shl(x, 25)); }

#define GV(a, b, c, d, x, y)                                                                       \
  do {                                                                                             \
    a = wasm_i32x4_add(wasm_i32x4_add(a, b), (x));                                                 \
    d = rot16(wasm_v128_xor(d, a));                                                                \
    c = wasm_i32x4_add(c, d);                                                                      \
    b = rot12(wasm_v128_xor(b, c));                                                                \
    a = wasm_i32x4_add(wasm_i32x4_add(a, b), (y));                                                 \
    d = rot8(wasm_v128_xor(d, a));                                                                 \
    c = wasm_i32x4_add(c, d);                                                                      \
    b = rot7(wasm_v128_xor(b, c));                                                                 \
  } while (0)

/* One round on the vector state, message words from the splatted block `mv` (schedule k). */
#define ROUNDV(k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14, k15)          \
  do {                                                                                             \
    GV(s0, s4, s8, s12, mv[k0], mv[k1]);                                                          \
    GV(s1, s5, s9, s13, mv[k2], mv[k3]);                                                          \
    GV(s2, s6, s10, s14, mv[k4], mv[k5]);                                                         \
    GV(s3, s7, s11, s15, mv[k6], mv[k7]);                                                         \
    GV(s0, s5, s10, s15, mv[k8], mv[k9]);                                                         \
    GV(s1, s6, s11, s12, mv[k10], mv[k11]);                                                       \
    GV(s2, s7, s8, s13, mv[k12], mv[k13]);                                                        \
    GV(s3, s4, s9, s14, mv[k14], mv[k15]);                                                        \
  } while (0)

/* The root node with its words splatted once per element (shared by its 8 counter groups). */
typedef struct {
  v128_t mv[16];
  v128_t cv[8];
  v128_t block_len;
  v128_t flags;
} RootNodeV;

static inline void splat_node(RootNodeV *v, const RootNode *n) {
  for (int i = 0; i < 16; i++) v->mv[i] = wasm_i32x4_splat(n->m[i]);
  for (int i = 0; i < 8; i++) v->cv[i] = wasm_i32x4_splat(n->cv[i]);
  v->block_len = wasm_i32x4_splat(n->block_len);
  v->flags = wasm_i32x4_splat(n->flags | ROOT);
}

/*
 * Output blocks t0..t0+3 of the root node: out[w] (w = 0..15) holds output word w of the four
 * counters, one per 32-bit lane.
 */
static inline void root_blocks4(v128_t out[16], const RootNodeV *n, uint32_t t0) {
  const v128_t *mv = n->mv;
  v128_t s0 = n->cv[0], s1 = n->cv[1], s2 = n->cv[2], s3 = n->cv[3];
  v128_t s4 = n->cv[4], s5 = n->cv[5], s6 = n->cv[6], s7 = n->cv[7];
  v128_t s8 = wasm_i32x4_splat(IV[0]), s9 = wasm_i32x4_splat(IV[1]);
  v128_t s10 = wasm_i32x4_splat(IV[2]), s11 = wasm_i32x4_splat(IV[3]);
  v128_t s12 = wasm_i32x4_make(t0, t0 + 1, t0 + 2, t0 + 3);
  v128_t s13 = wasm_i32x4_splat(0);
  v128_t s14 = n->block_len;
  v128_t s15 = n->flags;
  ROUNDV(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  ROUNDV(2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8);
  ROUNDV(3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1);
  ROUNDV(10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6);
  ROUNDV(12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4);
  ROUNDV(9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7);
  ROUNDV(11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13);
  out[0] = wasm_v128_xor(s0, s8);
  out[1] = wasm_v128_xor(s1, s9);
  out[2] = wasm_v128_xor(s2, s10);
  out[3] = wasm_v128_xor(s3, s11);
  out[4] = wasm_v128_xor(s4, s12);
  out[5] = wasm_v128_xor(s5, s13);
  out[6] = wasm_v128_xor(s6, s14);
  out[7] = wasm_v128_xor(s7, s15);
  out[8] = wasm_v128_xor(s8, n->cv[0]);
  out[9] = wasm_v128_xor(s9, n->cv[1]);
  out[10] = wasm_v128_xor(s10, n->cv[2]);
  out[11] = wasm_v128_xor(s11, n->cv[3]);
  out[12] = wasm_v128_xor(s12, n->cv[4]);
  out[13] = wasm_v128_xor(s13, n->cv[5]);
  out[14] = wasm_v128_xor(s14, n->cv[6]);
  out[15] = wasm_v128_xor(s15, n->cv[7]);
}

/* ---------------------------------------------------------------- exports */

#define EXPORT(name) __attribute__((export_name(#name)))
#define MAX_ELEMENTS 4096

/* Lane sums of the batch, permuted: acc[g * 16 + w] = word w of counters 4g..4g+3. */
static v128_t acc[128];
/* One element's XOF (lthash_xof) or the batch's lane sums (lthash_acc_take), natural order. */
static v128_t out_bytes[128];
/* Per element of a batch: byte offset in the input, and length | 0x80000000 to subtract. */
static uint32_t descriptors[2 * MAX_ELEMENTS];

EXPORT(lthash_descriptors) uint32_t lthash_descriptors(void) { return (uint32_t)(uintptr_t)descriptors; }
EXPORT(lthash_max_elements) uint32_t lthash_max_elements(void) { return MAX_ELEMENTS; }
EXPORT(lthash_out) uint32_t lthash_out(void) { return (uint32_t)(uintptr_t)out_bytes; }

/* Where the transpose puts counter c's word w: byte offset (c * 64 + w * 4) of the output. */
static void transpose_to(v128_t *dst, const v128_t *src) {
  for (int g = 0; g < 8; g++) {
    for (int w = 0; w < 16; w += 4) {
      v128_t a = src[g * 16 + w], b = src[g * 16 + w + 1];
      v128_t c = src[g * 16 + w + 2], d = src[g * 16 + w + 3];
      /* 4x4 transpose of 32-bit lanes: row i = words w..w+3 of counter 4g+i */
      v128_t ab_lo = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5);
      v128_t ab_hi = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
      v128_t cd_lo = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5);
      v128_t cd_hi = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
      int base = g * 4 * 4 + w / 4; /* counter 4g+i at v128 index (4g+i)*4 + w/4 */
      dst[base + 0] = wasm_i64x2_shuffle(ab_lo, cd_lo, 0, 2);
      dst[base + 4] = wasm_i64x2_shuffle(ab_lo, cd_lo, 1, 3);
      dst[base + 8] = wasm_i64x2_shuffle(ab_hi, cd_hi, 0, 2);
      dst[base + 12] = wasm_i64x2_shuffle(ab_hi, cd_hi, 1, 3);
    }
  }
}

/* The 2048 XOF bytes of one element (input at `ptr`) into lthash_out(). */
EXPORT(lthash_xof) void lthash_xof(uint32_t ptr, uint32_t len) {
  RootNode n;
  root_node(&n, (const uint8_t *)(uintptr_t)ptr, len);
  RootNodeV v;
  splat_node(&v, &n);
  v128_t blocks[128];
  for (uint32_t g = 0; g < 8; g++) root_blocks4(blocks + g * 16, &v, 4 * g);
  transpose_to(out_bytes, blocks);
}

EXPORT(lthash_acc_reset) void lthash_acc_reset(void) {
  for (int i = 0; i < 128; i++) acc[i] = wasm_i32x4_splat(0);
}

/*
 * Adds (or subtracts) the lanes of `count` elements to the batch sums: element i is the
 * descriptors[2i + 1] & 0x7fffffff bytes at `base + descriptors[2i]`, subtracted when bit 31 of
 * its length is set.
 */
EXPORT(lthash_acc_batch) void lthash_acc_batch(uint32_t base, uint32_t count) {
  for (uint32_t e = 0; e < count; e++) {
    uint32_t off = descriptors[2 * e], lenf = descriptors[2 * e + 1];
    RootNode n;
    root_node(&n, (const uint8_t *)(uintptr_t)(base + off), lenf & 0x7fffffffu);
    RootNodeV v;
    splat_node(&v, &n);
    v128_t blocks[16];
    if (lenf & 0x80000000u) {
      for (uint32_t g = 0; g < 8; g++) {
        root_blocks4(blocks, &v, 4 * g);
        for (int w = 0; w < 16; w++) acc[g * 16 + w] = wasm_i16x8_sub(acc[g * 16 + w], blocks[w]);
      }
    } else {
      for (uint32_t g = 0; g < 8; g++) {
        root_blocks4(blocks, &v, 4 * g);
        for (int w = 0; w < 16; w++) acc[g * 16 + w] = wasm_i16x8_add(acc[g * 16 + w], blocks[w]);
      }
    }
  }
}

/* The batch sums in natural lane order into lthash_out(). */
EXPORT(lthash_acc_take) void lthash_acc_take(void) { transpose_to(out_bytes, acc); }
