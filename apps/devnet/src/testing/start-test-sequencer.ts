import {
  createDevnetSequencer,
  type DevnetSequencer,
  type DevnetSequencerOptions,
} from '../sequencer/create-devnet-sequencer';

/** Anvil account 0, the sequencer key of the upstream tests (docs/protocol.md#test-keys). */
export const TEST_SEQUENCER_KEY =
  'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

/** Receives a teardown step, e.g. `onCleanup` of @synddb/test-support or a test's cleanup list. */
export type RegisterCleanup = (cleanup: () => Promise<void> | void) => void;

export interface StartTestSequencerOptions extends DevnetSequencerOptions {
  /** Receives the sequencer's `stop()`. */
  onCleanup: RegisterCleanup;
}

/** A started sequencer: its `url` is set. */
export type StartedSequencer = DevnetSequencer & { readonly url: string };

/**
 * A devnet sequencer for a test: signing with `TEST_SEQUENCER_KEY` unless `privateKey` says
 * otherwise, listening on 127.0.0.1 (an ephemeral port), stopped by the registered cleanup. Every
 * other option keeps the sequencer's own default.
 */
export async function startTestSequencer(
  options: StartTestSequencerOptions,
): Promise<StartedSequencer> {
  const { onCleanup, ...sequencerOptions } = options;
  const sequencer = createDevnetSequencer({ privateKey: TEST_SEQUENCER_KEY, ...sequencerOptions });
  await sequencer.start({ port: 0 });
  onCleanup(() => sequencer.stop());
  return sequencer as StartedSequencer;
}
