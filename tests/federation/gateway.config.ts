// Hive Gateway for tests/gateway/test_federation.py: the client's token and purpose go to every subgraph, as
// Gemeentegraaf's subgraph checks them exactly as on /graphql.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      return {
        authorization: request.headers.get('authorization') ?? undefined,
        'x-verwerkingsactiviteit': request.headers.get('x-verwerkingsactiviteit') ?? undefined,
      };
    },
  },
});
