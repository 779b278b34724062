// Two pages: the app (index.html, served at / and every client-side route) and GraphiQL
// (graphiql.html, served at GET /graphql), both built into dist/ with content-hashed
// assets, which the server embeds. No request leaves the machine: everything is bundled.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: { app: "index.html", graphiql: "graphiql.html" },
    },
  },
  server: {
    proxy: { "/graphql": { target: "http://127.0.0.1:8080", ws: true } },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
