import { Link } from "react-router";

export function NotFound() {
  return (
    <section>
      <h1>Not here</h1>
      <p>
        Nothing at this address. <Link to="/models">See the models</Link>.
      </p>
    </section>
  );
}
