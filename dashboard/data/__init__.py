"""NASA's layers, step by step: :mod:`.fetch` (bytes from a URL or a file), :mod:`.parse`
(bytes to normalised frames; with :mod:`.schema`, the columns and value coercion, and
:mod:`.geojson`, reading the documents), :mod:`.store` (frames to and from Redis, versioned),
:mod:`.load` (the three steps together: the ``load`` command, ``POST /load`` and the page's
button) and :mod:`.timeline` (views across the layers: the sol range, "now")."""
