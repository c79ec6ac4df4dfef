import { defineConfig } from "vite";

// Hashed assets under /assets (served with long cache headers by the Swan server); the server
// answers every client route with index.html. The dev server proxies the API to a local Swan.
export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, chunkSizeWarningLimit: 1200 },
  server: {
    proxy: { "/api": "http://127.0.0.1:5000", "/get-artifact": "http://127.0.0.1:5000" },
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
} as any);
