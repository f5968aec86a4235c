"""NASA's layers, step by step: :mod:`.fetch` (bytes from a URL or a file), :mod:`.geojson`
(reading the documents), :mod:`.parse` with :mod:`.schema` (bytes to normalised frames),
:mod:`.store` (frames to and from Redis, versioned, with :mod:`.codec` for the frames and
:mod:`.scripts` for its Lua; :mod:`.memo`: values cached per version) and :mod:`.load` (the
steps together under the :mod:`.lock`, with :mod:`.current` for the optional
current-position layer: the ``load`` command, ``POST /load`` and the page's button);
:mod:`.timeline` derives views across the layers (the sol range, "now"). The context layers:
:mod:`.terrain` with :mod:`.megdr` (MOLA heights under the track), :mod:`.ingenuity` and
:mod:`.samples` (with :mod:`.context`), loaded by :mod:`.context_load`, their cards and states
in words in :mod:`.context_summary`."""
