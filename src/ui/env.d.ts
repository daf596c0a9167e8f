// Build-time constants injected by vite.config.ts `define`.
declare const __BUILD_ID__: string;
