// Who the app is talking as (`viewer`), and a place to paste a token. The token stays
// in this tab's session storage only.
import { createContext, useContext, useState } from "react";
import { useQuery } from "urql";
import { graphql } from "../gql";
import { getToken, setToken } from "../token";
import { ErrorBox } from "./ErrorBox";

/** Called after the token changed, to start a fresh client. */
export const TokenContext = createContext<() => void>(() => {});

export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      subject
      roles
      authenticated
    }
  }
`);

export function useViewer() {
  // asked once per client (a new token makes a new client)
  const [{ data, error, fetching }] = useQuery({ query: ViewerQuery, requestPolicy: "cache-first" });
  return { viewer: data?.viewer, error, fetching };
}

export function TokenBar() {
  const renew = useContext(TokenContext);
  const { viewer, error } = useViewer();
  const [draft, setDraft] = useState("");
  const hasToken = getToken() !== null;
  return (
    <div className="token-bar">
      {viewer && (
        <span data-testid="viewer">
          {viewer.authenticated ? viewer.subject : "anonymous"}
          {viewer.roles.length > 0 && <small> ({viewer.roles.join(", ")})</small>}
        </span>
      )}
      {error && <ErrorBox error={error} compact />}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setToken(draft || null);
          setDraft("");
          renew();
        }}
      >
        <input
          type="password"
          placeholder={hasToken ? "token set for this tab" : "paste an API token"}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          aria-label="API token"
        />
        <button type="submit">{draft ? "use token" : "set"}</button>
        {hasToken && (
          <button
            type="button"
            onClick={() => {
              setToken(null);
              renew();
            }}
          >
            forget token
          </button>
        )}
      </form>
    </div>
  );
}
