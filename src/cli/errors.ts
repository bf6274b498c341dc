import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * The codes of {@link CliError}, the errors of the `bttkit` command line. Every code is stable
 * (the CLI prints it in brackets after the message):
 *
 * | code | meaning |
 * |---|---|
 * | `CLI_USAGE` | a bad command line (unknown command, missing argument, bad number); exit status 2 and the usage text |
 * | `CLI_NOT_A_FILE` | `info`: the path is not a regular file |
 * | `CLI_FILE_TOO_LARGE` | `info`: the .torrent file is larger than the limit |
 * | `CLI_NO_DATA` | `seed`: the data path does not exist or does not hold the torrent's content |
 * | `CLI_INCOMPLETE_DATA` | `seed`: the data does not match the torrent (not every piece verifies) |
 * | `CLI_BAD_SCENARIO_FILE` | `swarm`: the scenario file cannot be read or is not JSON |
 * | `CLI_DEMO_TIMEOUT` | `demo`: the demo swarm did not finish in time |
 * | `CLI_PORT_IN_USE` | `download` / `seed`: the `--port` is taken by another program (`EADDRINUSE`) |
 * | `CLI_TIMEOUT` | `download`: `--timeout` elapsed before the download finished |
 * | `CLI_BAD_SELECT` | `download --select`: an index out of range, or a pattern matching no file |
 * | `CLI_EVM_NODE_MISSING` | `demo --chain bttc`: the npm package `hardhat` (2.x), which runs the local EVM node, is not installed |
 * | `CLI_EVM_NODE_FAILED` | `demo --chain bttc`: the local EVM node exited or did not answer in time |
 * | `CLI_CONFORMANCE_FAILED` | `speed-peer`: the peer under test broke the `btt_speed` spec in a scenario |
 * | `CLI_PEER_WAIT` | `speed-peer`: the peer under test closed, or sent nothing expected within `--timeout` |
 */
export const CLI_ERROR_CODES = [
  'CLI_USAGE',
  'CLI_NOT_A_FILE',
  'CLI_FILE_TOO_LARGE',
  'CLI_NO_DATA',
  'CLI_INCOMPLETE_DATA',
  'CLI_BAD_SCENARIO_FILE',
  'CLI_DEMO_TIMEOUT',
  'CLI_PORT_IN_USE',
  'CLI_TIMEOUT',
  'CLI_BAD_SELECT',
  'CLI_EVM_NODE_MISSING',
  'CLI_EVM_NODE_FAILED',
  'CLI_CONFORMANCE_FAILED',
  'CLI_PEER_WAIT',
] as const;
/** One of {@link CLI_ERROR_CODES}. */
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

/** An error of the `bttkit` command line. `code` is a {@link CliErrorCode}. */
export class CliError extends BttkitError {
  declare readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}
