// IP literals live in util (every module needs them); re-exported here for wire's public API.
export { ipBytes } from '../util/ip.js';
