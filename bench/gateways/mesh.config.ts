// Hive Gateway's supergraph, composed by GraphQL Mesh from the OpenAPI documents the demo sources serve.
// bench/peer_systems.py writes the two documents it reads (see bench/PEERS.md for what it changes in them)
// and sets the environment: source URLs, document paths and the static credentials.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const env = process.env;

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('Zaken', {
        source: env.ZAKEN_DOCUMENT ?? `${env.ZAKEN_URL}/openapi.json`,
        endpoint: env.ZAKEN_URL,
        operationHeaders: {
          Authorization: `Bearer ${env.ZGW_TOKEN}`,
          'Accept-Crs': 'EPSG:4326',
          'Content-Crs': 'EPSG:4326',
        },
        // the Zaken API takes `expand=a,b` (one comma-separated value)
        queryStringOptions: { arrayFormat: 'comma' },
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('BRP', {
        source: env.BRP_DOCUMENT ?? `${env.BRP_URL}/openapi.json`,
        endpoint: env.BRP_URL,
        operationHeaders: { 'X-API-KEY': env.BRP_KEY ?? '' },
        // the BRP's one operation is a POST that only reads: offer it as a query
        selectQueryOrMutationField: [{ type: 'Query', fieldName: 'Personen' }],
        // the BRP's errors become GraphQL errors, and the answer one object type (not a union with the errors)
        ignoreErrorResponses: true,
      }),
    },
  ],
  // A natural person's role links to the BRP, batched: one POST for the BSNs asked together (the BRP takes 20).
  additionalTypeDefs: /* GraphQL */ `
    extend type NatuurlijkPersoonIdentificatie {
      persoon: Persoon
        @resolveTo(
          sourceName: "BRP"
          sourceTypeName: "Query"
          sourceFieldName: "Personen"
          requiredSelectionSet: "{ inpBsn }"
          keyField: "inpBsn"
          keysArg: "input.burgerservicenummer"
          result: "personen"
          valueKeyField: "burgerservicenummer"
        )
    }
  `,
});
