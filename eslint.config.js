// ESLint for the browser code (src/knowcast/web/static/js), its unit tests (tests/js) and the build script.
// `make jscheck` runs it with `tsc` (jsconfig.json) and `node --test`; `make test` depends on that target.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["src/knowcast/web/static/dist/**", "node_modules/**", ".venv/**", "test-results/**"] },
  js.configs.recommended,
  {
    files: ["src/knowcast/web/static/js/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser } },
  },
  {
    files: ["scripts/**/*.mjs", "tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
  },
  {
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "none" }],
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-implicit-globals": "error",
      "no-var": "error",
      "prefer-const": "error",
    },
  },
];
