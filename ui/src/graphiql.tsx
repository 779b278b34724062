// GraphiQL from pinned, bundled assets: served by the binary at GET /graphql, so it works
// with no internet. Queries go to /graphql, subscriptions to /graphql/ws; a token kept by
// the app (session storage) is sent along.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { createRoot } from "react-dom/client";
import { STARTER_QUERY } from "./starter";
import { authHeaders } from "./token";

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql/ws`;
const fetcher = createGraphiQLFetcher({
  url: "/graphql",
  subscriptionUrl: wsUrl,
  headers: authHeaders(),
  wsConnectionParams: authHeaders(),
});

const root = document.getElementById("graphiql");
if (root) {
  root.textContent = "";
  createRoot(root).render(
    <GraphiQL fetcher={fetcher} defaultQuery={STARTER_QUERY} defaultEditorToolsVisibility />,
  );
}
