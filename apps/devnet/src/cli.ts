#!/usr/bin/env node
import { cliHelp, parseCliArgs } from './cli/parse-cli-args';
import { runDevnet } from './cli/run-devnet';
import { DevnetConfigError } from './errors';

async function main(): Promise<void> {
  let config: ReturnType<typeof parseCliArgs>;
  try {
    config = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof DevnetConfigError) {
      process.stderr.write(`synddb-devnet: ${error.shortMessage}\n\n${cliHelp()}`);
      process.exit(2);
    }
    throw error;
  }
  if (config.help) {
    process.stdout.write(cliHelp());
    return;
  }
  const devnet = await runDevnet(config);
  let signals = 0;
  const shutdown = (signal: string) => {
    signals += 1;
    if (signals > 1) process.exit(130);
    console.log(`${signal}: flushing and stopping`);
    devnet.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  devnet.workload.catch((error: unknown) => {
    console.error('sample app failed:', error);
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
