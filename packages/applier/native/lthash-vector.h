/*
 * The vector part of the native BLAKE3 LtHash kernel, included once per dispatch level by
 * blake3-lthash-native.c with these macros defined (and the level's instruction set enabled by
 * `#pragma GCC target`):
 *
 *   W            output counters per vector (32-bit lanes): 8 (AVX2) or 16 (AVX-512)
 *   V            the vector type (__m256i, __m512i)
 *   LEVEL(name)  name with the level's suffix
 *   ADD32, XOR, ROT16, ROT12, ROT8, ROT7, SPLAT32, ADD16, SUB16, ZERO, LOAD, STORE
 *   COUNTERS(t0) the vector t0, t0 + 1, ..., t0 + W - 1
 *   MASK, ACTIVE(n, k) lanes where n > k; GATHER(mask, offsets, base): 32-bit words at base +
 *                offsets (bytes), zero where the mask is off; BLEND(mask, old, new)
 *
 * An element's 2048 XOF bytes are the 32 output blocks of its root node (output counter
 * t = 0..31, everything else equal): 32 / W vector compressions, one counter per lane. Lane sums
 * are kept in that layout (acc[g * 16 + w] = output word w of counters W*g .. W*g + W - 1; a
 * 16-bit add is lane-wise, so the order does not matter) and put back in natural order once per
 * call (lthash_transpose_out).
 *
 * The blocks before an element's root node are chained W elements at a time too (one element
 * per lane, message words gathered), for elements of one chunk (up to 1024 bytes, every row
 * element in practice); longer ones are chained by the scalar code.
 */

#define GROUPS (32 / W)

#define GV(a, b, c, d, x, y)                                                                       \
  do {                                                                                             \
    a = ADD32(ADD32(a, b), (x));                                                                   \
    d = ROT16(XOR(d, a));                                                                          \
    c = ADD32(c, d);                                                                               \
    b = ROT12(XOR(b, c));                                                                          \
    a = ADD32(ADD32(a, b), (y));                                                                   \
    d = ROT8(XOR(d, a));                                                                           \
    c = ADD32(c, d);                                                                               \
    b = ROT7(XOR(b, c));                                                                           \
  } while (0)

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

/* The root node's words, splatted once per element (shared by its counter groups). */
typedef struct {
  V mv[16];
  V cv[8];
  V block_len;
  V flags;
} LEVEL(RootNodeV);

static inline void LEVEL(splat_node)(LEVEL(RootNodeV) * v, const RootNode *n) {
  for (int i = 0; i < 16; i++) v->mv[i] = SPLAT32(n->m[i]);
  for (int i = 0; i < 8; i++) v->cv[i] = SPLAT32(n->cv[i]);
  v->block_len = SPLAT32(n->block_len);
  v->flags = SPLAT32(n->flags | ROOT);
}

/*
 * Output blocks t0 .. t0 + 2W - 1 of the root node, two counter groups at once: out[w] and
 * out[16 + w] = output word w of counters t0 .. t0 + W - 1 and t0 + W .. t0 + 2W - 1, one per
 * lane. The two groups are independent instruction streams, interleaved: one alone is bound by
 * the latency of the G function's dependency chain (measured: 549 -> 386 TSC cycles per element
 * with AVX-512, 1526 -> 1168 with AVX2; four groups at once spill AVX2's 16 registers: 1568).
 */
#define GV2(a, b, c, d, a2, b2, c2, d2, x, y)                                                      \
  do {                                                                                             \
    V x_ = (x), y_ = (y);                                                                          \
    a = ADD32(ADD32(a, b), x_);                                                                    \
    a2 = ADD32(ADD32(a2, b2), x_);                                                                 \
    d = ROT16(XOR(d, a));                                                                          \
    d2 = ROT16(XOR(d2, a2));                                                                       \
    c = ADD32(c, d);                                                                               \
    c2 = ADD32(c2, d2);                                                                            \
    b = ROT12(XOR(b, c));                                                                          \
    b2 = ROT12(XOR(b2, c2));                                                                       \
    a = ADD32(ADD32(a, b), y_);                                                                    \
    a2 = ADD32(ADD32(a2, b2), y_);                                                                 \
    d = ROT8(XOR(d, a));                                                                           \
    d2 = ROT8(XOR(d2, a2));                                                                        \
    c = ADD32(c, d);                                                                               \
    c2 = ADD32(c2, d2);                                                                            \
    b = ROT7(XOR(b, c));                                                                           \
    b2 = ROT7(XOR(b2, c2));                                                                        \
  } while (0)

