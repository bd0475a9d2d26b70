import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard is served by `klaviyo-destination start` at /ui/ from dist/ui; Preact JSX goes through esbuild,
// so no framework plugin is needed.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev:ui` against a running `start --admin-token …` on the default port.
    proxy: { '/admin': 'http://127.0.0.1:8080' },
  },
});
