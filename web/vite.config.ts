// Builds the console into dist/web, which `vmbak serve` serves at `/`. `npm run web:dev`
// serves it with hot reload and sends /api to a `vmbak serve` on 127.0.0.1:8470.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { precompress } from './precompress.ts';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react(), precompress()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // bench/console-bundle.ts reads which chunks each page loads from the manifest.
    manifest: true,
    // The chart and the virtualised table load with their pages, not with the login page.
    chunkSizeWarningLimit: 800,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8470' } },
});
