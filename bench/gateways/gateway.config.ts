// Hive Gateway's configuration for the peer benchmark: the caching and deduplication its documentation offers,
// with the lifetimes Gemeentegraaf's demo configuration gives the same sources.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  // identical GraphQL requests in flight at once are executed once
  inboundInflightRequestDeduplication: true,
  // whole answers kept 30 s (the Zaken API's lifetime); never an answer with BRP personal data in it
  responseCaching: {
    session: () => null,
    ttl: 30_000,
    ttlPerSchemaCoordinate: { 'Query.Personen': 0, 'NatuurlijkPersoonIdentificatie.persoon': 0 },
  },
});
