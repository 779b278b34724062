import { createBrowserRouter, Navigate } from "react-router";
import { Layout } from "./components/Layout";
import { ExperimentPage } from "./pages/Experiment";
import { LineagePage } from "./pages/Lineage";
import { ModelPage } from "./pages/Model";
import { ModelsPage } from "./pages/Models";
import { NotFound } from "./pages/NotFound";
import { RunPage } from "./pages/Run";
import { SearchPage } from "./pages/Search";
import { VersionPage } from "./pages/Version";

export const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      { path: "/", element: <Navigate to="/models" replace /> },
      { path: "/models", element: <ModelsPage /> },
      { path: "/models/:id", element: <ModelPage /> },
      { path: "/versions/:id", element: <VersionPage /> },
      { path: "/lineage/:nodeId", element: <LineagePage /> },
      { path: "/experiments/:id", element: <ExperimentPage /> },
      { path: "/runs/:id", element: <RunPage /> },
      { path: "/search", element: <SearchPage /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);
