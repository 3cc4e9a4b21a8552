import { runGraphGroup } from './graph.js';
import { runPoolGroup } from './pool.js';

/** Every benchmark group, by the name `--only` takes, in the order they run. */
export const groups = {
  pool: runPoolGroup,
  graph: runGraphGroup,
};
