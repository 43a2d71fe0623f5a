// Composes a supergraph from subgraph SDL files with @theguild/federation-composition (the composer Hive uses).
// Usage: node compose.mjs OUT NAME=URL=SDL_FILE...; exit 1 with the composer's errors when they do not compose.
import { readFileSync, writeFileSync } from 'node:fs';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

const [out, ...subgraphs] = process.argv.slice(2);
const services = subgraphs.map((arg) => {
  const [name, url, file] = arg.split('=');
  return { name, url, typeDefs: parse(readFileSync(file, 'utf8')) };
});
const result = composeServices(services);
if (result.errors) {
  for (const error of result.errors) console.error(error.message);
  process.exit(1);
}
writeFileSync(out, result.supergraphSdl);
