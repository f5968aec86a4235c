const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const fs = require('fs');
const header = `/**
* plotly.js (ptracker: scatter, scattergl, bar - minified) v4.1.1
* Copyright 2012-2026, Plotly, Inc.
* All rights reserved.
* Licensed under the MIT license
*/
(
 function(root, factory) {
  if (typeof module === "object" && module.exports) {
   module.exports = factory();
  } else {
   root.moduleName = factory();
  }
} (typeof self !== "undefined" ? self : this, () => {
`;
const footer = `
window.Plotly = Plotly;
return Plotly;
}));
`;
esbuild.build({
  entryPoints: ['./lib/index-ptracker.js'],
  format: 'iife',
  globalName: 'Plotly',
  bundle: true,
  minify: true,
  sourcemap: false,
  plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
  alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
  define: { global: 'window', 'define.amd': 'false' },
  target: 'es2016',
  legalComments: 'eof',
  banner: { js: header },
  footer: { js: footer },
  outfile: './dist/plotly-ptracker.min.js',
  logLevel: 'info',
}).catch(() => process.exit(1));
