import { runCopyLimitGroup } from './copy-limit.js';
import { runExportGroup } from './export.js';
import { runGraphGroup } from './graph.js';
import { runMemoryGroup } from './memory.js';
import { runMonitorGroup } from './monitor.js';
import { runPoolGroup } from './pool.js';
import { runUploadGroup } from './upload.js';

/** Every benchmark group, by the name `--only` takes, in the order they run. */
export const groups = {
  pool: runPoolGroup,
  graph: runGraphGroup,
  export: runExportGroup,
  'copy-limit': runCopyLimitGroup,
  memory: runMemoryGroup,
  upload: runUploadGroup,
  monitor: runMonitorGroup,
};
