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
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#include "../native/blake3-scalar.h"

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
