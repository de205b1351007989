import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from '../store/job-store';
import type { JobContext } from './job-context';
import { runRegisterKeyRound } from './register-key-job';
import { handleSendError, runWithdrawalRound } from './withdrawal-job';

export interface JobRunner {
  /** Looks for due jobs now (after an insert) instead of at the next tick. */
  wake(): void;
  /** Stops taking jobs, aborts waits and resolves when every running round has returned. */
  stop(): Promise<void>;
  readonly running: ReadonlySet<string>;
}

/**
 * Runs due jobs, at most `concurrency` at once, one round each; a job is never run twice at
 * the same time. Jobs come from the store (not memory), so a restarted relayer picks up every
 * unfinished job where its persisted state left it.
 */
export function startJobRunner(
  ctx: JobContext,
  options: { concurrency: number; tickMs?: number; abort: AbortController },
): JobRunner {
  const running = new Set<string>();
  const rounds = new Set<Promise<void>>();
  let wakeUp: (() => void) | undefined;
  let stopped = false;

  const runOne = async (job: Job) => {
    try {
      if (job.kind === 'withdrawal') await runWithdrawalRound(ctx, job);
      else await runRegisterKeyRound(ctx, job);
    } catch (error) {
      if (ctx.signal.aborted) return;
      try {
        handleSendError(ctx, job, error);
      } catch (inner) {
        ctx.logger.error('job round failed', { job: job.id, error: inner as Error });
      }
    }
  };

  const loop = (async () => {
    while (!stopped) {
      const free = options.concurrency - running.size;
      if (free > 0) {
        let due: Job[] = [];
        try {
          due = ctx.store.due(ctx.now(), free, running);
        } catch (error) {
          ctx.logger.error('reading due jobs failed', { error: error as Error });
        }
        for (const job of due) {
          running.add(job.id);
          const round = runOne(job).finally(() => {
            running.delete(job.id);
            rounds.delete(round);
            wakeUp?.();
          });
          rounds.add(round);
        }
      }
      await new Promise<void>((resolve) => {
        wakeUp = resolve;
        void sleep(options.tickMs ?? 100).then(resolve);
      });
    }
  })();

  return {
    running,
    wake: () => wakeUp?.(),
    async stop() {
      stopped = true;
      options.abort.abort(new Error('relayer stopping'));
      wakeUp?.();
      await loop;
      await Promise.allSettled([...rounds]);
    },
  };
}
