export { type NicedThreads, niceV8BackgroundThreads } from './background-threads';
export {
  type CliCommand,
  type CommandLine,
  type ConfigErrorClass,
  type ConfigProblem,
  configProblems,
  type Environment,
  formatConfigProblems,
  listOptions,
  type OptionEntry,
  type OptionSources,
  optionNames,
  type ParseCommandLineOptions,
  parseCommandLine,
  type ReadCommandLineOptions,
  readCommandLine,
  validateConfig,
  valueSources,
} from './command-line';
export {
  configErrorClass,
  DaemonConfigError,
  DaemonStartupError,
  startupErrorClass,
} from './errors';
export { formatConfigTable, formatHelp } from './help';
export {
  type CreateLoggerOptions,
  createLogger,
  type LogFields,
  type Logger,
  type LogLevel,
} from './logger';
export {
  bindAddress,
  boolean,
  byteSize,
  duration,
  evmAddress,
  httpUrl,
  integer,
  list,
  type OptionMeta,
  type OptionSpec,
  optional,
  optionRegistry,
  text,
  threads,
  u64,
  withDefault,
} from './option-types';
export { CONFIG_TABLE_END, CONFIG_TABLE_START, readmeConfigTable } from './readme';
export {
  type CliProcess,
  type DaemonCli,
  type DaemonConfig,
  runDaemonCli,
  runMain,
} from './run-cli';
export {
  MAX_DURATION_MS,
  parseBoolean,
  parseByteSize,
  parseDuration,
  parseHttpUrl,
  parseInteger,
} from './value-parsers';
