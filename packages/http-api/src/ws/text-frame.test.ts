import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { textFrame, textFrames } from './text-frame';

/** ws's own framing of a server's final text frame (what `ws.send(text)` writes). */
const wsFrame = (text: string): Buffer => {
  // ws's Sender (exported, untyped in @types/ws)
  const { Sender } = ws as unknown as {
    Sender: { frame(data: Buffer, options: object): Buffer[] };
  };
  const payload = Buffer.from(text, 'utf8');
  return Buffer.concat(
    Sender.frame(payload, { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }),
  );
};

// payload lengths at each header size's edges (7-bit, 16-bit, 64-bit), and multi-byte UTF-8
const TEXTS = [
  '',
  'a',
  'x'.repeat(125),
  'x'.repeat(126),
  'é'.repeat(63),
  `${'x'.repeat(123)}é`,
  'x'.repeat(65_535),
  'x'.repeat(65_536),
  '😀'.repeat(20_000),
];

describe('text frames', () => {
  it('are the bytes ws frames a final unmasked text message as', () => {
    for (const text of TEXTS) {
      expect(textFrame(text).equals(wsFrame(text)), `length ${text.length}`).toBe(true);
    }
  });

  it('lie back to back in one buffer with their bounds and payload lengths', () => {
    const { data, bounds, lengths, payloadBytes } = textFrames(TEXTS);
    expect(data.equals(Buffer.concat(TEXTS.map(wsFrame)))).toBe(true);
    expect(bounds).toHaveLength(TEXTS.length + 1);
    TEXTS.forEach((text, i) => {
      expect(data.subarray(bounds[i], bounds[i + 1]).equals(wsFrame(text))).toBe(true);
      expect(lengths[i]).toBe(Buffer.byteLength(text));
    });
    expect(payloadBytes).toBe(TEXTS.reduce((n, t) => n + Buffer.byteLength(t), 0));
  });
});
