// Writes the field reference into docs/configuration.md from the schema's own descriptions (`npm run docs:config`).
import { readFileSync, writeFileSync } from 'node:fs';
import { configSchema } from '../src/config/schema.js';
import { describeConfig, renderConfigReference, withConfigReference } from '../src/config/reference.js';

const path = new URL('../docs/configuration.md', import.meta.url);
const document = readFileSync(path, 'utf8');
writeFileSync(path, withConfigReference(document, renderConfigReference(describeConfig(configSchema))));
