"""plotly.js for the page: a partial bundle holding only the trace types the page draws.

``plotly-ptracker.min.js`` is plotly.js 4.1.1 (MIT licence: ``LICENSE-plotly.js.txt``;
the licences of the libraries it bundles are at its end) with the traces ``scatter`` (in
plotly.js's core), ``scattergl`` and ``bar``: 1,518,259 bytes instead of the full bundle's
4,815,814, sha256 ``2f22f436bd12bf011c78c8b4bc1bec59a8575d27dfe8b9de3bbda19ca445a618``
(:data:`SHA256`, checked by the unit tests). The page loads it as an ordinary script
before Dash's renderer, so ``window.Plotly`` exists when the first graph mounts and
dash-core-components never fetches its own full plotly.min.js (dcc.Graph uses
``window.Plotly`` when the page has one). Exports are drawn by kaleido with the full
plotly.js of the plotly package, unaffected.

Served by Dash as a component-suite file of this package: a fingerprinted URL (the
version and the file's time), cached by browsers for a year and compressed once per
process like Dash's own scripts (dashboard.api.http_cache).

Rebuilt with plotly.js's own esbuild configuration (its ``esbuild-config.js``: glsl and
inline-css plugins, ``regl`` aliased to ``@plotly/regl``), from the npm registry, with
node 20 and npm 11::

    npm pack plotly.js@4.1.1 && tar xzf plotly.js-4.1.1.tgz && cd package
    npm install --omit=dev --ignore-scripts       # plotly.js's locked dependencies
    npm install --no-save --ignore-scripts esbuild@0.28 esbuild-plugin-environment@0.5 \\
        esbuild-plugin-glsl@1.4 esbuild-plugin-inline-css@0.0.1
    cp <this folder>/index-ptracker.js lib/ && cp <this folder>/build-ptracker.js .
    node build-ptracker.js                        # -> dist/plotly-ptracker.min.js

A figure with another trace type would not draw on the page: add the trace to
``index-ptracker.js`` and rebuild (the unit tests list the types the builders use).
"""

from __future__ import annotations

#: the plotly.js version bundled (also the file's version in its fingerprinted URL)
__version__ = "4.1.1"
BUNDLE = "plotly-ptracker.min.js"
SHA256 = "2f22f436bd12bf011c78c8b4bc1bec59a8575d27dfe8b9de3bbda19ca445a618"
#: the trace types the bundle holds
TRACE_TYPES = frozenset({"scatter", "scattergl", "bar"})
#: the bundle as a Dash script resource (``app.scripts.append_script``)
SCRIPT = {"relative_package_path": BUNDLE, "namespace": __name__}
