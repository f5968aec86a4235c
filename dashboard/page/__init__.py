"""The Dash page: component ids, layout, callbacks and the guard on Dash's callback endpoint."""
