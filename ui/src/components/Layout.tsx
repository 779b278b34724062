import { useState } from "react";
import { Link, NavLink, Outlet, useNavigate } from "react-router";
import { TokenBar } from "./TokenBar";

export function Layout() {
  const navigate = useNavigate();
  const [q, setQ] = useState("");
  return (
    <>
      <header className="top">
        <Link to="/models" className="brand">
          modelgraph
        </Link>
        <nav>
          <NavLink to="/models">Models</NavLink>
          <a href="/graphql">GraphiQL</a>
        </nav>
        <form
          className="search"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(`/search?q=${encodeURIComponent(q)}`);
          }}
        >
          <input
            type="search"
            placeholder="search by name"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            aria-label="search"
          />
        </form>
        <TokenBar />
      </header>
      <main>
        <Outlet />
      </main>
    </>
  );
}
