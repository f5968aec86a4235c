"""The Dash page: component ids, the layout, the sol-range maths (:mod:`.ranges`), what the
page says (:mod:`.pieces`), the callbacks (one module per area) and the guard on Dash's
callback endpoint."""
