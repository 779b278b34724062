import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";
import { Provider } from "urql";
import { makeClient } from "./api";
import "./app.css";
import { router } from "./routes";
import { TokenContext } from "./components/TokenBar";

function Root() {
  // a new client when the token changes, so nothing cached for one identity shows for another
  const [client, setClient] = useState(makeClient);
  return (
    <TokenContext.Provider value={() => setClient(makeClient())}>
      <Provider value={client}>
        <RouterProvider router={router} />
      </Provider>
    </TokenContext.Provider>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
}
