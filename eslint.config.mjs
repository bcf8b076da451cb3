// ESLint over the whole tree: the recommended JavaScript and typescript-eslint rules. Formatting is
// Prettier's job (`npm run format:check`), so no stylistic rule lives here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'libs/*/dist/**', 'examples/*/dist/**', 'coverage/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring to drop a field, interface parameters).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // The signed-note and checkpoint formats forbid control characters; the regular expressions that
      // enforce that name them on purpose.
      'no-control-regex': 'off',
      // Prettier breaks long call chains before a computed member (`[method](path)`); it decides layout.
      'no-unexpected-multiline': 'off',
    },
  },
  {
    // Tests read response bodies as untyped JSON; typing every body would add noise, not safety.
    files: ['test/**/*.ts', '**/*.spec.ts', '**/*.int-spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', __dirname: 'readonly' },
    },
    // Configuration files in CommonJS (Jest's): require() is how they load each other.
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The console's own script runs in the browser (served as is, no build step).
    files: ['src/console/assets/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        localStorage: 'readonly',
        crypto: 'readonly',
        fetch: 'readonly',
        atob: 'readonly',
        TextEncoder: 'readonly',
        Uint8Array: 'readonly',
      },
    },
  },
);
