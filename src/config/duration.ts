/** The configuration's durations ("90s", "5m", "12h", "1d"): the one parser lives in shared/, for the guard too. */
export { parseDuration } from '../shared/duration.js';
