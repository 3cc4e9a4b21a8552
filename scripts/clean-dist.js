// Empties a package's dist/ before a build, so output of a deleted source file is never published.
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
