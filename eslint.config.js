// Lint with the standard configs: ESLint's recommended rules, typescript-eslint's recommended
// (syntax only, no type information: `tsc` already checks types, and typed linting costs seconds
// `npm run check` does not have) and, for the dashboard, React's hooks rules. What is turned off
// below says why, each for the files where the codebase does it on purpose.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Names starting with _ are deliberately unused (a destructured field left out, a required parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Berth strips and refuses control characters and ANSI escapes on purpose (logs, git output, names).
      'no-control-regex': 'off',
    },
  },
  {
    files: ['web/src/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    // The classic hooks rules; v7's recommended set adds the React Compiler's rules, and the dashboard does not use the compiler.
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'warn' },
  },
  {
    // Tests read untyped JSON answers (raw HTTP, engine inspect output) and poke at them.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // A migration sees the schema of its own time, not today's: Kysely<any> is Kysely's documented idiom.
    files: ['src/store/migrations.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Each git provider's push payload has its own shape; interpret() reads them defensively (?.) as any.
    files: ['src/domain/webhooks.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Node scripts beside the TypeScript (web/precompress.mjs): Node's globals.
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: { URL: 'readonly', process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
  },
  {
    // The sample apps the tests deploy are plain CommonJS Node programs, run inside containers.
    files: ['test/fixtures/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
