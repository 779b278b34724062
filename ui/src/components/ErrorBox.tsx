// An API error shown where it happened, with its `extensions.code`.
import type { CombinedError } from "urql";
import { errorLines } from "../format";

export function ErrorBox({ error, compact }: { error: CombinedError; compact?: boolean }) {
  const lines = errorLines(error);
  const unauthenticated = lines.some((l) => l.code === "UNAUTHENTICATED");
  return (
    <div className={compact ? "error compact" : "error"} role="alert">
      {unauthenticated && !compact && (
        <p>
          This server needs a credential: paste an API token above (
          <code>modelgraph token create --subject you --role READER</code>).
        </p>
      )}
      {lines.map((l, i) => (
        <div key={i}>
          {l.code && <code className="code">{l.code}</code>} {l.message}
        </div>
      ))}
    </div>
  );
}
