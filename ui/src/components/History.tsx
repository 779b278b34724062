import { formatTime } from "../format";

export interface HistoryEntry {
  sequence: number;
  at: string;
  actor: string;
  via: string;
  operation: string;
  after?: unknown;
}

export function History({ entries }: { entries: HistoryEntry[] }) {
  if (entries.length === 0) return <p className="muted">no changes recorded</p>;
  return (
    <table className="history" data-testid="history">
      <thead>
        <tr>
          <th>#</th>
          <th>when</th>
          <th>who</th>
          <th>what</th>
          <th>through</th>
          <th>fields</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((c) => (
          <tr key={c.sequence}>
            <td>{c.sequence}</td>
            <td>{formatTime(c.at)}</td>
            <td>{c.actor}</td>
            <td>{c.operation.toLowerCase().replace(/_/g, " ")}</td>
            <td>{c.via.toLowerCase()}</td>
            <td className="mono">{c.after ? JSON.stringify(c.after) : ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
