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
 *
 * An element's 2048 XOF bytes are the 32 output blocks of its root node (output counter
 * t = 0..31, everything else equal): 32 / W vector compressions, one counter per lane. Lane sums
 * are kept in that layout (acc[g * 16 + w] = output word w of counters W*g .. W*g + W - 1; a
 * 16-bit add is lane-wise, so the order does not matter) and put back in natural order once per
 * call (lthash_transpose_out).
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

/* Output blocks t0 .. t0 + W - 1 of the root node: out[w] = output word w, one counter per lane. */
static inline void LEVEL(root_blocks)(V out[16], const LEVEL(RootNodeV) * n, uint32_t t0) {
  const V *mv = n->mv;
  V s0 = n->cv[0], s1 = n->cv[1], s2 = n->cv[2], s3 = n->cv[3];
  V s4 = n->cv[4], s5 = n->cv[5], s6 = n->cv[6], s7 = n->cv[7];
  V s8 = SPLAT32(IV[0]), s9 = SPLAT32(IV[1]), s10 = SPLAT32(IV[2]), s11 = SPLAT32(IV[3]);
  V s12 = COUNTERS(t0);
  V s13 = ZERO();
  V s14 = n->block_len;
  V s15 = n->flags;
  ROUNDV(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  ROUNDV(2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8);
  ROUNDV(3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1);
  ROUNDV(10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6);
  ROUNDV(12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4);
  ROUNDV(9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7);
  ROUNDV(11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13);
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
}

/* The 2048 XOF bytes of one element, in natural order. */
static void LEVEL(xof)(uint8_t out[LTHASH_BYTES], const uint8_t *p, size_t len) {
  RootNode n;
  root_node(&n, p, len);
  LEVEL(RootNodeV) v;
  LEVEL(splat_node)(&v, &n);
  V blocks[GROUPS * 16] __attribute__((aligned(64)));
  for (uint32_t g = 0; g < GROUPS; g++) LEVEL(root_blocks)(blocks + g * 16, &v, W * g);
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
  for (uint32_t e = 0; e < count; e++) {
    uint32_t off = descriptors[2 * e], lenf = descriptors[2 * e + 1];
    RootNode n;
    root_node(&n, input + off, lenf & 0x7fffffffu);
    LEVEL(RootNodeV) v;
    LEVEL(splat_node)(&v, &n);
    V blocks[16];
    if (lenf & 0x80000000u) {
      for (uint32_t g = 0; g < GROUPS; g++) {
        LEVEL(root_blocks)(blocks, &v, W * g);
        for (int w = 0; w < 16; w++) acc[g * 16 + w] = SUB16(acc[g * 16 + w], blocks[w]);
      }
    } else {
      for (uint32_t g = 0; g < GROUPS; g++) {
        LEVEL(root_blocks)(blocks, &v, W * g);
        for (int w = 0; w < 16; w++) acc[g * 16 + w] = ADD16(acc[g * 16 + w], blocks[w]);
      }
    }
  }
  lthash_transpose_out(target, (const uint32_t *)acc, W, 1);
}

#undef GROUPS
#undef GV
#undef ROUNDV
