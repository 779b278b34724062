// Typed documents for every operation in src/, checked against the server's schema
// (schema.graphql, regenerated from the Rust code and checked by a test).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: "string", JSON: "unknown", ID: "string", MetadataValue: "number | string" },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
