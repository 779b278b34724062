import { propertyPairs } from "../format";

export function Properties({ value }: { value: unknown }) {
  const pairs = propertyPairs(value);
  if (pairs.length === 0) return <p className="muted">no custom properties</p>;
  return (
    <dl className="props">
      {pairs.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
