import { defineConfig } from 'vite';

// Assets go under /_dashboard/ (no environment name starts with `_`, so they
// never shadow the origin's /<env>/… paths); the server embeds dist/.
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', assetsDir: '_dashboard', emptyOutDir: true, sourcemap: false },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
