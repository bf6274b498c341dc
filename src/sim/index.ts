/**
 * `bttkit/sim` — the swarm lab: real bttkit peers (session, picker, choker, BitTorrent Speed,
 * ledger) on a simulated network in virtual time. See docs/sim.md.
 *
 * @packageDocumentation
 */
export {
  type AttackGain,
  type AttackOptions,
  type AttackResult,
  type DefenseMode,
  type DefensePatch,
  type DefenseSpec,
  freeVariant,
  type GroupOutcome,
  gainSummary,
  honestVariant,
  runAttack,
  withDefense,
} from './attack.js';
export { type FluidBound, type FluidBoundInput, fluidBound } from './bound.js';
export { SIM_ERROR_CODES, SimError, type SimErrorCode } from './errors.js';
export {
  type DatagramSocket,
  SimDatagramSocket,
  SimNetwork,
  type SimNetworkOptions,
  type SimNodeOptions,
  type SimNodeStats,
} from './network.js';
export { peersCsv, plots, seriesCsv, summary, writeResults } from './output.js';
export {
  type BarChartOptions,
  barChart,
  type CdfChartOptions,
  type ChartOptions,
  cdfChart,
  type LineChartOptions,
  lineChart,
  type Series,
} from './plot.js';
export { SimRandom } from './random.js';
export {
  type GroupResult,
  type PeerResult,
  runSwarm,
  type SwarmOptions,
  type SwarmProgress,
  type SwarmResult,
} from './run.js';
export {
  type ArrivalSpec,
  BTT_UNITS,
  type DepartureSpec,
  formatBtt,
  normalizeScenario,
  type PeerGroup,
  type PeerGroupInput,
  parseBtt,
  parseRate,
  parseSize,
  type RateInput,
  type Scenario,
  type ScenarioInput,
  SIM_ATTACKS,
  SIM_DEFAULT_SETTINGS,
  type SimAttack,
  type SimStrategy,
  type SizeInput,
} from './scenario.js';
export { type RunOptions, VirtualClock } from './scheduler.js';
export { SimContent, SimPieces, SimStore } from './store.js';
