import { describe, expect, it } from 'vitest';
import { ClientMessageError, parseClientMessage } from './protocol';

const limits = { maxTables: 3, maxTableNameLength: 8 };
const code = (text: string) => {
  try {
    parseClientMessage(text, limits);
  } catch (error) {
    if (error instanceof ClientMessageError) return [error.code, error.id];
    throw error;
  }
  return 'parsed';
};

describe('parseClientMessage', () => {
  it('parses subscribe, unsubscribe and ping', () => {
    expect(parseClientMessage('{"op":"subscribe","id":1,"channel":"sequences"}', limits)).toEqual({
      op: 'subscribe',
      id: 1,
      channel: 'sequences',
    });
    expect(
      parseClientMessage(
        '{"op":"subscribe","id":"a","channel":"rows","tables":["x","x","y"],"values":false}',
        limits,
      ),
    ).toEqual({ op: 'subscribe', id: 'a', channel: 'rows', tables: ['x', 'y'], values: false });
    expect(parseClientMessage('{"op":"subscribe","channel":"rows"}', limits)).toEqual({
      op: 'subscribe',
      id: undefined,
      channel: 'rows',
      tables: null,
      values: undefined,
    });
    expect(parseClientMessage('{"op":"unsubscribe","channel":"rows"}', limits)).toEqual({
      op: 'unsubscribe',
      id: undefined,
      channel: 'rows',
    });
    expect(parseClientMessage('{"op":"ping","id":7}', limits)).toEqual({ op: 'ping', id: 7 });
  });

  it('rejects hostile input with stable codes, echoing a valid id', () => {
    expect(code('{')).toEqual(['BAD_JSON', undefined]);
    expect(code('[1]')).toEqual(['BAD_MESSAGE', undefined]);
    expect(code('null')).toEqual(['BAD_MESSAGE', undefined]);
    expect(code('{"op":"subscribe","id":{},"channel":"rows"}')).toEqual(['INVALID_ID', undefined]);
    expect(code(`{"op":"ping","id":"${'x'.repeat(129)}"}`)).toEqual(['INVALID_ID', undefined]);
    expect(code('{"op":"ping","id":1.5}')).toEqual(['INVALID_ID', undefined]);
    expect(code('{"op":"query","id":2}')).toEqual(['UNKNOWN_OP', 2]);
    expect(code('{"op":"subscribe","id":3,"channel":"blocks"}')).toEqual(['UNKNOWN_CHANNEL', 3]);
    expect(code('{"op":"subscribe","channel":"rows","tables":[]}')).toEqual([
      'INVALID_TABLES',
      undefined,
    ]);
    expect(code('{"op":"subscribe","channel":"rows","tables":["a","b","c","d"]}')[0]).toBe(
      'INVALID_TABLES',
    );
    expect(code('{"op":"subscribe","channel":"rows","tables":["toolongname"]}')[0]).toBe(
      'INVALID_TABLES',
    );
    expect(code('{"op":"subscribe","channel":"rows","tables":[1]}')[0]).toBe('INVALID_TABLES');
    expect(code('{"op":"subscribe","channel":"rows","tables":"a"}')[0]).toBe('INVALID_TABLES');
    expect(code('{"op":"subscribe","channel":"rows","values":"yes"}')[0]).toBe('INVALID_VALUES');
  });
});