#define ROUNDV2(k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14, k15)         \
  do {                                                                                             \
    GV2(s0, s4, s8, s12, r0, r4, r8, r12, mv[k0], mv[k1]);                                        \
    GV2(s1, s5, s9, s13, r1, r5, r9, r13, mv[k2], mv[k3]);                                        \
    GV2(s2, s6, s10, s14, r2, r6, r10, r14, mv[k4], mv[k5]);                                      \
    GV2(s3, s7, s11, s15, r3, r7, r11, r15, mv[k6], mv[k7]);                                      \
    GV2(s0, s5, s10, s15, r0, r5, r10, r15, mv[k8], mv[k9]);                                      \
    GV2(s1, s6, s11, s12, r1, r6, r11, r12, mv[k10], mv[k11]);                                    \
    GV2(s2, s7, s8, s13, r2, r7, r8, r13, mv[k12], mv[k13]);                                      \
    GV2(s3, s4, s9, s14, r3, r4, r9, r14, mv[k14], mv[k15]);                                      \
  } while (0)

static inline void LEVEL(root_blocks2)(V out[32], const LEVEL(RootNodeV) * n, uint32_t t0) {
  const V *mv = n->mv;
  V s0 = n->cv[0], s1 = n->cv[1], s2 = n->cv[2], s3 = n->cv[3];
  V s4 = n->cv[4], s5 = n->cv[5], s6 = n->cv[6], s7 = n->cv[7];
  V s8 = SPLAT32(IV[0]), s9 = SPLAT32(IV[1]), s10 = SPLAT32(IV[2]), s11 = SPLAT32(IV[3]);
  V s12 = COUNTERS(t0), s13 = ZERO(), s14 = n->block_len, s15 = n->flags;
  V r0 = s0, r1 = s1, r2 = s2, r3 = s3, r4 = s4, r5 = s5, r6 = s6, r7 = s7;
  V r8 = s8, r9 = s9, r10 = s10, r11 = s11, r12 = COUNTERS(t0 + W), r13 = s13, r14 = s14, r15 = s15;
  ROUNDV2(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  ROUNDV2(2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8);
  ROUNDV2(3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1);
  ROUNDV2(10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6);
  ROUNDV2(12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4);
  ROUNDV2(9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7);
  ROUNDV2(11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13);
  out[0] = XOR(s0, s8);
  out[1] = XOR(s1, s9);
  out[2] = XOR(s2, s10);
  out[3] = XOR(s3, s11);
  out[4] = XOR(s4, s12);
  out[5] = XOR(s5, s13);
  out[6] = XOR(s6, s14);
  out[7] = XOR(s7, s15);
  out[8] = XOR(s8, n->cv[0]);
  out[9] = XOR(s9, n->cv[1]);
  out[10] = XOR(s10, n->cv[2]);
  out[11] = XOR(s11, n->cv[3]);
  out[12] = XOR(s12, n->cv[4]);
  out[13] = XOR(s13, n->cv[5]);
  out[14] = XOR(s14, n->cv[6]);
  out[15] = XOR(s15, n->cv[7]);
  out[16] = XOR(r0, r8);
  out[17] = XOR(r1, r9);
  out[18] = XOR(r2, r10);
  out[19] = XOR(r3, r11);
  out[20] = XOR(r4, r12);
  out[21] = XOR(r5, r13);
  out[22] = XOR(r6, r14);
  out[23] = XOR(r7, r15);
  out[24] = XOR(r8, n->cv[0]);
  out[25] = XOR(r9, n->cv[1]);
  out[26] = XOR(r10, n->cv[2]);
  out[27] = XOR(r11, n->cv[3]);
  out[28] = XOR(r12, n->cv[4]);
  out[29] = XOR(r13, n->cv[5]);
  out[30] = XOR(r14, n->cv[6]);
  out[31] = XOR(r15, n->cv[7]);
}

/* The chaining value after one full block (counter 0, 64 bytes, `flags`), one element per lane. */
static inline void LEVEL(chain_block)(V cv[8], const V mv[16], uint32_t flags) {
  V s0 = cv[0], s1 = cv[1], s2 = cv[2], s3 = cv[3], s4 = cv[4], s5 = cv[5], s6 = cv[6], s7 = cv[7];
  V s8 = SPLAT32(IV[0]), s9 = SPLAT32(IV[1]), s10 = SPLAT32(IV[2]), s11 = SPLAT32(IV[3]);
  V s12 = ZERO(), s13 = ZERO(), s14 = SPLAT32(BLOCK_LEN), s15 = SPLAT32(flags);
  ROUNDV(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  ROUNDV(2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8);
  ROUNDV(3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1);
  ROUNDV(10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6);
  ROUNDV(12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4);
  ROUNDV(9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7);
  ROUNDV(11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13);
  cv[0] = XOR(s0, s8);
  cv[1] = XOR(s1, s9);
  cv[2] = XOR(s2, s10);
  cv[3] = XOR(s3, s11);
  cv[4] = XOR(s4, s12);
  cv[5] = XOR(s5, s13);
  cv[6] = XOR(s6, s14);
  cv[7] = XOR(s7, s15);
}

/*
 * The root nodes of `count` (<= W) elements of the batch (descriptors as in accumulate). Elements
 * of at most one chunk whose bytes end below 2^31 (the gathers' signed offsets) are chained in
 * the lanes; the others (and all when fewer than 2 need chaining) by the scalar code.
 */
static void LEVEL(root_nodes)(RootNode nodes[W], const uint8_t *input, const uint32_t *descriptors,
                              uint32_t count) {
  uint32_t offsets[W] __attribute__((aligned(64))) = {0};
  uint32_t blocks[W] __attribute__((aligned(64))) = {0};
  uint32_t lanes = 0, max_blocks = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t off = descriptors[2 * i], len = descriptors[2 * i + 1] & 0x7fffffffu;
    if (len <= CHUNK_LEN && (uint64_t)off + len < 0x80000000u) {
      uint32_t b = len == 0 ? 0 : (len - 1) / BLOCK_LEN;
      offsets[i] = off;
      blocks[i] = b;
      if (b > 0) lanes++;
      if (b > max_blocks) max_blocks = b;
    }
  }
  uint32_t cvs[8][W] __attribute__((aligned(64)));
  if (lanes >= 2) {
    V cv[8];
    for (int j = 0; j < 8; j++) cv[j] = SPLAT32(IV[j]);
    V nb = LOAD(blocks), base = LOAD(offsets);
    for (uint32_t k = 0; k < max_blocks; k++) {
      MASK active = ACTIVE(nb, k);
      V at = ADD32(base, SPLAT32(k * BLOCK_LEN));
      V mv[16];
      for (int j = 0; j < 16; j++) mv[j] = GATHER(active, ADD32(at, SPLAT32(4 * j)), input);
      V next[8];
      for (int j = 0; j < 8; j++) next[j] = cv[j];
      LEVEL(chain_block)(next, mv, k == 0 ? CHUNK_START : 0);
      for (int j = 0; j < 8; j++) cv[j] = BLEND(active, cv[j], next[j]);
    }
    for (int j = 0; j < 8; j++) STORE(cvs[j], cv[j]);
  } else {
    lanes = 0;
  }
  for (uint32_t i = 0; i < count; i++) {
    uint32_t off = descriptors[2 * i], len = descriptors[2 * i + 1] & 0x7fffffffu;
    if (lanes == 0 || len > CHUNK_LEN || (uint64_t)off + len >= 0x80000000u) {
      root_node(&nodes[i], input + off, len);
      continue;
    }
    uint32_t b = blocks[i];
    for (int j = 0; j < 8; j++) nodes[i].cv[j] = cvs[j][i];
    load_block(nodes[i].m, input + off + b * BLOCK_LEN, len - b * BLOCK_LEN);
    nodes[i].block_len = len - b * BLOCK_LEN;
    nodes[i].flags = (b == 0 ? CHUNK_START : 0) | CHUNK_END;
  }
}

/* The 2048 XOF bytes of one element, in natural order. */
static void LEVEL(xof)(uint8_t out[LTHASH_BYTES], const uint8_t *p, size_t len) {
  RootNode n;
  root_node(&n, p, len);
  LEVEL(RootNodeV) v;
  LEVEL(splat_node)(&v, &n);
  V blocks[GROUPS * 16] __attribute__((aligned(64)));
  for (uint32_t g = 0; g < GROUPS; g += 2) LEVEL(root_blocks2)(blocks + g * 16, &v, W * g);
  lthash_transpose_out(out, (const uint32_t *)blocks, W, 0);
}

/*
 * Adds (or subtracts) the lanes of `count` elements to the 1024 natural-order lanes at `target`
 * (mod 2^16): element i is descriptors[2i + 1] & 0x7fffffff bytes at input + descriptors[2i],
 * subtracted when bit 31 of its length is set. The caller checked the descriptors' bounds.
 */
static void LEVEL(accumulate)(uint8_t *target, const uint8_t *input, const uint32_t *descriptors,
                              uint32_t count) {
  V acc[GROUPS * 16] __attribute__((aligned(64)));
  for (int i = 0; i < GROUPS * 16; i++) acc[i] = ZERO();
  RootNode nodes[W];
  for (uint32_t e0 = 0; e0 < count; e0 += W) {
    uint32_t n = count - e0 < W ? count - e0 : W;
    const uint32_t *d = descriptors + 2 * e0;
    LEVEL(root_nodes)(nodes, input, d, n);
    for (uint32_t i = 0; i < n; i++) {
      LEVEL(RootNodeV) v;
      LEVEL(splat_node)(&v, &nodes[i]);
      V blocks[32];
      if (d[2 * i + 1] & 0x80000000u) {
        for (uint32_t g = 0; g < GROUPS; g += 2) {
          LEVEL(root_blocks2)(blocks, &v, W * g);
          for (int w = 0; w < 32; w++) acc[g * 16 + w] = SUB16(acc[g * 16 + w], blocks[w]);
        }
      } else {
        for (uint32_t g = 0; g < GROUPS; g += 2) {
          LEVEL(root_blocks2)(blocks, &v, W * g);
          for (int w = 0; w < 32; w++) acc[g * 16 + w] = ADD16(acc[g * 16 + w], blocks[w]);
        }
      }
    }
  }
  lthash_transpose_out(target, (const uint32_t *)acc, W, 1);
}

#undef GROUPS
#undef GV
#undef ROUNDV
#undef GV2
#undef ROUNDV2
