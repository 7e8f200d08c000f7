import { defineConfig } from 'vite';

// The console: Preact + ECharts, built to static files the hub serves at `/`. Everything is bundled
// (no CDN, no web fonts or icon fonts: system fonts and text), so it works without the internet.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    // ECharts (≈200 KB gzipped) is its own chunk, loaded by the first chart: the alarm board never waits for it.
    chunkSizeWarningLimit: 800,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
