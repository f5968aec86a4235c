"""NASA's layers, step by step: :mod:`.fetch` (bytes from a URL or a file), :mod:`.geojson`
(reading the documents), :mod:`.parse` with :mod:`.schema` (bytes to normalised frames),
:mod:`.store` (frames to and from Redis, versioned; :mod:`.memo`: values cached per
version) and :mod:`.load` (the steps together, with :mod:`.current` for the optional
current-position layer and :mod:`.context_load` for the optional context layers: the
``load`` command, ``POST /load`` and the page's button); :mod:`.timeline` derives views
across the layers (the sol range, "now"). The context layers around the rover: Ingenuity's
flights (:mod:`.ingenuity`), the sample tubes (:mod:`.samples`), the terrain
(:mod:`.terrain` on the tiles' grid, :mod:`.megdr`), what they share (:mod:`.context`) and
their cards and states in words (:mod:`.context_summary`)."""
