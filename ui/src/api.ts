// The GraphQL client: same origin, the pasted token (if any) on every request.
import { Client, cacheExchange, fetchExchange } from "urql";
import { authHeaders } from "./token";

export function makeClient(): Client {
  return new Client({
    url: "/graphql",
    exchanges: [cacheExchange, fetchExchange],
    requestPolicy: "cache-and-network",
    // GET /graphql is GraphiQL: every operation is a POST
    preferGetMethod: false,
    fetchOptions: () => ({ headers: authHeaders() }),
  });
}
